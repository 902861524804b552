#include "crest/dist/launch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <torch/cuda.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "crest/dist/world.h"
#include "crest/util/error.h"
#include "crest/util/supervisor.h"

#if CREST_WITH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace crest::dist {

namespace {

constexpr std::chrono::seconds kKillGrace{10};  // SIGTERM to SIGKILL for the surviving ranks
// First failure to SIGTERM: the ranks that only lost their peer fail by themselves within it, and
// a rank already on its way out (bad input, exit 2) is not cut short and miscounted.
constexpr std::chrono::seconds kPeerGrace{5};

// A TCP port that was free a moment ago on 127.0.0.1 (the kernel's choice for port 0).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t length = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    const std::string error = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("finding a free port for MASTER_PORT failed: " + error);
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// The console sinks name the rank; ranks above 0 show warnings and errors only (rank 0 tells
// the story, every rank its trouble).
void tag_console_log(int rank) {
  for (const auto& sink : spdlog::default_logger()->sinks()) {
    if (dynamic_cast<spdlog::sinks::basic_file_sink_mt*>(sink.get()) != nullptr) continue;
    sink->set_pattern("[%H:%M:%S] [rank " + std::to_string(rank) + "] %^%l%$ %v");
    if (rank > 0 && sink->level() == spdlog::level::info) sink->set_level(spdlog::level::warn);
  }
}

// The local ranks of `--nproc N` under one supervisor (util/supervisor.h): SIGINT and SIGTERM
// reach every rank at most twice (a second signal makes them leave at once); when a rank fails
// and no signal came, the others get kPeerGrace to end by themselves, then SIGTERM, then SIGKILL.
class LocalRanks {
 public:
  explicit LocalRanks(int nproc) : nproc_(nproc), supervisor_(options()) {}

  // Rank r: this executable with the rank's variables, in a process group of its own (the
  // terminal's SIGINT reaches the launcher, which passes it on once) and SIGTERM should the
  // launcher die; ranks above 0 print nothing to stdout.
  void start(int r, const std::string& port, char** argv) {
    ChildSpec spec;
    spec.program = "/proc/self/exe";
    for (char** a = argv; *a != nullptr; ++a) spec.argv.emplace_back(*a);
    const std::string n = std::to_string(nproc_);
    spec.set_env = {
        {"RANK", std::to_string(r)}, {"LOCAL_RANK", std::to_string(r)}, {"WORLD_SIZE", n},
        {"LOCAL_WORLD_SIZE", n},     {"MASTER_ADDR", "127.0.0.1"},      {"MASTER_PORT", port}};
    spec.unset_env = {"SLURM_PROCID"};  // the ranks are ours, not srun's
    if (r > 0) spec.out = Redirect::null();
    spec.own_group = true;
    spec.die_with_parent = true;
    supervisor_.spawn(spec);
  }

  // Waits for every rank. Returns 0 when every rank succeeded, 2 when one exited 2 (bad
  // input), else the first failed rank's exit code (1 for a signal).
  int wait() {
    while (const std::optional<ChildExit> exit =
               supervisor_.wait_any(std::chrono::milliseconds::max())) {
      if (exit->status.success()) continue;
      // A rank we stopped ourselves is no cause.
      if (exit->stopped_by_supervisor && exit->status.signaled()) continue;
      failures_.push_back(*exit);
    }
    report(false);
    if (failures_.empty()) return 0;
    const ExitStatus& cause = this->cause().status;
    return cause.exited() ? cause.code() : 1;
  }

 private:
  SupervisorOptions options() {
    SupervisorOptions o;
    o.forward_signals = 2;
    o.failure_grace = kPeerGrace;
    o.kill_grace = kKillGrace;
    o.on_terminate = [this] { report(true); };
    o.on_kill = [] {
      spdlog::error("ranks still running {} s after SIGTERM: killing them", kKillGrace.count());
    };
    return o;
  }

  // The cause reported is the lowest rank of those that failed with bad input (exit 2), else the
  // first failure: the ranks that only lost their peer (exit 1) may end first, and when every
  // rank stops with the same bad input (the ranks' agreement, dist/agreement.h) the order in
  // which they exit is chance.
  const ChildExit& cause() const {
    const ChildExit* bad_input = nullptr;
    for (const ChildExit& f : failures_) {
      if (f.status.exited() && f.status.code() == 2 &&
          (bad_input == nullptr || f.child < bad_input->child)) {
        bad_input = &f;
      }
    }
    return bad_input != nullptr ? *bad_input : failures_.front();
  }

  // After a forwarded stop every rank stops at the same step by itself (exit 130): no failure.
  void report(bool stopping_others) {
    if (reported_ || failures_.empty() || supervisor_.stop_signal() != 0) return;
    reported_ = true;
    const ChildExit& f = cause();
    spdlog::error("rank {} of {} failed ({}){}", f.child, nproc_, describe(f.status),
                  stopping_others ? "; stopping the other ranks" : "");
  }

  int nproc_;
  std::vector<ChildExit> failures_;  // in the order seen
  bool reported_ = false;
  Supervisor supervisor_;
};

}  // namespace

bool launched_as_rank() { return rank_from_environment().source != "default"; }

void check_batch_split(const TrainConfig& t, int world_size) {
  const std::string world_text = std::to_string(world_size);
  if (t.batch_size % world_size != 0) {
    throw InputError("train.batch_size " + std::to_string(t.batch_size) +
                     " is not divisible by the world size " + world_text +
                     ": the global batch is split evenly over the ranks; choose a batch size or "
                     "a number of ranks that divides it");
  }
  const long unlabeled = static_cast<long>(t.batch_size) * t.unlabeled_ratio;
  if (unlabeled % world_size != 0) {
    throw InputError("the unlabeled batch train.batch_size x train.unlabeled_ratio = " +
                     std::to_string(unlabeled) + " is not divisible by the world size " +
                     world_text +
                     "; choose train.unlabeled_ratio or a number of ranks that "
                     "divides it");
  }
}

void check_batch_split(const Config& config, Workload workload, int world_size) {
  if (workload == Workload::kTraining) {
    check_batch_split(config.train, world_size);
    return;
  }
  if (config.pretrain.batch_size % world_size != 0) {
    throw InputError("pretrain.batch_size " + std::to_string(config.pretrain.batch_size) +
                     " is not divisible by the world size " + std::to_string(world_size) +
                     ": the global batch is split evenly over the ranks; choose a batch size or "
                     "a number of ranks that divides it");
  }
}

std::optional<int> launch_if_asked(std::optional<int> nproc, const Config& config, char** argv,
                                   Workload workload) {
  if (nproc && *nproc < 1) {
    throw InputError("--nproc " + std::to_string(*nproc) +
                     ": expected at least 1 rank (1 trains in this process; leave --nproc out "
                     "when srun or torchrun starts the ranks)");
  }
  if (launched_as_rank()) {
    const RankInfo info = rank_from_environment();
    if (nproc && *nproc != info.world_size) {
      throw InputError("--nproc " + std::to_string(*nproc) + " but the environment (" +
                       info.source + ") makes this process a rank of a job of " +
                       std::to_string(info.world_size) +
                       " ranks: drop --nproc when srun or torchrun starts the ranks");
    }
    return std::nullopt;
  }
  if (!nproc) return std::nullopt;
  if (*nproc > 1 && !c10d_available())
    world().join(RankInfo{0, *nproc, 0, "", 0, "launch"}, at::kCPU);
  check_batch_split(config, workload, *nproc);
  if (*nproc == 1) return std::nullopt;
  return launch_local(*nproc, argv);
}

at::Device join_from_environment(const Config& config, at::Device device, Workload workload) {
  const RankInfo info = rank_from_environment();
  if (info.world_size <= 1) return device;
  if (!c10d_available()) world().join(info, device);  // throws: the build lacks c10d
  check_batch_split(config, workload, info.world_size);
  at::Device rank_device = device;
  if (device.is_cuda()) {
    const auto gpus = static_cast<int>(torch::cuda::device_count());
    // Slurm's --gpus-per-task 1 may show each task its own GPU alone (CUDA_VISIBLE_DEVICES).
    const int index = info.local_rank < gpus ? info.local_rank : gpus == 1 ? 0 : -1;
    if (index < 0) {
      throw InputError("rank " + std::to_string(info.rank) + " has LOCAL_RANK " +
                       std::to_string(info.local_rank) + " but this node has " +
                       std::to_string(gpus) +
                       " GPU(s): start at most one rank per GPU on each node (--nproc, "
                       "--ntasks-per-node)");
    }
    rank_device = at::Device(at::kCUDA, static_cast<at::DeviceIndex>(index));
#if CREST_WITH_CUDA
    c10::cuda::set_device(static_cast<c10::DeviceIndex>(index));
#endif
  }
  tag_console_log(info.rank);
  world().join(info, rank_device);
  spdlog::info("rank {} of {} (local rank {}, from {}) on {} | {} through {}:{}", info.rank,
               info.world_size, info.local_rank, info.source, rank_device.str(), world().backend(),
               info.master_addr, info.master_port);
  return rank_device;
}

int launch_local(int nproc, char** argv) {
  if (nproc < 1) {
    throw InputError("--nproc " + std::to_string(nproc) + ": expected at least 1 rank");
  }
  if (!c10d_available()) world().join(RankInfo{0, nproc, 0, "", 0, "launch"}, at::kCPU);
  const char* port_text = std::getenv("MASTER_PORT");
  const std::string port = port_text != nullptr && *port_text != '\0' ? std::string(port_text)
                                                                      : std::to_string(free_port());
  LocalRanks ranks(nproc);
  for (int r = 0; r < nproc; ++r) ranks.start(r, port, argv);
  spdlog::info("started {} ranks (MASTER_ADDR 127.0.0.1, MASTER_PORT {})", nproc, port);
  return ranks.wait();
}

}  // namespace crest::dist
