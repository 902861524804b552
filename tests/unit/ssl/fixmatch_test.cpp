// The arithmetic of a FixMatch step: schedule, loss and masking on hand-built logits, EMA,
// sampling streams.
#include "crest/ssl/fixmatch.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "crest/models/wrn.h"
#include "crest/ssl/ema.h"
#include "crest/ssl/sampler.h"

namespace crest {
namespace {

TEST(FixMatchTest, HalfcosScheduleValues) {
  EXPECT_DOUBLE_EQ(halfcos_lr(0.03, 0, 1000, 1.0), 0.03);
  // Level 1 ends just below 0.03 * cos(pi/16) = 0.029424...
  EXPECT_NEAR(halfcos_lr(0.03, 1000, 1000, 1.0), 0.03 * std::cos(M_PI / 16), 1e-15);
  EXPECT_NEAR(halfcos_lr(0.03, 500, 1000, 1.0), 0.03 * std::cos(M_PI / 32), 1e-15);
  // Level 7 (FixMatch): 0.03 * cos(7 pi / 16) at the end.
  EXPECT_NEAR(halfcos_lr(0.03, 1000, 1000, 7.0), 0.03 * std::cos(7 * M_PI / 16), 1e-15);
  EXPECT_DOUBLE_EQ(halfcos_lr(0.03, 700, 1000, 0.0), 0.03);  // level 0: constant
  // Monotone decreasing.
  EXPECT_GT(halfcos_lr(0.03, 10, 100, 7.0), halfcos_lr(0.03, 11, 100, 7.0));
}

TEST(FixMatchTest, LossAndMaskOnHandBuiltLogits) {
  // Labeled: 2 images, logits favour the true class.
  const at::Tensor logits_x = at::tensor({2.0, 0.0, 0.0, 0.0, 1.0, 0.0}).view({2, 3});
  const at::Tensor labels_x = at::tensor({0, 1}, at::kLong);
  // Unlabeled: 4 images; weak-view probabilities, two above the 0.95 threshold.
  const at::Tensor probs = at::tensor({0.97, 0.02, 0.01,   // kept, pseudo 0
                                       0.50, 0.30, 0.20,   // dropped
                                       0.01, 0.01, 0.98,   // kept, pseudo 2
                                       0.90, 0.05, 0.05})  // dropped (below 0.95)
                               .view({4, 3});
  const at::Tensor logits_s = at::tensor({1.0, 0.0, 0.0,  //
                                          0.0, 0.0, 0.0,  //
                                          0.0, 0.0, 3.0,  //
                                          0.0, 5.0, 0.0})
                                  .view({4, 3});
  const FixMatchLoss loss = fixmatch_loss(logits_x, labels_x, probs, logits_s, 0.95, 1.0);
  auto ce = [](std::vector<double> z, int y) {
    double m = 0;
    for (double v : z) m += std::exp(v);
    return std::log(m) - z[static_cast<std::size_t>(y)];
  };
  const double expected_x = (ce({2, 0, 0}, 0) + ce({0, 1, 0}, 1)) / 2;
  // Summed over the kept images and divided by all 4, not by the 2 kept.
  const double expected_u = (ce({1, 0, 0}, 0) + ce({0, 0, 3}, 2)) / 4;
  EXPECT_NEAR(loss.loss_x.item<double>(), expected_x, 1e-6);
  EXPECT_NEAR(loss.loss_u.item<double>(), expected_u, 1e-6);
  EXPECT_NEAR(loss.total.item<double>(), expected_x + expected_u, 1e-6);
  EXPECT_TRUE(loss.mask.equal(at::tensor({1.0f, 0.0f, 1.0f, 0.0f})));
  EXPECT_TRUE(loss.pseudo_labels.equal(at::tensor({0, 0, 2, 0}, at::kLong)));
  const FixMatchLoss weighted = fixmatch_loss(logits_x, labels_x, probs, logits_s, 0.95, 2.5);
  EXPECT_NEAR(weighted.total.item<double>(), expected_x + 2.5 * expected_u, 1e-6);
  // Threshold exactly at a probability keeps it (>=).
  const FixMatchLoss at_threshold = fixmatch_loss(logits_x, labels_x, probs, logits_s, 0.9, 1.0);
  EXPECT_EQ(at_threshold.mask.sum().item<float>(), 3.0f);
}

TEST(FixMatchTest, GradientFlowsOnlyThroughStrongAndLabeledLogits) {
  const at::Tensor logits_x = at::randn({3, 4}).set_requires_grad(true);
  const at::Tensor logits_w = at::randn({5, 4}).mul(10).set_requires_grad(true);
  const at::Tensor logits_s = at::randn({5, 4}).set_requires_grad(true);
  const at::Tensor probs = at::softmax(logits_w.detach(), 1);
  const FixMatchLoss loss =
      fixmatch_loss(logits_x, at::tensor({0, 1, 2}, at::kLong), probs, logits_s, 0.5, 1.0);
  loss.total.backward();
  EXPECT_TRUE(logits_x.grad().defined());
  EXPECT_TRUE(logits_s.grad().defined());
  EXPECT_FALSE(logits_w.grad().defined());
}

TEST(FixMatchTest, EmaArithmeticAndBufferCopy) {
  WideResNetOptions options;
  options.depth = 10;
  options.width = 1;
  WideResNet model(options);
  WideResNet ema_model(options);
  WeightEma ema(*ema_model, *model);
  // Starts as an exact copy.
  for (std::size_t i = 0; i < model->parameters().size(); ++i) {
    EXPECT_TRUE(model->parameters()[i].equal(ema_model->parameters()[i]));
  }
  const std::vector<at::Tensor> before = [&] {
    std::vector<at::Tensor> copy;
    for (const auto& p : ema_model->parameters()) copy.push_back(p.detach().clone());
    return copy;
  }();
  {
    at::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.add_(1.0);
    for (auto& b : model->buffers()) b.add_(3);
  }
  ema.update(0.9);
  const auto params = model->parameters();
  const auto ema_params = ema_model->parameters();
  for (std::size_t i = 0; i < params.size(); ++i) {
    const at::Tensor expected = before[i] * 0.9 + params[i].detach() * 0.1;
    EXPECT_TRUE(at::allclose(ema_params[i], expected, 1e-6, 1e-6));
  }
  // BatchNorm statistics are copied, not averaged.
  const auto buffers = model->buffers();
  const auto ema_buffers = ema_model->buffers();
  for (std::size_t i = 0; i < buffers.size(); ++i) EXPECT_TRUE(buffers[i].equal(ema_buffers[i]));
}

TEST(FixMatchTest, IndexSamplerCoversEveryIndexEachPassAndWraps) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(7);
  IndexSampler sampler(10, at::kCPU);
  std::multiset<std::int64_t> seen;
  for (int k = 0; k < 5; ++k) {
    const at::Tensor batch = sampler->next(4, generator);  // 20 draws = two full passes
    ASSERT_EQ(batch.numel(), 4);
    for (std::int64_t i = 0; i < 4; ++i) seen.insert(batch[i].item<std::int64_t>());
  }
  for (std::int64_t i = 0; i < 10; ++i) EXPECT_EQ(seen.count(i), 2u) << i;
  // A batch larger than the set spans several passes.
  IndexSampler small(3, at::kCPU);
  EXPECT_EQ(small->next(8, generator).numel(), 8);
}

TEST(FixMatchTest, IndexSamplerIsDeterministicAndItsStateIsItsBuffers) {
  at::Generator g1 = at::make_generator<at::CPUGeneratorImpl>(11);
  at::Generator g2 = at::make_generator<at::CPUGeneratorImpl>(11);
  IndexSampler a(50, at::kCPU), b(50, at::kCPU);
  const at::Tensor first = a->next(30, g1);
  EXPECT_TRUE(first.equal(b->next(30, g2)));
  EXPECT_EQ(a->offset(), 30);
  // A drawn batch is a copy: the next pass does not overwrite it.
  const at::Tensor kept = first.clone();
  a->next(40, g1);
  EXPECT_TRUE(first.equal(kept));
  // Copying a's buffers into a fresh sampler mid-pass continues identically.
  IndexSampler c(50, at::kCPU);
  const auto from = a->named_buffers();
  for (auto& to : c->named_buffers()) to.value().copy_(from[to.key()]);
  at::Generator g3 = g1.clone();
  EXPECT_TRUE(a->next(40, g1).equal(c->next(40, g3)));
  EXPECT_EQ(c->named_buffers().size(), 2u);  // permutation, offset
}

}  // namespace
}  // namespace crest
