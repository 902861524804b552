// The labeled losses against values computed once with Debian's python3-torch 1.13 (the script
// is in each comment), and the class-balanced weights of CIFAR-10-LT pinned.
#include "crest/ssl/losses.h"

#include <gtest/gtest.h>

#include <cmath>
#include <utility>
#include <vector>

#include "crest/util/error.h"
#include "test_util.h"

namespace crest {
namespace {

// z = [[2,-1,.5],[.1,.2,-.3],[-1.5,1,3],[0,0,1]], y = [0,2,1,1], class weights w = [.5,1.5,1].
struct LossCase {
  at::Tensor logits =
      at::tensor({2.0F, -1.0F, 0.5F, 0.1F, 0.2F, -0.3F, -1.5F, 1.0F, 3.0F, 0.0F, 0.0F, 1.0F})
          .view({4, 3});
  at::Tensor labels = at::tensor({0, 2, 1, 1}, at::kLong);
  at::Tensor weights = at::tensor({0.5F, 1.5F, 1.0F});
};

double loss_of(LabeledLoss kind, double gamma = 1.0) {
  LossCase c;
  LabeledLossFn fn;
  fn.kind = kind;
  fn.class_weights = c.weights;
  fn.focal_gamma = gamma;
  // prior [.6, .3, .1], tau 1
  fn.log_prior = at::log(at::tensor({0.6F, 0.3F, 0.1F}));
  return fn(c.logits, c.labels).item<double>();
}

TEST(LabeledLossTest, MatchesPyTorch) {
  // F.cross_entropy(z, y)
  EXPECT_NEAR(loss_of(LabeledLoss::kCe), 1.3375623, 1e-6);
  // (F.cross_entropy(z, y, reduction='none') * w[y]).mean()
  EXPECT_NEAR(loss_of(LabeledLoss::kCbSoftmax), 1.7684121, 1e-6);
  // (F.binary_cross_entropy_with_logits(z, one_hot(y), reduction='none') * w[y][:, None])
  //   .sum() / 4
  EXPECT_NEAR(loss_of(LabeledLoss::kCbSigmoid), 3.1245625, 1e-6);
  // the same times (1 - p_t)^2, p = sigmoid(z), p_t = p where one_hot else 1 - p
  EXPECT_NEAR(loss_of(LabeledLoss::kCbFocal, 2.0), 1.6738586, 1e-6);
  // gamma 0: the focal loss is the sigmoid loss
  EXPECT_NEAR(loss_of(LabeledLoss::kCbFocal, 0.0), loss_of(LabeledLoss::kCbSigmoid), 1e-6);
  // F.cross_entropy(z + log(prior), y)
  EXPECT_NEAR(loss_of(LabeledLoss::kLogitAdjusted), 1.3530986, 1e-6);
}

TEST(LabeledLossTest, ClassBalancedWeightsOfCifar10Lt) {
  // CIFAR-10-LT, gamma 100, 10% labeled: ceil(N_c / 10) labeled images per class; beta 0.9999.
  // w = [(1 - b) / (1 - b**n) for n in counts]; w = [x * 10 / sum(w) for x in w]
  const std::vector<double> w =
      class_balanced_weights({500, 300, 180, 108, 65, 39, 24, 14, 9, 5}, 0.9999);
  const std::vector<double> expected = {0.042200, 0.069638, 0.115372, 0.191597, 0.317663,
                                        0.528752, 0.858578, 1.471112, 2.287825, 4.117262};
  ASSERT_EQ(w.size(), expected.size());
  double sum = 0.0;
  for (std::size_t c = 0; c < w.size(); ++c) {
    EXPECT_NEAR(w[c], expected[c], 1e-6) << c;
    sum += w[c];
  }
  EXPECT_NEAR(sum, 10.0, 1e-9);
  // beta 0: every class with examples weighs 1; a class without examples weighs 0.
  EXPECT_EQ(class_balanced_weights({3, 7}, 0.0), (std::vector<double>{1.0, 1.0}));
  EXPECT_EQ(class_balanced_weights({3, 0}, 0.5)[1], 0.0);
  EXPECT_THROW(class_balanced_weights({3, 7}, 1.0), InputError);
  EXPECT_THROW(class_balanced_weights({0, 0}, 0.5), InputError);
}

TEST(LabeledLossTest, MakeFromTheConfig) {
  TrainConfig train;
  train.labeled_loss = LabeledLoss::kLogitAdjusted;
  train.la_tau = 2.0;
  const LabeledLossFn la = make_labeled_loss(train, {30, 10}, at::kCPU);
  EXPECT_NEAR(la.log_prior[0].item<double>(), 2.0 * std::log(0.75), 1e-6);
  EXPECT_NEAR(la.log_prior[1].item<double>(), 2.0 * std::log(0.25), 1e-6);
  train.labeled_loss = LabeledLoss::kCbFocal;
  train.cb_beta = 0.9;
  train.focal_gamma = 0.5;
  const LabeledLossFn cb = make_labeled_loss(train, {30, 10}, at::kCPU);
  EXPECT_EQ(cb.focal_gamma, 0.5);
  EXPECT_EQ(cb.class_weights.numel(), 2);
  train.labeled_loss = LabeledLoss::kCe;
  EXPECT_FALSE(make_labeled_loss(train, {30, 10}, at::kCPU).class_weights.defined());
}

TEST(LabeledLossTest, SigmoidPriorBiasIsMinusLogOfCMinusOne) {
  // Cui et al.: b = -log((1 - pi) / pi), pi = 1 / C; every sigmoid then starts at 1 / C.
  for (int c : {2, 3, 10, 100}) {
    const double b = sigmoid_prior_bias(c);
    EXPECT_NEAR(b, -std::log(c - 1.0), 1e-12) << c;
    EXPECT_NEAR(1.0 / (1.0 + std::exp(-b)), 1.0 / c, 1e-12) << c;
  }
  expect_input_error([] { sigmoid_prior_bias(1); }, {"at least 2 classes", "got 1"});
  expect_input_error([] { sigmoid_prior_bias(0); }, {"at least 2 classes", "got 0"});
  // At logits equal to the bias, cb_sigmoid is log C + (C - 1) log(C / (C - 1)) per image.
  for (int c : {2, 10, 100}) {
    LabeledLossFn fn;
    fn.kind = LabeledLoss::kCbSigmoid;
    fn.class_weights = at::ones({c});
    const at::Tensor logits = at::full({3, c}, sigmoid_prior_bias(c));
    const at::Tensor labels = at::tensor({0, c - 1, 1}, at::kLong);
    EXPECT_NEAR(fn(logits, labels).item<double>(), std::log(c) + (c - 1) * std::log(c / (c - 1.0)),
                1e-4)
        << c;
  }
}

TEST(LabeledLossTest, OnlyTheLogitAdjustedLossCountsAsAdjustingTheLogits) {
  TrainConfig train;
  const std::pair<LabeledLoss, bool> sigmoid[] = {{LabeledLoss::kCe, false},
                                                  {LabeledLoss::kCbSoftmax, false},
                                                  {LabeledLoss::kCbSigmoid, true},
                                                  {LabeledLoss::kCbFocal, true},
                                                  {LabeledLoss::kLogitAdjusted, false}};
  for (const auto& [loss, is_sigmoid] : sigmoid) {
    train.labeled_loss = loss;
    EXPECT_EQ(is_sigmoid_loss(loss), is_sigmoid) << to_string(loss);
    for (double tau : {0.5, 1.0, 10.0}) {
      train.la_tau = tau;
      EXPECT_EQ(logits_already_adjusted(train, AcrConfig{}), loss == LabeledLoss::kLogitAdjusted)
          << to_string(loss) << " tau " << tau;
    }
    // tau 0: the logit-adjusted loss is plain cross-entropy.
    train.la_tau = 0.0;
    EXPECT_FALSE(logits_already_adjusted(train, AcrConfig{})) << to_string(loss);
  }
}

TEST(LabeledLossTest, TheBalancedHeadIsAdjustedByTau2WhateverTheLabeledLoss) {
  // ACR and SeMi evaluate fc_balanced, trained with CE(z + tau2 log pi, y).
  for (TrainAlgorithm algorithm : {TrainAlgorithm::kAcr, TrainAlgorithm::kSemi}) {
    TrainConfig train;
    train.algorithm = algorithm;
    for (LabeledLoss loss :
         {LabeledLoss::kCe, LabeledLoss::kCbSoftmax, LabeledLoss::kLogitAdjusted}) {
      train.labeled_loss = loss;
      AcrConfig acr;
      for (double tau2 : {0.5, 2.0}) {
        acr.tau2 = tau2;
        EXPECT_TRUE(logits_already_adjusted(train, acr)) << to_string(algorithm) << " " << tau2;
      }
      acr.tau2 = 0.0;
      EXPECT_FALSE(logits_already_adjusted(train, acr)) << to_string(algorithm);
    }
  }
  TrainConfig mixmatch;
  mixmatch.algorithm = TrainAlgorithm::kMixMatch;
  EXPECT_FALSE(logits_already_adjusted(mixmatch, AcrConfig{}));
}

}  // namespace
}  // namespace crest
