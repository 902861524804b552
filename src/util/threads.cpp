#include "crest/util/threads.h"

#include <dlfcn.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>

namespace crest {

namespace {

// ceil(quota / period) of the cgroup CPU limit, or 0 when there is none (or it is unreadable).
int cgroup_cpu_limit() {
  std::ifstream v2("/sys/fs/cgroup/cpu.max");
  std::string quota;
  double period = 0.0;
  if (v2 >> quota >> period) {
    if (quota == "max" || period <= 0.0) return 0;
    return static_cast<int>(std::ceil(std::stod(quota) / period));
  }
  std::ifstream v1_quota("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
  std::ifstream v1_period("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  double q = 0.0;
  if (v1_quota >> q && v1_period >> period && q > 0.0 && period > 0.0) {
    return static_cast<int>(std::ceil(q / period));
  }
  return 0;
}

}  // namespace

int available_cores() {
  int cores = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cores = CPU_COUNT(&set);
  if (cores <= 0) cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  try {
    const int limit = cgroup_cpu_limit();
    if (limit > 0) cores = std::min(cores, limit);
  } catch (const std::exception&) {
    // An unreadable quota leaves the affinity count.
  }
  return std::max(1, cores);
}

const char* cpu_allocator() {
  void* tc_malloc = dlsym(RTLD_DEFAULT, "tc_malloc");
  return tc_malloc != nullptr && tc_malloc == dlsym(RTLD_DEFAULT, "malloc") ? "tcmalloc" : "malloc";
}

void make_waiting_threads_passive(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr ||
      std::getenv("CREST_OMP_REEXEC") != nullptr) {
    return;
  }
  // Read by tcmalloc when it loads; 2^50 bytes: never.
  setenv("TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD", "1125899906842624", /*overwrite=*/0);
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  setenv("CREST_OMP_REEXEC", "1", 1);
  execv("/proc/self/exe", argv);
  // Only reached when the re-exec failed: go on with the policy libgomp already has.
  unsetenv("OMP_WAIT_POLICY");
}

}  // namespace crest
