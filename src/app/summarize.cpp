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

namespace crest {

namespace fs = std::filesystem;

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

// --format.
enum class Format { kMarkdown, kCsv };

const char* format_name(Format format) {
  switch (format) {
    case Format::kMarkdown:
      return "md";
    case Format::kCsv:
      return "csv";
  }
  return nullptr;
}

std::string method_label(CrestMode mode) {
  switch (mode) {
    case CrestMode::kFixMatch:
      return "FixMatch";
    case CrestMode::kCrest:
      return "CReST";
    case CrestMode::kCrestPlus:
      return "CReST+";
  }
  return to_string(mode);
}

// SummaryGroup::variant of a run's config.
std::string method_variant(const Config& config) {
  std::vector<std::string> parts;
  if (config.train.algorithm != TrainAlgorithm::kFixMatch) {
    parts.push_back(display_name(config.train.algorithm));
  }
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

std::string format(const char* pattern, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), pattern, value);
  return buffer;
}

// The beta of a group of data.protocol as_is runs, which use the labeled set as given.
constexpr double kAsIsBeta = -1.0;

// "10%", or "as is".
std::string beta_text(double beta) {
  return beta == kAsIsBeta ? "as is" : format("%g", 100.0 * beta) + "%";
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
      throw DataError(summary_file.string() +
                      ": expected 'final' and 'best' with an 'accuracy', and 'minority_classes'");
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

// Folds are >= 0 (data.fold's rule), so Slurm's array syntax writes them: "1-5", "1,3".
std::string folds_text(const std::vector<std::int64_t>& folds) {
  return index_list_text(std::vector<std::size_t>(folds.begin(), folds.end()));
}

// "77.7 (1.22)": percent, mean with one decimal and std with two; "n/a" for what is undefined.
std::string percent_cell(const MeanStd& value) {
  if (value.n == 0 || std::isnan(value.mean)) return "n/a";
  return format("%.1f", 100.0 * value.mean) + " (" +
         (std::isnan(value.std) ? std::string("n/a") : format("%.2f", 100.0 * value.std)) + ")";
}

std::string number_field(double value, const char* pattern) {
  return std::isnan(value) ? std::string() : format(pattern, value);
}

// Names joined by ';' inside one CSV field: a ';' or '\' within a name is escaped with '\'.
std::string name_list_item(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (c == ';' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// "CReST+", or with the variant "CReST+ (MixMatch, logit_adjusted)"; a learner other than
// FixMatch without self-training is named alone, with what else varies: "ACR", "SeMi (gamma_u 1)".
std::string group_method(const SummaryGroup& g) {
  if (g.method == CrestMode::kFixMatch && !g.learner.empty()) {
    const std::string rest = g.variant.size() > g.learner.size() + 2
                                 ? g.variant.substr(g.learner.size() + 2)
                                 : std::string();
    return g.learner + (rest.empty() ? "" : " (" + rest + ")");
  }
  return method_label(g.method) + (g.variant.empty() ? "" : " (" + g.variant + ")");
}

std::string group_title(const SummaryGroup& g) {
  return g.dataset + ", beta " + beta_text(g.beta) + ", gamma " + format("%g", g.gamma) + ", " +
         group_method(g);
}

// One row of the main table: a group's counts and figures.
std::string markdown_group_row(const SummaryGroup& g) {
  std::string per_class;
  for (std::size_t i = 0; i < g.minority_class_recall.size(); ++i) {
    if (!per_class.empty()) per_class += ", ";
    per_class +=
        markdown_cell(g.minority_names[i]) + " " + percent_cell(g.minority_class_recall[i]);
  }
  std::string n = std::to_string(g.folds.size());
  if (g.excluded > 0) n += " (+" + std::to_string(g.excluded) + " left out)";
  return "| " + markdown_cell(g.dataset) + " | " + beta_text(g.beta) + " | " +
         format("%g", g.gamma) + " | " + markdown_cell(group_method(g)) + " | " + n + " | " +
         (g.folds.empty() ? "-" : folds_text(g.folds)) + " | " + percent_cell(g.final_accuracy) +
         " | " + percent_cell(g.final_accuracy_median_20) + " | " + percent_cell(g.best_accuracy) +
         " | " + percent_cell(g.minority_recall) + " | " + (per_class.empty() ? "-" : per_class) +
         " |\n";
}

// The paper's Table 1 layout for the groups of one dataset and beta: methods down (in the
// groups' order), gamma across, final accuracy in the cells.
std::string markdown_table1(const std::string& dataset, double beta,
                            const std::vector<const SummaryGroup*>& members) {
  std::set<double> gammas;
  std::vector<std::string> methods;
  for (const SummaryGroup* g : members) {
    gammas.insert(g->gamma);
    const std::string label = group_method(*g);
    if (std::find(methods.begin(), methods.end(), label) == methods.end()) {
      methods.push_back(label);
    }
  }
  std::ostringstream out;
  out << "\nFinal accuracy, " << markdown_cell(dataset) << ", beta = " << beta_text(beta)
      << " (Table 1 layout):\n\n| method |";
  for (double gamma : gammas) out << " gamma = " << format("%g", gamma) << " |";
  out << "\n|---|";
  for (std::size_t i = 0; i < gammas.size(); ++i) out << "---|";
  out << "\n";
  for (const std::string& method : methods) {
    out << "| " << markdown_cell(method) << " |";
    for (double gamma : gammas) {
      std::string cell;
      for (const SummaryGroup* g : members) {
        if (group_method(*g) == method && g->gamma == gamma) {
          cell = percent_cell(g->final_accuracy);
        }
      }
      out << " " << cell << " |";
    }
    out << "\n";
  }
  return out.str();
}

// The groups' notes and the runs left out of the averages, as Markdown lists.
std::string markdown_notes(const Summary& summary) {
  std::ostringstream out;
  bool any_notes = false;
  for (const SummaryGroup& g : summary.groups) {
    for (const std::string& note : g.notes) {
      if (!any_notes) out << "\nNotes:\n\n";
      any_notes = true;
      out << "- " << markdown_cell(group_title(g)) << ": " << markdown_cell(note) << "\n";
    }
  }
  if (!summary.skipped.empty()) {
    out << "\nNot averaged in (" << summary.skipped.size() << "):\n\n";
    for (const SkippedRun& s : summary.skipped) {
      out << "- " << markdown_cell(s.path) << ": " << markdown_cell(s.reason) << "\n";
    }
  }
  return out.str();
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

std::string summary_markdown(const Summary& summary) {
  std::ostringstream out;
  out << "Top-1 accuracy and recall on the test set, in percent: mean (std) over the runs of\n"
         "each group (one run per fold); std = sample standard deviation (n - 1); n/a = undefined\n"
         "(the std of fewer than 2 runs, the recall of a class without test images). final = the\n"
         "last generation; best = the generation crest.select_on chose;\n"
         "minority recall = the final generation's recall of the minority classes (their mean,\n"
         "then each class).\n\n";
  out << "| dataset | beta | gamma | method | n | folds | final acc | final acc, median of last "
         "20 | best acc | minority recall | minority recall per class |\n";
  out << "|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const SummaryGroup& g : summary.groups) out << markdown_group_row(g);

  // The paper's Table 1 layout: one table per dataset and beta.
  std::map<std::pair<std::string, double>, std::vector<const SummaryGroup*>> tables;
  for (const SummaryGroup& g : summary.groups) tables[{g.dataset, g.beta}].push_back(&g);
  for (const auto& [dataset_beta, members] : tables) {
    out << markdown_table1(dataset_beta.first, dataset_beta.second, members);
  }
  out << markdown_notes(summary);
  return out.str();
}

std::string summary_csv(const Summary& summary) {
  std::ostringstream out;
  out << "dataset,method,imbalance_ratio,label_fraction,n,excluded,folds,"
         "final_accuracy_mean_pct,final_accuracy_std_pct,best_accuracy_mean_pct,"
         "best_accuracy_std_pct,minority_recall_mean_pct,minority_recall_std_pct,"
         "minority_classes,minority_class_names,minority_class_recall_mean_pct,"
         "minority_class_recall_std_pct,final_accuracy_median_20_mean_pct,"
         "final_accuracy_median_20_std_pct,variant\n";
  const auto pct = [](double v) { return number_field(100.0 * v, "%.4f"); };
  for (const SummaryGroup& g : summary.groups) {
    std::string folds, classes, names, means, stds;
    for (std::size_t i = 0; i < g.folds.size(); ++i) {
      folds += (i ? ";" : "") + std::to_string(g.folds[i]);
    }
    for (std::size_t i = 0; i < g.minority_class_recall.size(); ++i) {
      const char* sep = i ? ";" : "";
      classes += sep + std::to_string(g.minority_classes[i]);
      names += sep + name_list_item(g.minority_names[i]);
      means += sep + pct(g.minority_class_recall[i].mean);
      stds += sep + pct(g.minority_class_recall[i].std);
    }
    out << csv_field(g.dataset) << "," << to_string(g.method) << "," << format("%g", g.gamma) << ","
        << (g.beta == kAsIsBeta ? std::string("as_is") : format("%g", g.beta)) << ","
        << g.folds.size() << "," << g.excluded << "," << folds << "," << pct(g.final_accuracy.mean)
        << "," << pct(g.final_accuracy.std) << "," << pct(g.best_accuracy.mean) << ","
        << pct(g.best_accuracy.std) << "," << pct(g.minority_recall.mean) << ","
        << pct(g.minority_recall.std) << "," << classes << "," << csv_field(names) << "," << means
        << "," << stds << "," << pct(g.final_accuracy_median_20.mean) << ","
        << pct(g.final_accuracy_median_20.std) << "," << csv_field(g.variant) << "\n";
  }
  return out.str();
}

void summarize(const SummarizeOptions& options, std::ostream& out) {
  const std::optional<Format> format = value_named(options.format, format_name);
  if (!format) {
    throw InputError("summarize: --format must be " + or_list(names_of(format_name)) + ", got '" +
                     options.format + "'");
  }
  const Summary summary = summarize_runs(options.paths);
  switch (*format) {
    case Format::kMarkdown:
      out << summary_markdown(summary);
      break;
    case Format::kCsv:
      out << summary_csv(summary);
      for (const SummaryGroup& g : summary.groups) {
        for (const std::string& note : g.notes) {
          spdlog::warn("{}: {}", visible_text(group_title(g)), visible_text(note));
        }
      }
      for (const SkippedRun& s : summary.skipped) {
        spdlog::warn("not averaged in: {}: {}", visible_text(s.path), visible_text(s.reason));
      }
      break;
  }
  out.flush();
}

}  // namespace crest
