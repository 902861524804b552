// Files of named tensors that other tools read: PyTorch's .pt (a dict name -> tensor in
// torch.save's zip layout, which torch.load(weights_only=True) reads; io/torch_pickle.h) and
// .safetensors (huggingface/safetensors "Format": u64 little-endian header size N, N bytes of
// JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the
// little-endian row-major bytes). `crest export` and `crest pretrain` write them;
// model.init_from reads them.
#pragma once

#include <ATen/ATen.h>

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace crest {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// Writes `tensors` (any device; stored as CPU, contiguous) to `file` atomically in `format`
// ("pt" or "safetensors"; `metadata` goes to the safetensors header, .pt has no place for it).
// A .pt is one dict in order, each tensor with a storage of its own, whose pickle names only
// collections.OrderedDict, torch._utils._rebuild_tensor_v2 and torch.<Type>Storage, so that
// torch.load(f, weights_only=True) reads it.
// InputError for another format or a dtype safetensors cannot hold (float32/64, int64 here);
// WriteError when the write fails (nothing is left behind).
void write_weight_file(const std::filesystem::path& file, const NamedTensors& tensors,
                       const std::string& format,
                       const std::map<std::string, std::string>& metadata = {});

// Reads a .safetensors file (by its extension) or a .pt file (any other extension: Python's
// torch.save of a state dict, or crest's own; read without running any of its pickle, see
// torch_load_state_dict) into CPU tensors, in the file's order. InputError naming the file when
// it does not exist; DataError naming it when it is not such a file (truncated, a header that
// does not add up, an entry that is not a tensor, a pickle naming a global that could run code).
NamedTensors read_weight_file(const std::filesystem::path& file);

}  // namespace crest
