// ACR's arithmetic (ssl/acr.h) against a plain transcription of Gank0078/ACR train.py, run on
// fixed tensors by tests/fixtures/acr_reference.py (fixtures.acr_reference keeps the committed
// JSON equal to what the script computes): the loss terms, masks and gradients of one step, the
// class counts of both countings, and the estimate with its adaptive tau over several epochs.
#include "crest/ssl/acr.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crest/ssl/losses.h"
#include "test_util.h"

namespace crest {
namespace {

using nlohmann::json;

const json& reference() {
  static const json kReference = [] {
    const std::string path = std::string(CREST_SOURCE_DIR) + "/tests/fixtures/acr/reference.json";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    return json::parse(in);
  }();
  return kReference;
}

at::Tensor floats(const json& values, std::vector<std::int64_t> shape, at::ScalarType dtype) {
  std::vector<double> v = values.get<std::vector<double>>();
  return at::tensor(v, at::TensorOptions().dtype(at::kDouble)).view(shape).to(dtype);
}

at::Tensor longs(const json& values) {
  return at::tensor(values.get<std::vector<std::int64_t>>(), at::TensorOptions().dtype(at::kLong));
}

void expect_near(const at::Tensor& actual, const json& expected, double tolerance,
                 const std::string& what) {
  const at::Tensor flat = actual.to(at::kDouble).contiguous().view({-1});
  const std::vector<double> want = expected.get<std::vector<double>>();
  ASSERT_EQ(flat.numel(), static_cast<std::int64_t>(want.size())) << what;
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(flat[static_cast<std::int64_t>(i)].item<double>(), want[i], tolerance)
        << what << " element " << i;
  }
}

const char* const kViews[] = {"x", "u_w", "u_s", "u_s1", "x_b", "u_w_b", "u_s_b", "u_s1_b"};

TEST(AcrTest, LossMasksAndGradientsMatchTheTranscription) {
  const json& ref = reference()["loss"];
  const std::int64_t batch = ref["batch"], unlabeled = ref["unlabeled"];
  const int classes = 4;
  const at::Tensor labels = longs(ref["labels"]);
  const at::Tensor py_con = floats(ref["py_con"], {classes}, at::kDouble);
  LabeledLossFn ce;  // the reference's plain cross-entropy
  for (const json& c : ref["cases"]) {
    SCOPED_TRACE("threshold " + c["threshold"].dump() + ", T " + c["temperature"].dump());
    std::vector<at::Tensor> views;
    for (const char* name : kViews) {
      const std::int64_t rows = name[0] == 'x' ? batch : unlabeled;
      views.push_back(
          floats(ref["logits"][name], {rows, classes}, at::kFloat).requires_grad_(true));
    }
    const AcrLogits logits{views[0], views[1], views[2], views[3],
                           views[4], views[5], views[6], views[7]};
    const AcrAdjustments adj{
        acr_adjustment(py_con, at::scalar_tensor(c["tau1"].get<double>(), at::kDouble)),
        acr_adjustment(py_con, at::scalar_tensor(c["tau12"].get<double>(), at::kDouble)),
        acr_adjustment(py_con, at::scalar_tensor(c["tau2"].get<double>(), at::kDouble))};
    const AcrLoss loss = acr_loss(logits, labels, adj, c["threshold"], c["temperature"],
                                  /*lambda_u=*/1.0, ce);
    EXPECT_NEAR(loss.loss_x.item<double>(), c["loss_x"].get<double>(), 1e-6);
    EXPECT_NEAR(loss.loss_xb.item<double>(), c["loss_xb"].get<double>(), 1e-6);
    EXPECT_NEAR(loss.loss_u.item<double>(), c["loss_u"].get<double>(), 1e-6);
    EXPECT_NEAR(loss.loss_ub.item<double>(), c["loss_ub"].get<double>(), 1e-6);
    EXPECT_NEAR(loss.total.item<double>(), c["total"].get<double>(), 1e-5);
    EXPECT_EQ(loss.total.scalar_type(), at::kFloat);
    expect_near(loss.mask, c["mask"], 0, "mask_ss_t");
    expect_near(loss.mask_b, c["mask_b"], 0, "mask_b");
    EXPECT_TRUE(loss.pseudo_labels.equal(longs(c["pseudo_labels"])));
    EXPECT_TRUE(loss.targets_b.equal(longs(c["targets_b"])));
    loss.total.backward();
    for (std::size_t v = 0; v < views.size(); ++v) {
      const at::Tensor grad =
          views[v].grad().defined() ? views[v].grad() : at::zeros_like(views[v]);
      expect_near(grad, c["grads"][kViews[v]], 1e-6, std::string("gradient of ") + kViews[v]);
    }
  }
}

TEST(AcrTest, LambdaUScalesOnlyTheUnlabeledTerms) {
  const json& ref = reference()["loss"];
  const json& c = ref["cases"][1];
  std::vector<at::Tensor> views;
  for (const char* name : kViews) {
    const std::int64_t rows =
        name[0] == 'x' ? ref["batch"].get<std::int64_t>() : ref["unlabeled"].get<std::int64_t>();
    views.push_back(floats(ref["logits"][name], {rows, 4}, at::kFloat));
  }
  const at::Tensor py_con = floats(ref["py_con"], {4}, at::kDouble);
  const at::Tensor two = at::scalar_tensor(2.0, at::kDouble);
  const AcrAdjustments adj{acr_adjustment(py_con, two), acr_adjustment(py_con, two),
                           acr_adjustment(py_con, two)};
  const AcrLogits logits{views[0], views[1], views[2], views[3],
                         views[4], views[5], views[6], views[7]};
  const AcrLoss loss =
      acr_loss(logits, longs(ref["labels"]), adj, c["threshold"], 1.0, 0.25, LabeledLossFn{});
  const double expected = c["loss_x"].get<double>() + c["loss_xb"].get<double>() +
                          0.25 * (c["loss_u"].get<double>() + c["loss_ub"].get<double>());
  EXPECT_NEAR(loss.total.item<double>(), expected, 1e-5);
}

TEST(AcrTest, NoUnlabeledBatchLeavesTheLabeledTerms) {
  const at::Tensor x = at::randn({5, 3});
  const at::Tensor x_b = at::randn({5, 3});
  const at::Tensor none = at::zeros({0, 3});
  const at::Tensor labels = at::tensor({0, 1, 2, 1, 0}, at::TensorOptions().dtype(at::kLong));
  const at::Tensor p = at::tensor({0.6, 0.3, 0.1}, at::TensorOptions().dtype(at::kDouble));
  const at::Tensor adj = acr_adjustment(p, at::scalar_tensor(2.0, at::kDouble));
  const AcrLoss loss = acr_loss(AcrLogits{x, none, none, none, x_b, none, none, none}, labels,
                                AcrAdjustments{adj, adj, adj}, 0.95, 1.0, 1.0, LabeledLossFn{});
  EXPECT_EQ(loss.loss_u.item<double>(), 0.0);
  EXPECT_EQ(loss.mask.numel(), 0);
  const double expected = at::cross_entropy_loss(x, labels).item<double>() +
                          at::cross_entropy_loss(x_b.to(at::kDouble) + adj, labels).item<double>();
  EXPECT_NEAR(loss.total.item<double>(), expected, 1e-5);
}

TEST(AcrTest, ClassCountsBothWays) {
  for (const json& c : reference()["counts"]) {
    SCOPED_TRACE("targets " + c["targets_b"].dump() + ", mask " + c["mask_b"].dump());
    const at::Tensor targets = longs(c["targets_b"]);
    const at::Tensor mask = floats(c["mask_b"], {targets.size(0)}, at::kFloat);
    expect_near(acr_class_counts(targets, mask, 4, AcrClassCount::kReference), c["reference"], 0,
                "reference");
    expect_near(acr_class_counts(targets, mask, 4, AcrClassCount::kHistogram), c["histogram"], 0,
                "histogram");
  }
  // An empty batch counts nothing.
  const at::Tensor empty = at::zeros({0}, at::TensorOptions().dtype(at::kLong));
  EXPECT_TRUE(
      acr_class_counts(empty, at::zeros({0}), 4, AcrClassCount::kReference).equal(at::zeros({4})));
}

// Drives AcrEstimate as AcrLearner::loss does: start_epoch at each epoch's first step, observe
// past est_epoch.
TEST(AcrTest, EstimateAndAdaptiveTauOverEpochs) {
  for (const json& run : reference()["estimate"]) {
    SCOPED_TRACE("counting " + run["counting"].get<std::string>());
    const AcrClassCount rule =
        run["counting"] == "reference" ? AcrClassCount::kReference : AcrClassCount::kHistogram;
    const std::vector<double> py_con = run["py_con"].get<std::vector<double>>();
    AcrEstimate estimate(py_con, run["tau1"], run["ema_u"], rule, at::kCPU);
    const std::int64_t steps_per_epoch = run["steps_per_epoch"];
    const std::int64_t est_epoch = run["est_epoch"];
    const json& steps = run["steps"];
    for (std::size_t s = 0; s < steps.size(); ++s) {
      const auto step = static_cast<std::int64_t>(s);
      const std::int64_t epoch = step / steps_per_epoch;
      if (step % steps_per_epoch == 0) {
        estimate->start_epoch(steps_per_epoch, epoch > est_epoch);
        expect_near(estimate->adjustment_l1(),
                    run["epoch_starts"][static_cast<std::size_t>(epoch)]["adjustment_l1"], 1e-12,
                    "adjustment_l1 at epoch " + std::to_string(epoch));
      }
      const at::Tensor targets = longs(steps[s]["targets_b"]);
      if (epoch > est_epoch) {
        estimate->observe(targets, floats(steps[s]["mask_b"], {targets.size(0)}, at::kFloat));
      }
      expect_near(estimate->u_py(), steps[s]["u_py"], 1e-7, "u_py at step " + std::to_string(s));
    }
  }
}

TEST(AcrTest, NanTauKeepsTheAdjustment) {
  // A class with no labeled image makes the divergences infinite and tau NaN: the reference
  // keeps the adjustment it had (math.isnan check), and so does crest.
  AcrEstimate estimate(std::vector<double>{0.7, 0.3, 0.0}, 2.0, 0.9, AcrClassCount::kHistogram,
                       at::kCPU);
  const at::Tensor before = estimate->adjustment_l1().clone();
  estimate->start_epoch(2, false);
  estimate->observe(at::tensor({0, 1, 2}, at::TensorOptions().dtype(at::kLong)), at::ones({3}));
  estimate->start_epoch(2, true);
  EXPECT_TRUE(estimate->adjustment_l1().equal(before));
  EXPECT_DOUBLE_EQ(estimate->tau().item<double>(), 2.0);
}

TEST(AcrTest, EstimateStateRoundTripsThroughItsBuffers) {
  AcrEstimate a(std::vector<double>{0.5, 0.3, 0.2}, 2.0, 0.9, AcrClassCount::kReference, at::kCPU);
  AcrEstimate b(std::vector<double>{0.5, 0.3, 0.2}, 2.0, 0.9, AcrClassCount::kReference, at::kCPU);
  const at::Tensor targets = at::tensor({0, 2, 2, 1}, at::TensorOptions().dtype(at::kLong));
  a->observe(targets, at::ones({4}));
  a->start_epoch(1, true);
  a->observe(targets.flip({0}), at::tensor({1.0F, 0.0F, 1.0F, 1.0F}));
  // A checkpoint carries the module's buffers; copying them gives the same next steps.
  for (const auto& item : a->named_buffers()) b->named_buffers()[item.key()].copy_(item.value());
  for (AcrEstimate* e : {&a, &b}) {
    (*e)->start_epoch(1, true);
    (*e)->observe(targets, at::tensor({0.0F, 1.0F, 1.0F, 0.0F}));
  }
  for (const auto& item : a->named_buffers()) {
    EXPECT_TRUE(item.value().equal(b->named_buffers()[item.key()])) << item.key();
  }
  EXPECT_EQ(a->named_buffers().size(), 4U);
}

}  // namespace
}  // namespace crest
