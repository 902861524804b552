// `crest report`: one self-contained HTML page (inline SVG and CSS, nothing fetched) with the
// figures people draw for a CReST run, read back from the files a run folder holds (see
// docs/run-folder.md): the labeled set per generation, per-class precision and recall,
// mean recall and accuracy per generation with the best one marked, the pseudo-label
// selections, the best generation's confusion matrix, the training curves, and the config and
// environment. A run that has not finished is reported with what exists, under a banner that
// says what is missing.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "crest/io/class_tables.h"
#include "crest/io/execution_files.h"
#include "crest/io/generation_files.h"
#include "crest/io/selection_files.h"
#include "crest/io/training_files.h"

namespace crest {

// What one gen_K folder holds, read through io (io/run_files.h lists the files); a file that is
// absent is an empty optional.
struct GenerationFiles {
  int generation = 0;
  bool finished = false;  // gen_K/generation.json, written last, exists
  std::optional<LabeledDistribution> distribution;
  std::optional<PerClassTable> per_class;
  std::optional<ConfusionTable> confusion;
  std::optional<SelectionRecord> selection;
  std::optional<std::vector<MetricsLine>> curve;  // metrics.jsonl (a cut-off last line left out)
  std::optional<ExecutionRecord> execution;       // execution.json: how each stretch ran
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
  // logits_already_adjusted (ssl/losses.h) of train.labeled_loss and train.la_tau: the
  // post-hoc logit-adjusted accuracy is not applicable (and not drawn, whatever an older
  // metrics.jsonl holds).
  bool logits_adjusted_in_training = false;

  std::optional<std::vector<GenerationRow>> rows;  // generations.csv
  std::optional<int> best_generation;              // summary.json
  std::string failure;  // summary.json of a run that diverged: what happened ("" otherwise)
  std::vector<int> minority_classes;  // summary.json
  bool pool_truth_known = true;  // summary.json / selection.json: hidden labels of the pool known
  std::vector<GenerationFiles> generations;  // gen_0, gen_1, ... in order
  std::vector<std::string> log_lines;        // crest.log's warnings and errors

  // What an unfinished run lacks, one sentence each; empty for a finished run.
  std::vector<std::string> missing;
  // Things a reader should know that do not make the run incomplete.
  std::vector<std::string> notes;

  bool complete() const { return missing.empty() && failure.empty(); }
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
