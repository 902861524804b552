#include "crest/app/use_model.h"

#include <spdlog/spdlog.h>
#include <torch/serialize.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "crest/app/trained.h"
#include "crest/config/protocol_default.h"
#include "crest/data/duplicates.h"
#include "crest/data/folder.h"
#include "crest/data/images.h"
#include "crest/data/prepare.h"
#include "crest/io/checkpoint.h"
#include "crest/io/class_tables.h"
#include "crest/io/csv.h"
#include "crest/io/file.h"
#include "crest/io/json_text.h"
#include "crest/io/output_paths.h"
#include "crest/io/run_files.h"
#include "crest/metrics/metrics.h"
#include "crest/models/wrn_weights.h"
#include "crest/ssl/losses.h"
#include "crest/ssl/predict.h"
#include "crest/util/device.h"
#include "crest/util/error.h"
#include "crest/util/text_escape.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

TrainedModel load_choice(const ModelChoice& choice) {
  if (choice.run_dir.empty()) throw InputError("give the run folder (RUN)");
  const at::Device device = resolve_device(choice.device);
  return load_trained_model(choice.run_dir, choice.generation, choice.model, device);
}

// The labels of `data` renumbered to the run's classes by name; InputError naming the classes
// the run does not know.
at::Tensor labels_for_run(const Dataset& data, const std::vector<std::string>& run_classes,
                          const std::string& where) {
  std::vector<std::int64_t> map;
  std::string unknown;
  for (const auto& name : data.class_names) {
    const auto it = std::find(run_classes.begin(), run_classes.end(), name);
    if (it == run_classes.end()) unknown += (unknown.empty() ? "" : ", ") + name;
    map.push_back(it - run_classes.begin());
  }
  if (!unknown.empty()) {
    std::string known;
    for (const auto& name : run_classes) known += (known.empty() ? "" : ", ") + name;
    throw InputError(where + " has classes the run does not know: " + unknown +
                     " (the run's classes: " + known +
                     "); evaluate on images of the run's classes only");
  }
  return at::tensor(map, at::kLong).index_select(0, data.labels);
}

// The labeled set to evaluate on and a short name for it.
std::pair<Dataset, std::string> evaluation_data(const EvaluateOptions& options,
                                                const TrainedModel& trained) {
  if (!options.folder.empty()) {
    if (!options.config_path.empty() || !options.overrides.empty()) {
      throw InputError("give either --folder or --config/--set, not both");
    }
    FolderOptions folder;
    folder.image_size = trained.config.data.image_size;
    folder.resize = trained.config.data.resize;
    fs::path dir = fs::path(options.folder).lexically_normal();
    if (dir.filename().empty()) dir = dir.parent_path();
    return {read_labeled_folder(dir, folder), dir.filename().string()};
  }
  const bool own = options.config_path.empty() && options.overrides.empty();
  Config config = trained.config;
  if (!options.config_path.empty()) config = load_config_file(options.config_path);
  for (const auto& assignment : options.overrides) apply_override(config, assignment);
  apply_dataset_defaults(config, !options.config_path.empty()
                                     ? protocol_given(options.config_path, options.overrides)
                                     : true);  // the run's own config names its protocol
  validate_config(config);
  if (config.data.image_size != trained.config.data.image_size) {
    spdlog::info("images are fitted to the run's {} pixels (data.image_size {} asked)",
                 trained.config.data.image_size, config.data.image_size);
  }
  config.data.image_size = trained.config.data.image_size;
  // Only the test set is decoded, through the cache the run's training used (data.cache).
  Dataset test = load_test_set(config.data, decoded_cache_dir(config.data, trained.run_dir));
  return {std::move(test), own ? std::string("test") : to_string(config.data.dataset) + "-test"};
}

// Images of another evaluation set than the run's test set (--folder, --config/--set) that the
// run trained on (labeled, or unlabeled and maybe pseudo-labelled) measure memory, not
// generalisation. The run's data is loaded again (through its decoded cache) and compared: the
// copies are refused, or left out under the run's data.duplicates: drop.
Dataset without_training_images(const TrainedModel& trained, const Dataset& data,
                                const std::string& source) {
  const DataConfig& config = trained.config.data;
  const PreparedData run = prepare_data(config, decoded_cache_dir(config, trained.run_dir));
  std::vector<std::int64_t> rows(static_cast<std::size_t>(data.size()));
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<std::int64_t>(i);
  const std::vector<ImageSet> sets = {
      {"labeled", &run.source.train, run.split.labeled, "train index"},
      {"unlabeled", &run.source.train, run.split.unlabeled, "train index"},
      {"the evaluation set " + source, &data, rows, "index"}};
  std::vector<Duplicate> found = find_duplicates(sets);
  found.erase(
      std::remove_if(found.begin(), found.end(), [](const Duplicate& d) { return d.set != 2; }),
      found.end());
  if (found.empty()) return data;
  if (config.duplicates == DuplicatePolicy::kRefuse) {
    throw DataError(std::to_string(found.size()) + " image(s) of the evaluation set " + source +
                    " are images the run trained on (the same pixels), so the figures would "
                    "measure memory:" +
                    describe_duplicates(sets, found, 5) +
                    "\nevaluate on images the run never saw (or train with data.duplicates: "
                    "drop, which leaves such copies out of an evaluation too)");
  }
  std::vector<bool> copy(rows.size(), false);
  for (const Duplicate& d : found) copy[static_cast<std::size_t>(d.row)] = true;
  std::vector<std::int64_t> keep;
  for (std::int64_t row : rows) {
    if (!copy[static_cast<std::size_t>(row)]) keep.push_back(row);
  }
  spdlog::warn("data.duplicates drop: left out {} image(s) of {} that the run trained on",
               found.size(), source);
  if (keep.empty()) throw DataError("every image of " + source + " is one the run trained on");
  return data.subset(keep);
}

// "%.4f", or "n/a" for an undefined figure (metrics/metrics.h).
std::string fixed4(double value) {
  if (std::isnan(value)) return "n/a";
  char text[32];
  std::snprintf(text, sizeof(text), "%.4f", value);
  return text;
}

// The names of `classes`, as JSON takes them.
std::vector<std::string> names_of(const std::vector<int>& classes,
                                  const std::vector<std::string>& class_names) {
  std::vector<std::string> names;
  for (int c : classes) names.push_back(class_names[static_cast<std::size_t>(c)]);
  return names;
}

// " (over 3 of 4 classes; no test images: cat)": over how many classes a mean is taken and
// which are left out; "" when it covers every class.
std::string coverage_text(const std::vector<double>& values, int averaged,
                          const std::vector<std::string>& class_names, const char* why) {
  const std::vector<int> missing = undefined_classes(values);
  if (missing.empty()) return "";
  std::string list;
  for (int c : missing) {
    list += (list.empty() ? "" : ", ") + visible_text(class_names[static_cast<std::size_t>(c)]);
  }
  return " (over " + std::to_string(averaged) + " of " + std::to_string(values.size()) +
         " classes; " + why + ": " + list + ")";
}

// The folder under RUN/eval/ of an evaluation: --name, or "<data>-gen<G>-<model>[-logit-
// adjusted]"; InputError when --name is a path.
std::string evaluation_name(const EvaluateOptions& options, const TrainedModel& trained,
                            const std::string& source) {
  const std::string name =
      !options.name.empty() ? options.name
                            : source + "-gen" + std::to_string(trained.generation) + "-" +
                                  trained.which + (options.logit_adjust ? "-logit-adjusted" : "");
  if (name.find('/') != std::string::npos || name == "." || name == "..") {
    throw InputError("--name must be a plain folder name, got '" + name + "'");
  }
  return name;
}

// metrics.json of an evaluation: what was evaluated on what, and its figures.
nlohmann::json evaluation_json(const TrainedModel& trained, const Evaluation& eval,
                               const std::string& source, bool logit_adjusted) {
  return {{"run", trained.run_dir.string()},
          {"generation", trained.generation},
          {"generation_choice", trained.choice},
          {"model", trained.which},
          {"fingerprint", trained.fingerprint},
          {"data", source},
          {"images", eval.count},
          {"logit_adjusted", logit_adjusted},
          {"accuracy", eval.accuracy},
          {"mean_recall", eval.mean_recall},
          {"mean_precision", eval.mean_precision},
          // Undefined figures are null (metrics/metrics.h); the means average the others.
          {"mean_recall_classes", eval.recall_classes},
          {"mean_precision_classes", eval.precision_classes},
          {"classes_without_test_images",
           names_of(undefined_classes(eval.per_class.recall), trained.class_names)},
          {"classes_never_predicted",
           names_of(undefined_classes(eval.per_class.precision), trained.class_names)},
          {"classes", trained.class_names},
          {"precision", eval.per_class.precision},
          {"recall", eval.per_class.recall},
          {"f1", eval.per_class.f1},
          {"support", eval.per_class.support}};
}

// The per-class table: precision, recall, F1 and support of each class ("n/a" where undefined;
// names made visible on one line).
void print_per_class(const std::vector<std::string>& class_names, const Evaluation& eval,
                     std::ostream& out) {
  std::vector<std::string> names;
  std::size_t width = 5;
  for (const auto& n : class_names) {
    names.push_back(visible_text(n));
    width = std::max(width, names.back().size());
  }
  width = std::min<std::size_t>(width, 200);
  char line[512];
  std::snprintf(line, sizeof(line), "%-5s  %-*s  %9s  %7s  %7s  %7s\n", "class",
                static_cast<int>(width), "name", "precision", "recall", "f1", "support");
  out << line;
  const ClassMetrics& m = eval.per_class;
  for (std::size_t k = 0; k < names.size(); ++k) {
    std::snprintf(line, sizeof(line), "%-5d  %-*s  %9s  %7s  %7s  %7lld\n", static_cast<int>(k),
                  static_cast<int>(width), names[k].c_str(), fixed4(m.precision[k]).c_str(),
                  fixed4(m.recall[k]).c_str(), fixed4(m.f1[k]).c_str(),
                  static_cast<long long>(m.support[k]));
    out << line;
  }
}

// The confusion matrix (rows true, columns predicted), for at most 20 classes.
void print_confusion(const at::Tensor& confusion, int num_classes, std::ostream& out) {
  if (num_classes > 20) return;
  out << "\nconfusion matrix (rows true, columns predicted):\n";
  const auto* m = confusion.data_ptr<std::int64_t>();
  char cell[32];
  for (int r = 0; r < num_classes; ++r) {
    for (int c = 0; c < num_classes; ++c) {
      std::snprintf(cell, sizeof(cell), "%7lld", static_cast<long long>(m[r * num_classes + c]));
      out << cell;
    }
    out << "\n";
  }
}

// The evaluation for people: the header, the figures, the per-class table and the confusion
// matrix.
void print_evaluation(const TrainedModel& trained, const Evaluation& eval,
                      const std::string& source, bool logit_adjusted, std::ostream& out) {
  out << "generation " << trained.generation << " (" << trained.which << " model"
      << (logit_adjusted ? ", logit-adjusted with the generation's class prior" : "") << ") on "
      << visible_text(source) << ": " << eval.count << " images\n"
      << "accuracy " << fixed4(eval.accuracy) << "  mean recall " << fixed4(eval.mean_recall)
      << coverage_text(eval.per_class.recall, eval.recall_classes, trained.class_names,
                       "no test images")
      << "  mean precision " << fixed4(eval.mean_precision)
      << coverage_text(eval.per_class.precision, eval.precision_classes, trained.class_names,
                       "never predicted")
      << "\n\n";
  print_per_class(trained.class_names, eval, out);
  print_confusion(eval.confusion, static_cast<int>(trained.class_names.size()), out);
}

// Whether `text` ends with `suffix` and holds more than it.
bool longer_with_suffix(const std::string& text, const std::string& suffix) {
  return text.size() > suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The --image files predict reads, each checked (every one must decode).
std::vector<fs::path> prediction_files(const PredictOptions& options) {
  std::vector<fs::path> files;
  for (const auto& image : options.images) {
    std::error_code ec;
    if (!fs::is_regular_file(image, ec)) {
      throw InputError("image " + image +
                       (fs::exists(image, ec) ? " is not a file" : " does not exist"));
    }
    files.emplace_back(image);
  }
  return files;
}

// The top-k classes of each image (their indices and probabilities, [N, k] each).
struct TopClasses {
  at::Tensor probability;
  at::Tensor index;
};

// One JSONL line: the file, its top-k classes and, with `logits`, its logits.
std::string prediction_jsonl(const std::string& file, const TopClasses& top, std::int64_t row,
                             const std::vector<std::string>& class_names,
                             const at::Tensor& logits) {
  nlohmann::json entry = {{"file", file}};
  nlohmann::json ranked = nlohmann::json::array();
  for (std::int64_t r = 0; r < top.index.size(1); ++r) {
    const auto c = top.index[row][r].item<std::int64_t>();
    ranked.push_back({{"class", c},
                      {"name", class_names[static_cast<std::size_t>(c)]},
                      {"probability", top.probability[row][r].item<double>()}});
  }
  entry["top"] = ranked;
  if (logits.defined()) {
    const at::Tensor l = logits[row].to(at::kDouble).contiguous();
    entry["logits"] = std::vector<double>(l.data_ptr<double>(), l.data_ptr<double>() + l.numel());
  }
  return json_text(entry) + "\n";
}

// The CSV lines of one image: file, rank, class, name, probability for each of its top-k.
std::string prediction_csv(const std::string& file, const TopClasses& top, std::int64_t row,
                           const std::vector<std::string>& class_names) {
  std::string text;
  for (std::int64_t r = 0; r < top.index.size(1); ++r) {
    const auto c = top.index[row][r].item<std::int64_t>();
    char p[32];
    std::snprintf(p, sizeof(p), "%.6f", top.probability[row][r].item<double>());
    text += csv_field(file) + "," + std::to_string(r + 1) + "," + std::to_string(c) + "," +
            csv_field(class_names[static_cast<std::size_t>(c)]) + "," + p + "\n";
  }
  return text;
}

}  // namespace

void evaluate_run(const EvaluateOptions& options, std::ostream& out) {
  const TrainedModel trained = load_choice(options.choice);
  if (options.logit_adjust) refuse_second_adjustment(trained, "evaluate");
  auto [data, source] = evaluation_data(options, trained);
  const bool own_test = options.folder.empty() && options.config_path.empty() &&
                        options.overrides.empty();  // checked when the run was trained
  if (!own_test) data = without_training_images(trained, data, source);
  const at::Tensor labels = labels_for_run(data, trained.class_names, source);
  WideResNet model = trained.model;
  at::Tensor logits = predict_logits(model, data.images.to(model->parameters()[0].device()),
                                     trained.config.train.eval_batch_size)
                          .cpu();
  if (options.logit_adjust) logits = adjust_for_prior(logits, trained);
  const int num_classes = static_cast<int>(trained.class_names.size());
  const Evaluation eval = evaluate_predictions(logits.argmax(1), labels, num_classes);

  const fs::path dir = make_output_folder(
      trained.run_dir, fs::path("eval") / evaluation_name(options, trained, source));
  const PerClassTable per_class = per_class_table(eval, trained.class_names);
  write_per_class_csv(dir / kPerClassFile, per_class);
  write_confusion_csv(dir / kConfusionFile, confusion_table(eval.confusion, trained.class_names));
  const nlohmann::json metrics = evaluation_json(trained, eval, source, options.logit_adjust);
  write_file_atomic(dir / "metrics.json", json_text(metrics, 2) + "\n");
  if (options.json) {
    out << json_text(metrics) << "\n";
    return;
  }
  out << "using " << generation_choice_text(trained) << "\n";
  print_evaluation(trained, eval, source, options.logit_adjust, out);
  out << "\nwritten to " << dir.string() << "/\n";
  out.flush();
}

void predict_images(const PredictOptions& options, std::ostream& out) {
  if (options.images.empty() == options.folder.empty()) {
    throw InputError("give image files or --folder DIR (one of the two)");
  }
  if (options.top_k < 1) {
    throw InputError("--top-k must be >= 1, got " + std::to_string(options.top_k));
  }
  const bool jsonl = longer_with_suffix(options.out, ".jsonl");
  const bool csv = longer_with_suffix(options.out, ".csv");
  if (!options.out.empty() && !jsonl && !csv) {
    throw InputError("--out must name a .csv or .jsonl file, got '" + options.out + "'");
  }
  if (options.logits && !jsonl) throw InputError("--logits needs --out FILE.jsonl");
  if (!options.out.empty()) check_output_file(options.out, "--out", {"predictions"});
  TrainedModel trained = load_choice(options.choice);
  if (options.logit_adjust) refuse_second_adjustment(trained, "predict");
  DecodedFiles decoded;
  if (options.folder.empty()) {
    decoded.files = prediction_files(options);
    decoded.images = decode_for_model(trained, decoded.files);
  } else {
    decoded = decode_folder_for_model(trained, options.folder);
  }
  const std::vector<fs::path>& files = decoded.files;
  const at::Tensor& images = decoded.images;
  at::Tensor logits =
      predict_logits(trained.model, images.to(trained.model->parameters()[0].device()),
                     trained.config.train.eval_batch_size)
          .cpu();
  if (options.logit_adjust) logits = adjust_for_prior(logits, trained);
  const int k = std::min<int>(options.top_k, static_cast<int>(trained.class_names.size()));
  const auto top = at::softmax(logits, 1).topk(k, 1);
  const TopClasses classes{std::get<0>(top).contiguous(), std::get<1>(top).contiguous()};
  std::string text = jsonl ? "" : "file,rank,class,name,probability\n";
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto row = static_cast<std::int64_t>(i);
    text += jsonl ? prediction_jsonl(files[i].string(), classes, row, trained.class_names,
                                     options.logits ? logits : at::Tensor())
                  : prediction_csv(files[i].string(), classes, row, trained.class_names);
  }
  if (options.out.empty()) {
    out << text;
    out.flush();
  } else {
    write_file_atomic(options.out, text);
    spdlog::info("{} predictions written to {}", files.size(), options.out);
  }
}

}  // namespace crest
