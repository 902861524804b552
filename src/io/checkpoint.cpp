#include "crest/io/checkpoint.h"

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "crest/io/file.h"
#include "crest/io/run_files.h"
#include "crest/io/training_files.h"
#include "crest/util/error.h"
#include "crest/util/hash.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

constexpr char kVersionKey[] = "version";
constexpr char kStepKey[] = "step";
constexpr char kTotalStepsKey[] = "total_steps";
constexpr char kHashKey[] = "content_hash";
constexpr char kStateKey[] = "state";

std::uint64_t mix_tensor(const at::Tensor& t, std::uint64_t hash) {
  const at::Tensor cpu = t.detach().to(at::kCPU).contiguous();
  return fnv1a64(cpu.data_ptr(), static_cast<std::size_t>(cpu.nbytes()), hash);
}

std::uint64_t mix_value(std::int64_t value, std::uint64_t hash) {
  return fnv1a64(&value, sizeof(value), hash);
}

// The tensors of `module` in fingerprint order (parameters, then buffers, each recursively in
// registration order), with their dotted names.
std::vector<std::pair<std::string, at::Tensor>> ordered_tensors(torch::nn::Module& module) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : module.named_parameters()) out.emplace_back(p.key(), p.value());
  for (const auto& b : module.named_buffers()) out.emplace_back(b.key(), b.value());
  return out;
}

std::uint64_t content_hash(const CheckpointHeader& header,
                           const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  std::uint64_t hash = mix_value(header.total_steps, mix_value(header.step, 0xcbf29ce484222325ULL));
  for (const auto& [name, tensor] : tensors) {
    hash = fnv1a64(name.data(), name.size(), hash);
    hash = mix_tensor(tensor, hash);
  }
  return hash;
}

std::int64_t as_int64(std::uint64_t value) {
  std::int64_t out = 0;
  std::memcpy(&out, &value, sizeof(out));
  return out;
}

std::string shape_text(const at::Tensor& t) {
  return c10::str(t.sizes()) + " " + std::string(c10::toString(t.scalar_type()));
}

class CheckpointReader {
 public:
  explicit CheckpointReader(fs::path file) : file_(std::move(file)) {}

  // Collects the stored tensor for every tensor of `module` (checked, not yet copied).
  void collect(torch::serialize::InputArchive& archive, torch::nn::Module& module,
               const std::string& prefix) {
    std::set<std::string> known;
    auto take = [&](const std::string& key, const at::Tensor& target, bool is_buffer) {
      known.insert(key);
      at::Tensor stored;
      if (!archive.try_read(key, stored, is_buffer)) {
        throw DataError(file_.string() + " lacks " + prefix + key + what_to_do());
      }
      if (stored.scalar_type() != target.scalar_type() || !stored.sizes().equals(target.sizes())) {
        throw DataError(file_.string() + ": " + prefix + key + " is " + shape_text(stored) +
                        ", this run needs " + shape_text(target) + what_to_do());
      }
      loaded_[prefix + key] = stored;
    };
    for (const auto& p : module.named_parameters(/*recurse=*/false))
      take(p.key(), p.value(), false);
    for (const auto& b : module.named_buffers(/*recurse=*/false)) take(b.key(), b.value(), true);
    for (const auto& child : module.named_children()) {
      known.insert(child.key());
      torch::serialize::InputArchive child_archive;
      if (!archive.try_read(child.key(), child_archive)) {
        throw DataError(file_.string() + " lacks " + prefix + child.key() + what_to_do());
      }
      collect(child_archive, *child.value(), prefix + child.key() + ".");
    }
    for (const std::string& key : archive.keys()) {
      if (known.count(key) == 0) {
        throw DataError(file_.string() + " holds " + prefix + key +
                        ", which this run does not have" + what_to_do());
      }
    }
  }

  // The stored tensor for each of `targets`, in their order.
  std::vector<std::pair<std::string, at::Tensor>> stored_for(
      const std::vector<std::pair<std::string, at::Tensor>>& targets) const {
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (const auto& [name, target] : targets) out.emplace_back(name, loaded_.at(name));
    return out;
  }

 private:
  static std::string what_to_do() {
    return " (written for another model or config, or damaged). Resume with the run's own "
           "config, or move the file away to retrain this generation from its start";
  }

  fs::path file_;
  std::map<std::string, at::Tensor> loaded_;
};

std::int64_t read_scalar(torch::serialize::InputArchive& archive, const char* key,
                         const fs::path& file) {
  at::Tensor value;
  if (!archive.try_read(key, value) || value.numel() != 1 || value.scalar_type() != at::kLong) {
    throw DataError(file.string() + " lacks the int64 entry \"" + std::string(key) +
                    "\" (not a crest checkpoint, or damaged); move it away to retrain this "
                    "generation from its start");
  }
  return value.item<std::int64_t>();
}

}  // namespace

std::string tensors_fingerprint(const std::vector<at::Tensor>& tensors) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const auto& t : tensors) hash = mix_tensor(t, hash);
  return hex64(hash);
}

std::string weights_fingerprint(torch::nn::Module& module) {
  std::vector<at::Tensor> tensors = module.parameters();
  for (const auto& b : module.buffers()) tensors.push_back(b);
  return tensors_fingerprint(tensors);
}

void write_checkpoint(const fs::path& file, torch::nn::Module& state,
                      const CheckpointHeader& header) {
  // Serialised in memory first: LibTorch's file writer can fail inside a destructor (a full
  // disk then ends the process), while write_file_atomic reports every failure and cleans up.
  std::ostringstream bytes;
  try {
    torch::serialize::OutputArchive archive;
    archive.write(kVersionKey, at::tensor(kCheckpointVersion, at::kLong));
    archive.write(kStepKey, at::tensor(header.step, at::kLong));
    archive.write(kTotalStepsKey, at::tensor(header.total_steps, at::kLong));
    archive.write(kHashKey,
                  at::tensor(as_int64(content_hash(header, ordered_tensors(state))), at::kLong));
    torch::serialize::OutputArchive state_archive;
    state.save(state_archive);
    archive.write(kStateKey, state_archive);
    archive.save_to(bytes);
  } catch (const c10::Error& e) {
    throw std::runtime_error("cannot serialise the checkpoint " + file.string() + ": " +
                             e.what_without_backtrace());
  }
  try {
    write_file_atomic(file, bytes.str());
  } catch (const WriteError& e) {
    throw WriteError(std::string(e.what()) + "; the previous checkpoint, if any, is intact");
  }
}

namespace {

// Opens `file` as a crest checkpoint of this version: its header, stored hash and the archive
// of the state module tree.
struct OpenCheckpoint {
  torch::serialize::InputArchive archive;
  torch::serialize::InputArchive state;
  CheckpointHeader header;
  std::int64_t stored_hash = 0;
};

void open_checkpoint(const fs::path& file, OpenCheckpoint& open) {
  try {
    open.archive.load_from(file.string(), at::kCPU);
  } catch (const c10::Error& e) {
    throw DataError("cannot read the checkpoint " + file.string() +
                    " (damaged or from another program): " + e.what_without_backtrace() +
                    "; move it away to retrain this generation from its start");
  }
  const std::int64_t version = read_scalar(open.archive, kVersionKey, file);
  if (version != kCheckpointVersion) {
    throw DataError(file.string() + " has checkpoint version " + std::to_string(version) +
                    "; this crest reads version " + std::to_string(kCheckpointVersion) +
                    ". Finish the run with the crest that wrote it, or move the file away "
                    "to retrain this generation from its start");
  }
  open.header.step = read_scalar(open.archive, kStepKey, file);
  open.header.total_steps = read_scalar(open.archive, kTotalStepsKey, file);
  open.stored_hash = read_scalar(open.archive, kHashKey, file);
  if (!open.archive.try_read(kStateKey, open.state)) {
    throw DataError(file.string() + " lacks the trainer state (damaged); move it away to " +
                    "retrain this generation from its start");
  }
}

// Checks every tensor of `module` against `archive` and returns the stored ones, in order.
std::vector<std::pair<std::string, at::Tensor>> collect_stored(
    const fs::path& file, torch::serialize::InputArchive& archive, torch::nn::Module& module,
    const std::string& prefix) {
  CheckpointReader reader(file);
  try {
    reader.collect(archive, module, prefix);
  } catch (const c10::Error& e) {
    throw DataError("cannot read the checkpoint " + file.string() +
                    " (damaged): " + e.what_without_backtrace());
  }
  return reader.stored_for(ordered_tensors(module));
}

void copy_into(torch::nn::Module& module,
               const std::vector<std::pair<std::string, at::Tensor>>& stored) {
  at::NoGradGuard no_grad;
  const auto targets = ordered_tensors(module);
  for (std::size_t i = 0; i < targets.size(); ++i) {
    at::Tensor target = targets[i].second;
    target.copy_(stored[i].second);
  }
}

}  // namespace

CheckpointHeader read_checkpoint(const fs::path& file, torch::nn::Module& state) {
  OpenCheckpoint open;
  open_checkpoint(file, open);
  const auto stored = collect_stored(file, open.state, state, "");
  if (as_int64(content_hash(open.header, stored)) != open.stored_hash) {
    throw DataError(file.string() +
                    ": its content hash does not match its tensors (the file was changed or "
                    "damaged after crest wrote it); move it away to retrain this generation "
                    "from its start");
  }
  copy_into(state, stored);
  return open.header;
}

CheckpointHeader read_checkpoint_module(const fs::path& file, const std::string& name,
                                        torch::nn::Module& module) {
  OpenCheckpoint open;
  open_checkpoint(file, open);
  torch::serialize::InputArchive part;
  if (!open.state.try_read(name, part)) {
    throw DataError(file.string() + " holds no module '" + name +
                    "' (not a crest training checkpoint, or damaged)");
  }
  copy_into(module, collect_stored(file, part, module, ""));
  return open.header;
}

std::string read_generation_weights(const fs::path& gen_dir, int generation,
                                    const std::string& name, torch::nn::Module& module,
                                    const std::string& remedy) {
  const fs::path checkpoint = gen_dir / kCheckpointFile;
  const std::string which = name == "ema" ? "EMA" : "raw";
  std::error_code ec;
  if (!fs::exists(checkpoint, ec)) {
    throw DataError(checkpoint.string() + " is missing, so the " + which +
                    " weights of generation " + std::to_string(generation) +
                    " are lost (was it deleted to save space?); " + remedy);
  }
  read_checkpoint_module(checkpoint, name, module);
  const std::string fingerprint = weights_fingerprint(module);
  const fs::path summary_file = gen_dir / kTrainingSummaryFile;
  const TrainingSummary summary = read_training_summary(summary_file);
  const std::string& recorded = name == "ema" ? summary.ema_fingerprint : summary.model_fingerprint;
  if (fingerprint != recorded) {
    throw DataError(checkpoint.string() + " holds " + which + " weights with fingerprint " +
                    fingerprint + ", but generation " + std::to_string(generation) + " recorded " +
                    recorded + " in " + summary_file.string() +
                    " (the checkpoint was changed or damaged, or belongs to another run); " +
                    remedy);
  }
  return fingerprint;
}

}  // namespace crest
