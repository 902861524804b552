// Endless shuffled streams of indices, drawn on the device that holds the data: each pass is a
// fresh permutation, and a batch that runs past the end of one pass continues into the next
// (so sets smaller than a batch work, as the reference's replication does).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace crest {

class IndexStream {
 public:
  IndexStream() = default;
  // A stream over positions 0..size-1 with permutations on `device`.
  IndexStream(std::int64_t size, at::Device device);

  // The next `count` positions (int64 [count] on the stream's device).
  at::Tensor next(std::int64_t count, at::Generator& generator);

  std::int64_t size() const { return size_; }

  // Checkpoint state: the current permutation and the offset into it.
  at::Tensor permutation() const { return permutation_; }
  std::int64_t offset() const { return offset_; }
  void restore(const at::Tensor& permutation, std::int64_t offset);

 private:
  std::int64_t size_ = 0;
  at::Device device_ = at::kCPU;
  at::Tensor permutation_;  // undefined until the first draw
  std::int64_t offset_ = 0;
};

}  // namespace crest
