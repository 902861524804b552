// Averages the gradients of one backward pass over the ranks, in buckets, overlapped with the
// backward pass: the parameters are packed into buckets of at most `bucket_bytes` in reverse
// order (the order their gradients arrive in, as torch.nn.parallel.DistributedDataParallel
// does); a hook on each parameter copies its gradient into its bucket's flat buffer as soon as
// autograd has computed it, and a full bucket starts its all-reduce at once, while autograd
// goes on with the layers below. Buckets start strictly in index order, so every rank issues
// the same sequence of collectives. finish() waits for them and writes the mean into each
// parameter's .grad.
//
// c10d's own Reducer (reducer.hpp) does this for DDP but is built around Python's DDP front
// (its construction, logger and comm hooks differ between LibTorch 1.13 and 2.x), so crest uses
// the same scheme through tensor hooks here.
#pragma once

#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "crest/dist/world.h"

namespace crest::dist {

class GradientReducer {
 public:
  static constexpr std::size_t kDefaultBucketBytes = 25u << 20;  // DDP's bucket_cap_mb = 25

  // `params`: the parameters whose gradients are averaged (all of the same dtype as the
  // first); the hooks live as long as the parameters. Does nothing in a world of one rank.
  GradientReducer(std::vector<at::Tensor> params, World& world,
                  std::size_t bucket_bytes = kDefaultBucketBytes);

  // Arms the hooks for the next backward pass.
  void prepare();
  // Waits for every bucket (starting those whose parameters got no gradient, with zeros) and
  // sets each parameter's .grad to the mean over the ranks. Throws std::runtime_error when a
  // peer is gone (World::collective_timeout()).
  void finish();

  std::size_t bucket_count() const { return bucket_count_; }

 private:
  // Everything the hooks touch; they hold it weakly, so a backward pass after the reducer is
  // gone leaves the gradients alone.
  struct State;
  std::shared_ptr<State> state_;
  std::size_t bucket_count_ = 0;
};

}  // namespace crest::dist
