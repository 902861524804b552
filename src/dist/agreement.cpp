#include "crest/dist/agreement.h"

#include <ATen/ATen.h>

#include <cstring>

#include "crest/dist/world.h"
#include "crest/util/error.h"
#include "crest/util/hash.h"

namespace crest::dist {

std::string broadcast_text(World& w, const std::string& text, int root) {
  at::Tensor size = at::tensor({static_cast<std::int64_t>(text.size())}, at::kLong);
  w.broadcast({size}, root);
  const std::int64_t n = size.item<std::int64_t>();
  at::Tensor bytes = at::zeros({std::max<std::int64_t>(n, 1)}, at::kByte);
  if (w.rank() == root && n > 0) std::memcpy(bytes.data_ptr(), text.data(), text.size());
  w.broadcast({bytes}, root);
  return std::string(static_cast<const char*>(bytes.data_ptr()), static_cast<std::size_t>(n));
}

void check_ranks_agree(World& w, const std::vector<RankFact>& facts) {
  if (!w.distributed() || facts.empty()) return;
  std::vector<std::int64_t> hashes;
  for (const RankFact& f : facts) {
    hashes.push_back(static_cast<std::int64_t>(fnv1a64(f.text.data(), f.text.size())));
  }
  const std::vector<at::Tensor> all =
      w.all_gather(at::tensor(hashes, at::kLong));  // [world] x [facts]
  for (std::size_t i = 0; i < facts.size(); ++i) {
    const std::int64_t rank0 = all[0][static_cast<std::int64_t>(i)].item<std::int64_t>();
    int other = -1;
    for (std::size_t r = 1; r < all.size() && other < 0; ++r) {
      if (all[r][static_cast<std::int64_t>(i)].item<std::int64_t>() != rank0) {
        other = static_cast<int>(r);
      }
    }
    if (other < 0) continue;
    // Every rank learns both texts, so every rank gives the same message.
    const std::string text0 = broadcast_text(w, facts[i].text, 0);
    const std::string text_other = broadcast_text(w, facts[i].text, other);
    const std::string why = facts[i].explain ? facts[i].explain(text0, text_other) : "";
    throw InputError("rank " + std::to_string(other) + " does not agree with rank 0 on the " +
                     facts[i].name + (why.empty() ? "" : ": " + why) +
                     ". Every rank must start with the same config, --set overrides and data "
                     "files; start the job again with the same arguments on every rank (a "
                     "rank reading another copy of the data needs an identical copy)");
  }
}

void share_outcome(World& w, const std::string& step, std::exception_ptr failure) {
  if (!w.distributed()) {
    if (failure) std::rethrow_exception(failure);
    return;
  }
  // 0: fine; 1: failed with the user's error (exit 2); 2: failed otherwise.
  std::int64_t code = 0;
  std::string message;
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const InputError& e) {
      code = 1;
      message = e.what();
    } catch (const std::exception& e) {
      code = 2;
      message = e.what();
    } catch (...) {
      code = 2;
      message = "an unknown error";
    }
  }
  const std::vector<at::Tensor> codes = w.all_gather(at::tensor({code}, at::kLong));
  int first = -1;
  std::int64_t first_code = 0;
  for (std::size_t r = 0; r < codes.size() && first < 0; ++r) {
    first_code = codes[r].item<std::int64_t>();
    if (first_code != 0) first = static_cast<int>(r);
  }
  if (first < 0) return;
  const std::string first_message = broadcast_text(w, message, first);
  if (failure) std::rethrow_exception(failure);
  const std::string text = "rank " + std::to_string(first) + " failed while " + step +
                           ", so every rank stops: " + first_message;
  if (first_code == 1) throw InputError(text);
  throw std::runtime_error(text);
}

}  // namespace crest::dist
