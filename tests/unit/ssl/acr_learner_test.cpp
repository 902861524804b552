// AcrLearner (src/ssl/acr_learner.cpp) around ssl/acr.h's arithmetic: under data.protocol acr
// the unlabeled stream's labeled images do not count toward the estimate u_py (train.py l. 560:
// now_mask[targets_u_b] += mask_l * mask_b, mask_l = u_real != -2), and draw_batch carries
// their marks with the unlabeled images it draws.
#include <gtest/gtest.h>
#include <torch/nn/module.h>

#include <memory>
#include <string>
#include <vector>

#include "crest/ssl/semi_learners.h"
#include "crest/ssl/train_state.h"

namespace crest {
namespace {

constexpr int kClasses = 3;
constexpr std::int64_t kImages = 12;  // the unlabeled stream: every image
constexpr std::int64_t kB = 2;        // labeled batch
constexpr std::int64_t kU = 4;        // unlabeled batch
constexpr int kSide = 8;

at::Tensor image_stack(std::int64_t n) {
  return at::arange(n * 3 * kSide * kSide, at::kLong)
      .remainder(251)
      .to(at::kByte)
      .view({n, 3, kSide, kSide});
}

// The learner on 12 tiny images, its balanced head confident on class 0 for every input
// (weights 0, bias 8: p_b = 0.9993 >= the threshold), so every unlabeled image of a step has
// mask_b = 1 and targets_b = 0; u_py is read from the registered state.
class AcrLearnerFixture {
 public:
  AcrLearnerFixture(const at::Tensor& is_labeled, AcrClassCount rule) {
    data_.images = image_stack(kImages);
    data_.labeled_index = at::arange(4, at::kLong);
    data_.labeled_targets = at::tensor(std::vector<std::int64_t>{0, 1, 2, 0}, at::kLong);
    data_.unlabeled_index = at::arange(kImages, at::kLong);
    // The stream position as the "true label": draw_batch's picks become visible.
    data_.unlabeled_truth = at::arange(kImages, at::kLong);
    data_.unlabeled_is_labeled = is_labeled;
    data_.test_images = image_stack(6);
    data_.test_labels = at::arange(6, at::kLong).remainder(kClasses);
    data_.class_names = {"a", "b", "c"};
    data_.class_prior = {0.5, 0.25, 0.25};
    WideResNetOptions options;
    options.depth = 10;
    options.width = 1;
    options.num_classes = kClasses;
    options.balanced_head = true;
    SemiLearnerContext c;
    c.train.steps_per_epoch = 2;
    c.train.threshold = 0.95;
    c.acr.est_epoch = 0;
    c.acr.class_count = rule;
    c.model = WideResNet(options);
    c.ema_model = WideResNet(options);
    {
      at::NoGradGuard no_grad;
      auto params = c.model->named_parameters();
      params["fc_balanced.weight"].zero_();
      params["fc_balanced.bias"].copy_(at::tensor({8.0F, 0.0F, 0.0F}));
    }
    c.data = &data_;
    c.labeled_loss = make_labeled_loss(c.train, {2, 1, 1}, at::kCPU);
    c.augment.pad = 1;
    c.augment.cutout_size = 4;
    c.labeled_batch = kB;
    c.unlabeled_batch = kU;
    learner_ = make_semi_learner(TrainAlgorithm::kAcr, std::move(c));
    StateTree tree(root_);
    learner_->register_state(tree);
  }

  SemiLearner& learner() { return *learner_; }
  at::Tensor u_py() { return root_.named_buffers()["acr.u_py"].clone(); }

  // One step of epoch 1 (past est_epoch 0, so the estimate observes it) on random views, with
  // the unlabeled images' marks `marks` (bool [kU], or undefined).
  void step(const at::Tensor& marks) {
    StepBatch batch;
    at::manual_seed(5);
    batch.inputs = at::randn({kB + 3 * kU, 3, kSide, kSide});
    batch.labels = at::tensor(std::vector<std::int64_t>{0, 1}, at::kLong);
    batch.unlabeled_is_labeled = marks;
    learner_->loss(batch, /*step=*/2);
  }

 private:
  TrainingData data_;
  std::unique_ptr<SemiLearner> learner_;
  torch::nn::Module root_{"root"};
};

at::Tensor bools(const std::vector<bool>& values) {
  at::Tensor out = at::zeros({static_cast<std::int64_t>(values.size())}, at::kBool);
  for (std::size_t i = 0; i < values.size(); ++i) out[static_cast<std::int64_t>(i)] = values[i];
  return out;
}

// Whether one step with `step_marks` moved u_py away from uniform.
bool estimate_moves(AcrClassCount rule, const at::Tensor& step_marks) {
  AcrLearnerFixture fixture(at::Tensor(), rule);
  const at::Tensor before = fixture.u_py();
  EXPECT_TRUE(before.allclose(at::full({kClasses}, 1.0F / kClasses)));
  fixture.step(step_marks);
  return !fixture.u_py().equal(before);
}

TEST(AcrLearnerTest, EstimateSkipsTheLabeledImagesOfTheUnlabeledStream) {
  for (AcrClassCount rule : {AcrClassCount::kReference, AcrClassCount::kHistogram}) {
    SCOPED_TRACE(rule == AcrClassCount::kReference ? "reference" : "histogram");
    // A batch of labeled images only leaves u_py as it was.
    EXPECT_FALSE(estimate_moves(rule, bools({true, true, true, true})));
    // Without marks (other protocols), or with an unlabeled image last, it moves toward class 0.
    EXPECT_TRUE(estimate_moves(rule, at::Tensor()));
    EXPECT_TRUE(estimate_moves(rule, bools({false, false, false, false})));
    EXPECT_TRUE(estimate_moves(rule, bools({true, true, true, false})));
  }
  // The reference's count writes each class once, the last image predicting it deciding: a
  // labeled image last writes mask_l * mask_b = 0 for class 0, so nothing counts (train.py), while
  // the histogram counts the unlabeled image before it.
  EXPECT_FALSE(estimate_moves(AcrClassCount::kReference, bools({false, true, true, true})));
  EXPECT_TRUE(estimate_moves(AcrClassCount::kHistogram, bools({false, true, true, true})));
}

TEST(AcrLearnerTest, MarkedStepMovesTheEstimateAsAnUnmarkedStep) {
  // Histogram: two unmarked images of four count as two, normalised to [1, 0, 0] as the four of
  // an unmarked step are: u_py moves by (1 - ema_u) toward class 0 in both.
  AcrLearnerFixture with_marks(at::Tensor(), AcrClassCount::kHistogram);
  with_marks.step(bools({true, false, true, false}));
  AcrLearnerFixture without(at::Tensor(), AcrClassCount::kHistogram);
  without.step(at::Tensor());
  EXPECT_TRUE(with_marks.u_py().allclose(without.u_py()));
  const float ema_u = static_cast<float>(AcrConfig{}.ema_u);
  EXPECT_NEAR(with_marks.u_py()[0].item<float>(), ema_u / kClasses + (1.0F - ema_u), 1e-6);
}

TEST(AcrLearnerTest, DrawBatchCarriesTheMarksOfTheImagesItDraws) {
  for (const std::vector<bool>& pattern :
       {std::vector<bool>{true, false, false, true, false, true, false, false, true, false, true,
                          false},
        std::vector<bool>(kImages, true), std::vector<bool>(kImages, false)}) {
    const at::Tensor is_labeled = bools(pattern);
    AcrLearnerFixture fixture(is_labeled, AcrClassCount::kReference);
    at::Generator generator = make_generator(at::kCPU, 11);
    for (int draw = 0; draw < 4; ++draw) {
      const StepBatch batch = fixture.learner().draw_batch(generator);
      ASSERT_TRUE(batch.unlabeled_is_labeled.defined());
      ASSERT_EQ(batch.unlabeled_is_labeled.size(0), kU);
      // unlabeled_truth holds the stream positions drawn (see the fixture).
      EXPECT_TRUE(
          batch.unlabeled_is_labeled.equal(is_labeled.index_select(0, batch.unlabeled_truth)));
    }
  }
  AcrLearnerFixture unmarked(at::Tensor(), AcrClassCount::kReference);
  at::Generator generator = make_generator(at::kCPU, 11);
  EXPECT_FALSE(unmarked.learner().draw_batch(generator).unlabeled_is_labeled.defined());
}

}  // namespace
}  // namespace crest
