// Reading PyTorch's .pt file of named tensors (write_weight_file writes them), as Python's
// torch.save(model.state_dict(), f) writes it and torch.load(f, weights_only=True) reads it
// (PyTorch >= 1.6 "zipfile" serialization): a zip archive (caffe2::serialize's
// PyTorchStreamWriter/Reader) of ARCHIVE/data.pkl, a pickle of protocol 2 whose tensors point at
// their storages by persistent id ('storage', torch. FloatStorage, KEY, LOCATION, NUMEL);
// ARCHIVE/data/KEY, each storage's raw little-endian bytes; and ARCHIVE/version.
#pragma once

#include <filesystem>
#include <string>

#include "crest/io/weight_files.h"

namespace crest {

// The named tensors (CPU, in the file's order; views of the file's storages, as torch.load
// gives them: two may share memory, one may be non-contiguous) of the .pt file `bytes`, read from
// `file` (named in every error). The pickle is read by a restricted unpickler that builds only
// tensors, dicts (an OrderedDict's _metadata attribute is ignored), lists, tuples, strings,
// numbers, booleans and None, and calls only the globals torch.load(weights_only=True) would
// allow for dense tensors (collections.OrderedDict, torch._utils._rebuild_tensor_v2,
// _rebuild_tensor, _rebuild_parameter, torch.<Type>Storage) plus
// torch.jit._pickle.restore_type_tag (an identity tag in crest's own .pt files before #28).
// The top-level dict may wrap the state dict under 'state_dict' or 'model' (a training
// checkpoint's layout, then its other entries are ignored); a 'module.' prefix on every name
// (torch.nn.DataParallel) is removed.
// DataError naming `file`: another global (named: "posix.system"), which is never called; a
// legacy (pre-1.6, non-zip) torch.save file; a damaged archive or pickle (truncated, an unknown
// opcode, a storage record of another size, a tensor reaching past its storage, big-endian
// data); no dict of tensors (a value that is not a tensor, a key that is not a string, a name
// given twice).
NamedTensors torch_load_state_dict(const std::string& bytes, const std::filesystem::path& file);

}  // namespace crest
