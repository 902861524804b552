// The per-generation table of a run and the files built from it: RUN/generations.csv (one
// GenerationRow per finished generation), RUN/gen_K/generation.json (a GenerationRecord, the
// done marker of generation K, written last) and RUN/summary.json (the RunSummary: the best
// generation under crest.select_on and every row). See docs/run-folder.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "crest/io/figures.h"
#include "crest/io/file.h"

namespace crest {

// One row of generations.csv: the figures people compare across generations. Ratios in [0, 1]
// of the EMA model on the test set; a figure that is not defined is NaN (written as an empty
// CSV field and a JSON null): selection_precision of a run that selects nothing (crest.mode
// fixmatch), val_mean_recall without a validation slice (crest.select_on last).
struct GenerationRow {
  int generation = 0;
  double t = 1.0;            // alignment temperature t_g (1 when not aligning)
  std::int64_t labeled = 0;  // images in this generation's labeled set
  std::int64_t pseudo_labeled =
      0;  // of which pseudo-labeled (selected at g-1; knn: g-1 and before)
  double accuracy = 0.0;
  double mean_recall = 0.0;
  double mean_precision = 0.0;
  double minority_recall = 0.0;
  double majority_recall = 0.0;
  double minority_precision = 0.0;
  std::int64_t selected = 0;  // selected at the end of this generation
  double selection_precision = std::numeric_limits<double>::quiet_NaN();
  double val_mean_recall = std::numeric_limits<double>::quiet_NaN();
  // The median of the last 20 per-epoch EMA test accuracies (fewer when there are fewer): the
  // figure the reference release reports, steadier than the final accuracy. NaN in files of
  // older versions.
  double accuracy_median_last_20 = std::numeric_limits<double>::quiet_NaN();
};

// {"generation", "t", "labeled", ..., "val_mean_recall"}: every field, NaN as null.
nlohmann::json to_json(const GenerationRow& row);

// The inverse. `strict`: every field must be there (a generation.json the loop resumes from);
// otherwise only "generation" is required and an absent figure reads as NaN (0 for counts), as
// summaries written by older versions or by hand may lack them. DataError naming `file`.
GenerationRow generation_row_from_json(const nlohmann::json& j, const std::filesystem::path& file,
                                       bool strict = true);

// generations.csv: a header and one row per GenerationRow (figures as %.6f, undefined ones
// empty), written atomically.
void write_generations_csv(const std::filesystem::path& file,
                           const std::vector<GenerationRow>& rows);

// Reads generations.csv back (undefined figures as NaN; a file without the val_mean_recall
// column, from an older version, reads it as NaN). DataError naming FILE:LINE and the column.
std::vector<GenerationRow> read_generations_csv(const std::filesystem::path& file);

// RUN/gen_K/generation.json: what generation K ended with. Its presence marks the generation
// finished (a resume loads it instead of training again).
struct GenerationRecord {
  GenerationRow row;
  EvaluationFigures test;                    // the EMA model on the test set
  std::vector<std::int64_t> labeled_counts;  // the labeled set it trained on, per class
  AccuracySummary ema_accuracy;              // over its per-epoch EMA accuracies
  // "files": the fingerprints of the generation's files a resume reads back
  // (kGenerationReadBackFiles that exist), by file name; empty in files of older versions.
  std::map<std::string, FileFingerprint> files = {};
};

// The files of RUN/gen_K/ a resume reads back once generation K is finished, which
// generation.json fingerprints: pseudo_labels.csv (the next generation trains on it),
// selection.json (its counts check pseudo_labels.csv) and summary.json (the backbone the
// generation started from).
extern const char* const kGenerationReadBackFiles[3];

void write_generation_record(const std::filesystem::path& file, const GenerationRecord& record);
// DataError naming the file when it is not valid JSON or lacks a field ("files", when present,
// must map names to {"bytes", "fnv1a64"}).
GenerationRecord read_generation_record(const std::filesystem::path& file);

// The fingerprints of the kGenerationReadBackFiles that exist in `gen_dir` (DataError as
// read_file).
std::map<std::string, FileFingerprint> read_back_fingerprints(const std::filesystem::path& gen_dir);

// DataError naming the file, the generation and what to do when a file `record` fingerprints is
// missing from `gen_dir` or differs from its fingerprint (edited, cut, replaced since the
// generation finished).
void check_generation_files(const std::filesystem::path& gen_dir, const GenerationRecord& record);

// RUN/summary.json, written when the run finishes. Readers see only what the file holds: every
// part is optional, and the reader that needs one says so when it is absent.
inline constexpr char kRunFinished[] = "finished";
inline constexpr char kRunDiverged[] = "diverged";

// crest.select_on's value that selects a generation on validation, and the row figure it
// maximises (GenerationRow::val_mean_recall).
inline constexpr char kSelectOnValidation[] = "val";
inline constexpr char kSelectedOnMetric[] = "val_mean_recall";

// How to give a run a validation split, for messages about runs without one.
inline constexpr char kValidationSplitHint[] =
    "to select a generation on validation, train with crest.select_on: val (--set "
    "crest.select_on=val), which holds out crest.val_fraction (0.1) of each class's labeled "
    "images, or uses a folder dataset's DATA_ROOT/val/<class>/ images when there are any";

struct RunSummary {
  // "finished", or "diverged": training stopped on a non-finite loss or model in generation
  // `failed_generation` (`error` says how); best/final/... then cover the generations before it
  // and are absent when there are none. Files without the field read as "finished".
  std::string status = kRunFinished;
  std::optional<int> failed_generation;
  std::string error;
  std::string mode;       // crest.mode
  std::string select_on;  // crest.select_on
  // Whether the unlabeled pool's hidden labels are known (CIFAR protocols) or not (images
  // without labels): "pool_truth": "unknown" in the file, and selection precisions are null.
  bool pool_truth_known = true;
  // The generation crest.select_on chose and its row: under select_on val the one selected on
  // validation (kSelectedOnMetric), written "selected_generation" and "selected" with
  // "selected_on"; under select_on last simply the last one, written "last_generation" (its row
  // is "final"). Files of older versions name either "best_generation" and "best"; all read
  // back here. Use chose_on_validation() to tell the two apart.
  std::optional<int> best_generation;
  std::optional<GenerationRow> best;

  // Whether best_generation was selected on validation (select_on val) rather than being the
  // last generation.
  bool chose_on_validation() const { return select_on == kSelectOnValidation; }
  std::optional<GenerationRow> final_row;  // "final": the last generation
  std::optional<std::vector<int>> minority_classes;
  std::optional<std::vector<int>> majority_classes;
  std::optional<std::vector<GenerationRow>> generations;  // every row, in order
};

// Writes every part that is set, pretty-printed, atomically.
void write_run_summary(const std::filesystem::path& file, const RunSummary& summary);

// Reads summary.json. DataError naming the file when it is not a JSON object, or a part it has
// is of the wrong type ("best_generation" not an integer reads as absent).
RunSummary read_run_summary(const std::filesystem::path& file);

}  // namespace crest
