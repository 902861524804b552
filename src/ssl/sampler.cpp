#include "crest/ssl/sampler.h"

#include <string>
#include <vector>

#include "crest/util/error.h"

namespace crest {

IndexStream::IndexStream(std::int64_t size, at::Device device) : size_(size), device_(device) {
  if (size <= 0) throw InputError("cannot sample batches from an empty set");
}

at::Tensor IndexStream::next(std::int64_t count, at::Generator& generator) {
  std::vector<at::Tensor> parts;
  std::int64_t needed = count;
  while (needed > 0) {
    if (!permutation_.defined() || offset_ == size_) {
      permutation_ =
          at::randperm(size_, generator, at::TensorOptions().dtype(at::kLong).device(device_));
      offset_ = 0;
    }
    const std::int64_t take = std::min(needed, size_ - offset_);
    parts.push_back(permutation_.narrow(0, offset_, take));
    offset_ += take;
    needed -= take;
  }
  return parts.size() == 1 ? parts[0] : at::cat(parts);
}

void IndexStream::restore(const at::Tensor& permutation, std::int64_t offset) {
  if (permutation.defined() && permutation.numel() > 0 &&
      (permutation.numel() != size_ || offset < 0 || offset > size_)) {
    throw DataError("checkpoint sampler state does not fit a set of " + std::to_string(size_) +
                    " images");
  }
  permutation_ =
      permutation.defined() && permutation.numel() > 0 ? permutation.to(device_) : at::Tensor();
  offset_ = offset;
}

}  // namespace crest
