#include "crest/util/threads.h"

#include <dlfcn.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace crest {

namespace {

std::string read_text(const char* path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// `text` as one number with nothing but blanks around it; none when it is not one.
std::optional<double> number_in(const std::string& text) {
  const char* begin = text.c_str();
  char* stop = nullptr;
  errno = 0;
  const double value = std::strtod(begin, &stop);
  if (stop == begin || errno != 0 || !std::isfinite(value)) return std::nullopt;
  for (; *stop != '\0'; ++stop) {
    if (std::isspace(static_cast<unsigned char>(*stop)) == 0) return std::nullopt;
  }
  return value;
}

// A quota's share of the CPU time in whole cores, rounded up (capped far above any machine).
int whole_cores(double share) { return static_cast<int>(std::ceil(std::min(share, 1.0e6))); }

// Per CPU of a /proc/stat text: {busy ticks, all ticks}.
std::map<int, std::pair<double, double>> cpu_ticks(const std::string& proc_stat) {
  std::map<int, std::pair<double, double>> ticks;
  std::istringstream lines(proc_stat);
  for (std::string line; std::getline(lines, line);) {
    // "cpuN user nice system idle iowait irq softirq steal guest guest_nice"; "cpu " is the sum.
    if (line.size() < 4 || line.compare(0, 3, "cpu") != 0 || line[3] < '0' || line[3] > '9') {
      continue;
    }
    std::istringstream fields(line.substr(3));
    int cpu = -1;
    fields >> cpu;
    std::vector<double> v;
    for (double x; v.size() < 8 && fields >> x;) v.push_back(x);
    if (cpu < 0 || v.size() < 4) continue;
    v.resize(8, 0.0);
    const double busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    ticks[cpu] = {busy, busy + v[3] + v[4]};
  }
  return ticks;
}

std::string read_proc_stat() { return read_text("/proc/stat"); }

std::string& last_free_cores_note() {
  static std::string note;
  return note;
}

}  // namespace

std::vector<int> affinity_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
    }
  }
  if (cpus.empty()) {
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    for (long c = 0; c < std::max(1L, online); ++c) cpus.push_back(static_cast<int>(c));
  }
  return cpus;
}

double busy_cores_between(const std::string& proc_stat_before, const std::string& proc_stat_after,
                          const std::vector<int>& cpus) {
  const auto before = cpu_ticks(proc_stat_before);
  const auto after = cpu_ticks(proc_stat_after);
  double busy = 0.0;
  for (int cpu : cpus) {
    const auto b = before.find(cpu);
    const auto a = after.find(cpu);
    if (b == before.end() || a == after.end()) continue;
    const double all = a->second.second - b->second.second;
    if (all <= 0.0) continue;
    busy += std::clamp((a->second.first - b->second.first) / all, 0.0, 1.0);
  }
  return busy;
}

int cgroup_cpu_limit(const std::string& cpu_max, const std::string& cfs_quota_us,
                     const std::string& cfs_period_us) {
  // cgroup v2: "QUOTA PERIOD" or "max PERIOD"; when the file is there, v1 is not consulted.
  std::istringstream v2(cpu_max);
  std::string quota, period;
  if (v2 >> quota >> period) {
    const std::optional<double> q = number_in(quota);
    const std::optional<double> p = number_in(period);
    if (quota == "max" || !q || !p || *q <= 0.0 || *p <= 0.0) return 0;
    return whole_cores(*q / *p);
  }
  const std::optional<double> q = number_in(cfs_quota_us);  // -1: no limit
  const std::optional<double> p = number_in(cfs_period_us);
  if (q && p && *q > 0.0 && *p > 0.0) return whole_cores(*q / *p);
  return 0;
}

FreeCores free_cores_given(int available, int mask_cpus, double busy) {
  FreeCores result;
  // Under a cgroup quota the mask may hold more CPUs than the quota lets this process use.
  const double free = std::min<double>(available, static_cast<double>(mask_cpus) - busy);
  result.threads = std::clamp(static_cast<int>(std::lround(free)), 1, std::max(1, available));
  if (busy >= 0.5) {
    std::ostringstream note;
    note.precision(1);
    note << std::fixed << busy << " cores busy with other work at start";
    result.note = note.str();
  }
  return result;
}

int free_cores(int window_ms) {
  const int available = available_cores();
  last_free_cores_note().clear();
  const std::string before = read_proc_stat();
  if (before.empty()) return available;
  std::this_thread::sleep_for(std::chrono::milliseconds(window_ms));
  const std::vector<int> cpus = affinity_cpus();
  const double busy = busy_cores_between(before, read_proc_stat(), cpus);
  const FreeCores free = free_cores_given(available, static_cast<int>(cpus.size()), busy);
  last_free_cores_note() = free.note;
  return free.threads;
}

const std::string& free_cores_note() { return last_free_cores_note(); }

int available_cores() {
  int cores = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cores = CPU_COUNT(&set);
  if (cores <= 0) cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  const int limit = cgroup_cpu_limit(read_text("/sys/fs/cgroup/cpu.max"),
                                     read_text("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
                                     read_text("/sys/fs/cgroup/cpu/cpu.cfs_period_us"));
  if (limit > 0) cores = std::min(cores, limit);
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
