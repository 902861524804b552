#include "crest/models/wrn_weights.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include "crest/io/checkpoint.h"
#include "test_util.h"

namespace crest {
namespace {

WideResNet make_wrn(int depth, int width, int classes, std::uint64_t seed) {
  WideResNetOptions o;
  o.depth = depth;
  o.width = width;
  o.num_classes = classes;
  WideResNet model(o);
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(seed);
  initialize_wide_resnet(*model, g);
  return model;
}

TEST(WrnWeightsTest, BackboneLoadsExactlyAndLeavesTheHeadAlone) {
  WideResNet source = make_wrn(10, 1, 4, 1);  // a rotation model: 4 outputs
  {
    torch::NoGradGuard no_grad;
    for (auto& b : source->buffers()) {
      if (b.is_floating_point()) b.add_(0.25);  // running statistics that differ from init
    }
  }
  const NamedTensors backbone = wrn_state_dict(*source, /*backbone_only=*/true);
  for (const auto& [name, t] : backbone) EXPECT_NE(name.rfind("fc.", 0), 0U) << name;
  WideResNet target = make_wrn(10, 1, 7, 2);
  const at::Tensor head_before = target->named_parameters()["fc.weight"].clone();
  EXPECT_NE(backbone_fingerprint(*target), backbone_fingerprint(*source));
  load_wrn_backbone(*target, backbone, "backbone.pt");
  EXPECT_EQ(backbone_fingerprint(*target), backbone_fingerprint(*source));
  EXPECT_TRUE(at::equal(target->named_parameters()["fc.weight"], head_before));
  // The fingerprint is the hash of the backbone tensors in file order.
  std::vector<at::Tensor> tensors;
  for (const auto& [name, t] : backbone) tensors.push_back(t);
  EXPECT_EQ(tensors_fingerprint(tensors), backbone_fingerprint(*source));
}

TEST(WrnWeightsTest, AnotherDepthOrWidthIsRefusedByName) {
  WideResNet target = make_wrn(10, 1, 4, 2);
  WideResNet deeper = make_wrn(16, 1, 4, 3);
  expect_input_error([&] { load_wrn_backbone(*target, wrn_state_dict(*deeper, true), "deep.pt"); },
                     {"model.init_from", "deep.pt", "WRN-16-1", "WRN-10-1", "model.depth"});
  WideResNet wider = make_wrn(10, 2, 4, 3);
  expect_input_error([&] { load_wrn_backbone(*target, wrn_state_dict(*wider, true), "w.pt"); },
                     {"WRN-10-2", "model.width 1"});
  NamedTensors missing = wrn_state_dict(*make_wrn(10, 1, 4, 4), true);
  missing.erase(missing.begin() + 3);
  expect_input_error([&] { load_wrn_backbone(*target, missing, "m.pt"); }, {"m.pt", "no tensor"});
  NamedTensors reshaped = wrn_state_dict(*make_wrn(10, 1, 4, 4), true);
  for (auto& [name, t] : reshaped) {
    if (name == "bn1.weight") t = at::ones({3});
  }
  expect_input_error([&] { load_wrn_backbone(*target, reshaped, "r.pt"); },
                     {"'bn1.weight'", "[3]", "[64]"});
}

}  // namespace
}  // namespace crest
