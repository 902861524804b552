// Metrics against hand-computed values (the arithmetic is in the comments), the empty-class
// conventions, the minority/majority selection, logit adjustment, and the exact bytes the
// writers produce.
#include "crest/metrics/metrics.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

#include "crest/data/split.h"
#include "crest/io/csv.h"
#include "crest/io/file.h"
#include "crest/io/json_text.h"
#include "crest/util/error.h"
#include "test_util.h"

namespace crest {
namespace {

namespace fs = std::filesystem;

constexpr double kTol = 1e-12;

at::Tensor longs(std::vector<std::int64_t> values) {
  return at::tensor(values, at::TensorOptions().dtype(at::kLong));
}

at::Tensor doubles(std::vector<double> values) {
  return at::tensor(values, at::TensorOptions().dtype(at::kDouble));
}

std::vector<std::int64_t> to_vector(const at::Tensor& t) {
  const at::Tensor flat = t.to(at::kCPU, at::kLong).contiguous().reshape({-1});
  return {flat.data_ptr<std::int64_t>(), flat.data_ptr<std::int64_t>() + flat.numel()};
}

void expect_near_all(const std::vector<double>& actual, const std::vector<double>& expected,
                     double tol = kTol) {
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], tol) << "at index " << i;
  }
}

// CIFAR-10-LT at gamma = 100 (N_max = 5000).
const std::vector<std::int64_t> kCifar10LtCounts = {5000, 2997, 1796, 1077, 645,
                                                    387,  232,  139,  83,   50};

class MetricsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!dir_.empty()) {
      std::error_code ignored;
      fs::remove_all(dir_, ignored);
    }
  }

  // A fresh per-test folder, created on first use.
  fs::path dir() {
    if (dir_.empty()) {
      const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
      dir_ = fs::temp_directory_path() /
             ("crest-metrics-" + std::to_string(::getpid()) + "-" + info->name());
      fs::remove_all(dir_);
      fs::create_directories(dir_);
    }
    return dir_;
  }

 private:
  fs::path dir_;
};

// labels      0 0 0 0 1 1 1 2 2 2
// predictions 0 0 0 1 1 1 2 2 0 0
// confusion (rows true, columns predicted):
//   [[3, 1, 0],
//    [0, 2, 1],
//    [2, 0, 1]]
// support = row sums [4, 3, 3]; predicted = column sums [5, 3, 2]; correct = 3 + 2 + 1 = 6.
// precision = [3/5, 2/3, 1/2]; recall = [3/4, 2/3, 1/3]
// F1: class 0: 2 * 0.6 * 0.75 / 1.35 = 0.9 / 1.35 = 2/3; class 1: 2/3;
//     class 2: 2 * (1/2)(1/3) / (5/6) = (1/3) / (5/6) = 2/5.
// accuracy = 6/10; mean_recall = (3/4 + 2/3 + 1/3) / 3 = 7/12;
// mean_precision = (3/5 + 2/3 + 1/2) / 3 = (53/30) / 3 = 53/90.
const std::vector<std::int64_t> kLabels3 = {0, 0, 0, 0, 1, 1, 1, 2, 2, 2};
const std::vector<std::int64_t> kPredictions3 = {0, 0, 0, 1, 1, 1, 2, 2, 0, 0};

TEST_F(MetricsTest, ConfusionMatrixRowsTrueColumnsPredicted) {
  const at::Tensor confusion = confusion_matrix(longs(kPredictions3), longs(kLabels3), 3);
  EXPECT_EQ(confusion.scalar_type(), at::kLong);
  EXPECT_EQ(confusion.device(), at::Device(at::kCPU));
  EXPECT_EQ(confusion.sizes(), (std::vector<std::int64_t>{3, 3}));
  EXPECT_EQ(to_vector(confusion), (std::vector<std::int64_t>{3, 1, 0, 0, 2, 1, 2, 0, 1}));
}

TEST_F(MetricsTest, ConfusionMatrixAcceptsMixedIntegerDtypes) {
  const at::Tensor predictions = longs(kPredictions3).to(at::kInt);
  const at::Tensor labels = longs(kLabels3).to(at::kByte);
  EXPECT_EQ(to_vector(confusion_matrix(predictions, labels, 3)),
            (std::vector<std::int64_t>{3, 1, 0, 0, 2, 1, 2, 0, 1}));
}

TEST_F(MetricsTest, ConfusionMatrixOfNothingIsZeros) {
  const at::Tensor confusion = confusion_matrix(longs({}), longs({}), 4);
  EXPECT_EQ(confusion.sizes(), (std::vector<std::int64_t>{4, 4}));
  EXPECT_EQ(confusion.sum().item<std::int64_t>(), 0);
}

TEST_F(MetricsTest, ConfusionMatrixOnCudaComesBackToCpu) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  const at::Tensor confusion =
      confusion_matrix(longs(kPredictions3).cuda(), longs(kLabels3).cuda(), 3);
  EXPECT_EQ(confusion.device(), at::Device(at::kCPU));
  EXPECT_EQ(to_vector(confusion), (std::vector<std::int64_t>{3, 1, 0, 0, 2, 1, 2, 0, 1}));
  // Predictions on the CPU, labels on the GPU: counted on the labels' device.
  EXPECT_EQ(to_vector(confusion_matrix(longs(kPredictions3), longs(kLabels3).cuda(), 3)),
            (std::vector<std::int64_t>{3, 1, 0, 0, 2, 1, 2, 0, 1}));
}

TEST_F(MetricsTest, PrecisionRecallF1ByHand) {
  const Evaluation eval = evaluate_predictions(longs(kPredictions3), longs(kLabels3), 3);
  EXPECT_EQ(eval.count, 10);
  EXPECT_NEAR(eval.accuracy, 0.6, kTol);
  EXPECT_NEAR(eval.mean_recall, 7.0 / 12.0, kTol);
  EXPECT_NEAR(eval.mean_precision, 53.0 / 90.0, kTol);
  expect_near_all(eval.per_class.precision, {3.0 / 5.0, 2.0 / 3.0, 1.0 / 2.0});
  expect_near_all(eval.per_class.recall, {3.0 / 4.0, 2.0 / 3.0, 1.0 / 3.0});
  expect_near_all(eval.per_class.f1, {2.0 / 3.0, 2.0 / 3.0, 2.0 / 5.0});
  EXPECT_EQ(eval.per_class.support, (std::vector<std::int64_t>{4, 3, 3}));
  EXPECT_EQ(eval.per_class.predicted, (std::vector<std::int64_t>{5, 3, 2}));
  EXPECT_EQ(to_vector(eval.confusion), (std::vector<std::int64_t>{3, 1, 0, 0, 2, 1, 2, 0, 1}));
  // Imbalanced support: accuracy and mean recall differ.
  EXPECT_GT(std::fabs(eval.accuracy - eval.mean_recall), 0.01);
}

TEST_F(MetricsTest, EvaluateConfusionMatchesEvaluatePredictions) {
  const Evaluation direct = evaluate_predictions(longs(kPredictions3), longs(kLabels3), 3);
  const Evaluation from_matrix =
      evaluate_confusion(longs({3, 1, 0, 0, 2, 1, 2, 0, 1}).view({3, 3}));
  EXPECT_EQ(from_matrix.count, direct.count);
  EXPECT_DOUBLE_EQ(from_matrix.accuracy, direct.accuracy);
  EXPECT_DOUBLE_EQ(from_matrix.mean_recall, direct.mean_recall);
  EXPECT_DOUBLE_EQ(from_matrix.mean_precision, direct.mean_precision);
  EXPECT_EQ(from_matrix.per_class.f1, direct.per_class.f1);
}

// Five classes:
//   labels      0 0 1 1 3
//   predictions 0 2 1 1 0
// class 0: support 2, predicted 2 (positions 0, 4), 1 hit  -> P = 1/2, R = 1/2, F1 = 1/2
// class 1: support 2, predicted 2, 2 hits                  -> P = 1,   R = 1,   F1 = 1
// class 2: no support, predicted once (wrongly)            -> P = 0, R undefined, F1 = 0
// class 3: support 1, never predicted                      -> P undefined, R = 0, F1 = 0
// class 4: no support, never predicted                     -> P, R and F1 undefined
// accuracy = 3/5; mean_recall over the 3 classes with support {0, 1, 3} = (1/2 + 1 + 0) / 3;
// mean_precision over the 3 predicted classes {0, 1, 2} = (1/2 + 1 + 0) / 3.
void expect_figures(const std::vector<double>& actual, const std::vector<double>& expected,
                    double tolerance = kTol) {
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(actual[i])) << "index " << i << ": " << actual[i];
    } else {
      EXPECT_NEAR(actual[i], expected[i], tolerance) << "index " << i;
    }
  }
}

TEST_F(MetricsTest, EmptyClassConventions) {
  const Evaluation eval = evaluate_predictions(longs({0, 2, 1, 1, 0}), longs({0, 0, 1, 1, 3}), 5);
  EXPECT_NEAR(eval.accuracy, 0.6, kTol);
  EXPECT_NEAR(eval.mean_recall, 0.5, kTol);
  EXPECT_NEAR(eval.mean_precision, 0.5, kTol);
  EXPECT_EQ(eval.recall_classes, 3);
  EXPECT_EQ(eval.precision_classes, 3);
  expect_figures(eval.per_class.precision, {0.5, 1.0, 0.0, kUndefined, kUndefined});
  expect_figures(eval.per_class.recall, {0.5, 1.0, kUndefined, 0.0, kUndefined});
  expect_figures(eval.per_class.f1, {0.5, 1.0, 0.0, 0.0, kUndefined});
  EXPECT_EQ(eval.per_class.support, (std::vector<std::int64_t>{2, 2, 0, 1, 0}));
  EXPECT_EQ(eval.per_class.predicted, (std::vector<std::int64_t>{2, 2, 1, 0, 0}));
  // The classes each mean leaves out, so the column and the mean agree.
  EXPECT_EQ(undefined_classes(eval.per_class.recall), (std::vector<int>{2, 4}));
  EXPECT_EQ(undefined_classes(eval.per_class.precision), (std::vector<int>{3, 4}));
  EXPECT_NEAR(mean_over(eval.per_class.recall, {0, 1, 2, 3, 4}), eval.mean_recall, kTol);
  EXPECT_NEAR(mean_over(eval.per_class.precision, {0, 1, 2, 3, 4}), eval.mean_precision, kTol);
}

// The outside report's case: 4 classes, one of them (class 2) without test images. Mean recall
// averages the 3 others, as the per-class column shows; nothing is a made-up 0.
TEST_F(MetricsTest, ClassWithoutTestImagesIsLeftOutOfTheMean) {
  const Evaluation eval =
      evaluate_predictions(longs({0, 1, 1, 3, 3, 0}), longs({0, 0, 1, 1, 3, 3}), 4);
  expect_figures(eval.per_class.recall, {0.5, 0.5, kUndefined, 0.5});
  EXPECT_EQ(eval.recall_classes, 3);
  EXPECT_NEAR(eval.mean_recall, 0.5, kTol);
  EXPECT_EQ(undefined_classes(eval.per_class.recall), (std::vector<int>{2}));
  // Every figure of an evaluation with every class present is defined.
  const Evaluation full = evaluate_predictions(longs({0, 1, 2}), longs({0, 1, 2}), 3);
  EXPECT_TRUE(undefined_classes(full.per_class.recall).empty());
  EXPECT_TRUE(undefined_classes(full.per_class.precision).empty());
  EXPECT_TRUE(undefined_classes(full.per_class.f1).empty());
}

TEST_F(MetricsTest, MeanOverSkipsUndefinedValues) {
  EXPECT_NEAR(mean_over({0.2, kUndefined, 0.6}, {0, 1, 2}), 0.4, kTol);
  EXPECT_NEAR(mean_over({0.2, kUndefined, 0.6}, {1, 2}), 0.6, kTol);
  EXPECT_TRUE(std::isnan(mean_over({0.2, kUndefined, kUndefined}, {1, 2})));
  EXPECT_TRUE(std::isnan(mean_over({kUndefined}, {0})));
}

// per_class.csv holds an undefined figure as an empty field and reads it back as NaN.
TEST_F(MetricsTest, UndefinedFiguresRoundTripThroughPerClassCsv) {
  const Evaluation eval = evaluate_predictions(longs({0, 0, 2}), longs({0, 1, 2}), 4);
  const fs::path file = dir() / "per_class.csv";
  write_per_class_csv(file, per_class_table(eval, {"a", "b", "c", "d"}));
  EXPECT_EQ(read_file(file),
            "class,name,precision,recall,f1,support,predicted\n"
            "0,a,0.500000,1.000000,0.666667,1,2\n"
            "1,b,,0.000000,0.000000,1,0\n"
            "2,c,1.000000,1.000000,1.000000,1,1\n"
            "3,d,,,,0,0\n");
  const PerClassTable back = read_per_class_csv(file);
  expect_figures(back.precision, eval.per_class.precision, 1e-6);  // %.6f in the file
  expect_figures(back.recall, eval.per_class.recall, 1e-6);
  expect_figures(back.f1, eval.per_class.f1, 1e-6);
}

TEST_F(MetricsTest, BalancedAccuracyEqualsMeanRecall) {
  // Four examples of each of three classes, like the balanced CIFAR test sets.
  // labels      0 0 0 0 1 1 1 1 2 2 2 2
  // predictions 0 1 2 0 1 1 1 0 2 0 0 0
  // recall = [2/4, 3/4, 1/4]; mean = (6/4) / 3 = 1/2; accuracy = 6/12 = 1/2.
  const Evaluation eval = evaluate_predictions(longs({0, 1, 2, 0, 1, 1, 1, 0, 2, 0, 0, 0}),
                                               longs({0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2}), 3);
  EXPECT_NEAR(eval.accuracy, 0.5, kTol);
  EXPECT_NEAR(eval.mean_recall, 0.5, kTol);
  EXPECT_NEAR(eval.accuracy, eval.mean_recall, kTol);

  // And on a larger random balanced set.
  at::manual_seed(3);
  const at::Tensor labels = at::arange(1000, at::kLong).remainder(10);
  const at::Tensor predictions = at::randint(0, 10, {1000}, at::kLong);
  const Evaluation random = evaluate_predictions(predictions, labels, 10);
  EXPECT_NEAR(random.accuracy, random.mean_recall, 1e-12);
}

TEST_F(MetricsTest, Cifar10LtMinorityAndMajority) {
  EXPECT_EQ(minority_classes(kCifar10LtCounts, 0.3), (std::vector<int>{7, 8, 9}));
  EXPECT_EQ(majority_classes(kCifar10LtCounts, 0.3), (std::vector<int>{0, 1, 2}));
  // At least one class.
  EXPECT_EQ(minority_classes(kCifar10LtCounts, 0.01), (std::vector<int>{9}));
  EXPECT_EQ(majority_classes(kCifar10LtCounts, 0.01), (std::vector<int>{0}));
  EXPECT_EQ(minority_classes(kCifar10LtCounts, 1.0).size(), 10u);
  // The order of the counts matters, not the class index (reversed long tail).
  const std::vector<std::int64_t> reversed(kCifar10LtCounts.rbegin(), kCifar10LtCounts.rend());
  EXPECT_EQ(minority_classes(reversed, 0.3), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(majority_classes(reversed, 0.3), (std::vector<int>{7, 8, 9}));
}

TEST_F(MetricsTest, Cifar100LtMinorityIsTheLastThirty) {
  // CIFAR-100-LT's tail counts repeat (..., 5, 5, 5); ties go to the higher index.
  const std::vector<std::int64_t> counts = crest_lt_counts(500, 100, 100);
  std::vector<int> tail, head;
  for (int c = 70; c < 100; ++c) tail.push_back(c);
  for (int c = 0; c < 30; ++c) head.push_back(c);
  EXPECT_EQ(minority_classes(counts, 0.3), tail);
  EXPECT_EQ(majority_classes(counts, 0.3), head);
}

TEST_F(MetricsTest, TiesFollowTheHeadToTailConvention) {
  const std::vector<std::int64_t> balanced = {7, 7, 7, 7, 7};
  EXPECT_EQ(minority_classes(balanced, 0.4), (std::vector<int>{3, 4}));
  EXPECT_EQ(majority_classes(balanced, 0.4), (std::vector<int>{0, 1}));
  // Ties among the smallest only: {1, 3} tie at 2, the higher index wins the single slot.
  EXPECT_EQ(minority_classes({9, 2, 5, 2}, 0.25), (std::vector<int>{3}));
  EXPECT_EQ(majority_classes({9, 2, 9, 2}, 0.25), (std::vector<int>{0}));
}

TEST_F(MetricsTest, MinorityMajorityValidation) {
  expect_input_error([] { minority_classes({}, 0.3); }, {"minority_classes", "empty"});
  expect_input_error([] { majority_classes({1, 2}, 0.0); }, {"fraction", "(0, 1]"});
  expect_input_error([] { minority_classes({1, 2}, 1.5); }, {"fraction", "1.5"});
}

TEST_F(MetricsTest, MeanOverClasses) {
  const std::vector<double> recall = {0.9, 0.8, 0.5, 0.25};
  EXPECT_NEAR(mean_over(recall, {2, 3}), 0.375, kTol);
  EXPECT_NEAR(mean_over(recall, {0}), 0.9, kTol);
  const Evaluation eval = evaluate_predictions(longs(kPredictions3), longs(kLabels3), 3);
  // Minority {2} of counts [10, 10, 1] -> recall 1/3.
  EXPECT_NEAR(mean_over(eval.per_class.recall, minority_classes({10, 10, 1}, 0.34)), 1.0 / 3.0,
              kTol);
  expect_input_error([&] { mean_over(recall, {}); }, {"no classes"});
  expect_input_error([&] { mean_over(recall, {4}); }, {"class 4", "[0, 4)"});
  expect_input_error([&] { mean_over(recall, {-1}); }, {"class -1"});
}

TEST_F(MetricsTest, LogitAdjustmentArithmetic) {
  // prior counts [6, 3, 1] -> pi = [0.6, 0.3, 0.1]; tau = 2:
  // [1 - 2 ln 0.6, 2 - 2 ln 0.3, 0.5 - 2 ln 0.1]
  const at::Tensor logits = doubles({1.0, 2.0, 0.5}).view({1, 3});
  const at::Tensor adjusted = logit_adjust(logits, longs({6, 3, 1}), 2.0);
  EXPECT_EQ(adjusted.sizes(), logits.sizes());
  EXPECT_EQ(adjusted.scalar_type(), at::kDouble);
  EXPECT_NEAR(adjusted[0][0].item<double>(), 1.0 - 2.0 * std::log(0.6), kTol);
  EXPECT_NEAR(adjusted[0][1].item<double>(), 2.0 - 2.0 * std::log(0.3), kTol);
  EXPECT_NEAR(adjusted[0][2].item<double>(), 0.5 - 2.0 * std::log(0.1), kTol);
  // tau = 0 leaves the logits alone; a float prior that already sums to 1 gives the same result.
  EXPECT_TRUE(logit_adjust(logits, longs({6, 3, 1}), 0.0).equal(logits));
  EXPECT_TRUE(at::allclose(logit_adjust(logits, doubles({0.6, 0.3, 0.1}), 2.0), adjusted));
  // float logits stay float.
  EXPECT_EQ(logit_adjust(logits.to(at::kFloat), longs({6, 3, 1})).scalar_type(), at::kFloat);
}

TEST_F(MetricsTest, LogitAdjustmentFlipsTheArgmax) {
  // [2, 1] favours class 0; with pi = [0.9, 0.1] and tau = 1:
  // [2 - ln 0.9, 1 - ln 0.1] = [2.105, 3.303] favours class 1.
  const at::Tensor logits = doubles({2.0, 1.0, 0.0, 3.0}).view({2, 2});
  const at::Tensor prior = longs({900, 100});
  EXPECT_EQ(to_vector(logits.argmax(1)), (std::vector<std::int64_t>{0, 1}));
  EXPECT_EQ(to_vector(logit_adjust(logits, prior).argmax(1)), (std::vector<std::int64_t>{1, 1}));
}

TEST_F(MetricsTest, LogitAdjustmentOfAnEmptyClassIsFinite) {
  const at::Tensor adjusted = logit_adjust(doubles({0.0, 0.0}), longs({5, 0}));
  EXPECT_NEAR(adjusted[0].item<double>(), 0.0, kTol);
  EXPECT_NEAR(adjusted[1].item<double>(), -std::log(kPriorEpsilon), 1e-9);
  EXPECT_TRUE(adjusted.isfinite().all().item<bool>());
}

TEST_F(MetricsTest, LogitAdjustmentValidation) {
  const at::Tensor logits = doubles({1.0, 2.0, 3.0}).view({1, 3});
  expect_input_error([&] { logit_adjust(logits, longs({1, 2})); }, {"class_prior", "[3]", "[2]"});
  expect_input_error([&] { logit_adjust(logits, doubles({1.0, -1.0, 1.0})); }, {">= 0"});
  expect_input_error([&] { logit_adjust(logits, longs({0, 0, 0})); }, {"sums to 0"});
  expect_input_error([&] { logit_adjust(doubles({1.0}).sum(), longs({1})); }, {"scalar"});
}

TEST_F(MetricsTest, ConfusionMatrixValidation) {
  const at::Tensor labels = longs({0, 1, 2});
  expect_input_error(
      [&] {
        confusion_matrix(at::zeros({3, 3}, at::kLong), labels, 3);
      },
      {"predictions", "1-D", "[3, 3]"});
  expect_input_error([&] { confusion_matrix(at::zeros({3}, at::kFloat), labels, 3); },
                     {"predictions", "integer", "argmax"});
  expect_input_error(
      [&] {
        confusion_matrix(longs({0, 1}), labels, 3);
      },
      {"same length", "2 predictions", "3 labels"});
  expect_input_error(
      [&] {
        confusion_matrix(longs({0, 1, 2}), labels, 2);
      },
      {"labels contain 2", "[0, 2)"});
  expect_input_error(
      [&] {
        confusion_matrix(longs({0, -1, 2}), labels, 3);
      },
      {"predictions contain -1", "[0, 3)"});
  expect_input_error([&] { confusion_matrix(labels, labels, 0); }, {"num_classes", "got 0"});
  expect_input_error([&] { evaluate_predictions(longs({}), longs({}), 3); }, {"empty"});
  expect_input_error(
      [&] {
        evaluate_confusion(at::zeros({2, 3}, at::kLong));
      },
      {"square", "[2, 3]"});
}

TEST_F(MetricsTest, CsvFieldQuoting) {
  EXPECT_EQ(csv_field("airplane"), "airplane");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");
}

// labels [0, 0, 1], predictions [0, 1, 1]: confusion [[1, 1], [0, 1]];
// class 0: P = 1/1, R = 1/2, F1 = 2/3, support 2, predicted 1;
// class 1: P = 1/2, R = 1/1, F1 = 2/3, support 1, predicted 2.
TEST_F(MetricsTest, PerClassAndConfusionCsvExactly) {
  const Evaluation eval = evaluate_predictions(longs({0, 1, 1}), longs({0, 0, 1}), 2);
  const std::vector<std::string> names = {"cat", "big, \"fluffy\" dog"};
  const fs::path per_class = dir() / "nested" / "per_class.csv";
  const fs::path confusion = dir() / "confusion.csv";
  write_per_class_csv(per_class, per_class_table(eval, names));
  write_confusion_csv(confusion, confusion_table(eval.confusion, names));
  EXPECT_EQ(read_file(per_class),
            "class,name,precision,recall,f1,support,predicted\n"
            "0,cat,1.000000,0.500000,0.666667,2,1\n"
            "1,\"big, \"\"fluffy\"\" dog\",0.500000,1.000000,0.666667,1,2\n");
  EXPECT_EQ(read_file(confusion),
            "true\\predicted,cat,\"big, \"\"fluffy\"\" dog\"\n"
            "cat,1,1\n"
            "\"big, \"\"fluffy\"\" dog\",0,1\n");
  // Nothing but the two files (no temporaries left behind).
  std::size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir()))
    files += entry.is_regular_file();
  EXPECT_EQ(files, 2u);
}

TEST_F(MetricsTest, CsvWritersCheckTheNames) {
  const Evaluation eval = evaluate_predictions(longs({0, 1, 1}), longs({0, 0, 1}), 2);
  expect_input_error(
      [&] { write_per_class_csv(dir() / "a.csv", per_class_table(eval, {"only one"})); },
      {"1 class names for 2 classes", "a.csv"});
  expect_input_error(
      [&] {
        write_confusion_csv(dir() / "b.csv", confusion_table(eval.confusion, {"x", "y", "z"}));
      },
      {"3 class names for 2 classes", "b.csv"});
  expect_input_error(
      [&] {
        write_confusion_csv(dir() / "c.csv",
                            confusion_table(at::zeros({2}, at::kLong), {"x", "y"}));
      },
      {"square"});
  EXPECT_FALSE(fs::exists(dir() / "a.csv"));
}

TEST_F(MetricsTest, EvaluationJson) {
  const Evaluation eval = evaluate_predictions(longs(kPredictions3), longs(kLabels3), 3);
  const nlohmann::json json = nlohmann::json::parse(to_json(evaluation_figures(eval)).dump());
  EXPECT_NEAR(json.at("accuracy").get<double>(), 0.6, kTol);
  EXPECT_NEAR(json.at("mean_recall").get<double>(), 7.0 / 12.0, kTol);
  EXPECT_NEAR(json.at("mean_precision").get<double>(), 53.0 / 90.0, kTol);
  expect_near_all(json.at("per_class_recall").get<std::vector<double>>(),
                  {3.0 / 4.0, 2.0 / 3.0, 1.0 / 3.0});
  expect_near_all(json.at("per_class_precision").get<std::vector<double>>(),
                  {3.0 / 5.0, 2.0 / 3.0, 1.0 / 2.0});
  EXPECT_EQ(json.size(), 5u);
}

// An undefined figure is null in JSON and NaN again when read back.
TEST_F(MetricsTest, UndefinedFiguresAreNullInJson) {
  const Evaluation eval = evaluate_predictions(longs({0, 0, 2}), longs({0, 1, 2}), 4);
  const std::string text = json_text(to_json(evaluation_figures(eval)));
  const nlohmann::json json = nlohmann::json::parse(text);
  EXPECT_TRUE(json.at("per_class_recall").at(3).is_null()) << text;
  EXPECT_TRUE(json.at("per_class_precision").at(1).is_null()) << text;
  EXPECT_TRUE(json.at("per_class_precision").at(3).is_null()) << text;
  EXPECT_EQ(text.find("nan"), std::string::npos) << text;
  const EvaluationFigures back = evaluation_figures_from_json(json, "f.json");
  expect_figures(back.per_class_recall, eval.per_class.recall);
  expect_figures(back.per_class_precision, eval.per_class.precision);
  EXPECT_NEAR(back.mean_recall, eval.mean_recall, kTol);
}

TEST_F(MetricsTest, SummaryOfAnEmptySeriesThrows) {
  expect_input_error([] { summarize_accuracies({}); }, {"empty"});
}

TEST_F(MetricsTest, SummaryOfOneEvaluation) {
  const AccuracySummary s = summarize_accuracies({0.42});
  EXPECT_DOUBLE_EQ(s.final_acc, 0.42);
  EXPECT_DOUBLE_EQ(s.best, 0.42);
  EXPECT_EQ(s.best_index, 0);
  EXPECT_DOUBLE_EQ(s.median_last_1, 0.42);
  EXPECT_DOUBLE_EQ(s.median_last_10, 0.42);
  EXPECT_DOUBLE_EQ(s.median_last_20, 0.42);
  EXPECT_DOUBLE_EQ(s.median_last_50, 0.42);
}

TEST_F(MetricsTest, SummaryOfFiveEvaluations) {
  // Fewer than 10: every median is over all five, sorted [0.1, 0.2, 0.3, 0.5, 0.5] -> 0.3.
  // The best 0.5 is reached first at index 1.
  const AccuracySummary s = summarize_accuracies({0.1, 0.5, 0.3, 0.5, 0.2});
  EXPECT_DOUBLE_EQ(s.final_acc, 0.2);
  EXPECT_DOUBLE_EQ(s.best, 0.5);
  EXPECT_EQ(s.best_index, 1);
  EXPECT_DOUBLE_EQ(s.median_last_1, 0.2);
  EXPECT_DOUBLE_EQ(s.median_last_10, 0.3);
  EXPECT_DOUBLE_EQ(s.median_last_20, 0.3);
  EXPECT_DOUBLE_EQ(s.median_last_50, 0.3);
}

TEST_F(MetricsTest, SummaryOfTwentyFiveEvaluations) {
  // series[i] = i for i = 0..24.
  // last 10 = 15..24 -> (19 + 20) / 2 = 19.5; last 20 = 5..24 -> (14 + 15) / 2 = 14.5;
  // last 50 = all 25 (odd) -> the 13th value, 12.
  std::vector<double> series;
  for (int i = 0; i < 25; ++i) series.push_back(i);
  const AccuracySummary s = summarize_accuracies(series);
  EXPECT_DOUBLE_EQ(s.final_acc, 24.0);
  EXPECT_DOUBLE_EQ(s.best, 24.0);
  EXPECT_EQ(s.best_index, 24);
  EXPECT_DOUBLE_EQ(s.median_last_1, 24.0);
  EXPECT_DOUBLE_EQ(s.median_last_10, 19.5);
  EXPECT_DOUBLE_EQ(s.median_last_20, 14.5);
  EXPECT_DOUBLE_EQ(s.median_last_50, 12.0);
}

TEST_F(MetricsTest, SummaryOfSixtyEvaluations) {
  // series[i] = 60 - i for i = 0..59 (falling): the tails hold the small values.
  // last 10 = 10..1 -> 5.5; last 20 = 20..1 -> 10.5; last 50 = 50..1 -> 25.5.
  std::vector<double> series;
  for (int i = 0; i < 60; ++i) series.push_back(60 - i);
  const AccuracySummary s = summarize_accuracies(series);
  EXPECT_DOUBLE_EQ(s.final_acc, 1.0);
  EXPECT_DOUBLE_EQ(s.best, 60.0);
  EXPECT_EQ(s.best_index, 0);
  EXPECT_DOUBLE_EQ(s.median_last_1, 1.0);
  EXPECT_DOUBLE_EQ(s.median_last_10, 5.5);
  EXPECT_DOUBLE_EQ(s.median_last_20, 10.5);
  EXPECT_DOUBLE_EQ(s.median_last_50, 25.5);

  const nlohmann::json json = to_json(s);
  EXPECT_EQ(json.at("best_index").get<std::int64_t>(), 0);
  EXPECT_DOUBLE_EQ(json.at("final_acc").get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(json.at("best").get<double>(), 60.0);
  EXPECT_DOUBLE_EQ(json.at("median_last_1").get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(json.at("median_last_10").get<double>(), 5.5);
  EXPECT_DOUBLE_EQ(json.at("median_last_20").get<double>(), 10.5);
  EXPECT_DOUBLE_EQ(json.at("median_last_50").get<double>(), 25.5);
  EXPECT_EQ(json.size(), 7u);
}

}  // namespace
}  // namespace crest

namespace crest {
namespace {

// The class profile behind the CReST rates (e.g. the ideal N_l of gamma_l, not integers)
// decides minority and majority: with the darp protocol's reversed unlabeled set the LT totals
// would call middle classes the minority.
TEST(MinorityOfProfile, DarpReversedUnlabeledSet) {
  const std::vector<std::int64_t> labeled = darp_counts(1500, 10, 100);
  std::vector<std::int64_t> unlabeled = darp_counts(3000, 10, 100);
  std::reverse(unlabeled.begin(), unlabeled.end());
  std::vector<std::int64_t> totals;
  for (std::size_t c = 0; c < labeled.size(); ++c) totals.push_back(labeled[c] + unlabeled[c]);
  EXPECT_NE(minority_classes(totals, 0.3), (std::vector<int>{7, 8, 9}));  // the old definition
  std::vector<double> profile;
  for (int c = 0; c < 10; ++c) profile.push_back(std::pow(0.01, c / 9.0));
  EXPECT_EQ(minority_classes_of_profile(profile, 0.3), (std::vector<int>{7, 8, 9}));
  EXPECT_EQ(majority_classes_of_profile(profile, 0.3), (std::vector<int>{0, 1, 2}));
  const std::vector<double> labeled_profile(labeled.begin(), labeled.end());
  EXPECT_EQ(minority_classes_of_profile(labeled_profile, 0.3), (std::vector<int>{7, 8, 9}));
}

}  // namespace
}  // namespace crest
