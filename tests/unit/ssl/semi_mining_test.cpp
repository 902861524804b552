// SeMi's parts against tests/fixtures/semi/reference.json, which tests/fixtures/semi_reference.py
// (a transcription of pywin/SeMi's arithmetic, run with Debian's python3-torch 1.13) writes; the
// ctest fixtures.semi_reference keeps that file equal to the transcription. Then the bank's edge
// cases and its round trip through a crest checkpoint.
#include "crest/ssl/semi_mining.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "crest/io/checkpoint.h"
#include "crest/ssl/learner.h"
#include "test_util.h"

namespace crest {
namespace {

using nlohmann::json;

// CREST_SEMI_FIXTURE names another file of the same format (e.g. one written by
// `semi_reference.py --out FILE` after a change of the transcription).
const json& fixture() {
  static const json data = [] {
    const char* file = std::getenv("CREST_SEMI_FIXTURE");
    const std::string path =
        file != nullptr && *file != '\0'
            ? std::string(file)
            : std::string(CREST_SOURCE_DIR) + "/tests/fixtures/semi/reference.json";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open the fixture " + path);
    return json::parse(in);
  }();
  return data;
}

const json& part(const std::string& name) { return fixture().at("parts").at(name); }

at::Tensor tensor_of(const json& j) {
  const std::string dtype = j.at("dtype");
  std::vector<std::int64_t> shape = j.at("shape").get<std::vector<std::int64_t>>();
  at::Tensor flat;
  if (dtype == "int64") {
    flat = at::tensor(j.at("data").get<std::vector<std::int64_t>>(), at::kLong);
  } else {
    flat = at::tensor(j.at("data").get<std::vector<double>>(), at::kDouble);
    flat = flat.to(dtype == "float32" ? at::kFloat : at::kDouble);
  }
  return flat.view(shape);
}

void expect_close(const at::Tensor& actual, const json& expected, const std::string& what) {
  const at::Tensor want = tensor_of(expected);
  ASSERT_EQ(actual.sizes(), want.sizes()) << what;
  ASSERT_EQ(actual.scalar_type(), want.scalar_type()) << what;
  const at::Tensor a = actual.detach().to(at::kCPU, at::kDouble);
  const at::Tensor b = want.to(at::kDouble);
  const double worst = a.numel() == 0 ? 0.0 : (a - b).abs().max().item<double>();
  EXPECT_TRUE(at::allclose(a, b, 1e-6, 1e-6)) << what << ": largest difference " << worst;
}

TEST(SemiMiningTest, ReferenceRowsAreTheInterleavedOnes) {
  const json& j = part("view_rows");
  const at::Tensor features = tensor_of(j.at("features"));
  const std::int64_t batch = j.at("batch");
  const SemiViewFeatures ref = semi_view_features(features, batch, /*reference_rows=*/true);
  expect_close(ref.weak, j.at("weak"), "weak");
  expect_close(ref.strong, j.at("strong"), "strong");
  expect_close(ref.strong1, j.at("strong1"), "strong1");
  const SemiViewFeatures aligned = semi_view_features(features, batch, false);
  EXPECT_TRUE(at::equal(aligned.weak, features.narrow(0, batch, batch)));
  EXPECT_TRUE(at::equal(aligned.strong1, features.narrow(0, 3 * batch, batch)));
  for (const auto& [rows, b] :
       std::vector<std::pair<std::int64_t, std::int64_t>>{{12, 4}, {13, 3}, {12, 0}, {0, 0}}) {
    EXPECT_THROW(semi_view_features(at::zeros({rows, 8}), b, true), std::invalid_argument);
  }
  EXPECT_THROW(semi_view_features(at::zeros({12, 2, 4}), 3, false), std::invalid_argument);
}

TEST(SemiMiningTest, LogitAdjustmentIsFloat64) {
  const json& j = part("logit_adjustment");
  expect_close(semi_logit_adjustment(tensor_of(j.at("prior")), j.at("tau")), j.at("out"), "adj");
}

TEST(SemiMiningTest, PrototypeProbabilities) {
  for (const char* name : {"prototype_probs", "prototype_probs_mm"}) {
    const json& j = part(name);
    expect_close(semi_prototype_probs(tensor_of(j.at("features")), tensor_of(j.at("prototypes")),
                                      j.at("temperature")),
                 j.at("out"), name);
  }
}

TEST(SemiMiningTest, BlendedPseudoLabels) {
  for (const json& j : part("blend")) {
    const double ramp = j.at("epoch").get<double>() / j.at("eval_step").get<double>();
    expect_close(semi_blend_pseudo_labels(tensor_of(j.at("p")), tensor_of(j.at("q")),
                                          tensor_of(j.at("weight")), j.at("alpha"), ramp),
                 j.at("out"), "blend epoch " + j.at("epoch").dump());
  }
}

TEST(SemiMiningTest, TargetsAndMasks) {
  const json& j = part("targets");
  const SemiTargets t =
      semi_targets(tensor_of(j.at("pseudo_label")), tensor_of(j.at("logits_weak")),
                   tensor_of(j.at("logits_weak_balanced")), tensor_of(j.at("adjustment")),
                   j.at("threshold"), j.at("temperature"));
  expect_close(t.targets, j.at("targets"), "targets");
  expect_close(t.confidence, j.at("confidence"), "confidence");
  expect_close(t.mask, j.at("mask"), "mask");
  expect_close(t.targets_balanced, j.at("targets_balanced"), "targets_balanced");
  expect_close(t.mask_balanced, j.at("mask_balanced"), "mask_balanced");
}

TEST(SemiMiningTest, ClassFrequencyFromRunningCounts) {
  const json& j = part("class_frequency");
  at::Tensor counts = at::zeros({4});
  for (const json& step : j.at("steps")) {
    counts += semi_confident_counts(tensor_of(step.at("pseudo_label")), tensor_of(step.at("mask")));
    expect_close(counts, step.at("counts"), "counts");
  }
  expect_close(semi_class_frequency(counts), j.at("frequency"), "frequency");
  // Nothing confident yet: 0 / 0, as the reference.
  EXPECT_TRUE(at::isnan(semi_class_frequency(at::zeros({4}))).all().item<bool>());
  EXPECT_EQ(semi_confident_counts(at::eye(3), at::zeros({3})).sum().item<std::int64_t>(), 0);
}

TEST(SemiMiningTest, HardExampleWeights) {
  const json& j = part("hard_weights");
  const at::Tensor w = semi_hard_example_weights(tensor_of(j.at("pseudo_label")), j.at("scale"));
  expect_close(w, j.at("out"), "weights");
  // A one-hot row weighs 1 - scale, a uniform one 1.
  EXPECT_NEAR(w[0].item<double>(), 0.25, 1e-6);
  EXPECT_NEAR(w[1].item<double>(), 1.0, 1e-6);
}

TEST(SemiMiningTest, FeatureConsistencyAndCenter) {
  const json& j = part("consistency");
  const at::Tensor weak = tensor_of(j.at("weak")).requires_grad_();
  const at::Tensor strong = tensor_of(j.at("strong")).requires_grad_();
  const at::Tensor strong1 = tensor_of(j.at("strong1"));
  const at::Tensor center = tensor_of(j.at("center"));
  const SemiConsistency c = semi_feature_consistency(weak, strong, strong1, center,
                                                     tensor_of(j.at("mask")), j.at("temperature"));
  expect_close(c.loss, j.at("loss"), "loss");
  expect_close(semi_update_center(center, c.teacher_sum, 2 * weak.size(0)), j.at("new_center"),
               "center");
  c.loss.backward();
  EXPECT_FALSE(weak.grad().defined());  // the weak view is the teacher: no gradient
  ASSERT_TRUE(strong.grad().defined());
  // Confident samples (mask 1: rows 0, 3, 5) add nothing.
  EXPECT_EQ(strong.grad()[0].abs().sum().item<double>(), 0.0);
  EXPECT_GT(strong.grad()[1].abs().sum().item<double>(), 0.0);
}

TEST(SemiMiningTest, UnlabeledAndBalancedLosses) {
  const json& j = part("losses");
  expect_close(semi_balanced_labeled_loss(tensor_of(j.at("logits_labeled")),
                                          tensor_of(j.at("labels")), tensor_of(j.at("adjustment"))),
               j.at("balanced_labeled"), "Lx_b");
  const at::Tensor logits = tensor_of(j.at("logits_strong"));
  const at::Tensor targets = tensor_of(j.at("targets"));
  const at::Tensor mask = tensor_of(j.at("mask"));
  expect_close(semi_masked_cross_entropy(logits, targets, mask, tensor_of(j.at("weights"))),
               j.at("weighted"), "Lu");
  expect_close(semi_masked_cross_entropy(logits, targets, mask, at::Tensor()), j.at("masked"),
               "Lu_b");
}

// Replays the fixture's bank operations, comparing the state wherever the fixture has one.
void replay(const json& run) {
  SemiMemoryBank bank(run.at("classes").get<std::int64_t>(),
                      run.at("per_class").get<std::int64_t>(), run.at("dim").get<std::int64_t>(),
                      at::kCPU);
  int index = 0;
  for (const json& op : run.at("ops")) {
    const std::string what =
        "op " + std::to_string(index++) + " (" + op.at("op").get<std::string>() + ")";
    if (op.at("op") == "decay") {
      bank->decay();
    } else {
      bank->update(tensor_of(op.at("features")), at::argmax(tensor_of(op.at("pseudo_label")), 1),
                   tensor_of(op.at("confidence")), tensor_of(op.at("mask")));
    }
    if (!op.contains("memory")) continue;
    expect_close(bank->confidences(), op.at("confidences"), what + " confidences");
    expect_close(bank->memory(), op.at("memory"), what + " memory");
    expect_close(bank->prototypes(), op.at("prototypes"), what + " prototypes");
  }
}

TEST(SemiMemoryBankTest, ScriptedUpdatesMatchReference) { replay(fixture().at("bank_script")); }

TEST(SemiMemoryBankTest, RandomUpdatesWithTiesMatchReference) {
  replay(fixture().at("bank_random"));
}

// One feature row per value v: [v, v] (D = 2), class `cls`, offered.
void offer_rows(SemiMemoryBank& bank, const std::vector<float>& confidences,
                const std::vector<float>& values, std::int64_t cls) {
  const auto n = static_cast<std::int64_t>(values.size());
  bank->update(at::tensor(values).view({n, 1}).expand({n, 2}).contiguous(),
               at::full({n}, cls, at::kLong), at::tensor(confidences), at::ones({n}));
}

TEST(SemiMemoryBankTest, StartsEmptyWithZeroPrototypes) {
  SemiMemoryBank bank(3, 4, 2, at::kCPU);
  EXPECT_EQ(bank->prototypes().abs().sum().item<double>(), 0.0);
  offer_rows(bank, {0.9F}, {8.0F}, 1);
  // Class 1's mean over its 4 slots (3 of them empty); classes 0 and 2 stay zero.
  EXPECT_TRUE(
      at::equal(bank->prototypes(), at::tensor({0.0F, 0.0F, 2.0F, 2.0F, 0.0F, 0.0F}).view({3, 2})));
}

TEST(SemiMemoryBankTest, FullBankDropsTheFirstFeatureRow) {
  // memorybank.py:101-102: the features lose their first row, the confidences their last.
  SemiMemoryBank bank(1, 2, 2, at::kCPU);
  offer_rows(bank, {0.5F, 0.6F, 0.7F}, {1.0F, 2.0F, 3.0F}, 0);
  EXPECT_TRUE(at::equal(bank->confidences(), at::tensor({0.7F, 0.6F}).view({1, 2})));
  EXPECT_TRUE(at::equal(bank->memory().select(2, 0), at::tensor({3.0F, 0.0F}).view({1, 2})));
  // Not above the last slot (0.6): refused, nothing moves.
  offer_rows(bank, {0.6F, 0.1F}, {4.0F, 5.0F}, 0);
  EXPECT_TRUE(at::equal(bank->confidences(), at::tensor({0.7F, 0.6F}).view({1, 2})));
  EXPECT_TRUE(at::equal(bank->memory().select(2, 0), at::tensor({3.0F, 0.0F}).view({1, 2})));
}

TEST(SemiMemoryBankTest, NoneOrAllConfident) {
  SemiMemoryBank bank(2, 8, 2, at::kCPU);
  offer_rows(bank, {0.2F, 0.4F, 0.3F, 0.9F}, {1.0F, 2.0F, 3.0F, 4.0F}, 0);
  EXPECT_TRUE(at::equal(bank->confidences()[0].narrow(0, 0, 5),
                        at::tensor({0.9F, 0.4F, 0.3F, 0.2F, 0.0F})));
  EXPECT_TRUE(
      at::equal(bank->inserted_count()[0].narrow(0, 0, 5), at::tensor({1, 1, 1, 1, 0}, at::kLong)));
  const at::Tensor memory = bank->memory().clone();
  const at::Tensor confidences = bank->confidences().clone();
  // Nothing offered: the rows are not even read (a class out of range passes unseen).
  bank->update(at::ones({3, 2}), at::tensor({0, 1, 7}, at::kLong), at::ones({3}), at::zeros({3}));
  EXPECT_TRUE(at::equal(bank->memory(), memory));
  EXPECT_TRUE(at::equal(bank->confidences(), confidences));
}

TEST(SemiMemoryBankTest, DecayAgesWhatWasNotInsertedAndForgets) {
  SemiMemoryBank bank(1, 3, 2, at::kCPU);
  offer_rows(bank, {0.5F, 0.8F}, {1.0F, 2.0F}, 0);
  bank->decay();  // both inserted since the start: no change, counts forgotten
  EXPECT_TRUE(at::equal(bank->confidences(), at::tensor({0.8F, 0.5F, 0.0F}).view({1, 3})));
  EXPECT_EQ(bank->inserted_count().sum().item<std::int64_t>(), 0);
  offer_rows(bank, {0.6F}, {3.0F}, 0);
  bank->decay();  // 0.8 and 0.5 are old now
  EXPECT_TRUE(
      at::equal(bank->confidences(), at::tensor({0.8F * 0.99F, 0.6F, 0.5F * 0.99F}).view({1, 3})));
}

TEST(SemiMemoryBankTest, RefusesBadSizesAndRows) {
  for (const auto& [c, k, d] :
       std::vector<std::tuple<int, int, int>>{{0, 4, 2}, {3, 0, 2}, {3, 4, 0}, {-1, 4, 2}}) {
    expect_input_error([&] { SemiMemoryBank(c, k, d, at::kCPU); }, {"memory bank", "slots"});
  }
  SemiMemoryBank bank(3, 2, 4, at::kCPU);
  const at::Tensor ones = at::ones({2});
  const at::Tensor cls = at::zeros({2}, at::kLong);
  EXPECT_THROW(bank->update(at::ones({2, 3}), cls, ones, ones), std::invalid_argument);
  EXPECT_THROW(bank->update(at::ones({2}), cls, ones, ones), std::invalid_argument);
  EXPECT_THROW(bank->update(at::ones({2, 4}), at::zeros({3}, at::kLong), ones, ones),
               std::invalid_argument);
  EXPECT_THROW(bank->update(at::ones({2, 4}), cls, at::ones({1}), ones), std::invalid_argument);
  EXPECT_THROW(bank->update(at::ones({2, 4}), cls, ones, at::ones({3})), std::invalid_argument);
  for (std::int64_t bad : {-1, 3, 100}) {
    EXPECT_THROW(bank->update(at::ones({2, 4}),
                              at::tensor(std::vector<std::int64_t>{0, bad}, at::kLong), ones, ones),
                 std::invalid_argument);
  }
  // Row 0 alone would enter the bank: refused as a whole, nothing changed.
  EXPECT_EQ(bank->confidences().abs().sum().item<double>(), 0.0);
  EXPECT_EQ(bank->memory().abs().sum().item<double>(), 0.0);
}

// The bank inside a state tree, written and read as a crest checkpoint mid-window (insertion
// counts pending), gives the same bank after the same later updates as the one never saved.
class SemiBankCheckpointTest : public TempDirTest {};

TEST_F(SemiBankCheckpointTest, ResumesExactly) {
  auto tree_with_bank = [](torch::nn::Module& root) {
    auto bank = std::make_shared<SemiMemoryBankImpl>(3, 4, 2, at::kCPU);
    StateTree(root).add_module("semi_bank", bank, /*per_rank=*/false);
    return bank;
  };
  torch::nn::Module root_a;
  auto a = tree_with_bank(root_a);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  auto offer = [&](SemiMemoryBankImpl& bank, const at::Tensor& f, const at::Tensor& c,
                   const at::Tensor& s) { bank.update(f, c, s, at::ones({f.size(0)})); };
  std::vector<std::tuple<at::Tensor, at::Tensor, at::Tensor>> later;
  for (int i = 0; i < 6; ++i) {
    later.emplace_back(at::randn({5, 2}, gen), at::randint(0, 3, {5}, gen),
                       at::randint(1, 5, {5}, gen).to(at::kFloat) / 4);  // many ties
  }
  for (int i = 0; i < 2; ++i)
    offer(*a, std::get<0>(later[i]), std::get<1>(later[i]), std::get<2>(later[i]));
  ASSERT_GT(a->inserted_count().sum().item<std::int64_t>(), 0);
  const auto file = dir_ / "state.pt";
  write_checkpoint(file, root_a, CheckpointHeader{7, 10});
  torch::nn::Module root_b;
  auto b = tree_with_bank(root_b);
  EXPECT_EQ(read_checkpoint(file, root_b).step, 7);
  for (int i = 2; i < 6; ++i) {
    for (auto* bank : {a.get(), b.get()})
      offer(*bank, std::get<0>(later[i]), std::get<1>(later[i]), std::get<2>(later[i]));
    if (i == 3) {
      a->decay();
      b->decay();
    }
  }
  EXPECT_TRUE(at::equal(a->memory(), b->memory()));
  EXPECT_TRUE(at::equal(a->confidences(), b->confidences()));
  EXPECT_TRUE(at::equal(a->inserted_count(), b->inserted_count()));
}

}  // namespace
}  // namespace crest
