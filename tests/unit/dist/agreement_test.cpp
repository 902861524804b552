// Ranks agree before they train (#28 kind 4): two ranks as two threads over one c10d::HashStore.
// A fact that differs stops both ranks with InputError naming the rank, the fact and the
// difference; a rank that fails while loading stops the other with its message, of its kind.
#include "crest/dist/agreement.h"

#include <gtest/gtest.h>

#include <exception>
#include <functional>
#include <thread>
#include <vector>

#include "crest/dist/world.h"
#include "test_util.h"

#if CREST_WITH_C10D
#include <torch/csrc/distributed/c10d/HashStore.hpp>
#endif

namespace crest::dist {
namespace {

// Runs `body(rank)` on two ranks joined over one store; returns each rank's exception.
std::vector<std::exception_ptr> on_two_ranks(const std::function<void(World&, int)>& body) {
  std::vector<std::exception_ptr> errors(2);
#if CREST_WITH_C10D
  c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::HashStore>();
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      try {
        World world;
        world.join_with_store(&store, r, 2);
        body(world, r);
      } catch (...) {
        errors[static_cast<std::size_t>(r)] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
#else
  (void)body;
#endif
  return errors;
}

std::string message_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  }
  return "";
}

bool is_input_error(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const InputError&) {
    return true;
  } catch (...) {
    return false;
  }
}

std::string differ(const std::string& a, const std::string& b) { return a + " vs " + b; }

TEST(RankAgreementTest, EqualFactsPass) {
#if !CREST_WITH_C10D
  GTEST_SKIP() << "built without c10d";
#endif
  const auto errors = on_two_ranks([](World& w, int) {
    check_ranks_agree(w, {{"config", "data.fold: 1", differ}, {"split", "[1,2,3]", differ}});
  });
  for (const auto& e : errors) EXPECT_FALSE(e) << message_of(e);
}

TEST(RankAgreementTest, EveryDifferenceStopsBothRanksNamingIt) {
#if !CREST_WITH_C10D
  GTEST_SKIP() << "built without c10d";
#endif
  // The config differs; the split differs; both differ (the first is named); a long text.
  struct Case {
    std::vector<std::string> rank0, rank1;
    std::string name, explanation;
  };
  const std::string big(100000, 'x');
  const std::vector<Case> cases = {
      {{"fold: 1", "s"}, {"fold: 2", "s"}, "config", "fold: 1 vs fold: 2"},
      {{"c", "[1,2]"}, {"c", "[1,3]"}, "split", "[1,2] vs [1,3]"},
      {{"a", "s"}, {"b", "t"}, "config", "a vs b"},
      {{"c", big}, {"c", big + "y"}, "split", "xxx vs xxx"},
  };
  for (const Case& c : cases) {
    const auto errors = on_two_ranks([&c](World& w, int r) {
      const auto& mine = r == 0 ? c.rank0 : c.rank1;
      check_ranks_agree(w, {{"config", mine[0], differ}, {"split", mine[1], differ}});
    });
    for (const auto& e : errors) {
      ASSERT_TRUE(e) << "a rank went on with facts that differ (" << c.name << ")";
      EXPECT_TRUE(is_input_error(e));
      const std::string m = message_of(e);
      EXPECT_NE(m.find("rank 1 does not agree with rank 0 on the " + c.name), std::string::npos)
          << m;
      EXPECT_NE(m.find(c.explanation), std::string::npos) << m;
    }
  }
}

TEST(RankAgreementTest, AFailedLoadStopsEveryRankWithItsKind) {
#if !CREST_WITH_C10D
  GTEST_SKIP() << "built without c10d";
#endif
  // The user's error on rank 1: rank 1 keeps its own, rank 0 gets an InputError naming it.
  auto errors = on_two_ranks([](World& w, int r) {
    share_outcome(w, "loading the data",
                  r == 1 ? std::make_exception_ptr(DataError("bad label byte")) : nullptr);
  });
  ASSERT_TRUE(errors[0] && errors[1]);
  EXPECT_TRUE(is_input_error(errors[0]));
  EXPECT_NE(message_of(errors[0]).find("rank 1 failed while loading the data"), std::string::npos);
  EXPECT_NE(message_of(errors[0]).find("bad label byte"), std::string::npos);
  EXPECT_EQ(message_of(errors[1]), "bad label byte");
  // Another error on rank 0: rank 1's copy is not the user's error.
  errors = on_two_ranks([](World& w, int r) {
    share_outcome(w, "loading the data",
                  r == 0 ? std::make_exception_ptr(std::runtime_error("disk gone")) : nullptr);
  });
  ASSERT_TRUE(errors[0] && errors[1]);
  EXPECT_FALSE(is_input_error(errors[1]));
  EXPECT_NE(message_of(errors[1]).find("rank 0 failed while loading the data"), std::string::npos);
  // Both succeed: nothing.
  errors = on_two_ranks([](World& w, int) { share_outcome(w, "loading the data", nullptr); });
  EXPECT_FALSE(errors[0] || errors[1]);
}

TEST(RankAgreementTest, OneRankHasNothingToCompare) {
  EXPECT_NO_THROW(check_ranks_agree(world(), {{"config", "anything", differ}}));
  EXPECT_THROW(share_outcome(world(), "loading", std::make_exception_ptr(DataError("x"))),
               DataError);
  EXPECT_NO_THROW(share_outcome(world(), "loading", nullptr));
}

}  // namespace
}  // namespace crest::dist
