// Classification metrics for the evaluations of a run: the confusion matrix, per-class
// precision/recall/F1, minority/majority summaries over the long-tailed training counts,
// logit adjustment, and the one writer that turns an evaluation into CSV/JSON.
//
// Conventions (chosen so that every number is defined, never NaN):
//   - precision of a class that is never predicted is 0; `ClassMetrics::predicted` carries the
//     counts so a reader can tell "never predicted" from "always wrong";
//   - recall of a class with no support (no true example) is 0, and such a class is left out of
//     mean_recall;
//   - mean_precision averages over the classes that have support or are predicted (sklearn's
//     macro average with zero_division=0); a class with neither is left out;
//   - F1 = 2PR / (P + R), and 0 when P + R = 0.
// On a balanced test set (CIFAR-10/100 test: equal support per class) accuracy equals
// mean_recall.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace crest {

// Counts of (true class, predicted class) pairs: int64 [C, C] on the CPU, rows the true class,
// columns the predicted class. `predictions` and `labels` are integer class indices of shape
// [N] on any (the same or different) device; the counting runs on `labels`' device. Throws
// InputError when the shapes differ, a tensor is not 1-D or not integral (pass the argmax of
// logits, not the logits), num_classes < 1, or a value lies outside [0, num_classes).
at::Tensor confusion_matrix(const at::Tensor& predictions, const at::Tensor& labels,
                            int num_classes);

// Per-class figures, indexed by class.
struct ClassMetrics {
  std::vector<double> precision;        // correct / predicted; 0 when never predicted
  std::vector<double> recall;           // correct / support; 0 when no support
  std::vector<double> f1;               // 2PR / (P + R); 0 when P + R = 0
  std::vector<std::int64_t> support;    // true examples of the class (row sums)
  std::vector<std::int64_t> predicted;  // examples predicted as the class (column sums)
};

struct Evaluation {
  double accuracy = 0.0;        // correct / count
  double mean_recall = 0.0;     // over classes with support
  double mean_precision = 0.0;  // over classes with support or predictions
  ClassMetrics per_class;
  at::Tensor confusion;  // int64 [C, C] on the CPU, rows true, columns predicted
  std::int64_t count = 0;
};

// The metrics of `predictions` against `labels` (see confusion_matrix for the inputs). Throws
// InputError as confusion_matrix does, and when there are no predictions at all.
Evaluation evaluate_predictions(const at::Tensor& predictions, const at::Tensor& labels,
                                int num_classes);

// Same, from an existing confusion matrix (int64 [C, C], rows true, columns predicted).
Evaluation evaluate_confusion(const at::Tensor& confusion);

// Mean of values[c] over c in `classes` (e.g. recall of the minority classes). Throws
// InputError when `classes` is empty or names a class outside `values`.
double mean_over(const std::vector<double>& values, const std::vector<int>& classes);

// The k = max(1, floor(fraction * C)) classes with the smallest (minority_classes) or largest
// (majority_classes) training counts, ascending by class index. The floor has a 1e-9 tolerance
// so that 0.3 * 10 gives 3. Ties follow the long-tailed convention that class 0 is the head:
// among equal counts, minority_classes prefers the higher class index and majority_classes the
// lower one, so on a balanced set the two are disjoint whenever 2k <= C. Throws InputError when
// `train_counts` is empty or fraction is outside (0, 1].
std::vector<int> minority_classes(const std::vector<std::int64_t>& train_counts, double fraction);
std::vector<int> majority_classes(const std::vector<std::int64_t>& train_counts, double fraction);

// The floor applied to the normalised prior before its log in logit_adjust.
inline constexpr double kPriorEpsilon = 1e-12;

// Post-hoc logit adjustment (Menon et al. 2021): logits - tau * log(pi), where pi is
// `class_prior` (e.g. the training counts, any numeric dtype, shape [C] with C =
// logits.size(-1)) normalised to sum 1 in double precision, then moved to the logits' device and
// dtype. The normalised prior is clamped at kPriorEpsilon before the log, so a class with no
// training examples gets a large but finite boost (tau * 27.6) instead of +inf. Throws
// InputError when the shapes disagree, the prior has a negative or non-finite entry, or sums
// to 0.
at::Tensor logit_adjust(const at::Tensor& logits, const at::Tensor& class_prior, double tau = 1.0);

// A field quoted CSV-style (RFC 4180) when it holds a comma, a double quote or a line break;
// quotes inside are doubled. Unchanged otherwise.
std::string csv_field(const std::string& value);

// Writes `class,name,precision,recall,f1,support,predicted`, one row per class (ratios as %.6f),
// atomically. Throws InputError when class_names does not have one name per class.
void write_per_class_csv(const std::filesystem::path& file, const Evaluation& eval,
                         const std::vector<std::string>& class_names);

// Writes `true\predicted,<name0>,<name1>,...`, then one row per true class starting with its
// name, atomically. Throws InputError when `confusion` is not [C, C] with C names.
void write_confusion_csv(const std::filesystem::path& file, const at::Tensor& confusion,
                         const std::vector<std::string>& class_names);

// {accuracy, mean_recall, mean_precision, per_class_recall: [...], per_class_precision: [...]}
nlohmann::json evaluation_json(const Evaluation& eval);

// Summary of the test accuracies of a run, one per evaluation in order.
struct AccuracySummary {
  double final_acc = 0.0;       // the last one
  double best = 0.0;            // the largest
  std::int64_t best_index = 0;  // the first evaluation that reached `best`
  // Median of the last k evaluations, or of all of them when there are fewer than k; the
  // median of an even count is the mean of the two middle values.
  double median_last_1 = 0.0;
  double median_last_10 = 0.0;
  double median_last_20 = 0.0;
  double median_last_50 = 0.0;
};

// Throws InputError when `series` is empty.
AccuracySummary summarize_accuracies(const std::vector<double>& series);

// {final_acc, best, best_index, median_last_1, median_last_10, median_last_20, median_last_50}
nlohmann::json accuracy_summary_json(const AccuracySummary& summary);

}  // namespace crest
