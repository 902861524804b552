#include "crest/ssl/sampler.h"

#include <vector>

#include "crest/util/error.h"

namespace crest {

IndexSamplerImpl::IndexSamplerImpl(std::int64_t size, at::Device device) : size_(size) {
  if (size <= 0) throw InputError("cannot sample batches from an empty set");
  permutation_ = register_buffer(
      "permutation", at::arange(size, at::TensorOptions().dtype(at::kLong).device(device)));
  offset_ = register_buffer("offset", at::tensor(size, at::kLong));
}

at::Tensor IndexSamplerImpl::next(std::int64_t count, at::Generator& generator) {
  std::int64_t& offset = *offset_.data_ptr<std::int64_t>();
  std::vector<at::Tensor> parts;
  std::int64_t needed = count;
  while (needed > 0) {
    if (offset == size_) {
      // In place: the buffer stays the registered tensor. Parts are copies because a new pass
      // overwrites this memory.
      at::randperm_out(permutation_, size_, generator);
      offset = 0;
    }
    const std::int64_t take = std::min(needed, size_ - offset);
    parts.push_back(permutation_.narrow(0, offset, take).clone());
    offset += take;
    needed -= take;
  }
  return parts.size() == 1 ? parts[0] : at::cat(parts);
}

}  // namespace crest
