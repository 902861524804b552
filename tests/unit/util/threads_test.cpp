#include "crest/util/threads.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>
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

TEST(CgroupCpuLimitTest, CgroupV2CpuMax) {
  EXPECT_EQ(cgroup_cpu_limit("max 100000\n", "", ""), 0);  // no limit
  EXPECT_EQ(cgroup_cpu_limit("200000 100000\n", "", ""), 2);
  EXPECT_EQ(cgroup_cpu_limit("150000 100000\n", "", ""), 2);  // 1.5 cores: rounded up
  EXPECT_EQ(cgroup_cpu_limit("50000 100000\n", "", ""), 1);
  EXPECT_EQ(cgroup_cpu_limit("  400000   100000  ", "", ""), 4);
  // cpu.max present: cgroup v1's files are not consulted, even when it says "max".
  EXPECT_EQ(cgroup_cpu_limit("max 100000\n", "300000\n", "100000\n"), 0);
  EXPECT_EQ(cgroup_cpu_limit("100000 100000\n", "300000\n", "100000\n"), 1);
}

TEST(CgroupCpuLimitTest, CgroupV1QuotaAndPeriod) {
  EXPECT_EQ(cgroup_cpu_limit("", "250000\n", "100000\n"), 3);
  EXPECT_EQ(cgroup_cpu_limit("", "-1\n", "100000\n"), 0);  // -1: no quota
  EXPECT_EQ(cgroup_cpu_limit("", "", ""), 0);              // no cgroup files at all
}

TEST(CgroupCpuLimitTest, TextThatIsNoLimitMeansNone) {
  EXPECT_EQ(cgroup_cpu_limit("abc 100000", "", ""), 0);
  EXPECT_EQ(cgroup_cpu_limit("200000 0", "", ""), 0);
  EXPECT_EQ(cgroup_cpu_limit("200000x 100000", "", ""), 0);
  EXPECT_EQ(cgroup_cpu_limit("", "lots", "100000"), 0);
  EXPECT_EQ(cgroup_cpu_limit("", "200000", "0"), 0);
  EXPECT_EQ(cgroup_cpu_limit("1e300 1", "", ""), 1000000);  // capped, not overflowed
}

TEST(AvailableCoresTest, TheAffinityMaskCappedByTheCgroupQuota) {
  auto read = [](const char* path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  const int limit =
      cgroup_cpu_limit(read("/sys/fs/cgroup/cpu.max"), read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
                       read("/sys/fs/cgroup/cpu/cpu.cfs_period_us"));
  const int mask = static_cast<int>(affinity_cpus().size());
  EXPECT_EQ(available_cores(), limit > 0 ? std::min(mask, limit) : mask)
      << "mask " << mask << ", cgroup limit " << limit;
}

TEST(FreeCoresTest, TheIdleCoresRoundedWithinTheAvailable) {
  EXPECT_EQ(free_cores_given(4, 4, 0.0).threads, 4);
  EXPECT_EQ(free_cores_given(4, 4, 1.0).threads, 3);
  EXPECT_EQ(free_cores_given(4, 4, 1.4).threads, 3);  // 2.6 free: nearest whole core
  EXPECT_EQ(free_cores_given(4, 4, 1.6).threads, 2);  // 2.4 free
  // Beside one busy process on 2 cores: one thread (docs/performance.md).
  EXPECT_EQ(free_cores_given(2, 2, 1.0).threads, 1);
  EXPECT_EQ(free_cores_given(4, 4, 3.9).threads, 1);  // never below one
  // A quota of 2 cores on an 8-CPU mask with 1 CPU busy: still only the quota's 2.
  EXPECT_EQ(free_cores_given(2, 8, 1.0).threads, 2);
  // A quota of 3 on a 4-CPU mask with 2 busy: the 2 idle CPUs.
  EXPECT_EQ(free_cores_given(3, 4, 2.0).threads, 2);
}

TEST(FreeCoresTest, TheNoteSaysHowBusyFromHalfACore) {
  EXPECT_EQ(free_cores_given(4, 4, 0.0).note, "");
  EXPECT_EQ(free_cores_given(4, 4, 0.49).note, "");
  EXPECT_EQ(free_cores_given(4, 4, 0.5).note, "0.5 cores busy with other work at start");
  EXPECT_EQ(free_cores_given(2, 2, 1.04).note, "1.0 cores busy with other work at start");
}

}  // namespace
}  // namespace crest
