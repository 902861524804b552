#include "crest/dist/world.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <functional>
#include <map>
#include <stdexcept>

#include "crest/util/error.h"
#include "crest/util/torch_version.h"

#if CREST_WITH_C10D
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if CREST_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if CREST_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#endif

namespace crest::dist {

namespace {

constexpr int kDefaultMasterPort = 29500;
constexpr long kDefaultTimeoutSeconds = 30;
// Ranks start at different times (srun, a slow file system): the rendezvous waits longer than a
// collective does.
constexpr std::chrono::minutes kRendezvousTimeout{5};

// The variable `name` as a whole number in [low, high]; `fallback` when unset.
long env_number(const char* name, long fallback, long low, long high) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  errno = 0;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (errno != 0 || *end != '\0' || value < low || value > high) {
    throw InputError("the environment variable " + std::string(name) + " is '" + text +
                     "', expected a whole number from " + std::to_string(low) + " to " +
                     std::to_string(high));
  }
  return value;
}

bool env_set(const char* name) {
  const char* text = std::getenv(name);
  return text != nullptr && *text != '\0';
}

}  // namespace

bool c10d_available() { return CREST_WITH_C10D != 0; }

bool gloo_available() {
#if CREST_WITH_C10D && CREST_WITH_GLOO
  return true;
#else
  return false;
#endif
}

std::chrono::milliseconds collective_timeout() {
  return std::chrono::seconds(
      env_number("CREST_DIST_TIMEOUT", kDefaultTimeoutSeconds, 1, 24L * 3600));
}

RankInfo rank_from_environment() {
  RankInfo info;
  const char* addr = std::getenv("MASTER_ADDR");
  info.master_addr = addr != nullptr && *addr != '\0' ? addr : "127.0.0.1";
  info.master_port = static_cast<int>(env_number("MASTER_PORT", kDefaultMasterPort, 1, 65535));
  if (env_set("SLURM_PROCID") && env_number("SLURM_NTASKS", 1, 1, INT_MAX) > 1) {
    info.world_size = static_cast<int>(env_number("SLURM_NTASKS", 1, 1, INT_MAX));
    info.rank = static_cast<int>(env_number("SLURM_PROCID", 0, 0, info.world_size - 1));
    info.local_rank = static_cast<int>(env_number("SLURM_LOCALID", 0, 0, INT_MAX));
    info.source = "slurm";
    return info;
  }
  if (env_set("RANK") || env_set("WORLD_SIZE")) {
    info.world_size = static_cast<int>(env_number("WORLD_SIZE", 1, 1, INT_MAX));
    info.rank = static_cast<int>(env_number("RANK", 0, 0, info.world_size - 1));
    info.local_rank = static_cast<int>(env_number("LOCAL_RANK", info.rank, 0, INT_MAX));
    info.source = "env";
  }
  return info;
}

std::pair<std::int64_t, std::int64_t> shard_range(std::int64_t n, int rank, int world_size) {
  const std::int64_t chunk = (n + world_size - 1) / world_size;
  const std::int64_t begin = std::min(n, chunk * rank);
  return {begin, std::min(n, begin + chunk)};
}

std::uint64_t rank_seed(std::uint64_t seed, int rank) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (static_cast<std::uint64_t>(rank) + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (z ^ (z >> 31)) & 0x7FFFFFFFFFFFFFFFULL;
}

#if CREST_WITH_C10D

// LibTorch 2.x split the process group into a front (ProcessGroup) and backends; Gloo and NCCL
// are backends there and process groups in 1.13. Both have the same collectives.
#if CREST_TORCH_AT_LEAST(2, 0)
using Group = c10d::Backend;
#else
using Group = c10d::ProcessGroup;
#endif

struct World::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<Group> group;
  std::string backend = "gloo";
  at::Device device{at::kCPU};
};

struct World::Pending {
  c10::intrusive_ptr<c10d::Work> work;
};

namespace {

#if CREST_WITH_GLOO
std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& master_addr) {
  if (env_set("GLOO_SOCKET_IFNAME")) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(std::getenv("GLOO_SOCKET_IFNAME"));
  }
  // One node: everything over loopback. Several: the address this host's name resolves to.
  if (master_addr == "127.0.0.1" || master_addr == "localhost") {
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  }
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

c10::intrusive_ptr<Group> make_gloo(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                    int size, const std::string& master_addr) {
  auto options = c10d::ProcessGroupGloo::Options::create(collective_timeout());
  options->devices.push_back(gloo_device(master_addr));
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, options);
}
#else
c10::intrusive_ptr<Group> make_gloo(const c10::intrusive_ptr<c10d::Store>&, int, int,
                                    const std::string&) {
  throw InputError(
      "this build of crest lacks c10d's Gloo backend (no Gloo headers at build time), so its "
      "ranks must be CUDA devices with NCCL: use run.device cuda, or install libgloo-dev and "
      "rebuild for CPU ranks");
}
#endif

void wait_work(const c10::intrusive_ptr<c10d::Work>& work) {
  try {
    work->wait();
  } catch (const c10::Error& e) {
    throw std::runtime_error(
        "a collective with the other ranks failed (a rank died, was killed or hangs; "
        "collective timeout " +
        std::to_string(collective_timeout().count() / 1000) + " s, CREST_DIST_TIMEOUT): " +
        e.what_without_backtrace() + ". Continue the run from its last checkpoint with --resume");
  } catch (const std::exception& e) {
    throw std::runtime_error(
        std::string("a collective with the other ranks failed (a rank died, was killed or "
                    "hangs): ") +
        e.what() + ". Continue the run from its last checkpoint with --resume");
  }
}

}  // namespace

World::World() = default;
World::~World() = default;

void World::join(const RankInfo& info, const at::Device& device) {
  if (info.world_size <= 1) return;
  if (info.rank < 0 || info.rank >= info.world_size) {
    throw InputError("rank " + std::to_string(info.rank) + " is outside the world of " +
                     std::to_string(info.world_size) + " ranks");
  }
  auto impl = std::make_unique<Impl>();
  c10d::TCPStoreOptions options;
  options.port = static_cast<std::uint16_t>(info.master_port);
  options.isServer = info.rank == 0;
  options.numWorkers = static_cast<std::size_t>(info.world_size);
  options.waitWorkers = true;
  options.timeout = kRendezvousTimeout;
  const std::string where = info.master_addr + ":" + std::to_string(info.master_port);
  try {
    impl->store = c10::make_intrusive<c10d::TCPStore>(info.master_addr, options);
  } catch (const std::exception& e) {
    const auto* c10 = dynamic_cast<const c10::Error*>(&e);
    throw std::runtime_error(
        "rank " + std::to_string(info.rank) + ": the rendezvous through c10d::TCPStore at " +
        where +
        " (MASTER_ADDR:MASTER_PORT) failed: " + (c10 ? c10->what_without_backtrace() : e.what()));
  }
  impl->store->setTimeout(collective_timeout());
  if (device.is_cuda()) {
#if CREST_WITH_NCCL
    // Blocking waits turn a dead peer into an exception after the timeout instead of a hang.
    ::setenv("TORCH_NCCL_BLOCKING_WAIT", "1", 0);
    ::setenv("NCCL_BLOCKING_WAIT", "1", 0);
    auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
    nccl_options->timeout = collective_timeout();
    impl->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl->store, info.rank,
                                                              info.world_size, nccl_options);
    impl->backend = "nccl";
    impl->device = device;
#else
    spdlog::warn(
        "this build of crest has no NCCL (CREST_WITH_NCCL off): the ranks exchange gradients "
        "through Gloo over the host");
    impl->group = make_gloo(impl->store, info.rank, info.world_size, info.master_addr);
#endif
  } else {
    impl->group = make_gloo(impl->store, info.rank, info.world_size, info.master_addr);
  }
  impl_ = std::move(impl);
  rank_ = info.rank;
  size_ = info.world_size;
  local_rank_ = info.local_rank;
}

void World::join_with_store(void* store, int rank, int world_size) {
  auto impl = std::make_unique<Impl>();
  impl->store = *static_cast<c10::intrusive_ptr<c10d::Store>*>(store);
  impl->group = make_gloo(impl->store, rank, world_size, "127.0.0.1");
  impl_ = std::move(impl);
  rank_ = rank;
  size_ = world_size;
  local_rank_ = rank;
}

std::string World::backend() const { return impl_ ? impl_->backend : "none"; }

at::Device World::comm_device() const { return impl_ ? impl_->device : at::Device(at::kCPU); }

void World::all_reduce_sum(at::Tensor& tensor) {
  if (!distributed()) return;
  std::vector<at::Tensor> buffer = {tensor.to(impl_->device).contiguous()};
  wait_work(impl_->group->allreduce(buffer));
  if (!buffer[0].is_same(tensor)) tensor.copy_(buffer[0]);
}

void World::broadcast(const std::vector<at::Tensor>& tensors, int root) {
  if (!distributed() || tensors.empty()) return;
  at::NoGradGuard no_grad;
  std::map<at::ScalarType, std::vector<at::Tensor>> by_dtype;
  for (const at::Tensor& t : tensors) by_dtype[t.scalar_type()].push_back(t);
  for (auto& [dtype, group] : by_dtype) {
    std::vector<at::Tensor> flat_parts;
    for (const at::Tensor& t : group) flat_parts.push_back(t.reshape({-1}).to(impl_->device));
    std::vector<at::Tensor> buffer = {at::cat(flat_parts)};
    c10d::BroadcastOptions options;
    options.rootRank = root;
    wait_work(impl_->group->broadcast(buffer, options));
    std::int64_t offset = 0;
    for (at::Tensor t : group) {
      t.copy_(buffer[0].narrow(0, offset, t.numel()).view(t.sizes()));
      offset += t.numel();
    }
  }
}

std::vector<at::Tensor> World::all_gather(const at::Tensor& tensor) {
  if (!distributed()) return {tensor};
  std::vector<at::Tensor> input = {tensor.to(impl_->device).contiguous()};
  std::vector<std::vector<at::Tensor>> output(1);
  for (int r = 0; r < size_; ++r) output[0].push_back(at::empty_like(input[0]));
  wait_work(impl_->group->allgather(output, input));
  for (at::Tensor& t : output[0]) t = t.to(tensor.device());
  return output[0];
}

at::Tensor World::all_gather_rows(const at::Tensor& rows) {
  if (!distributed()) return rows;
  const at::Tensor count = at::tensor({rows.size(0)}, at::kLong);
  std::vector<std::int64_t> counts;
  std::int64_t most = 0;
  for (const at::Tensor& c : all_gather(count)) {
    counts.push_back(c.item<std::int64_t>());
    most = std::max(most, counts.back());
  }
  std::vector<std::int64_t> padded_shape = rows.sizes().vec();
  padded_shape[0] = most;
  at::Tensor padded = at::zeros(padded_shape, rows.options());
  padded.narrow(0, 0, rows.size(0)).copy_(rows);
  std::vector<at::Tensor> parts = all_gather(padded);
  for (std::size_t r = 0; r < parts.size(); ++r) parts[r] = parts[r].narrow(0, 0, counts[r]);
  return at::cat(parts);
}

bool World::any(bool flag) {
  if (!distributed()) return flag;
  at::Tensor value = at::tensor({flag ? 1L : 0L}, at::kLong);
  all_reduce_sum(value);
  return value.item<std::int64_t>() > 0;
}

bool World::all_equal(const std::string& text) {
  if (!distributed()) return true;
  const auto hash = static_cast<std::int64_t>(std::hash<std::string>{}(text));
  const std::vector<at::Tensor> all = all_gather(at::tensor({hash}, at::kLong));
  for (const at::Tensor& h : all) {
    if (h.item<std::int64_t>() != hash) return false;
  }
  return true;
}

void World::store_barrier(const std::string& name, std::chrono::milliseconds timeout) {
  if (!distributed()) return;
  const std::string prefix = "crest/barrier/" + name + "/";
  impl_->store->set(prefix + std::to_string(rank_), std::vector<std::uint8_t>{1});
  std::vector<std::string> keys;
  for (int r = 0; r < size_; ++r) keys.push_back(prefix + std::to_string(r));
  try {
    impl_->store->wait(keys, timeout);
  } catch (const std::exception& e) {
    const auto* c10 = dynamic_cast<const c10::Error*>(&e);
    throw std::runtime_error("rank " + std::to_string(rank_) + ": waiting for every rank at '" +
                             name + "' failed (another rank stopped or took longer than " +
                             std::to_string(timeout.count() / 1000) +
                             " s): " + (c10 ? c10->what_without_backtrace() : e.what()));
  }
}

std::shared_ptr<World::Pending> World::all_reduce_sum_async(at::Tensor& flat) {
  auto pending = std::make_shared<Pending>();
  std::vector<at::Tensor> buffer = {flat};
  pending->work = impl_->group->allreduce(buffer);
  return pending;
}

void World::wait(Pending& pending) { wait_work(pending.work); }

#else  // no c10d: the world of one rank only

struct World::Impl {};
struct World::Pending {};

World::World() = default;
World::~World() = default;

namespace {
[[noreturn]] void no_c10d() {
  throw InputError(
      "this build of crest lacks c10d (built with CREST_WITH_C10D off, or without Gloo's "
      "headers): it cannot run more than one rank. Install libgloo-dev and rebuild (cmake "
      "-DCREST_WITH_C10D=ON), or train with one process");
}
}  // namespace

void World::join(const RankInfo& info, const at::Device&) {
  if (info.world_size > 1) no_c10d();
}
void World::join_with_store(void*, int, int) { no_c10d(); }
std::string World::backend() const { return "none"; }
at::Device World::comm_device() const { return at::Device(at::kCPU); }
void World::all_reduce_sum(at::Tensor&) {}
void World::broadcast(const std::vector<at::Tensor>&, int) {}
std::vector<at::Tensor> World::all_gather(const at::Tensor& tensor) { return {tensor}; }
at::Tensor World::all_gather_rows(const at::Tensor& rows) { return rows; }
bool World::any(bool flag) { return flag; }
bool World::all_equal(const std::string&) { return true; }
void World::store_barrier(const std::string&, std::chrono::milliseconds) {}
std::shared_ptr<World::Pending> World::all_reduce_sum_async(at::Tensor&) { no_c10d(); }
void World::wait(Pending&) {}

#endif

World& world() {
  static World instance;
  return instance;
}

}  // namespace crest::dist
