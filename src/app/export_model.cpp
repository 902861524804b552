// `crest export` (app/use_model.h): a trained generation's weights under PyTorch's names, with a
// JSON sidecar.
#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crest/app/trained.h"
#include "crest/app/use_model.h"
#include "crest/io/checkpoint.h"
#include "crest/io/file.h"
#include "crest/io/json_text.h"
#include "crest/io/output_paths.h"
#include "crest/io/weight_files.h"
#include "crest/models/wrn_weights.h"
#include "crest/ssl/losses.h"
#include "crest/util/error.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

// What Python needs to apply `crest evaluate/predict --logit-adjust` itself: the generation's
// labeled class counts (pseudo-labels included), the prior they give, tau, and whether the
// logits already carry the adjustment (then it must not be applied).
nlohmann::json logit_adjustment_json(const TrainedModel& trained) {
  const bool already = logits_already_adjusted(trained.config.train, trained.config.acr);
  return {{"labeled_class_counts", trained.class_counts},
          {"class_prior", trained.class_prior},
          {"logit_adjustment",
           {{"tau", 1.0},
            {"formula", "logits - tau * log(max(class_prior, 1e-12))"},
            {"already_applied", already},
            {"note", already ? "the model was trained with a logit-adjusted loss: its logits "
                               "already carry the adjustment; do not apply it again"
                             : "optional post-hoc adjustment, as crest predict --logit-adjust"}}}};
}

}  // namespace

void export_model(const ExportOptions& options, std::ostream& out) {
  if (options.format != "pt" && options.format != "safetensors") {
    throw InputError("--format must be pt or safetensors, got '" + options.format + "'");
  }
  const ModelChoice& choice = options.choice;
  if (choice.run_dir.empty()) throw InputError("give the run folder (RUN)");
  const TrainedModel trained =
      load_trained_model(choice.run_dir, choice.generation, choice.model, at::Device(at::kCPU));
  const std::string name =
      "gen_" + std::to_string(trained.generation) + "-" + trained.which + "." + options.format;
  fs::path file;
  if (options.out.empty()) {
    file = make_output_folder(trained.run_dir, "export") / name;
  } else {
    // The sidecar FILE.json must not replace a run's file either.
    check_output_file(options.out, "--out", {"export"});
    check_output_file(options.out + ".json", "--out (its sidecar)", {"export"});
    file = options.out;
  }
  const NamedTensors tensors = wrn_state_dict(*trained.model.ptr());
  // The fingerprint of the tensors written: the run's for a plain WRN; for a two-headed model
  // (ACR) the file holds the evaluated head only, and DML-PL's has no embedding head, so the run's
  // is recorded beside it.
  std::vector<at::Tensor> written;
  for (const auto& [tensor_name, tensor] : tensors) written.push_back(tensor);
  const std::string fingerprint = tensors_fingerprint(written);
  nlohmann::json sidecar = {
      {"format", "crest-wrn-export"},
      {"version", 1},
      {"weights", file.filename().string()},
      {"weights_format", options.format},
      {"architecture", "wide_resnet"},
      {"depth", trained.config.model.depth},
      {"width", trained.config.model.width},
      {"num_classes", trained.class_names.size()},
      {"classes", trained.class_names},
      {"image_size", trained.config.data.image_size},
      {"resize", to_string(trained.config.data.resize)},
      {"normalization", {{"scale", 2.0 / 255.0}, {"shift", -1.0}, {"formula", "x * 2/255 - 1"}}},
      {"input", "RGB, channels first, uint8 0..255 before normalisation"},
      {"bn_eps", 1e-3},
      {"bn_momentum", trained.config.model.bn_momentum},
      {"leaky_relu_slope", 0.1},
      {"shortcut_from_preactivation", "first block of every stage (the TF reference WRN)"},
      {"crest_version", CREST_VERSION},
      {"run", fs::absolute(trained.run_dir).lexically_normal().string()},
      {"generation", trained.generation},
      {"generation_choice", trained.choice},
      {"model", trained.which},
      {"fingerprint", fingerprint}};
  if (fingerprint != trained.fingerprint) sidecar["run_fingerprint"] = trained.fingerprint;
  sidecar.update(logit_adjustment_json(trained));
  write_weight_file(file, tensors, options.format,
                    {{"format", "pt"}, {"crest_fingerprint", fingerprint}});
  write_file_atomic(file.string() + ".json", json_text(sidecar, 2) + "\n");
  out << file.string() << "\n";
  spdlog::info("exported generation {} ({} model, {} tensors) to {} and {}.json",
               trained.generation, trained.which, tensors.size(), file.string(), file.string());
}

}  // namespace crest
