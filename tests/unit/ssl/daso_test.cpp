// DASO's parts against tests/fixtures/daso/reference.json, which tests/fixtures/daso_reference.py
// (a transcription of ytaek-oh/daso's arithmetic, run with Debian's python3-torch 1.13) writes;
// the ctest fixtures.daso_reference keeps that file equal to the transcription. Then the queue's
// edge cases and its round trip through a crest checkpoint.
#include "crest/ssl/daso.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>

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

const json& fixture() {
  static const json data = [] {
    const std::string path = std::string(CREST_SOURCE_DIR) + "/tests/fixtures/daso/reference.json";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open the fixture " + path);
    return json::parse(in);
  }();
  return data;
}

const json& part(const std::string& name) { return fixture().at("parts").at(name); }

at::Tensor tensor_of(const json& j) {
  const std::string dtype = j.at("dtype");
  const std::vector<std::int64_t> shape = j.at("shape").get<std::vector<std::int64_t>>();
  if (dtype == "int64") {
    return at::tensor(j.at("data").get<std::vector<std::int64_t>>(), at::kLong).view(shape);
  }
  const at::Tensor flat = at::tensor(j.at("data").get<std::vector<double>>(), at::kDouble);
  return flat.to(dtype == "float32" ? at::kFloat : at::kDouble).view(shape);
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

TEST(DasoTest, CosineSimilarityOverTemperature) {
  const json& j = part("similarity");
  const at::Tensor out = daso_similarity(tensor_of(j.at("features")), tensor_of(j.at("prototypes")),
                                         j.at("temperature").get<double>());
  expect_close(out, j.at("out"), "similarity");
  // The zero prototype (class 2, no features yet) has similarity 0, not NaN.
  EXPECT_EQ(out.select(1, 2).abs().max().item<double>(), 0.0);
}

TEST(DasoTest, BlendWeightsFromThePseudoLabelDistribution) {
  const json& j = part("blend_weights");
  const at::Tensor counts = at::tensor(j.at("counts").get<std::vector<std::int64_t>>(), at::kLong);
  for (const auto& [temperature, expected] : j.at("out").items()) {
    SCOPED_TRACE("T_dist " + temperature);
    const at::Tensor v = daso_blend_weights(counts, std::stod(temperature));
    expect_close(v, expected, "weights");
    EXPECT_EQ(v.max().item<double>(), 1.0);  // the most frequent class blends fully
  }
  // No pseudo-label counted yet: 0 / 0 everywhere, as the reference (validate refuses it).
  EXPECT_TRUE(at::isnan(daso_blend_weights(at::zeros({4}, at::kLong), 1.5)).all().item<bool>());
}

TEST(DasoTest, ClassAdaptiveAndFixedBlend) {
  const json& j = part("blend");
  const at::Tensor p = tensor_of(j.at("probs"));
  const at::Tensor q = tensor_of(j.at("semantic"));
  expect_close(daso_blend(p, q, tensor_of(j.at("weights")), 0.5), j.at("aware"), "dist-aware");
  expect_close(daso_blend(p, q, at::Tensor(), j.at("alpha").get<double>()), j.at("fixed"),
               "fixed alpha");
  // Weight 0 keeps the linear pseudo-label, weight 1 takes the semantic one.
  EXPECT_TRUE(at::equal(daso_blend(p, q, at::zeros({4}), 0.5), p));
  EXPECT_TRUE(at::allclose(daso_blend(p, q, at::ones({4}), 0.5), q));
}

TEST(DasoTest, AlignmentLossAndItsGradient) {
  const json& j = part("alignment");
  const at::Tensor strong = tensor_of(j.at("strong_features")).requires_grad_(true);
  const at::Tensor loss = daso_alignment_loss(
      tensor_of(j.at("semantic")),
      daso_similarity(strong, tensor_of(j.at("prototypes")), j.at("temperature").get<double>()));
  EXPECT_NEAR(loss.item<double>(), j.at("loss").get<double>(), 1e-5);
  loss.backward();
  expect_close(strong.grad(), j.at("grad"), "gradient through the strong features");
}

TEST(DasoQueueTest, EnqueuesKeepTheNewestAndAverageThem) {
  const json& j = part("queue");
  DasoQueue queue(j.at("classes").get<std::int64_t>(), j.at("max_size").get<std::int64_t>(),
                  j.at("dim").get<std::int64_t>(), at::kCPU);
  const std::int64_t dim = j.at("dim");
  for (const json& batch : j.at("batches")) {
    const std::vector<std::int64_t> labels = batch.at("labels");
    at::Tensor features = tensor_of(batch.at("features"));
    if (labels.empty()) features = at::zeros({0, dim});
    queue->enqueue(features, at::tensor(labels, at::kLong).view({-1}));
    expect_close(queue->memory(), batch.at("after").at("memory"), "memory");
    expect_close(queue->size(), batch.at("after").at("size"), "size");
    expect_close(queue->prototypes(), batch.at("after").at("prototypes"), "prototypes");
  }
  // The script fills class 3 past K (4 rows, then 4 more, K = 3) and leaves class 2 empty.
  EXPECT_EQ(queue->size()[3].item<std::int64_t>(), 3);
  EXPECT_EQ(queue->size()[2].item<std::int64_t>(), 0);
}

TEST(DasoQueueTest, RefusesBadSizesAndRows) {
  const std::vector<std::tuple<int, int, int>> sizes = {
      {0, 4, 2}, {3, 0, 2}, {3, 4, 0}, {-1, 1, 1}};
  for (const auto& size : sizes) {
    expect_input_error(
        [&] { DasoQueue queue(std::get<0>(size), std::get<1>(size), std::get<2>(size), at::kCPU); },
        {"DASO feature queue"});
  }
  DasoQueue queue(3, 4, 2, at::kCPU);
  const std::vector<std::pair<at::Tensor, at::Tensor>> bad = {
      {at::zeros({2, 3}), at::zeros({2}, at::kLong)},       // wrong width
      {at::zeros({2, 2}), at::zeros({3}, at::kLong)},       // rows disagree
      {at::zeros({2}), at::zeros({2}, at::kLong)},          // not a matrix
      {at::zeros({2, 2}), at::tensor({0, 3}, at::kLong)},   // class past the last
      {at::zeros({2, 2}), at::tensor({-1, 0}, at::kLong)},  // negative class
      {at::zeros({2, 2}), at::zeros({2, 1}, at::kLong)}};   // labels not a vector
  for (const auto& [features, labels] : bad) {
    EXPECT_THROW(queue->enqueue(features, labels), std::invalid_argument);
  }
  EXPECT_EQ(queue->size().sum().item<std::int64_t>(), 0);  // nothing half-done
}

// The queue inside a state tree, written and read as a crest checkpoint part-full, gives the
// same queue after the same later batches as the one never saved.
class DasoQueueCheckpointTest : public TempDirTest {};

TEST_F(DasoQueueCheckpointTest, ResumesExactly) {
  auto tree_with_queue = [](torch::nn::Module& root) {
    auto queue = std::make_shared<DasoQueueImpl>(3, 4, 2, at::kCPU);
    StateTree(root).add_module("daso_queue", queue, /*per_rank=*/false);
    return queue;
  };
  torch::nn::Module root_a;
  auto a = tree_with_queue(root_a);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  std::vector<std::pair<at::Tensor, at::Tensor>> later;
  for (int i = 0; i < 6; ++i)
    later.emplace_back(at::randn({3, 2}, gen), at::randint(0, 3, {3}, gen));
  for (int i = 0; i < 2; ++i) a->enqueue(later[i].first, later[i].second);
  const auto file = dir_ / "state.pt";
  write_checkpoint(file, root_a, CheckpointHeader{7, 10});
  torch::nn::Module root_b;
  auto b = tree_with_queue(root_b);
  EXPECT_EQ(read_checkpoint(file, root_b).step, 7);
  EXPECT_TRUE(at::equal(a->memory(), b->memory()));
  for (int i = 2; i < 6; ++i) {
    for (auto* queue : {a.get(), b.get()}) queue->enqueue(later[i].first, later[i].second);
  }
  EXPECT_TRUE(at::equal(a->memory(), b->memory()));
  EXPECT_TRUE(at::equal(a->size(), b->size()));
  EXPECT_TRUE(at::equal(a->prototypes(), b->prototypes()));
}

}  // namespace
}  // namespace crest
