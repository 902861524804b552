// Endless shuffled streams of indices, drawn on the device that holds the data: each pass is a
// fresh permutation, and a batch that runs past the end of one pass continues into the next
// (so sets smaller than a batch work, as the reference's replication does).
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace crest {

// A module so that checkpoints carry its position by construction. Buffers:
//   permutation  int64 [size] on the sampling device: the current pass
//   offset       int64 scalar on the CPU: positions of the pass already drawn (size: draw a new
//                pass first; the state before the first draw)
class IndexSamplerImpl : public torch::nn::Module {
 public:
  // A stream over positions 0..size-1 with permutations on `device`; InputError when size <= 0.
  IndexSamplerImpl(std::int64_t size, at::Device device);

  // The next `count` positions (int64 [count] on the stream's device).
  at::Tensor next(std::int64_t count, at::Generator& generator);

  std::int64_t size() const { return size_; }
  std::int64_t offset() const { return offset_.item<std::int64_t>(); }
  const at::Tensor& permutation() const { return permutation_; }

 private:
  std::int64_t size_;
  at::Tensor permutation_;
  at::Tensor offset_;
};
TORCH_MODULE(IndexSampler);

}  // namespace crest
