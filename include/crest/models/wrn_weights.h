// A WRN's weights under PyTorch's names, and loading a pre-trained backbone into one.
// The PyTorch names are those of the widely used PyTorch port of the reference WRN (conv1,
// block{1,2,3}.layer.N.{bn1,conv1,bn2,conv2,convShortcut}, bn1, fc), which `crest export`,
// `crest pretrain` and scripts/wrn.py share.
#pragma once

#include <string>

#include "crest/io/weight_files.h"
#include "crest/models/wrn.h"

namespace crest {

// The PyTorch name of one of crest's WRN state-dict names ("blocks.4.conv1.weight" with 4
// blocks per stage -> "block2.layer.0.conv1.weight"). InputError for a name that is not one.
std::string pytorch_wrn_name(const std::string& crest_name, int blocks_per_stage);

// Every parameter, then every buffer, of `model` under its PyTorch name (the tensors
// themselves, detached). With `backbone_only` the classifier heads are left out. A model with a
// balanced head (ACR, SeMi) is written as the plain WRN it evaluates: fc_balanced.* under the
// names fc.*, the standard head left out. An embedding head (DML-PL's fc_embedding.*) is always
// left out: the file is the classifier that forward() evaluates, which scripts/wrn.py loads.
NamedTensors wrn_state_dict(WideResNetImpl& model, bool backbone_only = false);

// FNV-1a 64 (hex) over the backbone (every tensor but fc.*, parameters then buffers, as
// weights_fingerprint hashes them): equal for a model initialised from a backbone file and the
// model that wrote it.
std::string backbone_fingerprint(WideResNetImpl& model);

// Copies every backbone tensor of `tensors` (PyTorch names; fc.weight and fc.bias, of any shape,
// ignored: the head starts afresh) into `model` in place, converted to the model's dtype and
// device. Every backbone tensor must be there; the head may be missing. InputError naming
// `source`, and changing nothing, when the file holds another architecture: the depth and width
// it was saved with (from its tensor names and shapes) against model.depth and model.width, the
// first tensor missing or of another shape; tensors the model does not have (up to 5 named);
// or a NaN or infinity in any floating-point tensor (up to 5 named).
void load_wrn_backbone(WideResNetImpl& model, const NamedTensors& tensors,
                       const std::string& source);

}  // namespace crest
