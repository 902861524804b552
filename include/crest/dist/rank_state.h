// The per-rank part of a checkpoint. In a multi-rank run every rank has its own index samplers,
// its own sampling/augmentation generator and its own running statistics; everything else
// (weights, EMA, momentum, CReST+ alignment) is the same on every rank. Rank 0 alone writes
// the run folder, so its checkpoint carries the other ranks' parts too, as the buffers
// ranks.R.NAME (R = 1 .. world_size-1) of the trainer's state module: one file, written
// atomically, whose step holds for every rank.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "crest/dist/world.h"

namespace crest::dist {

class RankStateMirror {
 public:
  // `local`: this rank's per-rank tensors by name (the same names, shapes and dtypes on every
  // rank); registers the submodule `ranks` with R.NAME buffers shaped like them in `state`.
  RankStateMirror(std::vector<std::pair<std::string, at::Tensor>> local, torch::nn::Module& state,
                  World& world);

  // Before a save: every rank sends its tensors; rank 0 keeps them in ranks.R.NAME. Collective.
  void gather();
  // After a load (every rank read rank 0's checkpoint): rank R > 0 copies ranks.R.NAME into its
  // own tensors; rank 0's are the top-level ones it already loaded.
  void scatter();

 private:
  std::vector<std::pair<std::string, at::Tensor>> local_;
  std::vector<std::vector<at::Tensor>> mirrors_;  // [R - 1][k]: rank R's copy of local_[k]
  World& world_;
};

// Computes `compute(begin, end)` (rows [begin, end) of n, any number of columns) on this rank's
// contiguous shard and gathers the rows of all ranks in order: the result of compute(0, n) in a
// world of one rank. Collective when distributed.
template <typename Compute>
at::Tensor map_sharded(World& world, std::int64_t n, const Compute& compute) {
  if (!world.distributed()) return compute(0, n);
  const auto [begin, end] = shard_range(n, world.rank(), world.size());
  return world.all_gather_rows(compute(begin, end));
}

}  // namespace crest::dist
