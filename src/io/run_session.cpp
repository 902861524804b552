#include "crest/io/run_session.h"

#include <spdlog/spdlog.h>
#include <torch/version.h>

#include <algorithm>

#include "crest/config/config.h"
#include "crest/dist/agreement.h"
#include "crest/dist/launch.h"
#include "crest/dist/world.h"
#include "crest/io/file.h"
#include "crest/io/run_files.h"
#include "crest/util/device.h"
#include "crest/util/logging.h"
#include "crest/util/signals.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

// "KEY is A on rank 0 and B there" for each differing key of two configs (YAML texts).
std::string config_differences_between(const std::string& rank0, const std::string& other) {
  const Config a = parse_config(rank0, "rank 0's config");
  const Config b = parse_config(other, "the other rank's config");
  std::string text;
  for (const std::string& key : config_differences(a, b)) {
    text += (text.empty() ? "" : "; ") + key + " is " + config_value(a, key) + " on rank 0 and " +
            config_value(b, key) + " there";
  }
  return text;
}

// The first few fields (JSON pointers) that differ between two JSON texts, with both values.
std::string json_differences_between(const std::string& rank0, const std::string& other) {
  const nlohmann::json a = nlohmann::json::parse(rank0);
  const nlohmann::json b = nlohmann::json::parse(other);
  nlohmann::json patch = nlohmann::json::diff(a, b);
  // The causes first (the source data's fingerprints, the settings), then their effects (counts,
  // indices).
  const auto cause = [](const nlohmann::json& op) {
    const std::string path = op.at("path").get<std::string>();
    return path.rfind("/source", 0) == 0 || path.rfind("/settings", 0) == 0 ||
           path.rfind("/classes", 0) == 0;
  };
  std::stable_partition(patch.begin(), patch.end(), cause);
  constexpr std::size_t kShown = 4;
  std::string text;
  for (std::size_t i = 0; i < patch.size() && i < kShown; ++i) {
    const nlohmann::json::json_pointer where(patch[i].at("path").get<std::string>());
    const auto value = [&where](const nlohmann::json& j) {
      if (!j.contains(where)) return std::string("absent");
      const std::string dumped = j.at(where).dump();
      return dumped.size() > 80 ? dumped.substr(0, 77) + "..." : dumped;
    };
    text += (text.empty() ? "" : "; ") + where.to_string() + " is " + value(a) + " on rank 0 and " +
            value(b) + " there";
  }
  if (patch.size() > kShown) text += "; and " + std::to_string(patch.size() - kShown) + " more";
  return text;
}

}  // namespace

RunSession::RunSession(const Config& config, SessionOptions options) : dir_(config.run.out_dir) {
  const bool trains = options.kind != SessionKind::kDataPrepare;
  if (trains) {
    // A rank of a multi-rank job (RANK/WORLD_SIZE or Slurm) joins it; one process alone keeps
    // its device and takes the single-process path throughout.
    const dist::Workload workload = options.kind == SessionKind::kPretraining
                                        ? dist::Workload::kPretraining
                                        : dist::Workload::kTraining;
    device_ = dist::join_from_environment(config, resolve_device(config.run.device), workload);
  }
  // Rank 0 alone locks and checks the folder: when that fails, the other ranks stop with it
  // rather than wait for it at the data.
  std::exception_ptr failure;
  try {
    open(config, options);
  } catch (...) {
    failure = std::current_exception();
  }
  dist::share_outcome(dist::world(), "opening the run folder", failure);
}

void RunSession::open(const Config& config, const SessionOptions& options) {
  dist::World& world = dist::world();
  const bool trains = options.kind != SessionKind::kDataPrepare;
  std::optional<RunThreads> threads;
  if (trains) threads = set_run_cpu_threads(dir_, config.run.threads, options.resume);
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
  std::exception_ptr failure;
  try {
    load();
  } catch (...) {
    failure = std::current_exception();
  }
  if (world.is_main()) world.store_barrier(name, dist::kLoadTimeout);
  // The other ranks load now: wait for them with the loading timeout, then compare outcomes.
  world.store_barrier(name + "/done", dist::kLoadTimeout);
  dist::share_outcome(world, "loading the data", failure);
}

void RunSession::on_every_rank(const std::string& what, const std::function<void()>& step) {
  std::exception_ptr failure;
  try {
    step();
  } catch (...) {
    failure = std::current_exception();
  }
  dist::share_outcome(dist::world(), what, failure);
}

void RunSession::check_ranks_agree(const Config& config, const nlohmann::json& split_manifest) {
  if (!dist::world().distributed()) return;
  dist::RankFact config_fact{"config", config_to_yaml(config), config_differences_between};
  dist::RankFact split_fact{"split and its data (split_manifest.json)", split_manifest.dump(),
                            json_differences_between};
  // Ranks of one job run the same build (several nodes may hold several installations).
  const dist::RankFact build_fact{
      "crest build", std::string("crest ") + CREST_VERSION + ", LibTorch " + TORCH_VERSION,
      [](const std::string& rank0, const std::string& other) {
        return rank0 + " on rank 0 and " + other + " there";
      }};
  dist::check_ranks_agree(dist::world(), {build_fact, config_fact, split_fact});
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
