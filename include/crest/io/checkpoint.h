// RUN/gen_K/checkpoint.pt: everything a resume needs to continue a generation bit for bit, as
// one torch archive of a module tree. The trainer gathers its state (raw and EMA models, SGD
// momentum buffers, index samplers, CReST+'s distribution aligner, the random generator, the
// running statistics) as the parameters and registered buffers of one torch::nn::Module, so a
// new piece of state is checkpointed by registering it, with no save code of its own.
//
// Layout (format version kCheckpointVersion):
//   version      int64 scalar
//   step         int64 scalar: steps done
//   total_steps  int64 scalar: the generation's length (a resume with another length is refused)
//   content_hash int64 scalar: FNV-1a 64 over the header and every tensor of `state`, bit cast
//   state        the module tree, as torch::nn::Module::save writes it
#pragma once

#include <torch/nn/module.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace crest {

// 3: the trainer's state as one module tree with a content hash (2: hand-written keys and
// crest's own SGD momentum; 1: torch::optim::SGD's archive).
inline constexpr std::int64_t kCheckpointVersion = 3;

struct CheckpointHeader {
  std::int64_t step = 0;
  std::int64_t total_steps = 0;
};

// Serialises `state` in memory and writes it to `file` atomically (temporary, fsync, rename).
// Throws WriteError naming the file when the write fails (disk full, no permission);
// the previous checkpoint, if any, is then untouched and no temporary is left behind.
void write_checkpoint(const std::filesystem::path& file, torch::nn::Module& state,
                      const CheckpointHeader& header);

// Reads `file` into `state` in place: every parameter and buffer is copied into the existing
// tensor, so devices, memory formats and anything holding those tensors stay valid. Nothing is
// changed unless the whole file checks out. Throws DataError naming the file and what to do when
// it cannot be read as a checkpoint, has another format version, lacks a tensor of `state` or
// holds one `state` does not have (another model or config), holds a tensor of another shape or
// dtype, or its content hash does not match (damaged after it was written).
CheckpointHeader read_checkpoint(const std::filesystem::path& file, torch::nn::Module& state);

// Reads one module of the state tree (e.g. "ema" or "model") into `module` in place, with the
// same name, shape and dtype checks as read_checkpoint. The content hash covers the whole tree,
// so it is not checked here: compare weights_fingerprint(module) with the fingerprint the
// generation recorded (gen_K/summary.json) instead. DataError as read_checkpoint.
CheckpointHeader read_checkpoint_module(const std::filesystem::path& file, const std::string& name,
                                        torch::nn::Module& module);

// A finished generation's final weights: the `name` module ("ema" or "model") of
// gen_dir/checkpoint.pt read into `module` in place (as read_checkpoint_module), then checked
// against the fingerprint gen_dir/summary.json recorded for it (ema_fingerprint or
// model_fingerprint). `generation` (K of gen_K) names it in messages. Returns the fingerprint.
// DataError naming the file when checkpoint.pt is missing or holds other weights than recorded
// (changed, damaged, another run's), both messages ending with `remedy` (what to do); when it
// cannot be read into `module` (as read_checkpoint_module); from read_training_summary for
// summary.json.
// Used by `crest evaluate`/`predict`/`export` (app/trained.h) and crest.warm_start
// (ssl/trainer.h).
std::string read_generation_weights(const std::filesystem::path& gen_dir, int generation,
                                    const std::string& name, torch::nn::Module& module,
                                    const std::string& remedy);

// FNV-1a 64 (hex) over the bytes of every parameter and then every buffer of `module`, in
// registration order, each in its logical (contiguous, CPU) layout: equal fingerprints mean
// bit-identical weights whatever the device or memory format.
std::string weights_fingerprint(torch::nn::Module& module);

// The same hash over `tensors` in order (weights_fingerprint is this over the parameters, then
// the buffers).
std::string tensors_fingerprint(const std::vector<at::Tensor>& tensors);

}  // namespace crest
