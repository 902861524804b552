// The run session: the one way a command opens its folder, for `crest train` (a run folder),
// `crest pretrain` (a pre-training folder) and `crest data prepare` (a split manifest's folder).
// In order:
//   1. the device, joining a multi-rank job from the environment (dist/launch.h) where the
//      command trains;
//   2. the CPU threads (run.threads, or the recorded count on resume: io/world_file.h);
//   3. the folder checks of the command (before anything is created, on every rank);
//   4. on rank 0: the lock (io/run_dir.h), the command's checks of the locked folder (the stored
//      config on resume), the log file, the banner, the world size a resume must keep, threads.json
//      and the stale temporaries of a write cut short; on every rank the stop handlers;
//   5. the sink (io/sink.h): the run folder's writer on rank 0, nothing on the other ranks.
// Rank 0 is the only rank that writes; that decision is made here and in make_run_sink alone.
#pragma once

#include <ATen/ATen.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "crest/config/config.h"
#include "crest/io/run_dir.h"
#include "crest/io/sink.h"
#include "crest/io/world_file.h"

namespace crest {

enum class SessionKind { kTraining, kPretraining, kDataPrepare };

struct SessionOptions {
  SessionKind kind = SessionKind::kTraining;
  bool resume = false;
  std::string banner = "run folder";  // "run folder DIR (COMMAND LINE)" in the log; "" = none
  // The folder checks before anything is created (every rank): InputError to refuse.
  std::function<void(const std::filesystem::path&)> check_folder;
  // The checks of the locked folder before its log is opened (rank 0): InputError to refuse.
  std::function<void(const std::filesystem::path&)> check_locked;
};

class RunSession {
 public:
  // Opens config.run.out_dir as `options` says (steps 1-5 above). Throws what the checks throw,
  // InputError when the folder is locked by a live process; in a multi-rank job every rank
  // throws when one does (dist::share_outcome).
  RunSession(const Config& config, SessionOptions options);
  ~RunSession();
  RunSession(const RunSession&) = delete;
  RunSession& operator=(const RunSession&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  at::Device device() const { return device_; }
  // This process's sink: what rank 0 writes, nothing on the other ranks.
  RunSink& sink() { return *sink_; }
  // Adds the writer `make` returns (null: none) to rank 0's sink, after the folder's own
  // (TensorBoard, the console table); `make` runs on rank 0 alone.
  void add_writer(const std::function<std::unique_ptr<RunSink>()>& make);
  // Runs `load` on rank 0 first and on the other ranks once it is done (they then read what it
  // left: the decoded-image cache, the split manifest), through the store barrier `name`. When
  // `load` throws on a rank, every rank stops with it (dist::share_outcome): no rank is left
  // waiting for a peer that has gone.
  void rank_zero_first(const std::string& name, const std::function<void()>& load);
  // Runs `step` on every rank, then shares the outcome (dist::share_outcome): when it throws on
  // one rank, every rank stops, the others naming that rank and its message (`what` says what
  // the ranks were doing, for that message).
  void on_every_rank(const std::string& what, const std::function<void()>& step);
  // Before the first step: every rank's resolved config and split manifest (which fingerprints
  // the data) must equal rank 0's; else InputError on every rank naming the config keys or the
  // manifest fields that differ (dist::check_ranks_agree). Nothing in a world of one rank.
  void check_ranks_agree(const Config& config, const nlohmann::json& split_manifest);
  // Every rank waits for the others (a store barrier with the data-loading timeout).
  void barrier(const std::string& name);
  // The run has started for good (its data is loaded): world.json in a multi-rank run and
  // config.yaml, through the sink.
  void record_start(const Config& config);

 private:
  // Everything after joining the job: threads, the folder checks, the sink, the lock, the log.
  void open(const Config& config, const SessionOptions& options);

  std::filesystem::path dir_;
  at::Device device_ = at::kCPU;
  std::optional<RunLock> lock_;
  std::unique_ptr<RunSink> sink_;
  FanOutSink* writers_ = nullptr;  // rank 0's fan-out inside sink_; null on the other ranks
};

}  // namespace crest
