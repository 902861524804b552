// `crest summarize`: the paper's Table 1 from run folders. Runs are grouped by (dataset,
// method, gamma, beta) as their RUN/config.yaml says; each group reports the mean and the sample
// standard deviation (n - 1) over its folds of the final and best-generation accuracy and of the
// minority classes' recall. Failed or unfinished runs are listed, never averaged in.
#pragma once

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "crest/config/choices.h"

namespace crest {

// A mean and a sample standard deviation; std is NaN when n < 2 (and mean NaN when n = 0).
struct MeanStd {
  std::size_t n = 0;
  double mean = 0.0;
  double std = 0.0;
};
MeanStd mean_std(const std::vector<double>& values);

struct SummaryGroup {
  std::string dataset;                       // data.dataset
  CrestMode method = CrestMode::kCrestPlus;  // crest.mode
  // What else changes the method: "MixMatch" (train.algorithm), the labeled loss when not ce
  // (train.labeled_loss), "init FILE" (model.init_from), "knn selection" (crest.selection knn),
  // "warm start" (crest.warm_start), comma-separated; "" = plain FixMatch.
  std::string variant;
  // The learner when it is not FixMatch ("MixMatch", "ACR", "SeMi"; the start of `variant`),
  // "" for FixMatch: with crest.mode fixmatch it names the method alone.
  std::string learner;
  double gamma = 0.0;  // data.imbalance_ratio (darp, acr: imbalance_ratio_labeled)
  double beta = 0.0;   // data.label_fraction (darp, acr: N_1 / (N_1 + M_1) of the head class)
  std::vector<std::int64_t> folds;  // data.fold of each run averaged in
  std::vector<std::string> runs;    // their folders
  std::size_t excluded = 0;         // failed or unfinished runs of this group (listed apart)
  // Fractions in [0, 1], over the runs averaged in.
  MeanStd final_accuracy;             // summary.json "final"
  MeanStd final_accuracy_median_20;   // its median of the last 20 EMA evaluations
  MeanStd best_accuracy;              // summary.json "best" (crest.select_on)
  MeanStd minority_recall;            // mean recall over the minority classes, final generation
  std::vector<int> minority_classes;  // summary.json "minority_classes"
  std::vector<std::string> minority_names;     // their names in per_class.csv
  std::vector<MeanStd> minority_class_recall;  // per minority class, final generation
  std::vector<std::string> notes;  // e.g. config keys that differ between the group's runs
};

// A run (or a sweep point) that is not averaged in, and why.
struct SkippedRun {
  std::string path;
  std::string reason;
};

struct Summary {
  std::vector<SummaryGroup> groups;  // by dataset, beta, gamma, then fixmatch, crest, crest+
  std::vector<SkippedRun> skipped;
};

// Collects the run folders under each path (a run folder, i.e. one holding config.yaml, or a
// folder with run folders at any depth, such as a sweep's output folder; a sweep.json there also
// lists the points that never started) and summarises them. Throws InputError naming a path that
// does not exist or holds no run folder.
Summary summarize_runs(const std::vector<std::string>& paths);

// A Markdown report: the group table, Table 1's layout (methods x gamma) per dataset and beta,
// notes, and the runs left out. Percent, the mean with one decimal and the std with two.
std::string summary_markdown(const Summary& summary);

// One CSV row per group (percent, four decimals; lists inside a field are ';'-separated).
std::string summary_csv(const Summary& summary);

struct SummarizeOptions {
  std::vector<std::string> paths;
  std::string format = "md";  // md | csv
};

// The `crest summarize` command: writes the report to `out`; with csv, the runs left out go
// to the log as warnings so that `out` stays one table.
void summarize(const SummarizeOptions& options, std::ostream& out);

}  // namespace crest
