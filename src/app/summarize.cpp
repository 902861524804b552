#include "crest/app/summarize.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <system_error>
#include <tuple>
#include <utility>

#include "crest/config/config.h"
#include "crest/io/class_tables.h"
#include "crest/io/csv.h"
#include "crest/io/generation_files.h"
#include "crest/io/manifest.h"
#include "crest/io/run_files.h"
#include "crest/io/run_state.h"
#include "crest/io/sweep_files.h"
#include "crest/util/error.h"
#include "crest/util/index_list.h"
#include "crest/util/text_escape.h"
#include "summary_detail.h"

namespace crest {

namespace fs = std::filesystem;
using summary_detail::kAsIsBeta;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Run folders nested deeper than this under a given path are not looked for (a guard against
// symlink loops; a sweep's folder holds its runs one level down).
constexpr int kMaxSearchDepth = 8;

// Keys allowed to differ between the runs of one group without a note: the fold is what the
// group averages over, the rest does not change what is measured.
const std::set<std::string>& keys_free_within_group() {
  static const std::set<std::string> keys = {"data.fold",
                                             "data.root",
                                             "run.seed",
                                             "run.out_dir",
                                             "run.device",
                                             "run.threads",
                                             "run.checkpoint_every",
                                             "run.tensorboard",
                                             "train.eval_batch_size"};
  return keys;
}

// SummaryGroup::variant of a run's config.
std::string method_variant(const Config& config) {
  std::vector<std::string> parts;
  if (config.train.algorithm != TrainAlgorithm::kFixMatch) {
    parts.push_back(display_name(config.train.algorithm));
  }
  // DML-PL's rounds and fine-tuning (crest.selection knn, crest.warm_start).
  if (config.crest.selection == SelectionPolicy::kKnn) parts.push_back("knn selection");
  if (config.crest.warm_start) parts.push_back("warm start");
  if (config.train.labeled_loss != LabeledLoss::kCe)
    parts.push_back(to_string(config.train.labeled_loss));
  if (!config.model.init_from.empty()) parts.push_back("init " + config.model.init_from);
  // ACR's split is not darp's (no shuffle): the same N_1, M_1 and gammas make other groups.
  if (config.data.protocol == SplitProtocol::kAcr) parts.push_back("acr split");
  const bool darp_counts =
      config.data.protocol == SplitProtocol::kDarp || config.data.protocol == SplitProtocol::kAcr;
  if (darp_counts && config.data.imbalance_ratio_unlabeled != config.data.imbalance_ratio_labeled) {
    char text[64];
    std::snprintf(text, sizeof(text), "gamma_u %g", config.data.imbalance_ratio_unlabeled);
    parts.push_back(text);
  }
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

// gamma and beta of a run's group: the configured ones, or for data.protocol as_is the measured
// imbalance ratio (from its split manifest) and kAsIsBeta.
std::pair<double, double> gamma_beta(const fs::path& dir, const Config& config) {
  if (config.data.protocol == SplitProtocol::kDarp || config.data.protocol == SplitProtocol::kAcr) {
    const double n1 = static_cast<double>(config.data.num_labeled_head);
    const double m1 = static_cast<double>(config.data.num_unlabeled_head);
    return {config.data.imbalance_ratio_labeled, n1 / (n1 + m1)};
  }
  if (config.data.protocol != SplitProtocol::kAsIs) {
    return {config.data.imbalance_ratio, config.data.label_fraction};
  }
  double gamma = 0.0;
  try {
    const nlohmann::json manifest = read_split_manifest(dir / kSplitManifestFile);
    const auto& measured = manifest["settings"]["imbalance_ratio_measured"];
    if (measured.is_number()) gamma = std::round(measured.get<double>() * 100.0) / 100.0;
  } catch (const std::exception&) {
    // Without a readable manifest the group shows gamma 0; the run itself is judged elsewhere.
  }
  return {gamma, kAsIsBeta};
}

// One run folder as the summary sees it.
struct RunRecord {
  fs::path dir;
  Config config;
  bool complete = false;
  std::string problem;
  double final_accuracy = 0.0;
  double final_median_20 = 0.0;  // NaN for runs of older versions
  double best_accuracy = 0.0;
  std::vector<int> minority;
  std::vector<std::string> minority_names;
  std::vector<double> minority_recall;  // per minority class
};

// Reads the results of a complete run; a damaged file makes the run incomplete with a reason.
void read_results(RunRecord& run) {
  try {
    const fs::path summary_file = run.dir / kRunSummaryFile;
    const RunSummary summary = read_run_summary(summary_file);
    if (!summary.final_row || !summary.best || !summary.minority_classes ||
        std::isnan(summary.final_row->accuracy) || std::isnan(summary.best->accuracy)) {
      throw DataError(
          summary_file.string() +
          ": expected 'final' with an 'accuracy', the chosen generation ('selected_generation' "
          "with 'selected', or 'last_generation') and 'minority_classes'");
    }
    run.final_accuracy = summary.final_row->accuracy;
    run.final_median_20 = summary.final_row->accuracy_median_last_20;
    run.best_accuracy = summary.best->accuracy;
    run.minority = *summary.minority_classes;
    const fs::path per_class_file =
        generation_dir(run.dir, summary.final_row->generation) / kPerClassFile;
    std::error_code ec;
    if (!fs::exists(per_class_file, ec)) throw DataError(per_class_file.string() + " is missing");
    const PerClassTable per_class = read_per_class_csv(per_class_file);
    for (int c : run.minority) {
      if (c < 0 || static_cast<std::size_t>(c) >= per_class.names.size()) {
        throw DataError(per_class_file.string() + " has no row for minority class " +
                        std::to_string(c));
      }
      run.minority_names.push_back(per_class.names[static_cast<std::size_t>(c)]);
      run.minority_recall.push_back(per_class.recall[static_cast<std::size_t>(c)]);
    }
  } catch (const std::exception& e) {
    run.complete = false;
    run.problem = std::string("damaged results: ") + e.what();
  }
}

// dataset, mode, gamma, beta
using GroupKey = std::tuple<std::string, CrestMode, std::string, double, double>;

// Collects run folders below `dir` (which is not one itself) and the sweep points that never
// wrote config.yaml.
void collect(const fs::path& dir, int depth, std::vector<fs::path>& runs,
             std::vector<SkippedRun>& not_started) {
  std::error_code ec;
  if (fs::exists(dir / kSweepPlanFile, ec)) {
    try {
      for (const SweepPlanPoint& point : read_sweep_plan(dir / kSweepPlanFile, false).points) {
        const fs::path folder = dir / point.folder;
        if (is_run_folder(folder)) continue;  // found by the walk below
        const bool failed = fs::exists(folder / kStderrLogFile, ec);
        not_started.push_back(
            {folder.string(),
             failed ? "failed before training started: see " + (folder / kStderrLogFile).string()
                    : std::string("not started (no ") + kConfigFile + ")"});
      }
    } catch (const std::exception& e) {
      spdlog::warn("ignoring {}", e.what());
    }
  }
  if (depth >= kMaxSearchDepth) return;
  std::vector<fs::path> children;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.' || !entry.is_directory(ec)) continue;
    children.push_back(entry.path());
  }
  std::sort(children.begin(), children.end());
  for (const fs::path& child : children) {
    if (is_run_folder(child)) {
      runs.push_back(child);
    } else {
      collect(child, depth + 1, runs, not_started);
    }
  }
}

// The run folders under `paths` (run folders, or folders holding them at any depth); sweep
// points that never started go to `skipped`. InputError for a path that holds no run.
std::vector<fs::path> find_run_dirs(const std::vector<std::string>& paths,
                                    std::vector<SkippedRun>& skipped) {
  std::vector<fs::path> run_dirs;
  for (const std::string& path : paths) {
    std::error_code ec;
    const fs::path dir(path);
    if (!fs::exists(dir, ec)) throw InputError("summarize: " + path + " does not exist");
    if (is_run_folder(dir)) {
      run_dirs.push_back(dir);
      continue;
    }
    if (!fs::is_directory(dir, ec)) {
      throw InputError("summarize: " + path + " is not a run folder (a folder with " + kConfigFile +
                       ")");
    }
    const std::size_t runs_before = run_dirs.size();
    const std::size_t skipped_before = skipped.size();
    collect(dir, 0, run_dirs, skipped);
    if (run_dirs.size() == runs_before && skipped.size() == skipped_before) {
      throw InputError("summarize: " + path + " is not a run folder (no " + kConfigFile +
                       ") and holds none; give run folders or folders containing them, such as "
                       "a sweep's output folder");
    }
  }
  return run_dirs;
}

// The means and notes of one group from its complete runs.
void aggregate_group(SummaryGroup& group, const std::vector<RunRecord>& runs) {
  std::vector<double> final_acc, final_median, best_acc, minority;
  std::set<std::string> differing;
  std::map<std::int64_t, int> fold_count;
  if (!runs.empty()) {
    group.minority_classes = runs.front().minority;
    group.minority_names = runs.front().minority_names;
  }
  std::vector<std::vector<double>> per_class(group.minority_classes.size());
  for (const RunRecord& run : runs) {
    group.runs.push_back(run.dir.string());
    group.folds.push_back(run.config.data.fold);
    ++fold_count[run.config.data.fold];
    final_acc.push_back(run.final_accuracy);
    final_median.push_back(run.final_median_20);
    best_acc.push_back(run.best_accuracy);
    // Recall of a class without test images is undefined: the mean takes the others, and a note
    // names the class.
    double sum = 0.0;
    int defined = 0;
    for (std::size_t i = 0; i < run.minority_recall.size(); ++i) {
      if (std::isnan(run.minority_recall[i])) {
        group.notes.push_back(run.dir.string() + ": minority class " + run.minority_names[i] +
                              " has no test images; its recall is undefined (n/a) and the "
                              "minority recall averages the other minority classes");
        continue;
      }
      sum += run.minority_recall[i];
      ++defined;
    }
    minority.push_back(defined == 0 ? kNaN : sum / defined);
    if (run.minority != group.minority_classes) {
      group.notes.push_back(run.dir.string() + " has other minority classes than " +
                            runs.front().dir.string() + "; its per-class recall is left out");
    } else {
      for (std::size_t i = 0; i < per_class.size(); ++i) {
        // An undefined recall (no test images of the class) is left out of the class's mean.
        if (!std::isnan(run.minority_recall[i])) per_class[i].push_back(run.minority_recall[i]);
      }
    }
    for (const std::string& k : config_differences(runs.front().config, run.config)) {
      if (keys_free_within_group().count(k) == 0) differing.insert(k);
    }
  }
  group.final_accuracy = mean_std(final_acc);
  group.final_accuracy_median_20 = mean_std(final_median);
  group.best_accuracy = mean_std(best_acc);
  group.minority_recall = mean_std(minority);
  for (const auto& values : per_class) group.minority_class_recall.push_back(mean_std(values));
  if (!differing.empty()) {
    std::string list;
    for (const std::string& k : differing) list += (list.empty() ? "" : ", ") + k;
    group.notes.push_back("its runs differ in " + list + " (averaged together all the same)");
  }
  for (const auto& [fold, count] : fold_count) {
    if (count > 1) {
      group.notes.push_back("fold " + std::to_string(fold) + " counts " + std::to_string(count) +
                            " times");
    }
  }
}

}  // namespace

MeanStd mean_std(const std::vector<double>& values) {
  MeanStd result;
  result.n = values.size();
  if (values.empty()) {
    result.mean = kNaN;
    result.std = kNaN;
    return result;
  }
  double sum = 0.0;
  for (double v : values) sum += v;
  result.mean = sum / static_cast<double>(values.size());
  if (values.size() < 2) {
    result.std = kNaN;
    return result;
  }
  double squares = 0.0;
  for (double v : values) squares += (v - result.mean) * (v - result.mean);
  // The sample standard deviation (n - 1), as the paper's mean (std) over 5 folds.
  result.std = std::sqrt(squares / static_cast<double>(values.size() - 1));
  return result;
}

Summary summarize_runs(const std::vector<std::string>& paths) {
  if (paths.empty()) throw InputError("summarize: give at least one run folder or sweep folder");
  Summary summary;
  const std::vector<fs::path> run_dirs = find_run_dirs(paths, summary.skipped);

  // A folder reached through two of the paths counts once.
  std::set<fs::path> seen;
  std::map<GroupKey, std::vector<RunRecord>> complete_runs;
  std::map<GroupKey, SummaryGroup> groups;
  for (const fs::path& dir : run_dirs) {
    std::error_code ec;
    const fs::path canonical = fs::weakly_canonical(dir, ec);
    if (!seen.insert(ec ? dir : canonical).second) continue;
    RunRecord run;
    run.dir = dir;
    try {
      run.config = load_config_file((dir / kConfigFile).string());
    } catch (const std::exception& e) {
      summary.skipped.push_back(
          {dir.string(), std::string("unreadable ") + kConfigFile + ": " + e.what()});
      continue;
    }
    const RunState state = inspect_run(dir, run.config.crest.generations);
    run.complete = state.complete;
    run.problem = state.problem;
    if (run.complete) read_results(run);

    const auto [gamma, beta] = gamma_beta(dir, run.config);
    const std::string variant = method_variant(run.config);
    const GroupKey key{to_string(run.config.data.dataset), run.config.crest.mode, variant, gamma,
                       beta};
    SummaryGroup& group = groups[key];
    group.dataset = to_string(run.config.data.dataset);
    group.method = run.config.crest.mode;
    group.variant = variant;
    group.learner = run.config.train.algorithm == TrainAlgorithm::kFixMatch
                        ? std::string()
                        : display_name(run.config.train.algorithm);
    group.gamma = gamma;
    group.beta = beta;
    if (!run.complete) {
      ++group.excluded;
      summary.skipped.push_back({dir.string(), run.problem});
      continue;
    }
    complete_runs[key].push_back(std::move(run));
  }

  for (auto& [key, group] : groups) {
    aggregate_group(group, complete_runs[key]);
    summary.groups.push_back(group);
  }
  // CrestMode's order is the paper's: FixMatch, CReST, CReST+.
  std::sort(summary.groups.begin(), summary.groups.end(),
            [](const SummaryGroup& a, const SummaryGroup& b) {
              return std::make_tuple(a.dataset, a.beta, a.gamma, a.variant, a.method) <
                     std::make_tuple(b.dataset, b.beta, b.gamma, b.variant, b.method);
            });
  return summary;
}

}  // namespace crest
