// The arithmetic of a MixMatch step: sharpening, the K-view guess with CReST+ alignment, MixUp,
// the two losses and the whole loss against values computed once with Debian's python3-torch
// 1.13 (the script is in each comment), the ramp-up, and the Beta draws.
#include "crest/ssl/mixmatch.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <tuple>
#include <vector>

namespace crest {
namespace {

void expect_tensor_near(const at::Tensor& actual, const std::vector<float>& expected,
                        double tolerance) {
  const at::Tensor flat = actual.to(at::kFloat).contiguous().view({-1});
  ASSERT_EQ(flat.numel(), static_cast<std::int64_t>(expected.size()));
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(flat[static_cast<std::int64_t>(i)].item<double>(), expected[i], tolerance)
        << "element " << i;
  }
}

TEST(MixMatchTest, SharpenAgainstHandValues) {
  // T = 0.5 squares: [.36, .09, .01] / .46.
  const at::Tensor q = sharpen(at::tensor({0.6F, 0.3F, 0.1F}).view({1, 3}), 0.5);
  expect_tensor_near(q, {0.36F / 0.46F, 0.09F / 0.46F, 0.01F / 0.46F}, 1e-6);
  // T = 1 leaves a distribution as it is; sharpening never moves the argmax.
  const at::Tensor p = at::tensor({0.2F, 0.5F, 0.3F, 0.4F, 0.4F, 0.2F}).view({2, 3});
  EXPECT_TRUE(at::allclose(sharpen(p, 1.0), p));
  EXPECT_TRUE(sharpen(p, 0.25).argmax(1).equal(p.argmax(1)));
  EXPECT_TRUE(at::allclose(sharpen(p, 0.25).sum(1), at::ones({2})));
  EXPECT_THROW(sharpen(p, 0.0), std::invalid_argument);
}

// #28 kind 5: any T > 0 gives finite targets summing to 1; rows whose powers underflow go to the
// log-space form (the limit: uniform over the row's largest entries), the others stay the
// reference's p^(1/T) / sum bit for bit.
TEST(MixMatchTest, SharpenIsFiniteForEveryTemperature) {
  const at::Tensor p =
      at::tensor({0.2F, 0.5F, 0.3F, 0.4F, 0.4F, 0.2F, 0.05F, 0.9F, 0.05F, 0.1F, 0.1F, 0.8F})
          .view({4, 3});
  for (double T : {0.5, 0.1, 0.01, 1e-3, 1e-9, 1e-30, 1e-300, 5e-324}) {
    const at::Tensor q = sharpen(p, T);
    EXPECT_TRUE(q.isfinite().all().item<bool>()) << "T = " << T;
    EXPECT_TRUE(at::allclose(q.sum(1), at::ones({4}), 1e-5, 1e-6)) << "T = " << T;
    EXPECT_TRUE(q.argmax(1).equal(p.argmax(1))) << "T = " << T;
  }
  // Tiny T: one-hot on the largest entry, split evenly between tied largest entries.
  expect_tensor_near(sharpen(p, 1e-9), {0, 1, 0, 0.5, 0.5, 0, 0, 1, 0, 0, 0, 1}, 1e-6);
  // Normal T: exactly the reference arithmetic.
  for (double T : {1.0, 0.5, 0.25}) {
    const at::Tensor powered = p.pow(1.0 / T);
    EXPECT_TRUE(sharpen(p, T).equal(powered / powered.sum(1, true))) << "T = " << T;
  }
  // A row that underflows beside a normal one: each row takes its own form.
  const at::Tensor mixed = at::tensor({0.5F, 0.5F, 0.0F, 0.999F, 0.001F, 0.0F}).view({2, 3});
  const at::Tensor q = sharpen(mixed, 0.002);
  EXPECT_TRUE(q.isfinite().all().item<bool>());
  expect_tensor_near(q, {0.5, 0.5, 0, 1, 0, 0}, 1e-6);
}

TEST(MixMatchTest, GuessAveragesTheViewsThenAlignsThenSharpens) {
  // K = 2 views of U = 2 images, view-major: rows 0, 1 are view 0; rows 2, 3 view 1.
  const at::Tensor logits =
      at::tensor({2.0F, 0.0F, -1.0F, 0.0F, 1.0F, 0.5F, 0.5F, 0.5F, 0.0F, -1.0F, 2.0F, 0.0F})
          .view({4, 3});
  const at::Tensor probs = at::softmax(logits, 1);
  const at::Tensor mean = (probs.narrow(0, 0, 2) + probs.narrow(0, 2, 2)) / 2;

  const MixMatchGuess plain = mixmatch_guess(logits, 2, 0.5, DistributionAligner(nullptr));
  EXPECT_TRUE(at::allclose(plain.mean_probs, mean, 1e-6, 1e-7));
  EXPECT_TRUE(at::allclose(plain.targets, sharpen(mean, 0.5), 1e-6, 1e-7));

  // CReST+: p_model starts uniform, so alignment multiplies by (1e-6 + target) / (1e-6 + 1/3)
  // and renormalises, on the average of the views, before sharpening.
  const std::vector<double> target = {0.5, 0.3, 0.2};
  DistributionAligner aligner(target, PModelEstimate::kBuffer, 4, 0.999, at::kCPU);
  const MixMatchGuess aligned = mixmatch_guess(logits, 2, 0.5, aligner);
  const at::Tensor weight = (at::tensor({0.5F, 0.3F, 0.2F}) + 1e-6F) / (1.0F / 3.0F + 1e-6F);
  at::Tensor expected = mean * weight;
  expected = sharpen(expected / expected.sum(1, true), 0.5);
  EXPECT_TRUE(at::allclose(aligned.targets, expected, 1e-5, 1e-7));
  EXPECT_TRUE(at::allclose(aligned.mean_probs, mean, 1e-6, 1e-7));  // the raw average
  // The order matters: sharpening each aligned view and then averaging gives another guess.
  at::Tensor per_view = probs * weight;
  per_view = sharpen(per_view / per_view.sum(1, true), 0.5);
  const at::Tensor other = (per_view.narrow(0, 0, 2) + per_view.narrow(0, 2, 2)) / 2;
  EXPECT_FALSE(at::allclose(aligned.targets, other, 1e-3, 1e-3));
}

TEST(MixMatchTest, MixUpWithAGivenPermutationAndWeights) {
  const at::Tensor x = at::tensor({1.0F, 2.0F, 10.0F, 20.0F, 100.0F, 200.0F}).view({3, 2});
  const at::Tensor perm = at::tensor({2, 0, 1}, at::kLong);
  const at::Tensor lambda = at::tensor({0.75F, 1.0F, 0.5F});
  // Row i: lambda_i x_i + (1 - lambda_i) x_perm[i].
  expect_tensor_near(mixup(x, perm, lambda),
                     {0.75F * 1 + 0.25F * 100, 0.75F * 2 + 0.25F * 200, 10, 20,
                      0.5F * 100 + 0.5F * 10, 0.5F * 200 + 0.5F * 20},
                     1e-5);
  // Images [N, 3, H, W]: the weight broadcasts over channels and pixels.
  const at::Tensor images = at::arange(2 * 3 * 2 * 2, at::kFloat).view({2, 3, 2, 2});
  const at::Tensor mixed = mixup(images, at::tensor({1, 0}, at::kLong), at::tensor({0.8F, 0.6F}));
  EXPECT_TRUE(at::allclose(mixed[0], 0.8F * images[0] + 0.2F * images[1]));
  EXPECT_TRUE(at::allclose(mixed[1], 0.6F * images[1] + 0.4F * images[0]));
  EXPECT_THROW(mixup(x, at::tensor({0, 1}, at::kLong), lambda), std::invalid_argument);
}

// z = [[2,-1,.5],[.1,.2,-.3],[-1.5,1,3],[0,0,1]], p = [[.7,.2,.1],[.3,.3,.4],[.05,.15,.8],
// [.2,.5,.3]].
struct SoftCase {
  at::Tensor logits =
      at::tensor({2.0F, -1.0F, 0.5F, 0.1F, 0.2F, -0.3F, -1.5F, 1.0F, 3.0F, 0.0F, 0.0F, 1.0F})
          .view({4, 3});
  at::Tensor targets =
      at::tensor({0.7F, 0.2F, 0.1F, 0.3F, 0.3F, 0.4F, 0.05F, 0.15F, 0.8F, 0.2F, 0.5F, 0.3F})
          .view({4, 3});
};

TEST(MixMatchTest, LossesMatchPyTorch) {
  SoftCase c;
  // (-(p * F.log_softmax(z, 1)).sum(1)).mean()
  EXPECT_NEAR(soft_cross_entropy(c.logits, c.targets).item<double>(), 1.0138123, 1e-6);
  // ((F.softmax(z, 1) - p) ** 2).mean()
  EXPECT_NEAR(probability_mse(c.logits, c.targets).item<double>(), 0.020375276, 1e-7);
  // One-hot targets: the soft CE is the ordinary CE.
  const at::Tensor labels = at::tensor({0, 2, 1, 1}, at::kLong);
  EXPECT_NEAR(soft_cross_entropy(c.logits, at::one_hot(labels, 3).to(at::kFloat)).item<double>(),
              at::cross_entropy_loss(c.logits, labels).item<double>(), 1e-6);
  // bf16 logits are computed in float32.
  EXPECT_EQ(soft_cross_entropy(c.logits.to(at::kBFloat16), c.targets).scalar_type(), at::kFloat);
}

TEST(MixMatchTest, WholeLossMatchesPyTorch) {
  // A linear "model" logits = x @ W on B = 2 labeled and K = 2 views of U = 2 unlabeled rows:
  //   x = [[1,-.5],[.2,.4],[-1,.3],[.5,.5],[-.8,.1],[.6,.2]], W = [[1,-2,.5],[.3,.8,-1]],
  //   labels [0, 2], perm [3,0,5,1,4,2], lambda' [.9,.6,.75,.5,1,.8], T .5, lambda_u 2
  //   with torch.no_grad(): mean = F.softmax(x[2:] @ W, 1).view(2, -1, 3).mean(0);
  //     q = mean ** 2 / (mean ** 2).sum(1, keepdim=True)
  //   P = cat([one_hot(labels, 3), q.repeat(2, 1)]); Xm, Pm = l x + (1-l) x[perm], same for P
  //   z = Xm @ W; lx = soft CE of z[:2], Pm[:2]; lu = ((softmax(z[2:]) - Pm[2:]) ** 2).mean()
  //   (lx + 2 * lu).backward()
  const at::Tensor x =
      at::tensor({1.0F, -0.5F, 0.2F, 0.4F, -1.0F, 0.3F, 0.5F, 0.5F, -0.8F, 0.1F, 0.6F, 0.2F})
          .view({6, 2});
  const at::Tensor W =
      at::tensor({1.0F, -2.0F, 0.5F, 0.3F, 0.8F, -1.0F}).view({2, 3}).set_requires_grad(true);
  MixUpDraw mix;
  mix.perm = at::tensor({3, 0, 5, 1, 4, 2}, at::kLong);
  mix.lambda = at::tensor({0.9F, 0.6F, 0.75F, 0.5F, 1.0F, 0.8F});
  int forwards = 0;
  auto forward = [&](const at::Tensor& input) {
    ++forwards;
    return at::matmul(input, W);
  };
  const MixMatchLoss loss = mixmatch_loss(forward, x, at::tensor({0, 2}, at::kLong), mix, 2, 0.5,
                                          2.0, DistributionAligner(nullptr));
  EXPECT_EQ(forwards, 2);  // the guess and the mixed batch
  expect_tensor_near(loss.mean_probs,
                     {0.05562015F, 0.87532431F, 0.06905553F, 0.58040094F, 0.13669026F, 0.28290883F},
                     1e-6);
  EXPECT_FALSE(loss.mean_probs.requires_grad());
  EXPECT_TRUE(loss.pseudo_labels.equal(at::tensor({1, 0}, at::kLong)));
  EXPECT_NEAR(loss.loss_x.item<double>(), 0.80210072, 1e-6);
  EXPECT_NEAR(loss.loss_u.item<double>(), 0.023162745, 1e-7);
  EXPECT_NEAR(loss.total.item<double>(), 0.84842622, 1e-6);
  // The gradient flows through the mixed forward only (the guess is a constant target).
  loss.total.backward();
  expect_tensor_near(
      W.grad(), {-0.20826325F, 0.04954973F, 0.15871353F, 0.10530866F, 0.00440177F, -0.10971044F},
      1e-6);
}

TEST(MixMatchTest, RampUpIsLinearFromZeroAndCapped) {
  EXPECT_DOUBLE_EQ(mixmatch_rampup(0, 16000), 0.0);
  EXPECT_DOUBLE_EQ(mixmatch_rampup(4000, 16000), 0.25);
  EXPECT_DOUBLE_EQ(mixmatch_rampup(8000, 16000), 0.5);
  EXPECT_DOUBLE_EQ(mixmatch_rampup(16000, 16000), 1.0);
  EXPECT_DOUBLE_EQ(mixmatch_rampup(65535, 16000), 1.0);
  // 0 steps: the full weight from the first step (the reference release).
  EXPECT_DOUBLE_EQ(mixmatch_rampup(0, 0), 1.0);
  EXPECT_DOUBLE_EQ(mixmatch_rampup(7, 0), 1.0);
}

TEST(MixMatchTest, BetaDrawsAfterTheMaxAndTheirMean) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(123);
  const std::int64_t n = 100000;
  const MixUpDraw draw = draw_mixup(n, 0.75, gen, at::kCPU);
  ASSERT_EQ(draw.lambda.numel(), n);
  EXPECT_EQ(draw.lambda.scalar_type(), at::kFloat);
  EXPECT_GE(draw.lambda.min().item<double>(), 0.5);
  EXPECT_LE(draw.lambda.max().item<double>(), 1.0);
  // E[max(L, 1 - L)] for L ~ Beta(.75, .75) = 2 * integral_{1/2}^1 x f(x) dx = 0.7782089
  // (mpmath quad); the standard error of the mean of n draws is about 0.0005.
  EXPECT_NEAR(draw.lambda.to(at::kDouble).mean().item<double>(), 0.7782089, 0.003);
  // The permutation holds every row once.
  EXPECT_TRUE(std::get<0>(draw.perm.sort()).equal(at::arange(n, at::kLong)));
  // The same generator state draws the same values (what --resume relies on).
  at::Generator again = at::make_generator<at::CPUGeneratorImpl>(123);
  const MixUpDraw repeat = draw_mixup(n, 0.75, again, at::kCPU);
  EXPECT_TRUE(repeat.lambda.equal(draw.lambda));
  EXPECT_TRUE(repeat.perm.equal(draw.perm));
  // A large alpha concentrates Beta at 1/2 (mean 0.528 after the max for 100), a small one at 0
  // and 1 (0.889 for 0.05).
  EXPECT_LT(draw_mixup(2000, 100.0, gen, at::kCPU).lambda.mean().item<double>(), 0.56);
  EXPECT_GT(draw_mixup(2000, 0.05, gen, at::kCPU).lambda.mean().item<double>(), 0.85);
  EXPECT_THROW(draw_mixup(4, 0.0, gen, at::kCPU), std::invalid_argument);
}

// On CUDA the draws come from a CUDA generator, stay on the device and repeat from the same seed
// (skipped without a CUDA device).
TEST(MixMatchTest, DrawsOnCudaWithACudaGenerator) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  const at::Device cuda(at::kCUDA);
  at::Generator a = at::globalContext().defaultGenerator(cuda).clone();
  at::Generator b = at::globalContext().defaultGenerator(cuda).clone();
  a.set_current_seed(7);
  b.set_current_seed(7);
  const MixUpDraw first = draw_mixup(50000, 0.75, a, cuda);
  const MixUpDraw second = draw_mixup(50000, 0.75, b, cuda);
  EXPECT_EQ(first.perm.device(), cuda);
  EXPECT_EQ(first.lambda.device(), cuda);
  EXPECT_TRUE(first.perm.equal(second.perm));
  EXPECT_TRUE(first.lambda.equal(second.lambda));
  EXPECT_GE(first.lambda.min().item<double>(), 0.5);
  EXPECT_NEAR(first.lambda.to(at::kDouble).mean().item<double>(), 0.7782089, 0.004);
  EXPECT_TRUE(std::get<0>(first.perm.sort()).equal(at::arange(50000, first.perm.options())));
}

}  // namespace
}  // namespace crest
