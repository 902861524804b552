// DML-PL's metric losses (src/ssl/metric_losses.cpp) against tests/fixtures/dmlpl/reference.json,
// which tests/fixtures/dmlpl_reference.py computes from the formulas with plain loops: losses
// and gradients on six seeded batches (three classes, a class of one image, one class only,
// every class of one image, other margins and temperatures); plus the cases with a known answer.
#include "crest/ssl/metric_losses.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace crest {
namespace {

using nlohmann::json;

const json& reference() {
  static const json kReference = [] {
    const std::string path = std::string(CREST_SOURCE_DIR) + "/tests/fixtures/dmlpl/reference.json";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    return json::parse(in);
  }();
  return kReference;
}

at::Tensor tensor_of(const json& j) {
  const std::vector<std::int64_t> shape = j["shape"].get<std::vector<std::int64_t>>();
  return at::tensor(j["data"].get<std::vector<double>>(), at::TensorOptions().dtype(at::kDouble))
      .view(shape);
}

at::Tensor labels_of(const json& c) {
  return at::tensor(c["labels"].get<std::vector<std::int64_t>>(), at::kLong);
}

// |a - b| <= 1e-6 relative to max(1, |b|) (float32 against the reference's float64).
void expect_close(double actual, double expected, const std::string& what) {
  EXPECT_LE(std::abs(actual - expected), 1e-6 * std::max(1.0, std::abs(expected))) << what;
}

struct Evaluated {
  double loss;
  at::Tensor grad;  // float64, the embeddings' shape
};

template <typename Fn>
Evaluated evaluate(const at::Tensor& embeddings, Fn&& fn) {
  const at::Tensor e = embeddings.to(at::kFloat).requires_grad_(true);
  const at::Tensor loss = fn(e);
  EXPECT_EQ(loss.dim(), 0);
  EXPECT_TRUE(loss.requires_grad());  // the graph is kept, even for a loss of 0
  loss.backward();
  return {loss.item<double>(), e.grad().to(at::kDouble)};
}

TEST(MetricLossesTest, MatchTheReferenceTranscription) {
  const json& cases = reference()["cases"];
  ASSERT_EQ(cases.size(), 6u);
  for (const json& c : cases) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    const at::Tensor e = tensor_of(c["embeddings"]);
    const at::Tensor labels = labels_of(c);
    const double margin = c["margin"];
    const double temperature = c["temperature"];
    const Evaluated triplet = evaluate(
        e, [&](const at::Tensor& x) { return batch_hard_triplet_loss(x, labels, margin); });
    const Evaluated supcon = evaluate(e, [&](const at::Tensor& x) {
      return supervised_contrastive_loss(x, labels, temperature);
    });
    expect_close(triplet.loss, c["triplet"], "triplet loss");
    expect_close(supcon.loss, c["supcon"], "supcon loss");
    const at::Tensor triplet_grad = tensor_of(c["triplet_grad"]);
    const at::Tensor supcon_grad = tensor_of(c["supcon_grad"]);
    EXPECT_LE((triplet.grad - triplet_grad).abs().max().item<double>(), 1e-6) << "triplet grad";
    const double supcon_scale = std::max(1.0, supcon_grad.abs().max().item<double>());
    EXPECT_LE((supcon.grad - supcon_grad).abs().max().item<double>(), 1e-6 * supcon_scale)
        << "supcon grad";
    EXPECT_TRUE(at::isfinite(triplet.grad).all().item<bool>());
    EXPECT_TRUE(at::isfinite(supcon.grad).all().item<bool>());
  }
  // The fixture covers what it should: the loss-free batches and ones with something to learn.
  EXPECT_EQ(cases[2]["triplet"].get<double>(), 0.0);  // one class only: no negative
  EXPECT_EQ(cases[3]["supcon"].get<double>(), 0.0);   // every class of one image: no positive
  EXPECT_GT(cases[1]["triplet"].get<double>(), 0.0);
  EXPECT_GT(cases[2]["supcon"].get<double>(), 0.0);
}

TEST(MetricLossesTest, TripletIsExactlyZeroForWellSeparatedClasses) {
  // Two tight clusters at opposite poles: d_ap <= 0.1, d_an >= 1.9, margin 0.2 or 1.0.
  const at::Tensor points =
      at::tensor({1.0F, 0.01F, 1.0F, -0.02F, 1.0F, 0.03F, -1.0F, 0.02F, -1.0F, -0.01F})
          .view({5, 2});
  const at::Tensor e = points / points.norm(2, {1}, /*keepdim=*/true);
  const at::Tensor labels = at::tensor({4, 4, 4, 7, 7}, at::kLong);
  for (double margin : {0.0, 0.2, 1.0}) {
    const Evaluated out = evaluate(
        e, [&](const at::Tensor& x) { return batch_hard_triplet_loss(x, labels, margin); });
    EXPECT_EQ(out.loss, 0.0) << "margin " << margin;
    EXPECT_EQ(out.grad.abs().max().item<double>(), 0.0) << "margin " << margin;
  }
  // A margin beyond the gap makes it positive again.
  const Evaluated wide =
      evaluate(e, [&](const at::Tensor& x) { return batch_hard_triplet_loss(x, labels, 2.0); });
  EXPECT_GT(wide.loss, 0.0);
}

TEST(MetricLossesTest, DegenerateBatchesGiveZeroOrFiniteGradients) {
  // One image, identical images, and no image at all: no NaN anywhere.
  const std::vector<std::pair<at::Tensor, at::Tensor>> batches = {
      {at::ones({1, 3}) / std::sqrt(3.0), at::tensor({2}, at::kLong)},
      {at::ones({4, 3}) / std::sqrt(3.0), at::tensor({0, 0, 1, 1}, at::kLong)},
      {at::zeros({0, 3}), at::zeros({0}, at::kLong)}};
  for (const auto& [e, labels] : batches) {
    for (const auto& kind : {MetricLoss::kTriplet, MetricLoss::kSupCon}) {
      DmlplConfig config;
      config.metric_loss = kind;
      const Evaluated out =
          evaluate(e, [&](const at::Tensor& x) { return dmlpl_metric_loss(x, labels, config); });
      EXPECT_TRUE(std::isfinite(out.loss)) << e.size(0) << " images";
      EXPECT_TRUE(at::isfinite(out.grad).all().item<bool>()) << e.size(0) << " images";
    }
  }
  // Identical images of two classes: every distance 0, so each hinge is the margin.
  DmlplConfig config;
  const Evaluated same = evaluate(batches[1].first, [&](const at::Tensor& x) {
    return dmlpl_metric_loss(x, batches[1].second, config);
  });
  EXPECT_NEAR(same.loss, config.margin, 1e-6);
}

TEST(MetricLossesTest, MetricLossFollowsTheConfig) {
  const json& c = reference()["cases"][0];
  const at::Tensor e = tensor_of(c["embeddings"]).to(at::kFloat);
  const at::Tensor labels = labels_of(c);
  DmlplConfig config;
  config.margin = c["margin"];
  config.temperature = c["temperature"];
  config.metric_loss = MetricLoss::kTriplet;
  expect_close(dmlpl_metric_loss(e, labels, config).item<double>(), c["triplet"], "triplet");
  config.metric_loss = MetricLoss::kSupCon;
  expect_close(dmlpl_metric_loss(e, labels, config).item<double>(), c["supcon"], "supcon");
}

}  // namespace
}  // namespace crest
