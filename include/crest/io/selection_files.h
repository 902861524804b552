// The pseudo-label selection made at the end of a generation (RUN/gen_K/): pseudo_labels.csv,
// the selected images themselves (the next generation trains on them, and a resume reads them
// back), and selection.json, the per-class account of the selection (Wei et al. 2021, sec. 3.2:
// the rates mu_l, and precision/recall against the hidden labels, for monitoring only).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace crest {

// One row of pseudo_labels.csv: `index,predicted,confidence,true_label[,distance][,file]`.
struct PseudoLabelRow {
  std::int64_t index = 0;      // the image's index in the source training set
  std::int64_t predicted = 0;  // the pseudo-label
  // What the selection ranked by, in [0, 1] (written as %.6f): the softmax probability of the
  // prediction (crest.selection confidence), or the share of the nearest anchors that carry the
  // pseudo-label (knn).
  double confidence = 0.0;
  std::int64_t true_label = 0;  // the hidden label (never used for training); -1 = unknown,
                                // written as "unknown"
  std::string file = {};        // the image file relative to data.root ("" = not from files)
  // knn: 1 - cosine between the image's embedding and its class's nearest centre, in [0, 2];
  // NaN (no column) for the confidence policy.
  double distance = std::numeric_limits<double>::quiet_NaN();
};

// Writes the rows in order, atomically; the `distance` column only when some row has one, the
// `file` column only when some row names a file.
void write_pseudo_labels_csv(const std::filesystem::path& file,
                             const std::vector<PseudoLabelRow>& rows);
// What a pseudo_labels.csv of a run may hold: classes 0..num_classes-1 (predicted and true
// label; "unknown" for the true label only where `true_label` returns -1), and only images
// `in_pool` accepts (source indices of the unlabeled-only pool), whose true label, when
// `true_label` is given, is the one it returns.
struct PseudoLabelLimits {
  int num_classes = 0;
  std::function<bool(std::int64_t index)> in_pool;
  std::function<std::int64_t(std::int64_t index)> true_label;
};

// DataError naming FILE:LINE when a column is absent, a field is not a number, a class is out
// of range, a confidence is not in [0, 1], a distance (where the column is) not in [0, 2], an image
// is not in the pool, appears twice or has another true label than the dataset's.
std::vector<PseudoLabelRow> read_pseudo_labels_csv(const std::filesystem::path& file,
                                                   const PseudoLabelLimits& limits);

// selection.json. Per-class vectors are indexed by class. Where the pool's true labels are
// unknown (`truth_known` false: images without labels), the file says "truth": "unknown" and
// the figures that need them (correct, pool_true_counts, precision, recall, precision_total)
// are null, read back as empty lists and NaN.
// The selection's precision estimated per class on held-out labeled images, where the pool's
// labels are unknown (selftrain/selection.h PrecisionEstimate, with where it comes from).
struct SelectionEstimate {
  std::string source;       // which images, for people (e.g. "the validation split")
  std::int64_t images = 0;  // how many
  bool trained_on = false;  // whether the model trained on them (the estimate is then optimistic)
  std::vector<double> precision;        // per class; NaN (null) where none is predicted as it
  std::vector<std::int64_t> predicted;  // held-out images predicted as the class
  double weighted = std::numeric_limits<double>::quiet_NaN();  // weighted by the selection
  double threshold = 0.0;                                      // crest.min_pseudo_precision
  std::vector<int> poor_classes;  // selected and estimated below the threshold
  bool poor = false;              // poor_classes, or weighted below the threshold
};

// How a knn round (crest.selection: knn; selftrain/knn_selection.h) chose: its rules and, per
// class, the images eligible and the agreement and distance of those selected ("knn" in
// selection.json; absent for the confidence policy).
struct KnnSelectionRecord {
  int round = 0;                       // 0-based; the generation that made it
  int rounds = 0;                      // crest.generations - 1
  std::int64_t quota = 0;              // images this round could take
  std::int64_t labeled_before = 0;     // pool images pseudo-labeled in earlier rounds
  std::int64_t left_after = 0;         // pool images still unlabeled after this round
  std::int64_t anchors = 0;            // images clustered and voting
  std::string anchor_set;              // crest.knn_anchors
  std::string order;                   // crest.knn_order
  int clusters = 0;                    // crest.knn_clusters
  int neighbours = 0;                  // crest.knn_neighbours
  double min_agreement = 0.0;          // the threshold applied (0 in the last round)
  std::vector<std::int64_t> eligible;  // per class: assigned images with enough agreement
  std::vector<double> mean_agreement;  // per class, over the selected; NaN (null) when none
  std::vector<double> mean_distance;   // per class, over the selected; NaN (null) when none
};

struct SelectionRecord {
  std::string policy = "confidence";  // crest.selection: confidence | knn
  int generation = 0;
  bool truth_known = true;
  std::int64_t pool = 0;     // unlabeled-only images the EMA model predicted (knn: those
                             // still unlabeled before the round)
  double alpha = 0.0;        // crest.alpha
  std::string rate_profile;  // crest.rate_profile
  std::vector<std::string> names;
  std::vector<double> rates;            // mu_c (knn: the share of `predicted` selected)
  std::vector<std::int64_t> predicted;  // images predicted as the class (knn: nearest its centre)
  std::vector<std::int64_t> selected;   // floor(predicted * mu_c) (knn: by the round's rules)
  std::vector<std::int64_t> correct;    // of those, matching the hidden label
  std::vector<std::int64_t> pool_true_counts;  // images of the class in the pool
  std::vector<double> precision;               // correct / selected (0 when none selected)
  std::vector<double> recall;                  // correct / pool_true_counts (0 when none)
  std::int64_t selected_total = 0;
  double precision_total = 0.0;  // over all selected images (0 when none)
  // Where the truth is unknown: the precision estimated on held-out labeled images
  // ("precision_estimate"; absent in other files and in files of older versions).
  std::optional<SelectionEstimate> estimate = std::nullopt;
  std::optional<KnnSelectionRecord> knn = std::nullopt;  // policy knn
};

// Writes every field, pretty-printed, atomically.
void write_selection_json(const std::filesystem::path& file, const SelectionRecord& record);

// Reads selection.json ("policy" absent: confidence, as every file before #31). Requires
// "classes", "rates", "predicted", "selected" and (unless the truth is unknown) "correct" and
// "precision" with one entry per class; the other fields read as 0 / empty / NaN
// (precision_total) when absent; with policy knn also the "knn" object, its per-class lists one
// entry per class, selected <= eligible <= predicted. DataError naming the file otherwise.
SelectionRecord read_selection_json(const std::filesystem::path& file);

}  // namespace crest
