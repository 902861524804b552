// DasoLearner (src/ssl/daso_learner.cpp) composes ssl/daso.h's parts in the order of
// ytaek-oh/daso's DASOModel.forward_train and DASO.run_step: five whole steps (warm-up for two,
// the distribution refreshed every two), fed the same network outputs as
// tests/fixtures/daso_reference.py, give the reference's losses, final pseudo-labels, gradients
// and, after every step, its queue and pseudo-label distribution.
#include <gtest/gtest.h>
#include <torch/nn/module.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crest/ssl/semi_learners.h"

namespace crest {
namespace {

using nlohmann::json;

const json& reference() {
  static const json kReference = [] {
    const std::string path = std::string(CREST_SOURCE_DIR) + "/tests/fixtures/daso/reference.json";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    return json::parse(in);
  }();
  return kReference;
}

at::Tensor tensor_of(const json& j) {
  const std::vector<std::int64_t> shape = j["shape"].get<std::vector<std::int64_t>>();
  const at::Tensor flat =
      at::tensor(j["data"].get<std::vector<double>>(), at::TensorOptions().dtype(at::kDouble));
  const std::string dtype = j["dtype"];
  return flat.view(shape).to(dtype == "int64" ? at::kLong : at::kFloat);
}

void expect_near(const at::Tensor& actual, const json& expected, double tolerance,
                 const std::string& what) {
  const at::Tensor want = tensor_of(expected).to(at::kDouble).reshape({-1});
  const at::Tensor got = actual.detach().to(at::kDouble).reshape({-1});
  ASSERT_EQ(got.numel(), want.numel()) << what;
  const double diff = (got - want).abs().max().item<double>();
  EXPECT_LE(diff, tolerance) << what;
}

class DasoStepFixture {
 public:
  DasoStepFixture() {
    const json& ref = reference();
    const json& cfg = ref["config"];
    data_.images = at::zeros({8, 3, 8, 8}, at::kByte);
    data_.labeled_index = at::arange(4, at::kLong);
    data_.labeled_targets = at::arange(4, at::kLong);
    data_.unlabeled_index = at::arange(8, at::kLong);
    data_.test_images = at::zeros({2, 3, 8, 8}, at::kByte);
    data_.test_labels = at::zeros({2}, at::kLong);
    data_.class_names = {"a", "b", "c", "d"};
    data_.class_prior = {0.25, 0.25, 0.25, 0.25};
    WideResNetOptions options;
    options.depth = 10;
    options.width = 1;  // features of 64, as the fixture's steps
    options.num_classes = ref["classes"];
    SemiLearnerContext c;
    c.train.threshold = cfg["conf_thres"];
    c.train.lambda_u = 1.0;
    c.daso.warmup_steps = cfg["pretrain_steps"];
    c.daso.dist_update_period = cfg["pl_dist_update_period"];
    c.daso.proto_temperature = cfg["proto_temp"];
    c.daso.dist_temperature = cfg["dist_temp"];
    c.daso.interp_alpha = cfg["interp_alpha"];
    c.daso.alignment_weight = cfg["psa_loss_weight"];
    c.daso.queue_size = cfg["max_size"];
    c.model = WideResNet(options);
    c.ema_model = WideResNet(options);
    c.data = &data_;
    c.labeled_loss = make_labeled_loss(c.train, {1, 1, 1, 1}, at::kCPU);
    c.labeled_batch = ref["labeled"];
    c.unlabeled_batch = ref["unlabeled"];
    learner_ = std::make_unique<DasoLearner>(std::move(c));
    StateTree tree(root_);
    learner_->register_state(tree);
  }

  DasoLearner& learner() { return *learner_; }
  at::Tensor buffer(const std::string& name) { return root_.named_buffers()[name]; }

 private:
  TrainingData data_;
  torch::nn::Module root_;
  std::unique_ptr<DasoLearner> learner_;
};

TEST(DasoLearnerTest, FiveStepsMatchTheReference) {
  DasoStepFixture fixture;
  const json& steps = reference()["steps"];
  for (std::size_t s = 0; s < steps.size(); ++s) {
    SCOPED_TRACE("step " + std::to_string(s));
    const json& step = steps[s];
    StepBatch batch;
    batch.labels = at::tensor(step["labels"].get<std::vector<std::int64_t>>(), at::kLong);
    const at::Tensor features = tensor_of(step["features"]).requires_grad_(true);
    const at::Tensor logits = tensor_of(step["logits"]).requires_grad_(true);
    const StepLoss loss = fixture.learner().loss_from_outputs(
        tensor_of(step["ema_features"]), features, logits, batch, static_cast<std::int64_t>(s));
    const at::Tensor stats = loss.stats.to(at::kDouble);
    const double assign = step.contains("loss_assign") ? step["loss_assign"].get<double>() : 0.0;
    EXPECT_NEAR(loss.total.item<double>(), step["total"].get<double>(), 1e-5);
    EXPECT_NEAR(stats[1].item<double>(), step["loss_cls"].get<double>(), 1e-5);
    EXPECT_NEAR(stats[2].item<double>(), step["loss_cons"].get<double>() + assign, 1e-5);
    loss.total.backward();
    // No gradient reaches the features during the warm-up (the reference's zeros).
    const at::Tensor feature_grad =
        features.grad().defined() ? features.grad() : at::zeros_like(features);
    EXPECT_EQ(features.grad().defined(), s >= 2);
    expect_near(feature_grad, step["feature_grad"], 1e-6, "gradient of the features");
    expect_near(logits.grad(), step["logit_grad"], 1e-6, "gradient of the logits");
    expect_near(fixture.buffer("daso_queue.size"), step["queue"]["size"], 0, "queue sizes");
    expect_near(fixture.buffer("daso_queue.prototypes"), step["queue"]["prototypes"], 1e-6,
                "prototypes");
    const at::Tensor pl_dist = at::tensor(step["pl_dist"].get<std::vector<std::int64_t>>());
    EXPECT_TRUE(at::equal(fixture.buffer("daso_pl_counts"), pl_dist));
  }
  // The fixture exercises what it should: blended steps with an alignment loss from step 2.
  EXPECT_FALSE(steps[1].contains("loss_assign"));
  EXPECT_GT(steps[2]["loss_assign"].get<double>(), 0.0);
}

}  // namespace
}  // namespace crest
