// A world of two ranks inside one test process (threads over a c10d HashStore), for the tests of
// the data-parallel pieces.
#pragma once

#include <exception>
#include <functional>
#include <thread>
#include <vector>

#include "crest/dist/world.h"

#if CREST_WITH_C10D
#include <torch/csrc/distributed/c10d/HashStore.hpp>
#endif

namespace crest::dist::test_ranks {

inline constexpr int kWorld = 2;

// Runs `body(world)` on kWorld threads, each a rank of its own World over one HashStore;
// rethrows the first exception of any rank. Without c10d it runs nothing.
inline void run_ranks(const std::function<void(World&)>& body) {
#if CREST_WITH_C10D
  c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::HashStore>();
  std::vector<std::exception_ptr> errors(kWorld);
  std::vector<std::thread> threads;
  for (int r = 0; r < kWorld; ++r) {
    threads.emplace_back([&, r] {
      try {
        World world;
        world.join_with_store(&store, r, kWorld);
        body(world);
      } catch (...) {
        errors[static_cast<std::size_t>(r)] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
#else
  (void)body;
#endif
}

}  // namespace crest::dist::test_ranks
