// The long-tailed construction and the labeled/unlabeled split, against the paper's counts and
// against NumPy (fixtures printed once by Debian's python3-numpy 1.24.2; the script is in the
// comments next to each fixture).
#include "crest/data/split.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "crest/data/numpy_random.h"
#include "crest/util/error.h"

namespace crest {
namespace {

using Counts = std::vector<std::int64_t>;

std::int64_t sum(const Counts& v) { return std::accumulate(v.begin(), v.end(), std::int64_t{0}); }

// Balanced labels like the CIFAR training sets: class-interleaved, `per_class` of each.
at::Tensor balanced_labels(int classes, int per_class) {
  return at::arange(static_cast<std::int64_t>(classes) * per_class, at::kLong).remainder(classes);
}

DataConfig crest_data(double gamma, double beta, std::int64_t fold) {
  DataConfig data;
  data.imbalance_ratio = gamma;
  data.label_fraction = beta;
  data.fold = fold;
  return data;
}

TEST(NumpyRandomTest, ShuffleMatchesNumpyLegacyRandomState) {
  // r = np.random.RandomState(1); l = list(range(20)); r.shuffle(l)
  NumpyRandomState rng(1);
  std::vector<int> values(20);
  std::iota(values.begin(), values.end(), 0);
  rng.shuffle(values);
  EXPECT_EQ(values, (std::vector<int>{3,  16, 6,  10, 2, 14, 4, 17, 7,  1,
                                      13, 0,  19, 18, 9, 15, 8, 12, 11, 5}));
}

TEST(NumpyRandomTest, ConsecutiveShufflesShareOneStream) {
  // np.random.seed(7); x = list(range(5)); shuffle(x); y = list(range(100)); shuffle(y)
  NumpyRandomState rng(7);
  std::vector<int> x(5), y(100);
  std::iota(x.begin(), x.end(), 0);
  std::iota(y.begin(), y.end(), 0);
  rng.shuffle(x);
  rng.shuffle(y);
  EXPECT_EQ(x, (std::vector<int>{0, 3, 2, 1, 4}));
  EXPECT_EQ(std::vector<int>(y.begin(), y.begin() + 10),
            (std::vector<int>{22, 46, 80, 93, 43, 47, 78, 26, 30, 88}));
}

// as_is: images with a label are the labeled set, those without (kUnknownLabel) the pool.
TEST(SplitTest, AsIsUsesTheLabelsAsGiven) {
  const at::Tensor labels = at::tensor({0, 0, 1, 0, 2, 1, -1, -1, -1}, at::kLong);
  DataConfig data;
  data.protocol = SplitProtocol::kAsIs;
  const Split split = build_split(labels, 3, data);
  EXPECT_EQ(split.labeled, (Counts{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(split.unlabeled, (Counts{6, 7, 8}));
  EXPECT_EQ(split.lt_indices.size(), 9u);
  EXPECT_EQ(split.labeled_counts, (Counts{3, 2, 1}));
  EXPECT_EQ(split.unlabeled_counts, (Counts{0, 0, 0}));
  EXPECT_EQ(split.unlabeled_unknown, 3);
  EXPECT_FALSE(split.unlabeled_truth_known());
  EXPECT_DOUBLE_EQ(measured_imbalance_ratio(split.labeled_counts), 3.0);
  // Without unlabeled images everything is labeled.
  const Split all = build_split(labels.slice(0, 0, 6), 3, data);
  EXPECT_TRUE(all.unlabeled.empty());
  EXPECT_TRUE(all.unlabeled_truth_known());
}

// The crest protocol cuts the labeled images exactly as without extra unlabeled ones, which
// join the pool after them.
TEST(SplitTest, UnlabeledImagesJoinTheCrestPool) {
  const at::Tensor labels = balanced_labels(10, 50);
  const DataConfig data = crest_data(10, 0.2, 1);
  const Split plain = build_split(labels, 10, data);
  const at::Tensor extra = at::cat({labels, at::full({7}, kUnknownLabel, at::kLong)});
  const Split split = build_split(extra, 10, data);
  EXPECT_EQ(split.labeled, plain.labeled);
  EXPECT_EQ(split.lt_counts, plain.lt_counts);
  EXPECT_EQ(split.unlabeled_counts, plain.unlabeled_counts);
  EXPECT_EQ(split.unlabeled.size(), plain.unlabeled.size() + 7);
  EXPECT_EQ(split.unlabeled.back(), 506);
  EXPECT_EQ(split.unlabeled_unknown, 7);
}

TEST(SplitTest, Cifar10LongTailedCounts) {
  EXPECT_EQ(crest_lt_counts(5000, 10, 100),
            (Counts{5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50}));
  EXPECT_EQ(sum(crest_lt_counts(5000, 10, 100)), 12406);
  EXPECT_EQ(sum(crest_lt_counts(5000, 10, 50)), 13996);
  EXPECT_EQ(sum(crest_lt_counts(5000, 10, 200)), 11203);
}

TEST(SplitTest, Cifar100LongTailedTotals) {
  EXPECT_EQ(sum(crest_lt_counts(500, 100, 50)), 12608);
  EXPECT_EQ(sum(crest_lt_counts(500, 100, 100)), 10847);
  EXPECT_EQ(sum(crest_lt_counts(500, 100, 200)), 9502);
}

TEST(SplitTest, GammaOneKeepsEveryClassWhole) {
  EXPECT_EQ(crest_lt_counts(500, 4, 1), (Counts{500, 500, 500, 500}));
}

TEST(SplitTest, Cifar10Gamma100Beta10LabeledCounts) {
  const Split split = build_split(balanced_labels(10, 5000), 10, crest_data(100, 0.1, 1));
  EXPECT_EQ(split.lt_counts, (Counts{5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50}));
  EXPECT_EQ(split.labeled_counts, (Counts{500, 300, 180, 108, 65, 39, 24, 14, 9, 5}));
  EXPECT_EQ(sum(split.labeled_counts), 1244);
  EXPECT_EQ(sum(split.unlabeled_counts), 12406 - 1244);
}

TEST(SplitTest, LabeledAndUnlabeledPartitionTheLongTailedSet) {
  const Split split = build_split(balanced_labels(10, 5000), 10, crest_data(100, 0.1, 3));
  std::set<std::int64_t> labeled(split.labeled.begin(), split.labeled.end());
  std::set<std::int64_t> unlabeled(split.unlabeled.begin(), split.unlabeled.end());
  EXPECT_EQ(labeled.size(), split.labeled.size());
  EXPECT_EQ(unlabeled.size(), split.unlabeled.size());
  for (std::int64_t i : split.labeled) EXPECT_EQ(unlabeled.count(i), 0u) << i;
  std::vector<std::int64_t> together = split.labeled;
  together.insert(together.end(), split.unlabeled.begin(), split.unlabeled.end());
  std::sort(together.begin(), together.end());
  EXPECT_EQ(together, split.lt_indices);
  EXPECT_TRUE(std::is_sorted(split.lt_indices.begin(), split.lt_indices.end()));
}

TEST(SplitTest, SameFoldSameSplitOtherFoldOtherSplit) {
  const at::Tensor labels = balanced_labels(10, 5000);
  const Split a = build_split(labels, 10, crest_data(100, 0.1, 1));
  const Split b = build_split(labels, 10, crest_data(100, 0.1, 1));
  const Split c = build_split(labels, 10, crest_data(100, 0.1, 2));
  EXPECT_EQ(a.labeled, b.labeled);
  EXPECT_EQ(a.unlabeled, b.unlabeled);
  EXPECT_NE(a.labeled, c.labeled);
  // The fold changes only the split, not the long-tailed set (that is lt_seed's job).
  EXPECT_EQ(a.lt_indices, c.lt_indices);
  EXPECT_EQ(a.labeled_counts, c.labeled_counts);
  DataConfig other_lt = crest_data(100, 0.1, 1);
  other_lt.lt_seed = 1;
  EXPECT_NE(build_split(labels, 10, other_lt).lt_indices, a.lt_indices);
}

TEST(SplitTest, MatchesNumpyReferenceOnAToyLabelSet) {
  // labels = [(i*7) % 3 for i in range(60)]; np.random.seed(0); per class c:
  //   idx = np.where(labels == c)[0]; np.random.shuffle(idx); keep idx[:int(20*0.25**(c/2))]
  // lt = sorted(kept); then the reference's get_split on labels[lt] with np.random.seed(2),
  // percent_labeled 0.3, mapped back to source indices.
  at::Tensor labels = (at::arange(60, at::kLong) * 7).remainder(3);
  DataConfig data = crest_data(4, 0.3, 2);
  data.max_per_class = 20;
  const Split split = build_split(labels, 3, data);
  EXPECT_EQ(split.lt_counts, (Counts{20, 10, 5}));
  EXPECT_EQ(split.lt_indices,
            (Counts{0,  1,  3,  4,  6,  7,  9,  12, 15, 17, 18, 21, 24, 27, 30, 31, 33, 34,
                    35, 36, 37, 38, 39, 41, 42, 45, 47, 48, 49, 51, 52, 54, 55, 57, 58}));
  EXPECT_EQ(split.labeled, (Counts{0, 1, 4, 12, 15, 27, 36, 41, 47, 54, 58}));
  EXPECT_EQ(split.unlabeled, (Counts{3,  6,  7,  9,  17, 18, 21, 24, 30, 31, 33, 34,
                                     35, 37, 38, 39, 42, 45, 48, 49, 51, 52, 55, 57}));
}

TEST(SplitTest, DarpProtocolMatchesNumpyAndReversesUnlabeled) {
  // np.random.seed(5); N_l = darp(6, 3, gamma_l=3) = [6, 3, 2];
  // N_u = darp(8, 3, 2)[::-1] = [4, 5, 8]; per class shuffle, first N_l labeled, next N_u.
  at::Tensor labels = (at::arange(60, at::kLong) * 7).remainder(3);
  DataConfig data;
  data.protocol = SplitProtocol::kDarp;
  data.fold = 5;
  data.num_labeled_head = 6;
  data.num_unlabeled_head = 8;
  data.imbalance_ratio_labeled = 3;
  data.imbalance_ratio_unlabeled = -2;
  const Split split = build_split(labels, 3, data);
  EXPECT_EQ(split.labeled_counts, (Counts{6, 3, 2}));
  EXPECT_EQ(split.unlabeled_counts, (Counts{4, 5, 8}));
  EXPECT_EQ(split.labeled, (Counts{3, 6, 10, 15, 25, 35, 36, 37, 38, 51, 57}));
  EXPECT_EQ(split.unlabeled,
            (Counts{2, 13, 19, 23, 26, 30, 32, 33, 39, 40, 41, 47, 50, 52, 53, 54, 58}));
}

TEST(SplitTest, DarpCountsMatchThePublishedProtocol) {
  // CIFAR-10, N_1 = 1500, gamma = 100 (DARP's make_imb_data).
  // np: mu = (1/100)**(1/9); [int(1500 * mu**i) for i < 9] + [int(1500/100)]
  EXPECT_EQ(darp_counts(1500, 10, 100), (Counts{1500, 899, 539, 323, 193, 116, 69, 41, 25, 15}));
}

TEST(SplitTest, TooSmallClassIsAClearError) {
  DataConfig data = crest_data(10, 0.1, 1);
  data.max_per_class = 600;
  try {
    build_split(balanced_labels(10, 500), 10, data);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("class 0 has 500 training images"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("data.max_per_class"), std::string::npos) << e.what();
  }
}

TEST(SplitTest, EmptyClassMakesNmaxZeroError) {
  at::Tensor labels = at::zeros({10}, at::kLong);  // class 1 has no images
  EXPECT_THROW(build_split(labels, 2, crest_data(10, 0.1, 1)), DataError);
}

TEST(SplitTest, LabelFractionOneLabelsEverything) {
  const Split split = build_split(balanced_labels(4, 100), 4, crest_data(10, 1.0, 1));
  EXPECT_TRUE(split.unlabeled.empty());
  EXPECT_EQ(split.labeled, split.lt_indices);
}

// tests/fixtures/acr_split/reference.json: ACR's train_split on synthetic label lists
// (tests/fixtures/acr_split_reference.py; fixtures.acr_split_reference keeps it current).
const nlohmann::json& acr_split_reference() {
  static const nlohmann::json kReference = [] {
    const std::string path =
        std::string(CREST_SOURCE_DIR) + "/tests/fixtures/acr_split/reference.json";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    return nlohmann::json::parse(in);
  }();
  return kReference;
}

// labels[i] = (i * multiplier % n) % classes, the case's list in file order.
at::Tensor case_labels(const nlohmann::json& c) {
  const auto n = c["n"].get<std::int64_t>();
  return (at::arange(n, at::kLong) * c["multiplier"].get<std::int64_t>())
      .remainder(n)
      .remainder(c["classes"].get<std::int64_t>());
}

DataConfig acr_data(const nlohmann::json& c, std::int64_t fold) {
  DataConfig data;
  data.protocol = SplitProtocol::kAcr;
  data.fold = fold;
  data.num_labeled_head = c["num_labeled_head"].get<std::int64_t>();
  data.num_unlabeled_head = c["num_unlabeled_head"].get<std::int64_t>();
  data.imbalance_ratio_labeled = c["imbalance_ratio_labeled"].get<double>();
  data.imbalance_ratio_unlabeled = c["imbalance_ratio_unlabeled"].get<double>();
  return data;
}

// Compares a sorted index list with the case's list, or its size and checksum.
void expect_list(const nlohmann::json& c, const std::string& name, const Counts& got) {
  if (c.contains(name)) {
    EXPECT_EQ(got, c[name].get<Counts>()) << name;
    return;
  }
  std::int64_t checksum = 0;
  for (std::size_t k = 0; k < got.size(); ++k) {
    checksum += static_cast<std::int64_t>(k + 1) * got[k];
  }
  EXPECT_EQ(static_cast<std::int64_t>(got.size()), c[name + "_size"].get<std::int64_t>()) << name;
  EXPECT_EQ(checksum, c[name + "_checksum"].get<std::int64_t>()) << name;
}

TEST(SplitTest, AcrProtocolTakesTheReferenceTrainSplitImages) {
  const nlohmann::json& cases = acr_split_reference()["cases"];
  ASSERT_GE(cases.size(), 10U);
  for (const nlohmann::json& c : cases) {
    SCOPED_TRACE(c["n"].dump() + " images, N_1 " + c["num_labeled_head"].dump() + ", M_1 " +
                 c["num_unlabeled_head"].dump() + ", gamma_u " +
                 c["imbalance_ratio_unlabeled"].dump());
    const int classes = c["classes"].get<int>();
    const Split split = build_split(case_labels(c), classes, acr_data(c, 1));
    EXPECT_EQ(split.labeled_counts, c["labeled_counts"].get<Counts>());
    EXPECT_EQ(split.unlabeled_counts, c["unlabeled_counts"].get<Counts>());
    expect_list(c, "labeled", split.labeled);
    expect_list(c, "unlabeled_only", split.unlabeled);
    // The reference's unlabeled set (labeled images included) is crest's LT set, the unlabeled
    // stream of every generation; its -2 marks are the labeled images.
    expect_list(c, "unlabeled_reference", split.lt_indices);
    EXPECT_EQ(static_cast<std::int64_t>(split.labeled.size()),
              c["marked_labeled"].get<std::int64_t>());
  }
}

TEST(SplitTest, AcrProtocolIgnoresTheFold) {
  for (const nlohmann::json& c : acr_split_reference()["cases"]) {
    const int classes = c["classes"].get<int>();
    const at::Tensor labels = case_labels(c);
    const Split fold1 = build_split(labels, classes, acr_data(c, 1));
    for (std::int64_t fold : {0, 2, 5}) {
      const Split other = build_split(labels, classes, acr_data(c, fold));
      EXPECT_EQ(other.labeled, fold1.labeled);
      EXPECT_EQ(other.unlabeled, fold1.unlabeled);
    }
    // darp's counts, but its per-fold shuffle is not acr's file order.
    DataConfig darp = acr_data(c, 1);
    darp.protocol = SplitProtocol::kDarp;
    const Split shuffled = build_split(labels, classes, darp);
    EXPECT_EQ(shuffled.labeled_counts, fold1.labeled_counts);
    EXPECT_NE(shuffled.labeled, fold1.labeled);
  }
}

TEST(SplitTest, AcrProtocolRefusesAClassTooSmallForItsCounts) {
  // 25 images a class: N_1 + M_1 of the head class (or of the tail, reversed) above that.
  const at::Tensor labels = balanced_labels(4, 25);
  for (const auto& [n1, m1, gamma_u] :
       std::vector<std::tuple<int, int, double>>{{10, 16, 2}, {26, 0, 1}, {5, 25, -4}}) {
    DataConfig data;
    data.protocol = SplitProtocol::kAcr;
    data.num_labeled_head = n1;
    data.num_unlabeled_head = m1;
    data.imbalance_ratio_labeled = 5;
    data.imbalance_ratio_unlabeled = gamma_u;
    try {
      build_split(labels, 4, data);
      ADD_FAILURE() << "expected DataError for N_1 " << n1 << ", M_1 " << m1;
    } catch (const DataError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("has 25 training images but the acr protocol"), std::string::npos)
          << what;
      EXPECT_NE(what.find("data.num_unlabeled_head"), std::string::npos) << what;
    }
  }
}

}  // namespace
}  // namespace crest
