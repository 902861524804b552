// What the trainer leaves in RUN/gen_K/ besides its checkpoint: metrics.jsonl, one MetricsLine per
// evaluation (every epoch), appended as training goes; and summary.json, the TrainingSummary of
// the generation with the weight fingerprints that tell bit-identical runs apart.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crest/io/figures.h"

namespace crest {

// One line of metrics.jsonl: the running means of the training statistics since the previous
// evaluation and the test accuracies at `step`. A figure a line lacks (or holds as null) reads
// as NaN; the per-class vectors read as empty.
struct MetricsLine {
  static constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  std::int64_t step = 0;
  std::int64_t epoch = 0;
  double lr = kNaN;
  double loss = kNaN;              // total FixMatch loss, L_x + lambda_u * L_u
  double loss_x = kNaN;            // supervised cross-entropy
  double loss_u = kNaN;            // unlabeled consistency loss
  double mask_rate = kNaN;         // fraction of pseudo-labels above the threshold
  double pseudo_label_acc = kNaN;  // of those, the fraction matching the hidden label
  double acc_raw = kNaN;           // test accuracy of the raw model
  double acc_ema = kNaN;           // of the EMA model
  double acc_raw_la = kNaN;        // the same with logit adjustment
  double acc_ema_la = kNaN;
  double mean_recall_ema = kNaN;
  std::vector<double> per_class_recall_ema;
  std::vector<double> per_class_recall_raw;
  double steps_per_sec = kNaN;
  // A learner's own figures (ACR: acr_tau, acr_u_py), each a top-level key of the line: a number
  // for one value, an array for several. Absent for FixMatch and MixMatch.
  std::vector<std::pair<std::string, std::vector<double>>> learner_figures;
};

// The line as JSON text (no line break): every field.
std::string metrics_line_text(const MetricsLine& line);

// Starts an empty metrics.jsonl (atomically), and appends one line to it.
void start_metrics_file(const std::filesystem::path& file);
void append_metrics_line(const std::filesystem::path& file, const MetricsLine& line);

// metrics.jsonl read back. A run killed while appending can leave its last line cut off: that
// line (and only that one, when the file does not end in a newline) is left out and its number
// is `cut_line`.
struct MetricsLog {
  std::vector<MetricsLine> lines;
  std::optional<int> cut_line;
};

// Throws DataError naming FILE:LINE when a line other than a cut-off last one is not a JSON
// object with a numeric "step".
MetricsLog read_metrics_file(const std::filesystem::path& file);

// For a resume from the checkpoint at `step`: keeps the lines up to `step` (the later ones are
// redone; a line cut short by a crash ends the usable history), rewrites the file atomically with
// exactly those lines, and returns them. A missing file keeps nothing.
std::vector<MetricsLine> truncate_metrics_file(const std::filesystem::path& file,
                                               std::int64_t step);

// RUN/gen_K/summary.json.
struct TrainingSummary {
  std::int64_t steps = 0;
  std::int64_t evaluations = 0;
  AccuracySummary ema_accuracy;  // over the per-epoch EMA accuracies
  EvaluationFigures final_ema;   // the EMA model on the test set after the last step
  // FNV-1a 64 (hex) over every parameter and buffer: equal means bit-identical weights.
  std::string model_fingerprint;
  std::string ema_fingerprint;
  // model.init_from: backbone_fingerprint (models/wrn_weights.h) of the model right after it
  // was initialised from the file (equal to the file's, e.g. backbone.pt.json's); "" = random
  // initialisation (then absent from the file).
  std::string init_backbone_fingerprint;
  // crest.warm_start: the ema_fingerprint of the previous generation's final EMA weights, which
  // this generation started from (ssl/trainer.h); "" = not warm-started (then absent).
  std::string warm_start_fingerprint;
  // The training step as it ran (train.amp and train.channels_last resolved on this machine):
  // "bf16" | "fp32", and "channels_last" | "contiguous"; "" = not recorded (files written
  // before crest recorded them; then absent from the file).
  std::string precision;
  std::string memory_format;
};

void write_training_summary(const std::filesystem::path& file, const TrainingSummary& summary);
// DataError naming the file when it is not valid JSON or lacks a field.
TrainingSummary read_training_summary(const std::filesystem::path& file);

}  // namespace crest
