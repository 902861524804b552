// Starting the ranks of a data-parallel run (docs/distributed.md): `crest train --nproc N`
// forks N local ranks as torchrun does; under Slurm `srun` starts them; either way each rank
// joins the job from its environment in join_from_environment().
#pragma once

#include <ATen/ATen.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "crest/config/config.h"

namespace crest::dist {

// How long the other ranks wait for rank 0 to open the run folder and load the data, and
// for each other to load theirs (decoding an image folder can take minutes).
inline constexpr std::chrono::minutes kLoadTimeout{30};

// What the ranks of a job compute, for the batch each must split: a CReST run (train.batch_size
// and the unlabeled batch) or a rotation pre-training (pretrain.batch_size).
enum class Workload { kTraining, kPretraining };

// Whether the environment makes this process a rank of a job (RANK/WORLD_SIZE, or srun with
// more than one task): then `--nproc` does not launch again.
bool launched_as_rank();

// Joins the job the environment describes (dist/world.h) and returns the device this rank
// trains on: `device` itself in a world of one rank (nothing else happens then), cuda:LOCAL_RANK
// for a CUDA device. Throws InputError when the build lacks c10d, when the world size does not
// divide train.batch_size or the unlabeled batch (naming the key and the world size), or when
// LOCAL_RANK has no GPU; std::runtime_error when the rendezvous fails.
at::Device join_from_environment(const Config& config, at::Device device,
                                 Workload workload = Workload::kTraining);

// InputError when `world_size` does not split the global batch of `train` evenly (naming
// train.batch_size or the unlabeled batch and the world size).
void check_batch_split(const TrainConfig& train, int world_size);
// The same for `workload`: pretrain.batch_size for a pre-training.
void check_batch_split(const Config& config, Workload workload, int world_size);

// `crest train --nproc N` (nullopt: not given) in this process: when it is not already a rank,
// N > 1 launches N ranks (launch_local) and returns the launcher's exit code; N = 1 returns
// nothing (train here, as one process). A rank returns nothing after checking that N, when
// given, equals WORLD_SIZE. InputError for N < 1 and for a batch N does not split (before any
// rank starts).
std::optional<int> launch_if_asked(std::optional<int> nproc, const Config& config, char** argv,
                                   Workload workload = Workload::kTraining);

// `crest train --nproc N`: runs `argv` (this executable, see /proc/self/exe) as N local ranks
// with RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR (127.0.0.1) and MASTER_PORT
// (MASTER_PORT from the environment, else a free port) set; ranks above 0 print nothing to
// stdout. Waits for all; when one fails (non-zero exit or a signal) the others get SIGTERM, then
// SIGKILL after a grace period, and the message names the rank and its exit code or signal.
// SIGINT and SIGTERM are forwarded to every rank once. Returns the exit code for the launcher:
// 0 when every rank succeeded, 2 when one exited 2 (bad input), else the first failed rank's
// exit code (1 for a signal).
// Throws InputError when nproc < 1 or the build lacks c10d.
int launch_local(int nproc, char** argv);

}  // namespace crest::dist
