// `crest report`: one self-contained HTML page (inline SVG and CSS, nothing fetched) with the
// figures people draw for a CReST run, read back from the files a run folder holds (see
// README "Run folders"): the labeled set per generation, per-class precision and recall,
// mean recall and accuracy per generation with the best one marked, the pseudo-label
// selections, the best generation's confusion matrix, the training curves, and the config and
// environment. A run that has not finished is reported with what exists, under a banner that
// says what is missing.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace crest {

// gen_K/labeled_distribution.csv: the labeled set a generation trained on.
struct LabeledDistribution {
  std::vector<std::string> names;
  std::vector<std::int64_t> labeled;         // of the original labeled set
  std::vector<std::int64_t> pseudo_labeled;  // carried over from the previous selection
};

// gen_K/per_class.csv: the EMA model on the test set.
struct PerClassMetrics {
  std::vector<std::string> names;
  std::vector<double> precision;
  std::vector<double> recall;
  std::vector<double> f1;
  std::vector<std::int64_t> support;
  std::vector<std::int64_t> predicted;
};

// gen_K/confusion.csv: rows true class, columns predicted class.
struct ConfusionTable {
  std::vector<std::string> names;
  std::vector<std::vector<std::int64_t>> counts;
};

// gen_K/selection.json: the pseudo-labels picked at the end of generation K.
struct SelectionStats {
  std::vector<std::string> names;
  std::vector<double> rates;  // mu_c
  std::vector<std::int64_t> predicted;
  std::vector<std::int64_t> selected;
  std::vector<std::int64_t> correct;
  std::vector<double> precision;
  std::int64_t selected_total = 0;
  double precision_total = 0.0;
};

// One line of gen_K/metrics.jsonl; a field the line lacks (or has as null) is NaN.
struct TrainingPoint {
  double step = 0.0;
  double loss = std::numeric_limits<double>::quiet_NaN();
  double loss_x = std::numeric_limits<double>::quiet_NaN();
  double loss_u = std::numeric_limits<double>::quiet_NaN();
  double mask_rate = std::numeric_limits<double>::quiet_NaN();
  double pseudo_label_acc = std::numeric_limits<double>::quiet_NaN();
  double acc_raw = std::numeric_limits<double>::quiet_NaN();
  double acc_ema = std::numeric_limits<double>::quiet_NaN();
  double acc_ema_la = std::numeric_limits<double>::quiet_NaN();
  double lr = std::numeric_limits<double>::quiet_NaN();
};

// One row of generations.csv. A figure the file leaves empty is NaN: val_mean_recall without a
// validation slice, selection_precision of a run that selects nothing (crest.mode fixmatch).
struct GenerationSummary {
  int generation = 0;
  double t = 1.0;
  std::int64_t labeled = 0;
  std::int64_t pseudo_labeled = 0;
  double accuracy = 0.0;
  double mean_recall = 0.0;
  double mean_precision = 0.0;
  double minority_recall = 0.0;
  double majority_recall = 0.0;
  double minority_precision = 0.0;
  std::int64_t selected = 0;
  double selection_precision = 0.0;
  double val_mean_recall = std::numeric_limits<double>::quiet_NaN();
};

// What one gen_K folder holds; a file that is absent is an empty optional.
struct GenerationFiles {
  int generation = 0;
  bool finished = false;  // gen_K/generation.json, written last, exists
  std::optional<LabeledDistribution> distribution;
  std::optional<PerClassMetrics> per_class;
  std::optional<ConfusionTable> confusion;
  std::optional<SelectionStats> selection;
  std::optional<std::vector<TrainingPoint>> curve;  // metrics.jsonl
};

// A run folder read back.
struct RunFolder {
  std::filesystem::path dir;
  std::string config_yaml;  // RUN/config.yaml as written
  // From the config (empty / -1 when the key is absent).
  std::string mode;
  std::string select_on;
  std::string dataset;
  int planned_generations = -1;
  std::int64_t steps_per_generation = -1;  // train.epochs * train.steps_per_epoch

  std::optional<std::vector<GenerationSummary>> rows;  // generations.csv
  std::optional<int> best_generation;                  // summary.json
  std::vector<int> minority_classes;                   // summary.json
  std::vector<GenerationFiles> generations;            // gen_0, gen_1, ... in order
  std::vector<std::string> log_lines;  // crest.log lines that describe the run and its machine

  // What an unfinished run lacks, one sentence each; empty for a finished run.
  std::vector<std::string> missing;
  // Things a reader should know that do not make the run incomplete.
  std::vector<std::string> notes;

  bool complete() const { return missing.empty(); }
};

// Reads a run folder. Throws InputError when `dir` is not a run folder (no config.yaml) and
// DataError naming the file and line when a file it reads is malformed. Absent files are not
// errors: they are listed in `missing` (the run is incomplete) or simply not shown.
RunFolder load_run(const std::filesystem::path& dir);

// The HTML page for a run (deterministic: the same folder gives the same bytes).
std::string report_html(const RunFolder& run);

// load_run + report_html, written atomically to `out` (default: RUN_DIR/report.html).
// Returns the path written.
std::filesystem::path write_report(const std::filesystem::path& run_dir,
                                   const std::filesystem::path& out = {});

}  // namespace crest
