// Data-parallel arithmetic with real c10d process groups: two ranks as two threads of this
// process, each with its own ProcessGroupGloo over one c10d::HashStore (loopback TCP between
// them). The central check: with BatchNorm in eval mode, the gradient each rank holds after
// GradientReducer::finish equals the single-process gradient of the whole global batch
// (FixMatch's loss on a labeled and an unlabeled batch split in two), so the bucketed,
// overlapped all-reduce and the averaging are right.
#include "crest/dist/gradient_reducer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <exception>
#include <functional>
#include <thread>
#include <vector>

#include "crest/dist/rank_state.h"
#include "crest/dist/world.h"
#include "crest/models/wrn.h"
#include "crest/ssl/fixmatch.h"
#include "two_ranks.h"

namespace crest::dist {
namespace {

using test_ranks::kWorld;
using test_ranks::run_ranks;

WideResNet tiny_model(std::uint64_t seed) {
  WideResNetOptions options;
  options.depth = 10;
  options.width = 1;
  options.num_classes = 4;
  WideResNet model(options);
  at::Generator generator = at::globalContext().defaultGenerator(at::kCPU).clone();
  generator.set_current_seed(seed);
  initialize_wide_resnet(*model, generator);
  model->eval();  // BatchNorm from its running statistics: each sample's logits stand alone
  return model;
}

struct GlobalBatch {
  at::Tensor labeled;  // [B, 3, 32, 32]
  at::Tensor labels;   // [B]
  at::Tensor weak;     // [U, 3, 32, 32]
  at::Tensor strong;   // [U, 3, 32, 32]
};

GlobalBatch make_batch(std::int64_t b, std::int64_t u) {
  at::Generator generator = at::globalContext().defaultGenerator(at::kCPU).clone();
  generator.set_current_seed(7);
  GlobalBatch batch;
  batch.labeled = at::randn({b, 3, 32, 32}, generator);
  batch.labels = at::randint(0, 4, {b}, generator);
  batch.weak = at::randn({u, 3, 32, 32}, generator);
  batch.strong = at::randn({u, 3, 32, 32}, generator);
  return batch;
}

// FixMatch's loss and backward on `model` for rows [lb, le) of the labeled and [ub, ue) of the
// unlabeled batch, as StepEngine::run_step computes it for FixMatchLearner (one forward over the
// three views).
void fixmatch_backward(WideResNet& model, const GlobalBatch& g, std::int64_t lb, std::int64_t le,
                       std::int64_t ub, std::int64_t ue) {
  const std::int64_t b = le - lb;
  const std::int64_t u = ue - ub;
  const at::Tensor inputs =
      at::cat({g.labeled.narrow(0, lb, b), g.weak.narrow(0, ub, u), g.strong.narrow(0, ub, u)});
  const at::Tensor logits = model->forward(inputs);
  const at::Tensor probs = at::softmax(logits.narrow(0, b, u).detach(), 1);
  // A threshold some rows pass and some do not, so the mask matters.
  const FixMatchLoss loss = fixmatch_loss(logits.narrow(0, 0, b), g.labels.narrow(0, lb, b), probs,
                                          logits.narrow(0, b + u, u), 0.3, 1.0);
  loss.total.backward();
}

std::vector<at::Tensor> gradients(WideResNet& model) {
  std::vector<at::Tensor> out;
  for (const at::Tensor& p : model->parameters()) out.push_back(p.grad().clone());
  return out;
}

void expect_gradients_match(std::size_t bucket_bytes, std::size_t expected_buckets_at_least) {
  if (!gloo_available()) GTEST_SKIP() << "this build lacks c10d's Gloo backend";
  constexpr std::int64_t kB = 8;
  constexpr std::int64_t kU = 16;
  const GlobalBatch batch = make_batch(kB, kU);
  WideResNet reference = tiny_model(3);
  fixmatch_backward(reference, batch, 0, kB, 0, kU);
  const std::vector<at::Tensor> expected = gradients(reference);

  std::vector<std::vector<at::Tensor>> per_rank(kWorld);
  std::vector<std::size_t> buckets(kWorld);
  run_ranks([&](World& world) {
    WideResNet model = tiny_model(3);
    GradientReducer reducer(model->parameters(), world, bucket_bytes);
    buckets[static_cast<std::size_t>(world.rank())] = reducer.bucket_count();
    const std::int64_t lb = world.rank() * kB / kWorld;
    const std::int64_t ub = world.rank() * kU / kWorld;
    reducer.prepare();
    fixmatch_backward(model, batch, lb, lb + kB / kWorld, ub, ub + kU / kWorld);
    reducer.finish();
    per_rank[static_cast<std::size_t>(world.rank())] = gradients(model);
  });
  EXPECT_GE(buckets[0], expected_buckets_at_least);
  for (int r = 0; r < kWorld; ++r) {
    const auto& got = per_rank[static_cast<std::size_t>(r)];
    ASSERT_EQ(got.size(), expected.size());
    for (std::size_t k = 0; k < expected.size(); ++k) {
      EXPECT_TRUE(at::allclose(got[k], expected[k], /*rtol=*/1e-4, /*atol=*/1e-6))
          << "rank " << r << ", parameter " << k << ": max difference "
          << (got[k] - expected[k]).abs().max().item<float>();
    }
    // Both ranks hold bit-identical gradients: the SGD steps then agree exactly.
    for (std::size_t k = 0; k < expected.size(); ++k) {
      EXPECT_TRUE(at::equal(got[k], per_rank[0][k])) << "rank " << r << ", parameter " << k;
    }
  }
  // The rank's own half alone is far from the global gradient (the check can fail).
  WideResNet half = tiny_model(3);
  fixmatch_backward(half, batch, 0, kB / kWorld, 0, kU / kWorld);
  const std::vector<at::Tensor> own = gradients(half);
  bool differs = false;
  for (std::size_t k = 0; k < expected.size(); ++k) {
    differs = differs || !at::allclose(own[k], expected[k], 1e-4, 1e-6);
  }
  EXPECT_TRUE(differs);
}

TEST(GradientReducerTest, TwoRanksGiveTheSingleProcessGradientOfTheGlobalBatch) {
  expect_gradients_match(GradientReducer::kDefaultBucketBytes, 1);
}

TEST(GradientReducerTest, ManySmallBucketsGiveTheSameGradient) {
  // 4 KiB buckets: WRN-10-1 splits into many, started while autograd is still running.
  expect_gradients_match(4096, 5);
}

TEST(WorldTest, BroadcastGatherAndReduce) {
  if (!gloo_available()) GTEST_SKIP() << "this build lacks c10d's Gloo backend";
  run_ranks([](World& world) {
    const int r = world.rank();
    // broadcast: rank 0's values of two dtypes reach every rank.
    at::Tensor f = at::full({2, 3}, static_cast<float>(r + 1));
    at::Tensor l = at::full({4}, static_cast<std::int64_t>(10 * (r + 1)));
    world.broadcast({f, l});
    EXPECT_TRUE(at::equal(f, at::full({2, 3}, 1.0f)));
    EXPECT_TRUE(at::equal(l, at::full({4}, static_cast<std::int64_t>(10))));
    // all_reduce_sum
    at::Tensor s = at::full({3}, static_cast<double>(r + 1));
    world.all_reduce_sum(s);
    EXPECT_TRUE(at::equal(s, at::full({3}, 3.0, at::kDouble)));
    // all_gather_rows with unequal shards: rank 0 has 3 rows, rank 1 has 1.
    const at::Tensor rows = at::arange(r == 0 ? 0 : 3, r == 0 ? 3 : 4, at::kLong).unsqueeze(1);
    EXPECT_TRUE(at::equal(world.all_gather_rows(rows), at::arange(4, at::kLong).unsqueeze(1)));
    // map_sharded over 5 rows gives compute(0, 5)'s rows in order.
    const at::Tensor mapped = map_sharded(world, 5, [](std::int64_t b, std::int64_t e) {
      return at::arange(b, e, at::kLong).mul(2);
    });
    EXPECT_TRUE(at::equal(mapped, at::arange(5, at::kLong).mul(2)));
    EXPECT_TRUE(world.any(r == 1));
    EXPECT_FALSE(world.any(false));
    EXPECT_TRUE(world.all_equal("same"));
    EXPECT_FALSE(world.all_equal(r == 0 ? "a" : "b"));
  });
}

TEST(WorldTest, RankStateTravelsThroughRankZero) {
  if (!gloo_available()) GTEST_SKIP() << "this build lacks c10d's Gloo backend";
  run_ranks([](World& world) {
    const int r = world.rank();
    at::Tensor mine = at::full({3}, static_cast<std::int64_t>(100 + r));
    torch::nn::Module state("State");
    RankStateMirror mirror({{"sampler.offset", mine}}, state, world);
    const auto names = state.named_buffers().keys();
    EXPECT_NE(std::find(names.begin(), names.end(), "ranks.1.sampler_offset"), names.end());
    mirror.gather();
    if (r == 0) {
      EXPECT_TRUE(at::equal(state.named_buffers()["ranks.1.sampler_offset"],
                            at::full({3}, static_cast<std::int64_t>(101))));
    }
    // A load: every rank reads rank 0's file, so the mirror holds rank 0's gathered values.
    state.named_buffers()["ranks.1.sampler_offset"].fill_(7);
    mine.fill_(-1);
    mirror.scatter();
    EXPECT_EQ(mine[0].item<std::int64_t>(), r == 0 ? -1 : 7);  // rank 0 keeps its top level
  });
}

TEST(WorldTest, ShardRangeCoversEveryRowOnce) {
  using Range = std::pair<std::int64_t, std::int64_t>;
  EXPECT_EQ(shard_range(5, 0, 2), Range(0, 3));
  EXPECT_EQ(shard_range(5, 1, 2), Range(3, 5));
  EXPECT_EQ(shard_range(1, 1, 2), Range(1, 1));
  EXPECT_NE(rank_seed(1, 0), rank_seed(1, 1));
}

}  // namespace
}  // namespace crest::dist
