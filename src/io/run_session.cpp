#include "crest/io/run_session.h"

#include <spdlog/spdlog.h>

#include "crest/config/config.h"
#include "crest/dist/launch.h"
#include "crest/dist/world.h"
#include "crest/io/file.h"
#include "crest/io/run_files.h"
#include "crest/util/device.h"
#include "crest/util/logging.h"
#include "crest/util/signals.h"

namespace crest {

namespace fs = std::filesystem;

RunSession::RunSession(const Config& config, SessionOptions options) : dir_(config.run.out_dir) {
  dist::World& world = dist::world();
  const bool trains = options.kind != SessionKind::kDataPrepare;
  std::optional<RunThreads> threads;
  if (trains) {
    // A rank of a multi-rank job (RANK/WORLD_SIZE or Slurm) joins it; one process alone keeps
    // its device and takes the single-process path throughout.
    const dist::Workload workload = options.kind == SessionKind::kPretraining
                                        ? dist::Workload::kPretraining
                                        : dist::Workload::kTraining;
    device_ = dist::join_from_environment(config, resolve_device(config.run.device), workload);
    threads = set_run_cpu_threads(dir_, config.run.threads, options.resume);
  }
  if (options.check_folder) options.check_folder(dir_);
  std::vector<std::unique_ptr<RunSink>> writers;
  writers.push_back(std::make_unique<FolderSink>(dir_));
  sink_ = make_run_sink(world, std::move(writers), &writers_);
  if (writers_ == nullptr) {  // a rank that does not write: it still stops when asked
    if (trains) install_stop_handlers();
    return;
  }
  lock_.emplace(dir_);
  if (options.check_locked) options.check_locked(dir_);
  add_log_file(dir_ / kLogFile);
  if (!trains) return;
  install_stop_handlers();
  if (!options.banner.empty()) {
    spdlog::info("{} {} ({})", options.banner, dir_.string(), current_command_line());
    spdlog::info("crest {} | LibTorch {} | device {}", CREST_VERSION, CREST_TORCH_VERSION,
                 describe_device(device_));
  }
  if (options.resume) check_resume_world_size(dir_, world.size());
  record_run_cpu_threads(dir_, *threads);
  for (const fs::path& stale : remove_stale_temporaries(dir_)) {
    spdlog::info("removed {} (left by a write that was cut short)", stale.string());
  }
}

RunSession::~RunSession() = default;

void RunSession::add_writer(const std::function<std::unique_ptr<RunSink>()>& make) {
  if (writers_ == nullptr) return;
  std::unique_ptr<RunSink> writer = make();
  if (writer) writers_->add(std::move(writer));
}

void RunSession::rank_zero_first(const std::string& name, const std::function<void()>& load) {
  dist::World& world = dist::world();
  if (!world.is_main()) world.store_barrier(name, dist::kLoadTimeout);
  load();
  if (world.is_main()) world.store_barrier(name, dist::kLoadTimeout);
}

void RunSession::barrier(const std::string& name) {
  dist::world().store_barrier(name, dist::kLoadTimeout);
}

void RunSession::record_start(const Config& config) {
  const dist::World& world = dist::world();
  if (world.distributed()) sink_->world_size(dir_, world.size());
  sink_->text_file(dir_ / kConfigFile, config_to_yaml(config));
}

}  // namespace crest
