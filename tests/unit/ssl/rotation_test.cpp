#include "crest/ssl/rotation.h"

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>

#include "crest/models/wrn_weights.h"
#include "crest/ssl/train_state.h"
#include "crest/util/signals.h"
#include "test_util.h"

namespace crest {
namespace {

TEST(RotationTest, RotateImagesTurnsEachImageByItsOwnQuarter) {
  const at::Tensor images = at::arange(4 * 2 * 3 * 3, at::kFloat).reshape({4, 2, 3, 3});
  const at::Tensor k = at::tensor({2, 0, 3, 1}, at::kLong);
  const at::Tensor out = rotate_images(images, k);
  for (int n = 0; n < 4; ++n) {
    EXPECT_TRUE(at::equal(out[n], at::rot90(images[n], k[n].item<int64_t>(), {1, 2}))) << n;
  }
  // A quarter turn counter-clockwise moves the top-right corner to the top-left.
  EXPECT_EQ(out[3][0][0][0].item<float>(), images[3][0][0][2].item<float>());
  expect_input_error(
      [] {
        rotate_images(at::zeros({1, 3, 4, 5}), at::zeros({1}, at::kLong));
      },
      {"square", "4x5"});
}

TEST(RotationTest, BalancedRotationsUseEachQuarterEquallyOften) {
  at::Generator g = make_generator(at::kCPU, 7);
  const at::Tensor r = balanced_rotations(10, g, at::kCPU);
  ASSERT_EQ(r.size(0), 10);
  const at::Tensor counts = at::bincount(r, {}, 4);
  EXPECT_GE(counts.min().item<int64_t>(), 1);  // 10 of a shuffled 0,1,2,3 x 3
  EXPECT_LE(counts.max().item<int64_t>(), 3);
  EXPECT_EQ(counts.sum().item<int64_t>(), 10);
  const at::Tensor full = at::bincount(balanced_rotations(128, g, at::kCPU), {}, 4);
  EXPECT_TRUE(at::equal(full, at::full({4}, 32, at::kLong)));
}

TEST(RotationTest, LearningRateWarmsUpThenDropsOnce) {
  PretrainConfig p;  // lr 0.1, warm-up 2.5%, x0.01 after 80%
  EXPECT_NEAR(pretrain_lr(p, 0, 200), 0.1 * 1 / 5, 1e-12);
  EXPECT_NEAR(pretrain_lr(p, 4, 200), 0.1, 1e-12);
  EXPECT_NEAR(pretrain_lr(p, 159, 200), 0.1, 1e-12);
  EXPECT_NEAR(pretrain_lr(p, 160, 200), 0.001, 1e-12);
  p.warmup = 0.0;
  EXPECT_NEAR(pretrain_lr(p, 0, 200), 0.1, 1e-12);
}

}  // namespace
}  // namespace crest

namespace crest {
namespace {

// Images whose orientation shows: bright at the top, dark at the bottom, with noise and a
// random horizontal offset of the bright band's edge.
at::Tensor oriented_images(std::int64_t n, std::uint64_t seed) {
  at::Generator g = make_generator(at::kCPU, seed);
  const at::Tensor rows = at::linspace(255, 0, 16, at::kFloat).view({1, 1, 16, 1});
  at::Tensor images = rows.expand({n, 3, 16, 16}).clone();
  images.add_(at::randn({n, 3, 16, 16}, g) * 30);
  return images.clamp(0, 255).to(at::kByte);
}

class RotationPretrainerTest : public TempDirTest {
 protected:
  PretrainSettings settings() const {
    PretrainSettings s;
    s.model.depth = 10;
    s.model.width = 1;
    s.model.bn_momentum = 0.1;
    s.pretrain.epochs = 4;
    s.pretrain.steps_per_epoch = 8;
    s.pretrain.batch_size = 16;
    s.pretrain.lr = 0.05;
    s.pretrain.warmup = 0.1;
    s.seed = 3;
    s.checkpoint_every = 0;
    s.eval_batch_size = 64;
    return s;
  }
};

TEST_F(RotationPretrainerTest, LearnsRotationsWellAboveChance) {
  RotationPretrainer pretrainer(settings(), at::kCPU, oriented_images(64, 1),
                                oriented_images(32, 2), dir_ / "a");
  const PretrainOutcome outcome = pretrainer.run(false);
  EXPECT_EQ(outcome.steps, 32);
  EXPECT_GT(outcome.test_rotation_accuracy, 0.6);  // chance is 0.25
  EXPECT_TRUE(std::filesystem::exists(dir_ / "a" / "checkpoint.pt"));
  EXPECT_EQ(outcome.backbone_fingerprint, backbone_fingerprint(*pretrainer.model()));
}

TEST_F(RotationPretrainerTest, ResumeAfterAStopEndsWithTheSameWeights) {
  const at::Tensor train = oriented_images(40, 1);
  const at::Tensor test = oriented_images(8, 2);
  PretrainSettings s = settings();
  s.pretrain.epochs = 2;
  s.checkpoint_every = 4;
  RotationPretrainer whole(s, at::kCPU, train, test, dir_ / "whole");
  const std::string expected = whole.run(false).backbone_fingerprint;

  install_stop_handlers();
  std::raise(SIGINT);  // honoured after the first step, with a checkpoint
  RotationPretrainer first(s, at::kCPU, train, test, dir_ / "cut");
  EXPECT_THROW(first.run(false), Interrupted);
  reset_stop_request();
  RotationPretrainer second(s, at::kCPU, train, test, dir_ / "cut");
  EXPECT_EQ(second.run(true).backbone_fingerprint, expected);
}

}  // namespace
}  // namespace crest
