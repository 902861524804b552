#include "crest/models/wrn_weights.h"

#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <vector>

#include "crest/io/checkpoint.h"
#include "crest/util/error.h"

namespace crest {

namespace {

bool is_head(const std::string& name) {
  return name.rfind("fc.", 0) == 0 || name.rfind("fc_balanced.", 0) == 0;
}

int blocks_per_stage(const WideResNetImpl& model) { return (model.options().depth - 4) / 6; }

std::string shape_text(at::IntArrayRef sizes) {
  std::string out = "[";
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(sizes[i]);
  }
  return out + "]";
}

// The depth and width a file of PyTorch WRN names was saved with, when it reads as one:
// 6n + 4 from the largest block1.layer.N, the width from conv1's 16k output channels of the
// first stage. {0, 0} when it does not.
std::pair<int, int> saved_architecture(const std::map<std::string, at::Tensor>& by_name) {
  static const std::regex kLayer("block1\\.layer\\.([0-9]+)\\..*");
  int blocks = 0;
  for (const auto& [name, tensor] : by_name) {
    std::smatch m;
    if (std::regex_match(name, m, kLayer)) blocks = std::max(blocks, std::stoi(m[1]) + 1);
  }
  const auto conv = by_name.find("block1.layer.0.conv1.weight");
  if (blocks == 0 || conv == by_name.end() || conv->second.dim() != 4) return {0, 0};
  return {6 * blocks + 4, static_cast<int>(conv->second.size(0) / 16)};
}

// Up to 5 names of `names`, comma-separated, and how many more there are.
std::string name_list(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < 5; ++i)
    out += (i > 0 ? ", '" : "'") + names[i] + "'";
  if (names.size() > 5) out += " and " + std::to_string(names.size() - 5) + " more";
  return out;
}

// Refuses a file with tensors the model does not have (fc.weight and fc.bias may be there, of
// any shape: the head starts afresh) or with a NaN or infinity in any tensor.
void check_extra_and_finite(WideResNetImpl& model, const NamedTensors& tensors,
                            const std::string& source, const std::string& wanted) {
  std::set<std::string> known;
  for (const auto& [name, tensor] : wrn_state_dict(model)) known.insert(name);
  std::vector<std::string> extra, non_finite;
  for (const auto& [name, tensor] : tensors) {
    if (known.count(name) == 0) extra.push_back(name);
  }
  if (!extra.empty()) {
    throw InputError("model.init_from: " + source + " holds " + std::to_string(extra.size()) +
                     " tensor(s) that a " + wanted + " does not have: " + name_list(extra) +
                     "; crest takes a state dict under the names of crest export and "
                     "scripts/wrn.py's WideResNet: remove the other entries before saving");
  }
  for (const auto& [name, tensor] : tensors) {
    if (tensor.is_floating_point() && !at::isfinite(tensor).all().item<bool>()) {
      non_finite.push_back(name);
    }
  }
  if (!non_finite.empty()) {
    throw InputError("model.init_from: " + source + " holds NaN or infinite values in " +
                     name_list(non_finite) +
                     ": damaged or diverged weights; give a backbone whose values are all "
                     "finite");
  }
}

}  // namespace

std::string pytorch_wrn_name(const std::string& crest_name, int blocks_per_stage) {
  if (crest_name.rfind("stem.", 0) == 0) return "conv1." + crest_name.substr(5);
  if (crest_name.rfind("bn.", 0) == 0) return "bn1." + crest_name.substr(3);
  if (crest_name.rfind("fc.", 0) == 0) return crest_name;
  if (crest_name.rfind("blocks.", 0) == 0) {
    const std::size_t dot = crest_name.find('.', 7);
    const int index = std::stoi(crest_name.substr(7, dot - 7));
    std::string rest = crest_name.substr(dot + 1);
    if (rest.rfind("shortcut.", 0) == 0) rest = "convShortcut." + rest.substr(9);
    return "block" + std::to_string(index / blocks_per_stage + 1) + ".layer." +
           std::to_string(index % blocks_per_stage) + "." + rest;
  }
  throw InputError("no PyTorch WRN name for '" + crest_name + "'");
}

NamedTensors wrn_state_dict(WideResNetImpl& model, bool backbone_only) {
  const int blocks = blocks_per_stage(model);
  const bool balanced = model.options().balanced_head;
  NamedTensors out;
  for (const auto& p : model.named_parameters()) {
    // DML-PL's embedding head is no part of the WRN that PyTorch's port evaluates.
    if (p.key().rfind("fc_embedding.", 0) == 0) continue;
    if (backbone_only && is_head(p.key())) continue;
    // A two-headed model is written as the plain WRN it evaluates: fc_balanced under fc's names.
    if (balanced && p.key().rfind("fc.", 0) == 0) continue;
    const std::string name = balanced && p.key().rfind("fc_balanced.", 0) == 0
                                 ? "fc." + p.key().substr(12)
                                 : pytorch_wrn_name(p.key(), blocks);
    out.emplace_back(name, p.value().detach());
  }
  for (const auto& b : model.named_buffers()) {
    if (backbone_only && is_head(b.key())) continue;
    out.emplace_back(pytorch_wrn_name(b.key(), blocks), b.value().detach());
  }
  return out;
}

std::string backbone_fingerprint(WideResNetImpl& model) {
  std::vector<at::Tensor> tensors;
  for (const auto& [name, tensor] : wrn_state_dict(model, /*backbone_only=*/true)) {
    tensors.push_back(tensor);
  }
  return tensors_fingerprint(tensors);
}

void load_wrn_backbone(WideResNetImpl& model, const NamedTensors& tensors,
                       const std::string& source) {
  std::map<std::string, at::Tensor> by_name(tensors.begin(), tensors.end());
  const WideResNetOptions& o = model.options();
  const std::string wanted = "WRN-" + std::to_string(o.depth) + "-" + std::to_string(o.width) +
                             " (model.depth " + std::to_string(o.depth) + ", model.width " +
                             std::to_string(o.width) + ")";
  const auto [depth, width] = saved_architecture(by_name);
  if (depth != 0 && (depth != o.depth || width != o.width)) {
    throw InputError("model.init_from: " + source + " holds a WRN-" + std::to_string(depth) + "-" +
                     std::to_string(width) + " backbone, but the config asks for " + wanted +
                     "; set model.depth and model.width to the backbone's, or pre-train one of "
                     "this size");
  }
  const NamedTensors mine = wrn_state_dict(model, /*backbone_only=*/true);
  for (const auto& [name, tensor] : mine) {
    const auto it = by_name.find(name);
    if (it == by_name.end()) {
      throw InputError("model.init_from: " + source + " has no tensor '" + name +
                       "', so it is not a backbone of a " + wanted +
                       " (crest pretrain's backbone.pt or a crest export file)");
    }
    if (!it->second.sizes().equals(tensor.sizes())) {
      throw InputError("model.init_from: " + source + "'s '" + name + "' has the shape " +
                       shape_text(it->second.sizes()) + ", a " + wanted + " needs " +
                       shape_text(tensor.sizes()));
    }
  }
  check_extra_and_finite(model, tensors, source, wanted);
  torch::NoGradGuard no_grad;
  for (const auto& [name, tensor] : mine) {
    const at::Tensor& saved = by_name.at(name);
    at::Tensor target = tensor;  // shares storage with the model's parameter or buffer
    target.copy_(saved.to(target.device(), target.scalar_type()));
  }
}

}  // namespace crest
