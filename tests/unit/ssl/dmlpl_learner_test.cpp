// DmlplLearner (src/ssl/dmlpl_learner.cpp) on a tiny WRN with an embedding head: its loss is
// FixMatchLearner's on the same batch plus dmlpl.metric_weight x the metric loss of the labeled
// weak view's embeddings, the gradient reaches fc_embedding, metric_weight 0 is FixMatch's loss,
// and the evaluation reports the mean metric loss.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "crest/config/choices.h"
#include "crest/ssl/metric_losses.h"
#include "crest/ssl/semi_learners.h"

namespace crest {
namespace {

constexpr std::int64_t kLabeled = 6;
constexpr std::int64_t kUnlabeled = 4;

class DmlplFixture {
 public:
  explicit DmlplFixture(MetricLoss kind, double weight, std::int64_t unlabeled = kUnlabeled) {
    data_.images = at::zeros({8, 3, 8, 8}, at::kByte);
    data_.labeled_index = at::arange(4, at::kLong);
    data_.labeled_targets = at::tensor({0, 1, 2, 0}, at::kLong);
    data_.unlabeled_index = at::arange(8, at::kLong);
    data_.test_images = at::randint(0, 255, {5, 3, 8, 8}, at::kByte);
    data_.test_labels = at::tensor({0, 1, 2, 0, 1}, at::kLong);
    data_.class_names = {"a", "b", "c"};
    data_.class_prior = {0.5, 0.25, 0.25};
    WideResNetOptions options;
    options.depth = 10;
    options.width = 1;
    options.num_classes = 3;
    options.embedding_dim = 5;
    context_.train.threshold = 0.3;  // an untrained 3-class head keeps some pseudo-labels
    context_.train.lambda_u = 2.0;
    context_.dmlpl.metric_loss = kind;
    context_.dmlpl.metric_weight = weight;
    context_.dmlpl.margin = 0.5;
    context_.dmlpl.temperature = 0.2;
    context_.model = WideResNet(options);
    context_.ema_model = WideResNet(options);
    context_.data = &data_;
    context_.labeled_loss = make_labeled_loss(context_.train, {2, 1, 1}, at::kCPU);
    context_.labeled_batch = kLabeled;
    context_.unlabeled_batch = unlabeled;
    at::manual_seed(31);
    batch_.inputs = at::rand({kLabeled + 2 * unlabeled, 3, 8, 8}) * 2 - 1;
    batch_.labels = at::tensor({0, 1, 2, 0, 1, 0}, at::kLong);
    batch_.unlabeled_truth = at::zeros({unlabeled}, at::kLong);
  }

  SemiLearnerContext& context() { return context_; }
  const StepBatch& batch() const { return batch_; }
  // The metric loss on the model's embeddings of the labeled rows (the same forward: BatchNorm
  // in training mode normalises with the batch's statistics).
  at::Tensor metric_loss() {
    const at::Tensor features = context_.model->features(batch_.inputs);
    return dmlpl_metric_loss(context_.model->embed(features.narrow(0, 0, kLabeled)), batch_.labels,
                             context_.dmlpl);
  }
  at::Tensor embedding_grad() {
    return context_.model->named_parameters()["fc_embedding.weight"].grad();
  }

 private:
  TrainingData data_;
  SemiLearnerContext context_;
  StepBatch batch_;
};

TEST(DmlplLearnerTest, LossIsFixMatchsPlusTheWeightedMetricLoss) {
  for (const MetricLoss kind : {MetricLoss::kTriplet, MetricLoss::kSupCon}) {
    SCOPED_TRACE(to_string(kind));
    DmlplFixture fixture(kind, 0.7);
    FixMatchLearner fixmatch(fixture.context());
    DmlplLearner dmlpl(fixture.context());
    const StepLoss reference = fixmatch.loss(fixture.batch(), 0);
    const double metric = fixture.metric_loss().item<double>();
    const StepLoss loss = dmlpl.loss(fixture.batch(), 0);
    ASSERT_EQ(loss.stats.numel(), dmlpl.stat_count());
    EXPECT_GT(metric, 0.0);
    EXPECT_NEAR(loss.total.item<double>(), reference.total.item<double>() + 0.7 * metric, 1e-6);
    const at::Tensor s = loss.stats;
    const at::Tensor r = reference.stats;
    EXPECT_NEAR(s[kStatDmlplMetric].item<double>(), metric, 1e-6);
    EXPECT_NEAR(s[kStatLossX].item<double>(), r[kStatLossX].item<double>(), 1e-6);
    // loss_u is lambda_u x FixMatch's unlabeled loss (2 here): loss = loss_x + loss_u + w metric.
    EXPECT_NEAR(s[kStatLossU].item<double>(), 2.0 * r[kStatLossU].item<double>(), 1e-6);
    EXPECT_GT(s[kStatMask].item<double>(), 0.0);
    for (int k : {kStatMask, kStatPseudoCorrect, kStatPseudoKept, kStatSteps}) {
      EXPECT_EQ(s[k].item<double>(), r[k].item<double>()) << "statistic " << k;
    }
    loss.total.backward();
    const at::Tensor grad = fixture.embedding_grad();
    ASSERT_TRUE(grad.defined());
    EXPECT_TRUE(at::isfinite(grad).all().item<bool>());
    EXPECT_GT(grad.abs().sum().item<double>(), 0.0) << "the metric loss trains fc_embedding";
  }
}

TEST(DmlplLearnerTest, MetricWeightZeroIsFixMatchsLoss) {
  for (const MetricLoss kind : {MetricLoss::kTriplet, MetricLoss::kSupCon}) {
    DmlplFixture fixture(kind, 0.0);
    FixMatchLearner fixmatch(fixture.context());
    DmlplLearner dmlpl(fixture.context());
    const StepLoss reference = fixmatch.loss(fixture.batch(), 0);
    const StepLoss loss = dmlpl.loss(fixture.batch(), 0);
    EXPECT_EQ(loss.total.item<double>(), reference.total.item<double>());
    loss.total.backward();
    EXPECT_EQ(fixture.embedding_grad().abs().sum().item<double>(), 0.0);
  }
}

TEST(DmlplLearnerTest, SupervisedStepIsTheLabeledLossPlusTheMetricLoss) {
  // train.unlabeled_ratio 0: no unlabeled views; the metric loss still counts.
  DmlplFixture fixture(MetricLoss::kTriplet, 1.5, /*unlabeled=*/0);
  DmlplLearner dmlpl(fixture.context());
  const at::Tensor logits = at::randn({kLabeled, 3}).requires_grad_(true);
  const at::Tensor e = at::randn({kLabeled, 5});
  const at::Tensor embeddings = (e / e.norm(2, {1}, true)).requires_grad_(true);
  const StepLoss loss = dmlpl.loss_from_outputs(logits, embeddings, fixture.batch());
  const at::Tensor labeled = fixture.context().labeled_loss(logits, fixture.batch().labels);
  const at::Tensor metric =
      dmlpl_metric_loss(embeddings, fixture.batch().labels, fixture.context().dmlpl);
  EXPECT_NEAR(loss.total.item<double>(), labeled.item<double>() + 1.5 * metric.item<double>(),
              1e-6);
  EXPECT_EQ(loss.stats[kStatLossU].item<double>(), 0.0);
  EXPECT_NEAR(loss.stats[kStatDmlplMetric].item<double>(), metric.item<double>(), 1e-6);
  loss.total.backward();
  EXPECT_GT(embeddings.grad().abs().sum().item<double>(), 0.0);
}

TEST(DmlplLearnerTest, EvaluationReportsTheMeanMetricLoss) {
  DmlplFixture fixture(MetricLoss::kTriplet, 1.0);
  DmlplLearner dmlpl(fixture.context());
  EvaluationInput input;
  input.step = 4;
  input.stats = at::zeros({dmlpl.stat_count()}, at::kDouble);
  input.stats[kStatSteps] = 4.0;
  input.stats[kStatDmlplMetric] = 1.0;
  const EpochLine line = dmlpl.evaluate(input);
  const auto* metrics = std::get_if<MetricsLine>(&line);
  ASSERT_NE(metrics, nullptr);
  ASSERT_EQ(metrics->learner_figures.size(), 1u);
  EXPECT_EQ(metrics->learner_figures[0].first, "dmlpl_metric_loss");
  EXPECT_EQ(metrics->learner_figures[0].second, std::vector<double>({0.25}));
  EXPECT_TRUE(dmlpl.graph_capturable());
}

}  // namespace
}  // namespace crest
