// Synchronised BatchNorm with real c10d process groups: two ranks as two threads of this process,
// each with its own ProcessGroupGloo over one c10d::HashStore. Two ranks with train.sync_bn
// compute what one process computes on the concatenated batch: the forward output, the running
// statistics, and (after crest's gradient averaging) the parameter gradients, to float rounding.
// Without it each rank normalises its own half, which the checks can tell apart.
#include "crest/dist/sync_batchnorm.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <exception>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "crest/dist/gradient_reducer.h"
#include "crest/dist/world.h"
#include "crest/models/wrn.h"
#include "crest/ssl/predict.h"
#include "two_ranks.h"

namespace crest::dist {
namespace {

using test_ranks::kWorld;
using test_ranks::run_ranks;

at::Generator seeded(std::uint64_t seed) {
  at::Generator generator = at::globalContext().defaultGenerator(at::kCPU).clone();
  generator.set_current_seed(seed);
  return generator;
}

WideResNet tiny_model(std::uint64_t seed, bool channels_last, at::ScalarType dtype = at::kFloat) {
  WideResNetOptions options;
  options.depth = 10;
  options.width = 1;
  options.num_classes = 4;
  options.bn_momentum = 0.1;  // running statistics that move visibly in one step
  WideResNet model(options);
  at::Generator generator = seeded(seed);
  initialize_wide_resnet(*model, generator);
  model->to(dtype);
  if (channels_last) to_channels_last(*model);
  model->train();
  return model;
}

// What a forward and backward pass left behind.
struct Pass {
  at::Tensor logits;
  std::vector<at::Tensor> buffers;  // running statistics and counters
  std::vector<at::Tensor> grads;
};

// Cross-entropy (a mean over the rows) of `model` on `images` [rows, 3, 32, 32].
Pass forward_backward(WideResNet& model, const at::Tensor& images, const at::Tensor& labels,
                      GradientReducer* reducer) {
  Pass pass;
  if (reducer != nullptr) reducer->prepare();
  pass.logits = model->forward(images);
  at::cross_entropy_loss(pass.logits, labels).backward();
  if (reducer != nullptr) reducer->finish();
  pass.logits = pass.logits.detach();
  for (const at::Tensor& b : model->buffers()) pass.buffers.push_back(b.clone());
  for (const at::Tensor& p : model->parameters()) pass.grads.push_back(p.grad().clone());
  return pass;
}

// Every got[k] within atol + rtol * |want[k]| of want[k], where atol is `atol` times the largest
// |want[k]| (float rounding grows with the size of a tensor's values).
void expect_close(const std::vector<at::Tensor>& got, const std::vector<at::Tensor>& want,
                  const std::string& what, double rtol = 1e-4, double atol = 1e-5) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t k = 0; k < want.size(); ++k) {
    const at::Tensor g = got[k].to(at::kDouble);
    const at::Tensor w = want[k].to(at::kDouble);
    const double scale = std::max(1.0, w.abs().max().item<double>());
    EXPECT_TRUE(at::allclose(g, w, rtol, atol * scale))
        << what << " " << k << ": max difference " << (g - w).abs().max().item<double>()
        << ", largest value " << scale;
  }
}

// Two ranks of a WRN-10-1 in training mode, each on its half of an 8-image batch, against one
// process on all 8: with `sync` the same logits, running statistics and averaged gradients, to
// float rounding (float64: to 1e-9, which only an exact computation reaches).
void expect_single_process_batch(std::uint64_t seed, bool channels_last, at::ScalarType dtype) {
  constexpr std::int64_t kBatch = 8;
  const double rtol = dtype == at::kDouble ? 1e-9 : 1e-4;
  const double atol = dtype == at::kDouble ? 1e-10 : 5e-5;
  at::Generator generator = seeded(seed + 100);
  at::Tensor images = at::randn({kBatch, 3, 32, 32}, generator).to(dtype);
  if (channels_last) images = images.contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor labels = at::randint(0, 4, {kBatch}, generator);
  WideResNet reference = tiny_model(seed, channels_last, dtype);
  const Pass expected = forward_backward(reference, images, labels, nullptr);
  for (const bool sync : {true, false}) {
    std::vector<Pass> ranks(kWorld);
    run_ranks([&](World& world) {
      WideResNet model = tiny_model(seed, channels_last, dtype);
      if (sync) model->set_batchnorm_sync(&world);
      GradientReducer reducer(model->parameters(), world);
      const std::int64_t half = kBatch / kWorld;
      const std::int64_t begin = world.rank() * half;
      ranks[static_cast<std::size_t>(world.rank())] = forward_backward(
          model, images.narrow(0, begin, half), labels.narrow(0, begin, half), &reducer);
    });
    const at::Tensor logits = at::cat({ranks[0].logits, ranks[1].logits});
    if (!sync) {
      // Each rank's own statistics: another output (so the checks above can fail).
      EXPECT_FALSE(at::allclose(logits, expected.logits, 1e-3, 1e-3));
      continue;
    }
    expect_close({logits}, {expected.logits}, "logits", rtol, atol);
    for (int r = 0; r < kWorld; ++r) {
      const std::string rank = "rank " + std::to_string(r);
      const Pass& mine = ranks[static_cast<std::size_t>(r)];
      expect_close(mine.buffers, expected.buffers, rank + " buffer", rtol, atol);
      expect_close(mine.grads, expected.grads, rank + " gradient", rtol, atol);
    }
  }
}

TEST(SyncBatchNormTest, TwoRanksComputeTheSingleProcessBatch) {
  if (!gloo_available()) GTEST_SKIP() << "this build lacks c10d's Gloo backend";
  expect_single_process_batch(3, /*channels_last=*/false, at::kFloat);
  expect_single_process_batch(11, /*channels_last=*/true, at::kFloat);
  expect_single_process_batch(7, /*channels_last=*/false, at::kDouble);
}

TEST(SyncBatchNormTest, UnequalShardsGiveTheGlobalStatisticsAndInputGradients) {
  if (!gloo_available()) GTEST_SKIP() << "this build lacks c10d's Gloo backend";
  // One layer, rank 0 with 3 rows and rank 1 with 5: the counts travel with the sums. With a
  // summed loss the input gradient of each row and the sum of the ranks' parameter gradients are
  // the single process's.
  for (const double offset : {0.0, 25.0}) {  // a mean far from 0 checks the variance's accuracy
    at::Generator generator = seeded(5);
    const at::Tensor x = at::randn({8, 6, 4, 4}, generator) * 3.0 + offset;
    const at::Tensor target = at::randn({8, 6, 4, 4}, generator);
    auto make_bn = [] {
      torch::nn::BatchNorm2d bn(torch::nn::BatchNorm2dOptions(6).momentum(0.2).eps(1e-3));
      at::NoGradGuard no_grad;
      bn->weight.copy_(at::linspace(0.5, 2.0, 6));
      bn->bias.copy_(at::linspace(-1.0, 1.0, 6));
      return bn;
    };
    torch::nn::BatchNorm2d reference = make_bn();
    const at::Tensor x_ref = x.clone().requires_grad_(true);
    const at::Tensor y_ref = reference->forward(x_ref);
    (y_ref * target).sum().backward();
    std::vector<at::Tensor> y(kWorld), dx(kWorld), dw(kWorld), mean(kWorld), var(kWorld);
    run_ranks([&](World& world) {
      const auto r = static_cast<std::size_t>(world.rank());
      const std::int64_t begin = r == 0 ? 0 : 3;
      const std::int64_t rows = r == 0 ? 3 : 5;
      torch::nn::BatchNorm2d bn = make_bn();
      const at::Tensor mine = x.narrow(0, begin, rows).clone().requires_grad_(true);
      y[r] = sync_batch_norm(mine, *bn, world);
      (y[r] * target.narrow(0, begin, rows)).sum().backward();
      dx[r] = mine.grad();
      dw[r] = bn->weight.grad();
      mean[r] = bn->running_mean.clone();
      var[r] = bn->running_var.clone();
      EXPECT_EQ(bn->num_batches_tracked.item<std::int64_t>(), 1);
    });
    const std::string label = "offset " + std::to_string(offset);
    expect_close({at::cat(y)}, {y_ref.detach()}, label + " output");
    expect_close({at::cat(dx)}, {x_ref.grad()}, label + " input gradient");
    expect_close({dw[0] + dw[1]}, {reference->weight.grad()}, label + " weight gradient");
    for (int r = 0; r < kWorld; ++r) {
      expect_close({mean[r], var[r]}, {reference->running_mean, reference->running_var},
                   label + " running statistics of rank " + std::to_string(r));
    }
  }
}

TEST(SyncBatchNormTest, OneRankAndEvalModeArePlainBatchNorm) {
  // A world of one rank (every single-process run): the model keeps torch's BatchNorm, bit for
  // bit; and in eval mode the running statistics are used, with no collective.
  World alone;
  at::Generator generator = seeded(9);
  const at::Tensor images = at::randn({4, 3, 32, 32}, generator);
  for (const bool train : {true, false}) {
    WideResNet plain = tiny_model(1, false);
    WideResNet synced = tiny_model(1, false);
    synced->set_batchnorm_sync(&alone);
    plain->train(train);
    synced->train(train);
    EXPECT_TRUE(at::equal(plain->forward(images), synced->forward(images))) << train;
    const auto a = plain->buffers();
    const auto b = synced->buffers();
    for (std::size_t k = 0; k < a.size(); ++k) EXPECT_TRUE(at::equal(a[k], b[k])) << k;
  }
  if (!gloo_available()) return;
  // Two ranks in eval mode: rank 0 runs twice as many forwards as rank 1, which a collective
  // inside them would not survive (it would wait for rank 1 until the timeout).
  const at::Tensor row = images.narrow(0, 0, 1);
  run_ranks([&](World& world) {
    WideResNet model = tiny_model(1, false);
    model->set_batchnorm_sync(&world);
    model->eval();
    WideResNet plain = tiny_model(1, false);
    plain->eval();
    for (int k = 0; k <= (world.rank() == 0 ? 1 : 0); ++k) {
      EXPECT_TRUE(at::equal(model->forward(row), plain->forward(row)));
    }
  });
}

TEST(SyncBatchNormTest, RefusesAnInputOfAnotherShape) {
  World alone;
  torch::nn::BatchNorm2d bn(torch::nn::BatchNorm2dOptions(3));
  for (const auto& shape :
       std::vector<std::vector<std::int64_t>>{{2, 4, 5, 5}, {2, 3}, {3, 5, 5}}) {
    try {
      sync_batch_norm(at::zeros(shape), *bn, alone);
      ADD_FAILURE() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("[N, 3, H, W]"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace crest::dist
