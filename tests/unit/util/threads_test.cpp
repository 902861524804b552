#include "crest/util/threads.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace crest {
namespace {

// Two /proc/stat snapshots 100 ticks apart per CPU: cpu0 fully busy (90 user + 10 system),
// cpu1 idle (100 idle), cpu2 half busy (30 nice + 10 irq + 10 steal, 50 iowait).
const std::string kBefore =
    "cpu  300 100 300 1000 100 0 0 0 0 0\n"
    "cpu0 100 0 100 300 0 0 0 0 0 0\n"
    "cpu1 100 50 100 400 50 0 0 0 0 0\n"
    "cpu2 100 50 100 300 50 0 0 0 0 0\n"
    "intr 12345 0 0\n"
    "ctxt 999\n";
const std::string kAfter =
    "cpu  420 130 310 1100 150 10 0 10 0 0\n"
    "cpu0 190 0 110 300 0 0 0 0 0 0\n"
    "cpu1 100 50 100 500 50 0 0 0 0 0\n"
    "cpu2 100 80 100 300 100 10 0 10 0 0\n"
    "intr 23456 0 0\n"
    "ctxt 1999\n";

TEST(BusyCoresTest, SumsTheBusyShareOfTheGivenCpus) {
  EXPECT_DOUBLE_EQ(busy_cores_between(kBefore, kAfter, {0}), 1.0);
  EXPECT_DOUBLE_EQ(busy_cores_between(kBefore, kAfter, {1}), 0.0);
  // iowait is idle; nice, irq and a hypervisor's steal are busy.
  EXPECT_DOUBLE_EQ(busy_cores_between(kBefore, kAfter, {2}), 0.5);
  EXPECT_DOUBLE_EQ(busy_cores_between(kBefore, kAfter, {0, 1, 2}), 1.5);
  // Only the CPUs of the mask count, never the "cpu " total line.
  EXPECT_DOUBLE_EQ(busy_cores_between(kBefore, kAfter, {1, 2}), 0.5);
}

TEST(BusyCoresTest, MissingOrStillCpusCountAsIdle) {
  EXPECT_DOUBLE_EQ(busy_cores_between(kBefore, kAfter, {7}), 0.0);         // not in the snapshots
  EXPECT_DOUBLE_EQ(busy_cores_between(kBefore, kBefore, {0, 1, 2}), 0.0);  // no ticks between
  EXPECT_DOUBLE_EQ(busy_cores_between("", kAfter, {0}), 0.0);
  EXPECT_DOUBLE_EQ(busy_cores_between("garbage\ncpuX 1 2\ncpu0 1\n", kAfter, {0}), 0.0);
}

TEST(BusyCoresTest, OldKernelsWithFewerColumnsAreRead) {
  // Linux before 2.6.11 had no steal column, before 2.6.0 only four columns.
  EXPECT_DOUBLE_EQ(busy_cores_between("cpu0 10 0 10 80\n", "cpu0 60 0 10 80\n", {0}), 1.0);
  EXPECT_DOUBLE_EQ(busy_cores_between("cpu0 10 0 10 80 0 0 0\n", "cpu0 10 0 10 130 0 0 50\n", {0}),
                   0.5);
}

TEST(FreeCoresTest, BetweenOneAndTheAvailableCores) {
  const int free = free_cores(50);
  EXPECT_GE(free, 1);
  EXPECT_LE(free, available_cores());
  // Fewer than the available cores only with a note that says why.
  if (free < available_cores()) {
    EXPECT_FALSE(free_cores_note().empty());
  }
  EXPECT_FALSE(affinity_cpus().empty());
}

}  // namespace
}  // namespace crest
