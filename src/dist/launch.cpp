#include "crest/dist/launch.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <torch/cuda.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "crest/dist/world.h"
#include "crest/util/error.h"

#if CREST_WITH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace crest::dist {

namespace {

constexpr std::chrono::seconds kKillGrace{10};  // SIGTERM to SIGKILL for the surviving ranks
// First failure to SIGTERM: the ranks that only lost their peer fail by themselves within it, and
// a rank already on its way out (bad input, exit 2) is not cut short and miscounted.
constexpr std::chrono::seconds kPeerGrace{5};

std::atomic<int> g_forward_signal{0};

extern "C" void on_launcher_signal(int signal_number) { g_forward_signal.store(signal_number); }

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

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = ::strsignal(sig);
    return "signal " + std::to_string(sig) + " (" + (name ? name : "?") + ")";
  }
  return "status " + std::to_string(status);
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

std::optional<int> launch_if_asked(int nproc, const Config& config, char** argv,
                                   Workload workload) {
  if (launched_as_rank()) {
    const RankInfo info = rank_from_environment();
    if (nproc > 0 && nproc != info.world_size) {
      throw InputError("--nproc " + std::to_string(nproc) + " but the environment (" + info.source +
                       ") makes this process a rank of a job of " +
                       std::to_string(info.world_size) +
                       " ranks: drop --nproc when srun or torchrun starts the ranks");
    }
    return std::nullopt;
  }
  if (nproc == 0) return std::nullopt;
  if (nproc < 0) {
    throw InputError("--nproc " + std::to_string(nproc) + ": expected at least 1 rank");
  }
  if (nproc > 1 && !c10d_available())
    world().join(RankInfo{0, nproc, 0, "", 0, "launch"}, at::kCPU);
  check_batch_split(config, workload, nproc);
  if (nproc == 1) return std::nullopt;
  return launch_local(nproc, argv);
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
  struct sigaction action {};
  action.sa_handler = on_launcher_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  const pid_t launcher = ::getpid();
  std::vector<pid_t> pids(static_cast<std::size_t>(nproc), -1);
  for (int r = 0; r < nproc; ++r) {
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      // The rank: its own process group (the terminal's SIGINT reaches the launcher, which
      // forwards it once), and SIGTERM should the launcher die.
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != launcher) ::_exit(1);
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      ::setenv("RANK", std::to_string(r).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", port.c_str(), 1);
      ::unsetenv("SLURM_PROCID");  // the ranks are ours, not srun's
      if (r > 0) {
        const int null = ::open("/dev/null", O_WRONLY);
        if (null >= 0) ::dup2(null, STDOUT_FILENO);
      }
      ::execv("/proc/self/exe", argv);
      ::_exit(127);
    }
    pids[static_cast<std::size_t>(r)] = pid;
  }
  spdlog::info("started {} ranks (MASTER_ADDR 127.0.0.1, MASTER_PORT {})", nproc, port);

  int live = nproc;
  int forwarded = 0;
  // Failures in the order seen. The cause reported is the first bad-input failure (exit 2),
  // else the first failure: the ranks that only lost their peer (exit 1) may be seen first.
  struct Failure {
    int rank;
    int status;
  };
  std::vector<Failure> failures;
  bool reported = false;
  auto term_deadline = std::chrono::steady_clock::time_point::max();
  auto kill_deadline = std::chrono::steady_clock::time_point::max();
  auto signal_all = [&](int sig) {
    for (const pid_t pid : pids) {
      if (pid > 0) ::kill(pid, sig);
    }
  };
  auto cause = [&]() -> const Failure& {
    for (const Failure& f : failures) {
      if (WIFEXITED(f.status) && WEXITSTATUS(f.status) == 2) return f;
    }
    return failures.front();
  };
  auto report = [&](bool stopping_others) {
    if (reported || failures.empty() || forwarded > 0) return;
    reported = true;
    const Failure& f = cause();
    spdlog::error("rank {} of {} failed ({}){}", f.rank, nproc, describe_exit(f.status),
                  stopping_others ? "; stopping the other ranks" : "");
  };
  while (live > 0) {
    const int sig = g_forward_signal.exchange(0);
    if (sig != 0 && forwarded < 2) {
      ++forwarded;  // a second signal reaches the ranks as their second: they leave at once
      signal_all(sig);
    }
    const auto now = std::chrono::steady_clock::now();
    if (now > term_deadline) {
      report(true);
      signal_all(SIGTERM);
      term_deadline = std::chrono::steady_clock::time_point::max();
      kill_deadline = now + kKillGrace;
    }
    if (now > kill_deadline) {
      spdlog::error("ranks still running {} s after SIGTERM: killing them", kKillGrace.count());
      signal_all(SIGKILL);
      kill_deadline = std::chrono::steady_clock::time_point::max();
    }
    int status = 0;
    const pid_t done = ::waitpid(-1, &status, WNOHANG);
    if (done < 0) {
      if (errno == EINTR) continue;
      break;  // no children left
    }
    if (done == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    int rank = -1;
    for (std::size_t r = 0; r < pids.size(); ++r) {
      if (pids[r] == done) {
        rank = static_cast<int>(r);
        pids[r] = -1;
      }
    }
    if (rank < 0) continue;
    --live;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
    // A rank we stopped ourselves is no cause.
    if (reported && WIFSIGNALED(status)) continue;
    failures.push_back(Failure{rank, status});
    // After a forwarded stop every rank stops at the same step by itself (exit 130).
    if (failures.size() == 1 && forwarded == 0) term_deadline = now + kPeerGrace;
  }
  report(false);
  int result = 0;
  if (!failures.empty()) {
    const Failure& f = cause();
    result = WIFEXITED(f.status) ? WEXITSTATUS(f.status) : 1;
  }
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  return result;
}

}  // namespace crest::dist
