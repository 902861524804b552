// SeMiLearner (src/ssl/semi_mining_learner.cpp) composes ssl/semi_mining.h's parts in the order
// of pywin/SeMi train_semi.py: four whole steps over two epochs (blend, mining and consistency
// from the second), fed the same network outputs as tests/fixtures/semi_step_reference.py, give
// the reference's loss terms and, after every step, its bank, center, confident-class counts and
// class weights.
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
    const std::string path =
        std::string(CREST_SOURCE_DIR) + "/tests/fixtures/semi_step/reference.json";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    return json::parse(in);
  }();
  return kReference;
}

// A tensor written by semi_reference.py's as_json.
at::Tensor tensor_of(const json& j) {
  const std::vector<std::int64_t> shape = j["shape"].get<std::vector<std::int64_t>>();
  const at::Tensor flat =
      at::tensor(j["data"].get<std::vector<double>>(), at::TensorOptions().dtype(at::kDouble));
  const std::string dtype = j["dtype"];
  return flat.view(shape).to(dtype == "float64" ? at::kDouble : at::kFloat);
}

void expect_near(const at::Tensor& actual, const json& expected, double tolerance,
                 const std::string& what) {
  const at::Tensor want = tensor_of(expected).to(at::kDouble).reshape({-1});
  const at::Tensor got = actual.to(at::kDouble).reshape({-1});
  ASSERT_EQ(got.numel(), want.numel()) << what;
  const double diff = (got - want).abs().max().item<double>();
  EXPECT_LE(diff, tolerance) << what;
}

class SemiStepFixture {
 public:
  SemiStepFixture() {
    const json& ref = reference();
    const json& cfg = ref["config"];
    const int classes = ref["classes"];
    const std::int64_t batch = ref["batch"];
    data_.images = at::zeros({8, 3, 8, 8}, at::kByte);
    data_.labeled_index = at::arange(4, at::kLong);
    data_.labeled_targets = at::arange(4, at::kLong);
    data_.unlabeled_index = at::arange(8, at::kLong);
    data_.test_images = at::zeros({2, 3, 8, 8}, at::kByte);
    data_.test_labels = at::zeros({2}, at::kLong);
    data_.class_names = {"a", "b", "c", "d"};
    data_.class_prior = ref["prior"].get<std::vector<double>>();
    WideResNetOptions options;
    options.depth = 10;
    options.width = 1;  // features of 64, as the fixture's
    options.num_classes = classes;
    options.balanced_head = true;
    SemiLearnerContext c;
    c.train.steps_per_epoch = cfg["steps_per_epoch"];
    c.train.threshold = cfg["threshold"];
    c.acr.tau12 = cfg["tau12"];
    c.acr.tau2 = cfg["tau2"];
    c.acr.temperature = cfg["T"];
    c.semi.start_epoch = cfg["start_epoch"];
    c.semi.alpha = cfg["alpha"];
    c.semi.proto_temperature = cfg["tau_tar"];
    c.semi.hard_scale = cfg["scale"];
    c.semi.consistency_weight = cfg["conswt"];
    c.semi.consistency_temperature = cfg["proto_t"];
    c.semi.bank_per_class = cfg["per_class"];
    c.semi.decay_steps = cfg["decay_step"];
    c.semi.feature_rows = SemiFeatureRows::kReference;
    c.model = WideResNet(options);
    c.ema_model = WideResNet(options);
    c.data = &data_;
    c.labeled_loss = make_labeled_loss(c.train, {1, 1, 1, 1}, at::kCPU);
    c.labeled_batch = batch;
    c.unlabeled_batch = batch;
    learner_ = std::make_unique<SeMiLearner>(std::move(c));
    StateTree tree(root_);
    learner_->register_state(tree);
  }

  SeMiLearner& learner() { return *learner_; }
  at::Tensor buffer(const std::string& name) { return root_.named_buffers()[name]; }

 private:
  TrainingData data_;
  torch::nn::Module root_;
  std::unique_ptr<SeMiLearner> learner_;
};

TEST(SemiLearnerTest, FourStepsMatchTheReferenceOrder) {
  SemiStepFixture fixture;
  const json& steps = reference()["steps"];
  const double weight = reference()["config"]["conswt"];
  for (std::size_t s = 0; s < steps.size(); ++s) {
    SCOPED_TRACE("step " + std::to_string(s));
    const json& step = steps[s];
    StepBatch batch;
    batch.labels = at::tensor(step["labels"].get<std::vector<std::int64_t>>(), at::kLong);
    const StepLoss loss = fixture.learner().loss_from_outputs(
        tensor_of(step["features"]), tensor_of(step["logits"]), tensor_of(step["logits_b"]), batch,
        static_cast<std::int64_t>(s));
    const at::Tensor stats = loss.stats.to(at::kDouble);
    EXPECT_NEAR(loss.total.item<double>(), step["total"].get<double>(), 1e-5);
    EXPECT_NEAR(stats[1].item<double>(), step["loss_x"].get<double>(), 1e-5);
    EXPECT_NEAR(stats[2].item<double>(),
                step["loss_u"].get<double>() + weight * step["loss_cons"].get<double>(), 1e-5);
    expect_near(fixture.buffer("semi_bank.memory"), step["memory"], 1e-6, "bank memory");
    expect_near(fixture.buffer("semi_bank.confidences"), step["confidences"], 1e-6,
                "bank confidences");
    expect_near(fixture.buffer("semi_center"), step["center"], 1e-6, "center");
    expect_near(fixture.buffer("semi_label_counts"), step["label_counts"], 0, "label counts");
    expect_near(fixture.buffer("semi_class_weight"), step["class_weight"], 1e-7, "class weight");
  }
  // The fixture exercises what it should: a blended, mined step with consistency (step 2 on).
  EXPECT_GT(steps[2]["loss_cons"].get<double>(), 0.0);
}

}  // namespace
}  // namespace crest
