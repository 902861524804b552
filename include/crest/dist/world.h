// Data-parallel training through c10d, PyTorch's distributed engine: where this process stands
// in the job (rank, world_size, local_rank, from torchrun's or Slurm's variables), the
// rendezvous (c10d::TCPStore on MASTER_ADDR:MASTER_PORT) and the process group
// (ProcessGroupNCCL on CUDA, one GPU per local rank; ProcessGroupGloo on the CPU), and the few
// collectives crest needs. docs/distributed.md describes what is split over the ranks.
//
// One World per process (`world()`); a process that was never joined to a job is the world of
// one rank, for which every collective returns its input unchanged and nothing talks to any
// other process, so single-process training takes exactly the code path it took before.
// Without c10d at build time (CREST_WITH_C10D off) only the world of one rank exists.
#pragma once

#include <ATen/ATen.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace crest::dist {

// Where this process stands in the job, as torchrun and srun describe it.
struct RankInfo {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;              // the rank among those on this node (its GPU index)
  std::string master_addr;         // the host of rank 0's TCPStore
  int master_port = 0;             // its port
  std::string source = "default";  // where it came from: default, env, slurm
};

// Whether this build can run more than one rank (CREST_WITH_C10D).
bool c10d_available();
// Whether it has c10d's Gloo backend (CPU ranks); without it only CUDA ranks through NCCL.
bool gloo_available();

// The rank from the environment: under `srun` (SLURM_NTASKS > 1 and SLURM_PROCID set) from
// SLURM_PROCID, SLURM_NTASKS and SLURM_LOCALID; else from RANK, WORLD_SIZE and LOCAL_RANK (as
// `crest train --nproc` and torchrun set them); else the world of one rank. MASTER_ADDR
// (default 127.0.0.1) and MASTER_PORT (default 29500) name the rendezvous in every case.
// InputError naming the variable when one is not a whole number in range.
RankInfo rank_from_environment();

// The timeout of every collective and of the rendezvous's waits: a rank whose peer died or
// hangs fails within it instead of waiting for ever. CREST_DIST_TIMEOUT (seconds, default 30).
std::chrono::milliseconds collective_timeout();

class World {
 public:
  World();  // the world of one rank
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // Joins the job `info` describes: rank 0 serves the c10d::TCPStore, every rank connects and
  // builds its process group (NCCL when `device` is CUDA and the build has NCCL, else Gloo).
  // Throws InputError when the build lacks c10d or the rank is out of range, std::runtime_error
  // when the rendezvous fails (the message names MASTER_ADDR:MASTER_PORT).
  void join(const RankInfo& info, const at::Device& device);

  // As join(), over a store made by the caller (tests: threads of one process over one
  // c10d::HashStore); `store` is a c10::intrusive_ptr<c10d::Store> passed as an opaque pointer
  // to keep c10d's headers out of this one. Gloo on the CPU only.
  void join_with_store(void* store, int rank, int world_size);

  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }
  bool is_main() const { return rank_ == 0; }  // the rank that writes the run folder
  bool distributed() const { return size_ > 1; }
  std::string backend() const;  // "none", "gloo" or "nccl"

  // Collectives; every rank must call them in the same order with tensors of the same shape
  // and dtype. Tensors may live on any device: they travel through the process group's device
  // (the CPU for Gloo, the local GPU for NCCL) and come back where they were. Each throws
  // std::runtime_error after collective_timeout() when a peer is gone.

  // Sums `tensor` over the ranks, in place.
  void all_reduce_sum(at::Tensor& tensor);
  // Copies rank `root`'s values into `tensors` on every rank (one flat message per dtype).
  void broadcast(const std::vector<at::Tensor>& tensors, int root = 0);
  // Every rank's `tensor`, in rank order.
  std::vector<at::Tensor> all_gather(const at::Tensor& tensor);
  // The rows of every rank's `rows` ([n_r, ...], n_r may differ per rank) concatenated in rank
  // order: [sum n_r, ...].
  at::Tensor all_gather_rows(const at::Tensor& rows);
  // Whether `flag` is true on any rank.
  bool any(bool flag);
  // Whether `text` is the same on every rank (compares a 64-bit hash of it).
  bool all_equal(const std::string& text);
  // Waits for every rank through the store, with `timeout` (for phases of unequal length, such
  // as decoding the data, longer than the collective timeout).
  void store_barrier(const std::string& name, std::chrono::milliseconds timeout);

  // Starts a sum over the ranks of `flat` (1-D, on the group's device) and returns a handle to
  // wait on; used by GradientReducer to overlap the all-reduce with the backward pass.
  struct Pending;
  std::shared_ptr<Pending> all_reduce_sum_async(at::Tensor& flat);
  static void wait(Pending& pending);

  // The device collectives run on: CPU for Gloo, cuda:local_rank for NCCL.
  at::Device comm_device() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
};

// The process's World (the world of one rank until join()).
World& world();

// `rows` [N, ...] split over the ranks in contiguous shards: this rank's [begin, end).
std::pair<std::int64_t, std::int64_t> shard_range(std::int64_t n, int rank, int world_size);

// A seed for one rank from a seed shared by all (splitmix64 of the two); rank streams are
// unrelated to each other and to the single-process stream.
std::uint64_t rank_seed(std::uint64_t seed, int rank);

}  // namespace crest::dist
