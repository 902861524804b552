#include "crest/models/wrn.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <stdexcept>
#include <string>

#include "crest/models/wrn_weights.h"
#include "crest/util/error.h"

namespace crest {
namespace {

TEST(WideResNetTest, Wrn28x2HasThePublishedParameterCount) {
  WideResNetOptions options;  // depth 28, width 2, 10 classes
  WideResNet model(options);
  EXPECT_EQ(parameter_count(*model), 1467610);
}

// Global average pooling: 64-pixel images go through the same weights.
TEST(WideResNetTest, SixtyFourPixelsSameParameters) {
  WideResNetOptions options;
  options.depth = 10;
  options.width = 1;
  WideResNet model(options);
  model->eval();
  EXPECT_EQ(model->forward(at::randn({2, 3, 64, 64})).sizes(), (at::IntArrayRef{2, 10}));
}

// `crest export` renames crest's state dict to PyTorch's WRN names (scripts/wrn.py).
TEST(WideResNetTest, ExportNamesArePyTorchWrnNames) {
  WideResNetOptions options;  // WRN-28-2: 4 blocks per stage
  WideResNet model(options);
  std::set<std::string> names;
  for (const auto& p : model->named_parameters()) names.insert(pytorch_wrn_name(p.key(), 4));
  for (const auto& b : model->named_buffers()) names.insert(pytorch_wrn_name(b.key(), 4));
  for (const char* expected :
       {"conv1.weight", "block1.layer.0.bn1.weight", "block1.layer.0.convShortcut.weight",
        "block1.layer.3.conv2.weight", "block2.layer.0.convShortcut.weight",
        "block3.layer.3.bn2.running_var", "block3.layer.3.bn2.num_batches_tracked",
        "bn1.running_mean", "fc.weight", "fc.bias"}) {
    EXPECT_EQ(names.count(expected), 1u) << expected;
  }
  EXPECT_EQ(names.size(), model->named_parameters().size() + model->named_buffers().size());
  EXPECT_EQ(pytorch_wrn_name("blocks.5.shortcut.weight", 4), "block2.layer.1.convShortcut.weight");
  EXPECT_THROW(pytorch_wrn_name("head.weight", 4), InputError);
}

TEST(WideResNetTest, TinyVariantShapesAndCount) {
  WideResNetOptions options;
  options.depth = 10;
  options.width = 1;
  options.num_classes = 7;
  WideResNet model(options);
  const at::Tensor logits = model->forward(at::randn({5, 3, 32, 32}));
  EXPECT_EQ(logits.sizes(), (at::IntArrayRef{5, 7}));
  // stem 432; stage widths 16, 32, 64 with one block each (+ 1x1 shortcuts where channels
  // change: only stages 2 and 3); final BN 128; fc 64*7 + 7.
  const std::int64_t stage1 = 32 + 2304 + 32 + 2304;
  const std::int64_t stage2 = 32 + 4608 + 64 + 9216 + 512;
  const std::int64_t stage3 = 64 + 18432 + 128 + 36864 + 2048;
  EXPECT_EQ(parameter_count(*model), 432 + stage1 + stage2 + stage3 + 128 + 64 * 7 + 7);
}

TEST(WideResNetTest, BatchNormAndActivationSettings) {
  WideResNet model(WideResNetOptions{});
  int batchnorms = 0;
  for (const auto& module : model->modules(false)) {
    if (const auto* bn = module->as<torch::nn::BatchNorm2dImpl>()) {
      EXPECT_DOUBLE_EQ(bn->options.momentum().value(), 0.001);
      EXPECT_DOUBLE_EQ(bn->options.eps(), 1e-3);
      ++batchnorms;
    }
  }
  EXPECT_EQ(batchnorms, 2 * 12 + 1);
}

TEST(WideResNetTest, InitialisationFollowsTheReference) {
  WideResNetOptions options;
  WideResNet model(options);
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(3);
  initialize_wide_resnet(*model, generator);
  for (const auto& item : model->named_parameters()) {
    const at::Tensor& p = item.value();
    if (item.key().find("conv") != std::string::npos && p.dim() == 4 && p.size(2) == 3 &&
        p.size(0) == 128 && p.size(1) == 128) {
      // Truncated normal, variance 2 / fan_out, cut at 2 sigma.
      const double fan_out = 128.0 * 9.0;
      const double sigma = std::sqrt(2.0 / fan_out) / 0.87962566103423978;
      EXPECT_NEAR(p.std().item<double>(), std::sqrt(2.0 / fan_out),
                  0.02 * std::sqrt(2.0 / fan_out));
      EXPECT_LE(p.abs().max().item<double>(), 2.0 * sigma + 1e-6);
    }
    if (item.key().find("fc.bias") != std::string::npos) {
      EXPECT_EQ(p.abs().sum().item<double>(), 0.0);
    }
    if (item.key().find("fc.weight") != std::string::npos) {
      EXPECT_LE(p.abs().max().item<double>(), std::sqrt(6.0 / (128 + 10)) + 1e-6);
    }
  }
  // Same generator seed, same weights.
  WideResNet other(options);
  at::Generator again = at::make_generator<at::CPUGeneratorImpl>(3);
  initialize_wide_resnet(*other, again);
  const auto a = model->parameters();
  const auto b = other->parameters();
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(a[i].equal(b[i]));
}

TEST(WideResNetTest, BadOptionsAreInputErrors) {
  WideResNetOptions options;
  options.depth = 27;
  EXPECT_THROW(WideResNet{options}, InputError);
  options.depth = 28;
  options.num_classes = 1;
  EXPECT_THROW(WideResNet{options}, InputError);
}

TEST(WideResNetTest, EmbeddingHeadGivesUnitRowsAndStaysOutOfTheExport) {
  WideResNetOptions options;
  options.depth = 10;
  options.width = 1;
  WideResNet plain(options);
  EXPECT_THROW(plain->embed(at::zeros({2, 64})), std::logic_error);
  for (int dim : {1, 7, 128}) {
    options.embedding_dim = dim;
    WideResNet model(options);
    auto params = model->named_parameters();
    ASSERT_TRUE(params.contains("fc_embedding.weight"));
    EXPECT_EQ(params["fc_embedding.weight"].sizes(), at::IntArrayRef({dim, 64}));
    // Initialised as fc: Glorot-uniform, zero bias.
    const double a = std::sqrt(6.0 / (dim + 64));
    EXPECT_LE(params["fc_embedding.weight"].abs().max().item<double>(), a);
    EXPECT_EQ(params["fc_embedding.bias"].abs().sum().item<double>(), 0.0);
    const at::Tensor e = model->embed(at::randn({3, 64}));
    EXPECT_EQ(e.sizes(), at::IntArrayRef({3, dim}));
    EXPECT_LE(e.norm(2, {1}).sub(1).abs().max().item<double>(), 1e-6);
    // A zero row stays zero, without NaN (at::normalize's max(||x||, 1e-12)).
    EXPECT_EQ(model->embed(at::zeros({1, 64})).abs().sum().item<double>(), 0.0);
    // forward() is still the classifier; the export is the plain WRN.
    EXPECT_EQ(model->forward(at::zeros({2, 3, 8, 8})).sizes(), at::IntArrayRef({2, 10}));
    EXPECT_EQ(wrn_state_dict(*model).size(), wrn_state_dict(*plain).size());
    for (const auto& [name, tensor] : wrn_state_dict(*model)) {
      EXPECT_EQ(name.find("embedding"), std::string::npos) << name;
    }
  }
  // The other parameters are initialised as without the head (it is drawn last).
  at::Generator g1 = at::make_generator<at::CPUGeneratorImpl>(5);
  at::Generator g2 = at::make_generator<at::CPUGeneratorImpl>(5);
  initialize_wide_resnet(*plain, g1);
  options.embedding_dim = 16;
  WideResNet model(options);
  initialize_wide_resnet(*model, g2);
  auto mine = model->named_parameters();
  for (const auto& p : plain->named_parameters()) EXPECT_TRUE(p.value().equal(mine[p.key()]));
  options.embedding_dim = -1;
  EXPECT_THROW(WideResNet{options}, InputError);
}

}  // namespace
}  // namespace crest
