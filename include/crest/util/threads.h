// CPU threads that hold up on shared machines (issue: steady on shared cores).
//
// Two things go wrong when crest's OpenMP threads share cores with other busy processes: the
// default thread count is every core of the machine, not the cores this process may use (an
// affinity mask from taskset or Slurm, a cgroup CPU quota from a container), and idle OpenMP
// workers spin for a while before they sleep, so they burn the cores the other processes need
// and then wait for a descheduled sibling at every parallel region.
#pragma once

#include <string>
#include <vector>

namespace crest {

// The cores this process may use: the CPUs of its affinity mask (sched_getaffinity), capped by
// a cgroup CPU quota (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us / cpu.cfs_period_us),
// rounded up; at least 1.
int available_cores();

// The CPU limit of a cgroup in whole cores, rounded up, from the text of cgroup v2's cpu.max
// ("QUOTA PERIOD" or "max PERIOD") or, when that is empty, of cgroup v1's cpu.cfs_quota_us and
// cpu.cfs_period_us (quota -1: none); 0 for no limit or text that is not one.
int cgroup_cpu_limit(const std::string& cpu_max, const std::string& cfs_quota_us,
                     const std::string& cfs_period_us);

// The CPUs of this process's affinity mask (sched_getaffinity), in increasing order; every
// online CPU when the mask cannot be read.
std::vector<int> affinity_cpus();

// Cores' worth of CPU time spent on `cpus` between two snapshots of /proc/stat (proc(5)): per
// CPU, (user + nice + system + irq + softirq + steal) / all ticks of that line, summed; a
// hypervisor's steal counts as busy, since the guest cannot have it. CPUs missing from either
// snapshot, or without ticks in between, count as idle. Example: `yes` alone on one of two
// CPUs gives about 1.0.
double busy_cores_between(const std::string& proc_stat_before, const std::string& proc_stat_after,
                          const std::vector<int>& cpus);

// The intra-op threads for run.threads 0 with nothing else to go by: the cores of
// available_cores() minus the cores other processes kept busy over `window_ms` of /proc/stat
// (this process is asleep meanwhile), rounded to the nearest whole core, at least 1. Beside one
// busy process on 2 cores this is 1: two threads there wait at every parallel region for the
// one that shares its core (34% of the idle quickstart step against 65-69% for one thread,
// docs/performance.md). Records what it found for free_cores_note(). Without a readable
// /proc/stat, available_cores().
int free_cores(int window_ms = 200);

// free_cores()'s rule: with `available` cores (available_cores()), `mask_cpus` CPUs in the
// affinity mask and `busy` cores' worth of them kept busy by other processes, the threads are
// min(available, mask_cpus - busy) rounded to the nearest whole core, within [1, available];
// the note says how busy the cores were when that is at least half a core.
struct FreeCores {
  int threads = 1;
  std::string note;
};
FreeCores free_cores_given(int available, int mask_cpus, double busy);

// What the last free_cores() found, for the device line: "" when other processes kept less than
// half a core busy, else e.g. "1.0 cores busy with other work at start".
const std::string& free_cores_note();

// Makes OpenMP's waiting threads passive (sleep at once instead of spinning), unless the user
// set OMP_WAIT_POLICY (or GOMP_SPINCOUNT) themselves: libgomp reads these only when it is
// loaded, before main, so crest sets OMP_WAIT_POLICY=PASSIVE and re-executes itself once
// (/proc/self/exe, same pid and arguments; CREST_OMP_REEXEC marks the second start). The same
// start silences tcmalloc's report of every allocation over 1 GiB (a dataset's images), unless
// the user set TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD. Returns normally when nothing needs doing
// or the re-exec fails (then the default policy stays).
void make_waiting_threads_passive(char** argv);

// "tcmalloc" when the process's malloc is gperftools' tcmalloc (crest links it where
// libgoogle-perftools-dev was found at build time and no LD_PRELOAD replaced it), else "malloc".
// LibTorch's CPU tensors come from malloc: tcmalloc keeps the memory of freed tensors for the
// next step, where glibc maps and zero-fills every large block again (docs/performance.md).
const char* cpu_allocator();

}  // namespace crest
