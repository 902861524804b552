// DML-PL's k-NN selection against tests/fixtures/knn/reference.json, which the plain NumPy
// transcription tests/fixtures/knn_reference.py writes from the rules in knn_selection.h (the
// ctest fixtures.knn_reference keeps the file equal to the transcription). Each part is fed the
// reference's own inputs, so a difference shows in the part that makes it. Then the chunking of
// the pool, the device, and the std::invalid_argument cases.
#include "crest/selftrain/knn_selection.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_util.h"

namespace crest {
namespace {

using nlohmann::json;

constexpr double kTol = 1e-9;

const json& fixture() {
  static const json data = [] {
    const std::string path = std::string(CREST_SOURCE_DIR) + "/tests/fixtures/knn/reference.json";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open the fixture " + path);
    return json::parse(in);
  }();
  return data;
}

at::Tensor matrix(const json& j, at::ScalarType dtype = at::kDouble) {
  const auto shape = j.at("shape").get<std::vector<std::int64_t>>();
  return at::tensor(j.at("data").get<std::vector<double>>(), at::kDouble).view(shape).to(dtype);
}

at::Tensor longs(const json& j) {
  return at::tensor(j.get<std::vector<std::int64_t>>(), at::kLong);
}

void expect_near_all(const std::vector<double>& actual, const json& expected,
                     const std::string& what) {
  const auto want = expected.get<std::vector<json>>();
  ASSERT_EQ(actual.size(), want.size()) << what;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (want[i].is_null()) {  // the reference's "none selected"
      EXPECT_TRUE(std::isnan(actual[i])) << what << "[" << i << "]";
    } else {
      EXPECT_NEAR(actual[i], want[i].get<double>(), kTol) << what << "[" << i << "]";
    }
  }
}

struct Case {
  const json& j;
  at::ScalarType dtype() const { return j.at("dtype") == "float32" ? at::kFloat : at::kDouble; }
  at::Tensor anchors() const { return matrix(j.at("anchors"), dtype()); }
  at::Tensor anchor_labels() const { return longs(j.at("anchor_labels")); }
  at::Tensor pool() const { return matrix(j.at("pool"), dtype()); }
  int classes() const { return j.at("num_classes").get<int>(); }
  const json& centroids(int clusters, int iterations) const {
    for (const json& c : j.at("centroids")) {
      if (c.at("clusters") == clusters && c.at("iterations") == iterations) return c;
    }
    throw std::runtime_error("no centroids for these settings in the fixture");
  }
};

TEST(KnnSelectionTest, CentroidsMatchTheReference) {
  for (const json& j : fixture().at("cases")) {
    const Case c{j};
    for (const json& want : j.at("centroids")) {
      SCOPED_TRACE(j.at("name").get<std::string>() + " clusters " + want.at("clusters").dump() +
                   " iterations " + want.at("iterations").dump());
      const KnnCentroids got = class_centroids(c.anchors(), c.anchor_labels(), c.classes(),
                                               want.at("clusters"), want.at("iterations"));
      EXPECT_TRUE(at::equal(got.classes, longs(want.at("classes"))));
      const at::Tensor centres = matrix(want.at("centres"));
      ASSERT_EQ(got.centres.sizes(), centres.sizes());
      EXPECT_EQ(got.centres.scalar_type(), at::kDouble);
      EXPECT_LE((got.centres - centres).abs().max().item<double>(), kTol);
    }
  }
}

TEST(KnnSelectionTest, ScoresMatchTheReference) {
  for (const json& j : fixture().at("cases")) {
    const Case c{j};
    for (const json& want : j.at("scores")) {
      SCOPED_TRACE(j.at("name").get<std::string>() + " neighbours " + want.at("neighbours").dump());
      const json& cj = c.centroids(want.at("clusters"), want.at("iterations"));
      const KnnCentroids centroids{matrix(cj.at("centres")), longs(cj.at("classes"))};
      const KnnScores got =
          score_pool(c.pool(), c.anchors(), c.anchor_labels(), centroids, want.at("neighbours"));
      EXPECT_EQ(got.labels, want.at("labels").get<std::vector<std::int64_t>>());
      expect_near_all(got.similarities, want.at("similarities"), "similarities");
      expect_near_all(got.agreements, want.at("agreements"), "agreements");
    }
  }
}

TEST(KnnSelectionTest, SelectionsMatchTheReference) {
  for (const json& s : fixture().at("selections")) {
    KnnScores scores;
    scores.labels = s.at("labels").get<std::vector<std::int64_t>>();
    scores.similarities = s.at("similarities").get<std::vector<double>>();
    scores.agreements = s.at("agreements").get<std::vector<double>>();
    for (const json& want : s.at("runs")) {
      SCOPED_TRACE(s.at("name").get<std::string>() + " quota " + want.at("quota").dump() +
                   " agreement " + want.at("min_agreement").dump() + " " +
                   want.at("order").get<std::string>());
      const KnnOrder order = want.at("order") == "global" ? KnnOrder::kGlobal : KnnOrder::kBalanced;
      const KnnSelection got = select_knn(scores, s.at("num_classes"), want.at("quota"),
                                          want.at("min_agreement"), order);
      using Longs = std::vector<std::int64_t>;
      EXPECT_EQ(got.rows, want.at("rows").get<Longs>());
      EXPECT_EQ(got.labels, want.at("labels").get<Longs>());
      EXPECT_EQ(got.assigned, want.at("assigned").get<Longs>());
      EXPECT_EQ(got.eligible, want.at("eligible").get<Longs>());
      EXPECT_EQ(got.selected, want.at("selected").get<Longs>());
      expect_near_all(got.agreements, want.at("agreements"), "agreements");
      expect_near_all(got.distances, want.at("distances"), "distances");
      expect_near_all(got.mean_agreement, want.at("mean_agreement"), "mean_agreement");
      expect_near_all(got.mean_distance, want.at("mean_distance"), "mean_distance");
    }
  }
}

TEST(KnnSelectionTest, RoundQuotasMatchTheReference) {
  for (const json& q : fixture().at("quotas")) {
    SCOPED_TRACE(q.dump());
    EXPECT_EQ(
        knn_round_quota(q.at("pool"), q.at("left"), q.at("round"), q.at("rounds"), q.at("share")),
        q.at("quota").get<std::int64_t>());
  }
}

// 4096 anchors make chunks of 2048 pool rows: 4500 rows take three, and the scores are the
// scores of the rows taken one slice at a time.
TEST(KnnSelectionTest, ScoresDoNotDependOnTheChunks) {
  at::manual_seed(7);
  const at::Tensor anchors = at::randn({4096, 4}, at::kDouble);
  const at::Tensor labels = at::randint(0, 3, {4096}, at::kLong);
  const at::Tensor pool = at::randn({4500, 4}, at::kDouble);
  const KnnCentroids centroids = class_centroids(anchors, labels, 3, 2, 5);
  const KnnScores whole = score_pool(pool, anchors, labels, centroids, 7);
  ASSERT_EQ(whole.labels.size(), 4500u);
  for (std::int64_t start : {0, 2047, 2048, 4100}) {
    const KnnScores part =
        score_pool(pool.slice(0, start, start + 3), anchors, labels, centroids, 7);
    for (std::size_t i = 0; i < 3; ++i) {
      const auto row = static_cast<std::size_t>(start) + i;
      EXPECT_EQ(part.labels[i], whole.labels[row]) << row;
      EXPECT_EQ(part.similarities[i], whole.similarities[row]) << row;
      EXPECT_EQ(part.agreements[i], whole.agreements[row]) << row;
    }
  }
}

TEST(KnnSelectionTest, EmptyPoolAndZeroQuota) {
  const Case c{fixture().at("cases").at(0)};
  const json& cj = c.centroids(3, 20);
  const KnnCentroids centroids{matrix(cj.at("centres")), longs(cj.at("classes"))};
  const KnnScores none =
      score_pool(c.pool().slice(0, 0, 0), c.anchors(), c.anchor_labels(), centroids, 5);
  EXPECT_TRUE(none.labels.empty() && none.similarities.empty() && none.agreements.empty());
  const KnnSelection selection = select_knn(none, c.classes(), 10, 0.0, KnnOrder::kBalanced);
  EXPECT_TRUE(selection.rows.empty());
  EXPECT_EQ(selection.assigned, std::vector<std::int64_t>(4, 0));
  EXPECT_TRUE(std::isnan(selection.mean_agreement.at(0)));
}

TEST(KnnSelectionTest, CudaMatchesTheCpu) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  const Case c{fixture().at("cases").at(1)};
  const at::Device cuda("cuda");
  const KnnCentroids cpu = class_centroids(c.anchors(), c.anchor_labels(), c.classes(), 3, 20);
  const KnnCentroids gpu =
      class_centroids(c.anchors().to(cuda), c.anchor_labels().to(cuda), c.classes(), 3, 20);
  ASSERT_TRUE(gpu.centres.is_cuda());
  EXPECT_LE((gpu.centres.cpu() - cpu.centres).abs().max().item<double>(), kTol);
  const KnnScores on_cpu = score_pool(c.pool(), c.anchors(), c.anchor_labels(), cpu, 5);
  const KnnScores on_gpu =
      score_pool(c.pool().to(cuda), c.anchors().to(cuda), c.anchor_labels().to(cuda), gpu, 5);
  EXPECT_EQ(on_gpu.labels, on_cpu.labels);
  EXPECT_EQ(on_gpu.agreements, on_cpu.agreements);
  for (std::size_t i = 0; i < on_cpu.similarities.size(); ++i) {
    EXPECT_NEAR(on_gpu.similarities[i], on_cpu.similarities[i], kTol);
  }
}

template <typename Fn>
void expect_invalid(Fn&& fn, const std::vector<std::string>& needles) {
  expect_error<std::invalid_argument>(std::forward<Fn>(fn), needles);
}

TEST(KnnSelectionTest, CentroidsRefuseBadInput) {
  const at::Tensor x = at::randn({5, 3}, at::kDouble);
  const at::Tensor y = at::tensor(std::vector<std::int64_t>{0, 1, 1, 2, 0}, at::kLong);
  expect_invalid([&] { class_centroids(x.flatten(), y, 3, 2, 1); }, {"[A, D]", "1-D"});
  expect_invalid([&] { class_centroids(x, y.slice(0, 0, 4), 3, 2, 1); }, {"labels", "[5]"});
  expect_invalid([&] { class_centroids(x, y.view({5, 1}), 3, 2, 1); }, {"labels", "[5, 1]"});
  expect_invalid([&] { class_centroids(x, y.to(at::kFloat), 3, 2, 1); }, {"integer"});
  expect_invalid([&] { class_centroids(x, y, 2, 2, 1); }, {"[0, 2)", "got 2"});
  expect_invalid([&] { class_centroids(x, y - 1, 3, 2, 1); }, {"[0, 3)", "got -1"});
  expect_invalid([&] { class_centroids(x, y, 3, 0, 1); }, {"clusters", "got 0"});
  expect_invalid([&] { class_centroids(x, y, 3, -2, 1); }, {"clusters", "got -2"});
  expect_invalid([&] { class_centroids(x, y, 3, 2, -1); }, {"iterations", "got -1"});
  expect_invalid([&] { class_centroids(x, y, 0, 2, 1); }, {"num_classes", "got 0"});
  for (double bad : {std::nan(""), std::numeric_limits<double>::infinity()}) {
    at::Tensor broken = x.clone();
    broken[3][1] = bad;
    expect_invalid([&] { class_centroids(broken, y, 3, 2, 1); }, {"embeddings", "NaN or infinite"});
  }
}

TEST(KnnSelectionTest, ScoringRefusesBadInput) {
  const at::Tensor anchors = at::randn({6, 4}, at::kDouble);
  const at::Tensor labels = at::tensor(std::vector<std::int64_t>{0, 1, 1, 0, 1, 0}, at::kLong);
  const at::Tensor pool = at::randn({5, 4}, at::kDouble);
  const KnnCentroids centroids = class_centroids(anchors, labels, 2, 2, 3);
  expect_invalid([&] { score_pool(pool.slice(1, 0, 3), anchors, labels, centroids, 3); },
                 {"same D", "[5, 3]", "[6, 4]"});
  expect_invalid([&] { score_pool(pool.flatten(), anchors, labels, centroids, 3); }, {"[20]"});
  expect_invalid([&] { score_pool(pool, anchors, labels.slice(0, 0, 5), centroids, 3); },
                 {"labels", "[6]"});
  expect_invalid(
      [&] { score_pool(pool, anchors.slice(0, 0, 0), labels.slice(0, 0, 0), centroids, 3); },
      {"no anchors"});
  const KnnCentroids none{at::zeros({0, 4}, at::kDouble), at::zeros({0}, at::kLong)};
  expect_invalid([&] { score_pool(pool, anchors, labels, none, 3); }, {"K >= 1", "[0, 4]"});
  const KnnCentroids narrow{centroids.centres.slice(1, 0, 2), centroids.classes};
  expect_invalid([&] { score_pool(pool, anchors, labels, narrow, 3); }, {"centres", "[4, 2]"});
  const KnnCentroids short_classes{centroids.centres, centroids.classes.slice(0, 0, 1)};
  expect_invalid([&] { score_pool(pool, anchors, labels, short_classes, 3); }, {"classes"});
  expect_invalid([&] { score_pool(pool, anchors, labels, centroids, 0); }, {"neighbours", "0"});
  expect_invalid([&] { score_pool(pool, anchors, labels, centroids, -4); }, {"neighbours", "-4"});
  at::Tensor broken = pool.clone();
  broken[4][0] = std::nan("");
  expect_invalid([&] { score_pool(broken, anchors, labels, centroids, 3); }, {"pool", "NaN"});
  broken = anchors.to(at::kFloat);
  broken[0][2] = -std::numeric_limits<float>::infinity();
  expect_invalid([&] { score_pool(pool, broken, labels, centroids, 3); }, {"anchors", "infinite"});
}

TEST(KnnSelectionTest, SelectionRefusesBadInput) {
  KnnScores scores;
  scores.labels = {0, 2, 1};
  scores.similarities = {0.5, 0.25, 0.75};
  scores.agreements = {1.0, 0.5, 0.0};
  const auto select = [&scores](int classes, std::int64_t quota, double agreement) {
    return select_knn(scores, classes, quota, agreement, KnnOrder::kGlobal);
  };
  expect_invalid([&] { select(3, -1, 0.5); }, {"quota", "got -1"});
  expect_invalid([&] { select(2, 1, 0.5); }, {"row 1", "is 2", "[0, 2)"});
  expect_invalid([&] { select(3, 1, 1.5); }, {"min_agreement", "[0, 1]"});
  expect_invalid([&] { select(3, 1, -0.1); }, {"min_agreement"});
  expect_invalid([&] { select(3, 1, std::nan("")); }, {"min_agreement"});
  expect_invalid([&] { select(0, 1, 0.5); }, {"num_classes"});
  scores.labels[0] = -1;
  expect_invalid([&] { select(3, 1, 0.5); }, {"row 0", "is -1"});
  scores.labels[0] = 0;
  scores.agreements[2] = std::nan("");
  expect_invalid([&] { select(3, 1, 0.5); }, {"row 2", "NaN"});
  scores.agreements.pop_back();
  expect_invalid([&] { select(3, 1, 0.5); }, {"one entry per pool image", "3, 3 and 2"});
}

TEST(KnnSelectionTest, RoundQuotaRefusesBadInput) {
  expect_invalid([] { knn_round_quota(10, 5, 3, 3, 0.0); }, {"round 3 of 3"});
  expect_invalid([] { knn_round_quota(10, 5, -1, 3, 0.0); }, {"round -1"});
  expect_invalid([] { knn_round_quota(10, 5, 0, 0, 0.0); }, {"of 0 rounds"});
  expect_invalid([] { knn_round_quota(10, 11, 0, 3, 0.0); }, {"left 11", "pool of 10"});
  expect_invalid([] { knn_round_quota(10, -1, 0, 3, 0.0); }, {"left -1"});
  expect_invalid([] { knn_round_quota(10, 5, 0, 3, -0.5); }, {"share", "[0, 1]"});
  expect_invalid([] { knn_round_quota(10, 5, 0, 3, 1.5); }, {"share"});
  expect_invalid([] { knn_round_quota(10, 5, 0, 3, std::nan("")); }, {"share"});
}

}  // namespace
}  // namespace crest
