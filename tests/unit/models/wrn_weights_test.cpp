#include "crest/models/wrn_weights.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <limits>

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

TEST(WrnWeightsTest, ExtraTensorsAndNonFiniteValuesAreRefusedByNameChangingNothing) {
  WideResNet target = make_wrn(10, 1, 4, 2);
  const std::string before = weights_fingerprint(*target);
  const NamedTensors good = wrn_state_dict(*make_wrn(10, 1, 4, 5), /*backbone_only=*/true);
  auto with = [&good](const std::string& name, const at::Tensor& value) {
    NamedTensors out = good;
    bool replaced = false;
    for (auto& [n, t] : out) {
      if (n == name) {
        t = value;
        replaced = true;
      }
    }
    if (!replaced) out.emplace_back(name, value);
    return out;
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<std::pair<NamedTensors, std::vector<std::string>>> cases = {
      {with("conv1.weight", at::full({16, 3, 3, 3}, nan)), {"NaN or infinite", "'conv1.weight'"}},
      {with("bn1.running_var", at::ones({64}).index_fill(0, at::tensor({std::int64_t{1}}), inf)),
       {"NaN or infinite", "'bn1.running_var'"}},
      {with("block2.layer.0.conv2.weight", -at::full({32, 32, 3, 3}, inf, at::kDouble)),
       {"'block2.layer.0.conv2.weight'"}},
      {with("fc.weight", at::full({4, 64}, nan)), {"'fc.weight'"}},
      {with("block1.layer.0.bn1.extra", at::ones({16})),
       {"1 tensor(s)", "'block1.layer.0.bn1.extra'", "WRN-10-1", "remove"}},
      {with("linear.weight", at::ones({2})), {"'linear.weight'"}},
      {with("fc.scale", at::ones({2})), {"'fc.scale'"}},
  };
  for (const auto& [tensors, needles] : cases) {
    std::vector<std::string> all = needles;
    all.insert(all.begin(), {"model.init_from", "bad.pt"});
    expect_input_error([&, t = tensors] { load_wrn_backbone(*target, t, "bad.pt"); }, all);
    EXPECT_EQ(weights_fingerprint(*target), before);
  }
  // Six extra names: five listed, and how many more.
  NamedTensors many = good;
  for (int i = 0; i < 6; ++i) many.emplace_back("x" + std::to_string(i), at::ones({1}));
  expect_input_error([&] { load_wrn_backbone(*target, many, "many.pt"); },
                     {"6 tensor(s)", "'x4'", "and 1 more"});
  // A head of another size (a rotation head of 4 classes, the run has 7) is fine and ignored.
  WideResNet seven = make_wrn(10, 1, 7, 2);
  load_wrn_backbone(*seven, wrn_state_dict(*make_wrn(10, 1, 4, 5)), "export.pt");
  EXPECT_EQ(backbone_fingerprint(*seven), backbone_fingerprint(*make_wrn(10, 1, 4, 5)));
}

}  // namespace
}  // namespace crest
