// The checkpoint archive: a module tree round trips in place (devices, memory formats and the
// tensors others hold stay valid); a file of another model, with a missing or extra tensor, of
// another version, with changed tensor bytes or that is not a checkpoint is refused naming the
// file, and leaves the state untouched; a failed write keeps the previous checkpoint.
#include "crest/io/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/serialize/output-archive.h>

#include <cstring>
#include <stdexcept>

#include "crest/io/file.h"
#include "crest/io/run_files.h"
#include "crest/models/wrn.h"
#include "crest/ssl/alignment.h"
#include "crest/ssl/sampler.h"
#include "test_util.h"

namespace crest {
namespace {

namespace fs = std::filesystem;

WideResNet tiny_wrn(int width, std::uint64_t seed) {
  WideResNetOptions options;
  options.depth = 10;
  options.width = width;
  options.num_classes = 3;
  WideResNet net(options);
  at::Generator init = at::make_generator<at::CPUGeneratorImpl>(seed);
  initialize_wide_resnet(*net, init);
  return net;
}

// A trainer-like state: a model, a sampler, an aligner and a loose buffer.
struct State {
  explicit State(int width = 1, std::uint64_t seed = 1, bool with_alignment = true)
      : module(std::make_shared<torch::nn::Module>("State")),
        model(tiny_wrn(width, seed)),
        sampler(20, at::kCPU) {
    module->register_module("model", model);
    module->register_module("sampler", sampler);
    if (with_alignment) {
      aligner = DistributionAligner(std::vector<double>{0.5, 0.3, 0.2}, PModelEstimate::kBuffer, 4,
                                    0.999, at::kCPU);
      module->register_module("alignment", aligner);
    }
    stats = module->register_buffer("stats", at::zeros({3}, at::kDouble));
  }
  std::shared_ptr<torch::nn::Module> module;
  WideResNet model;
  IndexSampler sampler;
  DistributionAligner aligner{nullptr};
  at::Tensor stats;
};

class CheckpointTest : public TempDirTest {
 protected:
  fs::path file() const { return dir_ / kCheckpointFile; }
  // A state that has moved away from its initial values.
  State advanced() {
    State a;
    at::Generator g = at::make_generator<at::CPUGeneratorImpl>(3);
    a.sampler->next(7, g);
    a.aligner->observe(at::tensor({0.7f, 0.2f, 0.1f}).view({1, 3}));
    a.stats.fill_(2.5);
    return a;
  }
};

TEST_F(CheckpointTest, RoundTripsInPlace) {
  State a = advanced();
  write_checkpoint(file(), *a.module, {5, 12});
  State b(1, /*seed=*/2);
  {
    at::NoGradGuard no_grad;
    for (auto& p : b.model->parameters()) {
      if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
    }
  }
  const at::Tensor weight = b.model->parameters()[0];
  const void* storage = weight.data_ptr();
  EXPECT_NE(weights_fingerprint(*a.module), weights_fingerprint(*b.module));
  const CheckpointHeader header = read_checkpoint(file(), *b.module);
  EXPECT_EQ(header.step, 5);
  EXPECT_EQ(header.total_steps, 12);
  EXPECT_EQ(weights_fingerprint(*a.module), weights_fingerprint(*b.module));
  EXPECT_EQ(b.model->parameters()[0].data_ptr(), storage);  // copied into, not replaced
  EXPECT_TRUE(weight.is_contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_EQ(b.sampler->offset(), 7);
  EXPECT_TRUE(at::allclose(a.aligner->p_model(), b.aligner->p_model()));
  EXPECT_EQ(b.stats[0].item<double>(), 2.5);
  // Both continue identically.
  at::Generator g1 = at::make_generator<at::CPUGeneratorImpl>(9);
  at::Generator g2 = at::make_generator<at::CPUGeneratorImpl>(9);
  EXPECT_TRUE(a.sampler->next(30, g1).equal(b.sampler->next(30, g2)));
  // No temporary is left next to the file.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(CheckpointTest, AnotherArchitectureIsRefusedAndTheStateKept) {
  State wide(/*width=*/2);
  write_checkpoint(file(), *wide.module, {1, 2});
  State narrow;
  const std::string before = weights_fingerprint(*narrow.module);
  expect_data_error([&] { read_checkpoint(file(), *narrow.module); },
                    {"checkpoint.pt", "model.", "needs", "Float", "another model or config"});
  EXPECT_EQ(weights_fingerprint(*narrow.module), before);
}

TEST_F(CheckpointTest, AMissingOrAnExtraTensorIsRefusedByName) {
  State without(1, 1, /*with_alignment=*/false);
  write_checkpoint(file(), *without.module, {1, 2});
  State with;
  expect_data_error([&] { read_checkpoint(file(), *with.module); },
                    {"checkpoint.pt", "lacks alignment"});
  write_checkpoint(file(), *with.module, {1, 2});
  expect_data_error([&] { read_checkpoint(file(), *without.module); },
                    {"checkpoint.pt", "holds alignment", "does not have"});
}

TEST_F(CheckpointTest, ChangedTensorBytesAreDetected) {
  State a = advanced();
  a.stats.fill_(1234.5);  // a pattern to find in the file
  write_checkpoint(file(), *a.module, {1, 2});
  std::string bytes = read_file(file());
  double pattern = 1234.5;
  const std::string needle(reinterpret_cast<const char*>(&pattern), sizeof(pattern));
  const std::size_t at = bytes.find(needle);
  ASSERT_NE(at, std::string::npos);
  bytes[at + 7] = static_cast<char>(bytes[at + 7] ^ 0x01);
  write_file_atomic(file(), bytes);
  State b;
  const std::string before = weights_fingerprint(*b.module);
  expect_data_error([&] { read_checkpoint(file(), *b.module); },
                    {"checkpoint.pt", "damaged", "move it away"});
  EXPECT_EQ(weights_fingerprint(*b.module), before);
}

TEST_F(CheckpointTest, OtherFilesAndVersionsAreRefused) {
  State a;
  write_file_atomic(file(), "not a checkpoint");
  expect_data_error([&] { read_checkpoint(file(), *a.module); },
                    {"cannot read the checkpoint", "checkpoint.pt", "move it away"});
  torch::serialize::OutputArchive archive;
  archive.write("version", at::tensor(std::int64_t{2}));
  archive.save_to(file().string());
  expect_data_error([&] { read_checkpoint(file(), *a.module); },
                    {"checkpoint.pt", "version 2", "reads version 3", "move the file away"});
  torch::serialize::OutputArchive other;
  other.write("weights", at::zeros({3}));
  other.save_to(file().string());
  expect_data_error([&] { read_checkpoint(file(), *a.module); },
                    {"checkpoint.pt", "\"version\"", "not a crest checkpoint"});
}

TEST_F(CheckpointTest, AFailedWriteKeepsThePreviousCheckpoint) {
  State a = advanced();
  write_checkpoint(file(), *a.module, {1, 2});
  const std::string before = read_file(file());
  // The checkpoint's folder is replaced by a file: every write into it fails.
  const fs::path blocked = dir_ / "blocked";
  write_file_atomic(blocked, "a file, not a folder");
  expect_error<std::runtime_error>(
      [&] {
        write_checkpoint(blocked / kCheckpointFile, *a.module, {2, 2});
      },
      {"blocked", "previous checkpoint", "intact"});
  EXPECT_EQ(read_file(file()), before);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 2);
}

TEST(WeightsFingerprintTest, IgnoresLayoutAndTellsWeightsApart) {
  WideResNet a = tiny_wrn(1, 1);
  WideResNet b = tiny_wrn(1, 1);
  EXPECT_EQ(weights_fingerprint(*a), weights_fingerprint(*b));
  {
    at::NoGradGuard no_grad;
    for (auto& p : b->parameters()) {
      if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
    }
  }
  EXPECT_EQ(weights_fingerprint(*a), weights_fingerprint(*b));
  EXPECT_NE(weights_fingerprint(*a), weights_fingerprint(*tiny_wrn(1, 2)));
}

}  // namespace
}  // namespace crest
