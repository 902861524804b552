// CReST's selection rates and selection, and CReST+'s alignment arithmetic.
#include "crest/selftrain/selection.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>

#include "crest/ssl/alignment.h"
#include "crest/util/error.h"

namespace crest {
namespace {

TEST(SelectionTest, RatesForCifar10Gamma100AlphaOneThird) {
  const std::vector<double> rates = crest_rates(ideal_profile(10, 100), 1.0 / 3.0);
  const std::vector<double> expected = {0.2154, 0.2555, 0.3030, 0.3594, 0.4262,
                                        0.5055, 0.5995, 0.7110, 0.8432, 1.0};
  ASSERT_EQ(rates.size(), expected.size());
  for (std::size_t c = 0; c < rates.size(); ++c) EXPECT_NEAR(rates[c], expected[c], 5e-5) << c;
}

TEST(SelectionTest, RatesFollowFrequencyRankNotClassIndex) {
  // Counts out of index order: class 2 is the head, class 0 the tail.
  const std::vector<double> rates = crest_rates({10, 40, 80, 20}, 1.0);
  // Ranks: 2 (80), 1 (40), 3 (20), 0 (10); mu_l = N_{L+1-l} / N_1.
  EXPECT_DOUBLE_EQ(rates[2], 10.0 / 80);
  EXPECT_DOUBLE_EQ(rates[1], 20.0 / 80);
  EXPECT_DOUBLE_EQ(rates[3], 40.0 / 80);
  EXPECT_DOUBLE_EQ(rates[0], 80.0 / 80);
  // alpha = 0 keeps everything.
  for (double r : crest_rates({10, 40, 80, 20}, 0.0)) EXPECT_DOUBLE_EQ(r, 1.0);
  EXPECT_THROW(crest_rates({10, 0, 5}, 1.0), InputError);
}

TEST(SelectionTest, SelectsTopConfidenceWithFloorCounts) {
  // 7 images, 3 classes. Class 0 predicted 4 times, class 2 three times, class 1 never.
  const at::Tensor probs = at::tensor({0.90, 0.05, 0.05,   // row 0: class 0, 0.90
                                       0.60, 0.30, 0.10,   // row 1: class 0, 0.60
                                       0.10, 0.10, 0.80,   // row 2: class 2, 0.80
                                       0.95, 0.00, 0.05,   // row 3: class 0, 0.95
                                       0.20, 0.10, 0.70,   // row 4: class 2, 0.70
                                       0.70, 0.20, 0.10,   // row 5: class 0, 0.70
                                       0.05, 0.05, 0.90})  // row 6: class 2, 0.90
                               .view({7, 3});
  const Selection s = select_pseudo_labels(probs, {0.5, 1.0, 0.7});
  EXPECT_EQ(s.predicted, (std::vector<std::int64_t>{4, 0, 3}));
  // floor(4 * 0.5) = 2, floor(0 * 1) = 0, floor(3 * 0.7) = 2.
  EXPECT_EQ(s.selected, (std::vector<std::int64_t>{2, 0, 2}));
  EXPECT_EQ(s.rows, (std::vector<std::int64_t>{3, 0, 6, 2}));
  EXPECT_EQ(s.labels, (std::vector<std::int64_t>{0, 0, 2, 2}));
  EXPECT_NEAR(s.confidences[0], 0.95, 1e-12);
}

TEST(SelectionTest, AccountingAgainstTheHiddenLabels) {
  // The selection of SelectsTopConfidenceWithFloorCounts: rows 3, 0 as class 0 and rows 6, 2 as
  // class 2. Hidden labels of the 7 rows: row 0 is class 1, so one class-0 pick is wrong.
  Selection s;
  s.rows = {3, 0, 6, 2};
  s.labels = {0, 0, 2, 2};
  s.confidences = {0.95, 0.9, 0.9, 0.8};
  s.rates = {0.5, 1.0, 0.7};
  s.predicted = {4, 0, 3};
  s.selected = {2, 0, 2};
  const std::vector<std::int64_t> truth = {1, 0, 2, 0, 2, 0, 2};
  const SelectionAccounting a = account_selection(s, truth, 3);
  EXPECT_EQ(a.pool_true_counts, (std::vector<std::int64_t>{3, 1, 3}));
  EXPECT_EQ(a.correct, (std::vector<std::int64_t>{1, 0, 2}));
  EXPECT_EQ(a.correct_total, 3);
  // Precision per pseudo-label: 1/2, none selected -> 0, 2/2; recall per true class: 1/3, 0/1,
  // 2/3; over all: 3 of 4 selected are right.
  EXPECT_EQ(a.precision, (std::vector<double>{0.5, 0.0, 1.0}));
  EXPECT_EQ(a.recall, (std::vector<double>{1.0 / 3.0, 0.0, 2.0 / 3.0}));
  EXPECT_DOUBLE_EQ(a.precision_total, 0.75);

  // Nothing selected: every figure 0, never NaN.
  Selection none;
  none.selected = {0, 0, 0};
  const SelectionAccounting empty = account_selection(none, truth, 3);
  EXPECT_EQ(empty.precision, (std::vector<double>{0.0, 0.0, 0.0}));
  EXPECT_EQ(empty.precision_total, 0.0);

  s.rows[0] = 7;  // outside the pool
  EXPECT_THROW(account_selection(s, truth, 3), InputError);
  EXPECT_THROW(account_selection(none, {0, 5}, 3), InputError);  // a label outside the classes
}

TEST(SelectionTest, TiesAreBrokenByRowDeterministically) {
  const at::Tensor probs = at::tensor({0.8, 0.2, 0.8, 0.2, 0.8, 0.2, 0.9, 0.1}).view({4, 2});
  const Selection s = select_pseudo_labels(probs, {0.75, 1.0});
  EXPECT_EQ(s.rows, (std::vector<std::int64_t>{3, 0, 1}));
}

TEST(SelectionTest, TemperatureScheduleAndGuard) {
  const std::vector<double> expected = {1.0, 0.9, 0.8, 0.7, 0.6, 0.5};
  for (int g = 0; g < 6; ++g) {
    EXPECT_NEAR(alignment_temperature(g, 6, 0.5, TemperatureSchedule::kLinear),
                expected[static_cast<std::size_t>(g)], 1e-12);
  }
  EXPECT_DOUBLE_EQ(alignment_temperature(0, 1, 0.5, TemperatureSchedule::kLinear), 1.0);  // G = 1
  EXPECT_DOUBLE_EQ(alignment_temperature(3, 6, 0.5, TemperatureSchedule::kConstant), 0.5);
}

TEST(SelectionTest, AlignmentArithmetic) {
  // target = normalise(p_data^t).
  const std::vector<double> target = tempered_target({0.8, 0.2}, 0.5);
  EXPECT_NEAR(target[0], std::sqrt(0.8) / (std::sqrt(0.8) + std::sqrt(0.2)), 1e-12);
  // p_model starts uniform: aligned = normalise(p * (1e-6 + target) / (1e-6 + 0.5)).
  DistributionAligner aligner(std::vector<double>{0.75, 0.25}, PModelEstimate::kBuffer, 4, 0.999,
                              at::kCPU);
  const at::Tensor p = at::tensor({0.5f, 0.5f, 0.9f, 0.1f}).view({2, 2});
  at::Tensor aligned = aligner->align(p);
  EXPECT_NEAR(aligned[0][0].item<float>(), 0.75, 1e-5);
  const double a = 0.9 * 0.750001 / 0.500001, b = 0.1 * 0.250001 / 0.500001;
  EXPECT_NEAR(aligned[1][0].item<float>(), a / (a + b), 1e-5);
  // After observing batches, p_model is the mean of the buffer (uniform rows pushed out).
  for (int k = 0; k < 4; ++k) aligner->observe(at::tensor({0.8f, 0.2f, 0.8f, 0.2f}).view({2, 2}));
  EXPECT_NEAR(aligner->p_model()[0].item<float>(), 0.8, 1e-6);
  aligned = aligner->align(at::tensor({0.8f, 0.2f}).view({1, 2}));
  EXPECT_NEAR(aligned[0][0].item<float>(), 0.75, 1e-4);  // a model matching p_model maps to target
  // The ema estimate moves by (1 - m) per batch.
  DistributionAligner ema(std::vector<double>{0.5, 0.5}, PModelEstimate::kEma, 0, 0.9, at::kCPU);
  ema->observe(at::tensor({1.0f, 0.0f}).view({1, 2}));
  EXPECT_NEAR(ema->p_model()[0].item<float>(), 0.9 * 0.5 + 0.1, 1e-6);
  // The state is the registered buffers (the ring and its position), nothing else.
  std::vector<std::string> names;
  for (const auto& buffer : aligner->named_buffers()) names.push_back(buffer.key());
  EXPECT_EQ(names, (std::vector<std::string>{"p_model_history", "history_next"}));
  DistributionAligner restored(std::vector<double>{0.75, 0.25}, PModelEstimate::kBuffer, 4, 0.999,
                               at::kCPU);
  aligner->observe(at::tensor({0.1f, 0.9f}).view({1, 2}));
  for (auto& buffer : restored->named_buffers()) {
    buffer.value().copy_(aligner->named_buffers()[buffer.key()]);
  }
  EXPECT_TRUE(at::allclose(restored->p_model(), aligner->p_model()));
  aligner->observe(at::tensor({0.3f, 0.7f}).view({1, 2}));
  restored->observe(at::tensor({0.3f, 0.7f}).view({1, 2}));
  EXPECT_TRUE(at::allclose(restored->p_model(), aligner->p_model()));
  EXPECT_EQ(aligner->named_buffers()["history_next"].item<std::int64_t>(), 2);  // 6 rows into 4
}

// Where the pool has no labels (#30): the held-out precision per class stands in for the
// selection's, weighted by what is selected; poor below the threshold for a class that receives
// pseudo-labels, or overall.
TEST(SelectionTest, EstimatedPrecisionAndWhatIsPoor) {
  const double nan = std::nan("");
  struct Case {
    std::vector<double> precision;
    std::vector<std::int64_t> predicted, selected;
    double threshold, weighted;
    std::vector<int> poor_classes;
    bool poor;
  };
  const std::vector<Case> cases = {
      // Every class good.
      {{0.9, 0.8, 0.7}, {10, 5, 3}, {4, 2, 1}, 0.5, (4 * 0.9 + 2 * 0.8 + 0.7) / 7, {}, false},
      // A rare class that receives pseudo-labels is poor.
      {{0.9, 0.8, 0.2}, {10, 5, 3}, {4, 2, 1}, 0.5, (4 * 0.9 + 2 * 0.8 + 0.2) / 7, {2}, true},
      // A poor class that receives none does not count; nor does one without an estimate.
      {{0.9, 0.1, nan}, {10, 2, 0}, {4, 0, 3}, 0.5, 0.9, {}, false},
      // A class just below the threshold (the weighted figure is a mean of the class figures,
      // so it is below the threshold only when a class is).
      {{0.6, 0.55}, {4, 4}, {1, 1}, 0.58, 0.575, {1}, true},
      // Threshold 0 never warns.
      {{0.0, 0.1}, {3, 3}, {2, 2}, 0.0, 0.05, {}, false},
      // Nothing to weigh: the weighted estimate is undefined, nothing is poor.
      {{nan, nan}, {0, 0}, {2, 2}, 0.5, nan, {}, false},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const PrecisionEstimate e =
        estimate_selection_precision(c.precision, c.predicted, c.selected, c.threshold);
    if (std::isnan(c.weighted)) {
      EXPECT_TRUE(std::isnan(e.weighted)) << "case " << i;
    } else {
      EXPECT_NEAR(e.weighted, c.weighted, 1e-12) << "case " << i;
    }
    EXPECT_EQ(e.poor_classes, c.poor_classes) << "case " << i;
    EXPECT_EQ(e.poor, c.poor) << "case " << i;
    EXPECT_EQ(e.predicted, c.predicted) << "case " << i;
  }
  for (const auto& sizes :
       std::vector<std::array<std::size_t, 3>>{{2, 3, 3}, {3, 2, 3}, {3, 3, 2}}) {
    EXPECT_THROW(estimate_selection_precision(std::vector<double>(sizes[0], 0.5),
                                              std::vector<std::int64_t>(sizes[1], 1),
                                              std::vector<std::int64_t>(sizes[2], 1), 0.5),
                 InputError);
  }
}

}  // namespace
}  // namespace crest
