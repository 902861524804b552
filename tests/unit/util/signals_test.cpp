#include "crest/util/signals.h"

#include <gtest/gtest.h>

#include <csignal>

namespace crest {
namespace {

class SignalsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    install_stop_handlers();
    reset_stop_request();
  }
  void TearDown() override {
    set_insist_after_ms(kInsistAfterMs);
    reset_stop_request();
  }
};

// One Ctrl-C passed on by a wrapper arrives two or three times at once: the stop stays graceful.
TEST_F(SignalsTest, SignalsSoonAfterTheFirstAreTheSameRequest) {
  for (const int second : {SIGINT, SIGTERM}) {
    reset_stop_request();
    EXPECT_FALSE(stop_requested());
    std::raise(SIGTERM);
    std::raise(second);
    std::raise(SIGINT);  // still alive: none of them ended the process
    EXPECT_TRUE(stop_requested());
    EXPECT_EQ(stop_signal(), SIGTERM);  // the first is the one remembered
  }
}

TEST_F(SignalsTest, ASignalLaterThanTheWindowEndsTheProcess) {
  EXPECT_EXIT(
      {
        set_insist_after_ms(0);
        std::raise(SIGINT);
        std::raise(SIGINT);
        std::_Exit(0);  // not reached
      },
      ::testing::ExitedWithCode(128 + SIGINT), "");
  EXPECT_EXIT(
      {
        set_insist_after_ms(0);
        std::raise(SIGTERM);
        std::raise(SIGTERM);
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(128 + SIGTERM), "");
}

TEST_F(SignalsTest, TheWindowIsMeasuredFromTheFirstSignal) {
  EXPECT_FALSE(insists(1000, 1000));
  EXPECT_FALSE(insists(1000, 1000 + kInsistAfterMs - 1));
  EXPECT_TRUE(insists(1000, 1000 + kInsistAfterMs));
  EXPECT_TRUE(insists(1000, 1000 + 10 * kInsistAfterMs));
  const std::int64_t a = monotonic_ms();
  const std::int64_t b = monotonic_ms();
  EXPECT_GE(b, a);
  EXPECT_GT(a, 0);
}

}  // namespace
}  // namespace crest
