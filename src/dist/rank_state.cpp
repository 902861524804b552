#include "crest/dist/rank_state.h"

#include <algorithm>

namespace crest::dist {

namespace {

// Buffer names cannot hold dots: labeled_sampler.permutation -> labeled_sampler_permutation.
std::string buffer_name(std::string name) {
  std::replace(name.begin(), name.end(), '.', '_');
  return name;
}

}  // namespace

RankStateMirror::RankStateMirror(std::vector<std::pair<std::string, at::Tensor>> local,
                                 torch::nn::Module& state, World& world)
    : local_(std::move(local)), world_(world) {
  auto ranks = std::make_shared<torch::nn::Module>("RankStates");
  for (int r = 1; r < world_.size(); ++r) {
    auto rank = std::make_shared<torch::nn::Module>("RankState");
    std::vector<at::Tensor> copies;
    for (const auto& [name, tensor] : local_) {
      copies.push_back(rank->register_buffer(buffer_name(name), tensor.detach().clone()));
    }
    mirrors_.push_back(std::move(copies));
    ranks->register_module(std::to_string(r), rank);
  }
  state.register_module("ranks", ranks);
}

void RankStateMirror::gather() {
  at::NoGradGuard no_grad;
  for (std::size_t k = 0; k < local_.size(); ++k) {
    const std::vector<at::Tensor> all = world_.all_gather(local_[k].second);
    if (!world_.is_main()) continue;
    for (int r = 1; r < world_.size(); ++r) {
      mirrors_[static_cast<std::size_t>(r - 1)][k].copy_(all[static_cast<std::size_t>(r)]);
    }
  }
}

void RankStateMirror::scatter() {
  if (world_.is_main()) return;
  at::NoGradGuard no_grad;
  const auto& mine = mirrors_[static_cast<std::size_t>(world_.rank() - 1)];
  for (std::size_t k = 0; k < local_.size(); ++k) local_[k].second.copy_(mine[k]);
}

}  // namespace crest::dist
