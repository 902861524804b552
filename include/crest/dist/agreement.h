// Ranks agree before they train (#28, kind 4 in docs/reliability.md). Every rank of a job loads
// its config and data itself; a rank started with other arguments (`--set data.fold=2`) or
// reading other files (one label byte changed) must stop the job before the first step, with a
// message naming what differs, on every rank, instead of crashing inside a collective whose
// shapes no longer match or training silently on a mixture.
#pragma once

#include <exception>
#include <functional>
#include <string>
#include <vector>

namespace crest::dist {

class World;

// One thing every rank must hold identically: `name` for messages ("config", "split"), the
// rank's `text` of it, and how to say what differs between rank 0's text and another rank's
// (empty function: "it differs").
struct RankFact {
  std::string name;
  std::string text;
  std::function<std::string(const std::string& rank0, const std::string& other)> explain;
};

// Compares every rank's facts with rank 0's (a 64-bit hash of each, gathered; rank 0's text and
// the first disagreeing rank's travel only when a hash differs). Every rank calls it with the
// same facts in the same order. When one differs, every rank throws InputError (exit 2): "rank R
// does not agree with rank 0 on NAME: EXPLANATION; start every rank with the same ...". A world
// of one rank returns at once. std::runtime_error after the collective timeout when a peer is
// gone.
void check_ranks_agree(World& world, const std::vector<RankFact>& facts);

// Shares the outcome of a step every rank ran (loading the data, say): `failure` is this rank's
// exception or null. When any rank failed, the ranks that failed rethrow their own exception and
// the others throw an error of the same kind (InputError for the user's errors, exit 2, else
// std::runtime_error) naming the first rank that failed and its message, so that no rank waits
// for a peer that has already left. Returns when every rank succeeded.
void share_outcome(World& world, const std::string& step, std::exception_ptr failure);

// Rank `root`'s `text` on every rank of `world`.
std::string broadcast_text(World& world, const std::string& text, int root);

}  // namespace crest::dist
