// crest's SGD against torch::optim::SGD (the rule it reimplements), in each of its kernel
// variants, plus its checkpoint state and the choice of kernels.
#include "crest/ssl/sgd.h"

#include <gtest/gtest.h>
#include <torch/optim/sgd.h>

#include <vector>

#include "crest/util/error.h"
#include "test_util.h"

namespace crest {
namespace {

// Two groups of parameters, one with a channels-last 4-D weight, and a gradient stream.
struct Problem {
  std::vector<at::Tensor> decay, no_decay;
  Problem() {
    at::manual_seed(7);
    decay = {at::randn({4, 3, 3, 3}).contiguous(at::MemoryFormat::ChannelsLast), at::randn({5, 4})};
    no_decay = {at::randn({4}), at::randn({4})};
    for (auto& p : decay) p.set_requires_grad(true);
    for (auto& p : no_decay) p.set_requires_grad(true);
  }
  std::vector<at::Tensor> all() const {
    std::vector<at::Tensor> out = decay;
    out.insert(out.end(), no_decay.begin(), no_decay.end());
    return out;
  }
  Problem copy() const {
    Problem p;
    for (std::size_t i = 0; i < decay.size(); ++i) {
      p.decay[i] = decay[i].detach().clone().set_requires_grad(true);
    }
    for (std::size_t i = 0; i < no_decay.size(); ++i) {
      p.no_decay[i] = no_decay[i].detach().clone().set_requires_grad(true);
    }
    return p;
  }
};

void set_grads(const std::vector<at::Tensor>& params, int step) {
  at::manual_seed(100 + step);
  for (const auto& p : params) {
    p.mutable_grad() = at::randn(p.sizes()).contiguous(p.suggest_memory_format());
  }
}

const double kLrs[] = {0.03, 0.029, 0.027, 0.02, 0.01, 0.005};

std::vector<at::Tensor> run_torch(const Problem& start, double momentum, bool nesterov) {
  Problem p = start.copy();
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(
      p.decay,
      std::make_unique<torch::optim::SGDOptions>(
          torch::optim::SGDOptions(0.1).momentum(momentum).nesterov(nesterov).weight_decay(5e-4)));
  groups.emplace_back(p.no_decay,
                      std::make_unique<torch::optim::SGDOptions>(
                          torch::optim::SGDOptions(0.1).momentum(momentum).nesterov(nesterov)));
  torch::optim::SGD sgd(std::move(groups), torch::optim::SGDOptions(0.1));
  int step = 0;
  for (double lr : kLrs) {
    for (auto& group : sgd.param_groups())
      static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
    set_grads(p.all(), step++);
    sgd.step();
  }
  return p.all();
}

std::vector<at::Tensor> run_crest(const Problem& start, double momentum, bool nesterov,
                                  SgdKernels kernels, bool device_lr = false) {
  Problem p = start.copy();
  Sgd sgd({{p.decay, 5e-4}, {p.no_decay, 0.0}}, momentum, nesterov, kernels);
  int step = 0;
  for (double lr : kLrs) {
    sgd.set_lr(lr, device_lr);
    set_grads(p.all(), step++);
    sgd.step(device_lr);
  }
  return p.all();
}

void expect_same(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(at::equal(a[i], b[i]))
        << "parameter " << i << " differs by " << (a[i] - b[i]).abs().max().item<double>();
  }
}

TEST(SgdTest, ForeachAndLoopMatchTorchSgdExactly) {
  const Problem start;
  for (bool nesterov : {true, false}) {
    for (double momentum : {0.9, 0.0}) {
      if (nesterov && momentum == 0.0) continue;  // torch refuses that combination
      SCOPED_TRACE(testing::Message() << "nesterov " << nesterov << " momentum " << momentum);
      const auto expected = run_torch(start, momentum, nesterov);
      expect_same(run_crest(start, momentum, nesterov, SgdKernels::kForeach), expected);
      expect_same(run_crest(start, momentum, nesterov, SgdKernels::kLoop), expected);
    }
  }
}

TEST(SgdTest, TheUpdateMovesTheWeights) {
  // Guards the comparison above against two optimisers that both do nothing.
  const Problem start;
  const auto after = run_crest(start, 0.9, true, SgdKernels::kForeach);
  EXPECT_FALSE(at::equal(after[0], start.decay[0]));
  EXPECT_FALSE(at::equal(after[3], start.no_decay[1]));
}

TEST(SgdTest, LearningRateFromDeviceMemoryGivesTheSameWeights) {
  const Problem start;
  const auto host = run_crest(start, 0.9, true, SgdKernels::kLoop);
  const auto device = run_crest(start, 0.9, true, SgdKernels::kLoop, /*device_lr=*/true);
  for (std::size_t i = 0; i < host.size(); ++i) {
    EXPECT_TRUE(at::allclose(host[i], device[i], 1e-6, 1e-7)) << i;
  }
  if (sgd_device_lr_supported()) {
    const auto foreach = run_crest(start, 0.9, true, SgdKernels::kForeach, /*device_lr=*/true);
    for (std::size_t i = 0; i < host.size(); ++i) {
      EXPECT_TRUE(at::allclose(host[i], foreach[i], 1e-6, 1e-7)) << i;
    }
  }
}

TEST(SgdTest, ZeroGradKeepsTheGradientTensorsAndTheirLayout) {
  Problem p;
  Sgd sgd({{p.decay, 0.0}}, 0.9, true, SgdKernels::kForeach);
  sgd.zero_grad();
  ASSERT_TRUE(p.decay[0].grad().defined());
  EXPECT_TRUE(p.decay[0].grad().is_contiguous(at::MemoryFormat::ChannelsLast));
  const void* storage = p.decay[0].grad().data_ptr();
  p.decay[0].mutable_grad().fill_(3.0);
  sgd.zero_grad();
  EXPECT_EQ(p.decay[0].grad().data_ptr(), storage);
  EXPECT_EQ(p.decay[0].grad().abs().sum().item<double>(), 0.0);
}

TEST(SgdTest, BuffersAreTheTensorsTheStepUpdates) {
  // Checkpoints register buffers() in the trainer's state module and restore them with copy_:
  // that only works when they share storage with the buffers the step reads.
  const Problem start;
  Problem a = start.copy();
  Sgd first({{a.decay, 5e-4}, {a.no_decay, 0.0}}, 0.9, true, SgdKernels::kForeach);
  first.set_lr(0.03);
  set_grads(a.all(), 0);
  first.step();
  Problem b = a.copy();
  Sgd second({{b.decay, 5e-4}, {b.no_decay, 0.0}}, 0.9, true, SgdKernels::kForeach);
  second.set_lr(0.03);
  ASSERT_EQ(first.buffers().size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) second.buffers()[i].copy_(first.buffers()[i]);
  set_grads(a.all(), 1);
  set_grads(b.all(), 1);
  first.step();
  second.step();
  for (std::size_t i = 0; i < a.all().size(); ++i) EXPECT_TRUE(at::equal(a.all()[i], b.all()[i]));
}

TEST(SgdTest, KernelChoice) {
  EXPECT_EQ(resolve_sgd_kernels(SgdChoice::kAuto, at::kCPU), SgdKernels::kForeach);
  EXPECT_EQ(resolve_sgd_kernels(SgdChoice::kLoop, at::kCPU), SgdKernels::kLoop);
  EXPECT_STREQ(sgd_kernels_name(SgdKernels::kFused), "fused");
  expect_input_error([] { resolve_sgd_kernels(SgdChoice::kFused, at::kCPU); },
                     {"train.sgd=fused", "CUDA", "foreach"});
  expect_input_error([] { resolve_sgd_kernels(parse_sgd("adam"), at::kCPU); },
                     {"train.sgd", "'adam'"});
}

}  // namespace
}  // namespace crest
