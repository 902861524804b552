// Classification metrics for the evaluations of a run: the confusion matrix, per-class
// precision/recall/F1, minority/majority summaries over the long-tailed training counts,
// logit adjustment, and the records the run files hold (io/class_tables.h, io/figures.h).
//
// Conventions: a figure whose denominator is empty is undefined, held as NaN (kUndefined), never
// as a made-up 0 (docs/methods.md "Undefined figures"; tables show "n/a", CSV an empty field,
// JSON null):
//   - precision of a class that is never predicted is undefined;
//   - recall of a class with no support (no true example) is undefined;
//   - F1 = 2PR / (P + R), 0 when P + R = 0; with P or R undefined it is 2 TP / (support +
//     predicted), i.e. 0, and undefined only for a class neither true nor predicted;
//   - mean_recall averages the defined recalls (the classes with support: `recall_classes` of
//     them), mean_precision the defined precisions (the predicted classes: `precision_classes`);
//     undefined_classes() names the classes left out, so the column and the mean agree.
// On a balanced test set (CIFAR-10/100 test: equal support per class) accuracy equals
// mean_recall.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "crest/io/class_tables.h"
#include "crest/io/figures.h"

namespace crest {

// The value of an undefined figure (an empty denominator).
inline constexpr double kUndefined = std::numeric_limits<double>::quiet_NaN();

// Counts of (true class, predicted class) pairs: int64 [C, C] on the CPU, rows the true class,
// columns the predicted class. `predictions` and `labels` are integer class indices of shape
// [N] on any (the same or different) device; the counting runs on `labels`' device. Throws
// InputError when the shapes differ, a tensor is not 1-D or not integral (pass the argmax of
// logits, not the logits), num_classes < 1, or a value lies outside [0, num_classes).
at::Tensor confusion_matrix(const at::Tensor& predictions, const at::Tensor& labels,
                            int num_classes);

// Per-class figures, indexed by class.
struct ClassMetrics {
  std::vector<double> precision;        // correct / predicted; kUndefined when never predicted
  std::vector<double> recall;           // correct / support; kUndefined when no support
  std::vector<double> f1;               // 2PR / (P + R); see the conventions above
  std::vector<std::int64_t> support;    // true examples of the class (row sums)
  std::vector<std::int64_t> predicted;  // examples predicted as the class (column sums)
};

struct Evaluation {
  double accuracy = 0.0;        // correct / count
  double mean_recall = 0.0;     // over the classes with support (recall defined)
  double mean_precision = 0.0;  // over the predicted classes (precision defined)
  int recall_classes = 0;       // how many classes mean_recall averages
  int precision_classes = 0;    // how many classes mean_precision averages
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

// Mean of the defined values[c] (not NaN) over c in `classes` (e.g. recall of the minority
// classes); kUndefined when none of them is defined. Throws InputError when `classes` is empty or
// names a class outside `values`.
double mean_over(const std::vector<double>& values, const std::vector<int>& classes);

// The classes c whose values[c] is undefined (NaN), ascending: e.g. the classes without test
// images for per-class recall, which mean_recall leaves out.
std::vector<int> undefined_classes(const std::vector<double>& values);

// The k = max(1, floor(fraction * C)) classes with the smallest (minority_classes) or largest
// (majority_classes) training counts, ascending by class index. The floor has a 1e-9 tolerance
// so that 0.3 * 10 gives 3. Ties follow the long-tailed convention that class 0 is the head:
// among equal counts, minority_classes prefers the higher class index and majority_classes the
// lower one, so on a balanced set the two are disjoint whenever 2k <= C. Throws InputError when
// `train_counts` is empty or fraction is outside (0, 1].
std::vector<int> minority_classes(const std::vector<std::int64_t>& train_counts, double fraction);
std::vector<int> majority_classes(const std::vector<std::int64_t>& train_counts, double fraction);
// The same on a class profile (e.g. the N_l behind the CReST rates mu_l, which may be ideal,
// non-integer counts).
std::vector<int> minority_classes_of_profile(const std::vector<double>& profile, double fraction);
std::vector<int> majority_classes_of_profile(const std::vector<double>& profile, double fraction);

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

// The per-class figures of `eval` with the class names, as per_class.csv holds them (the writer
// checks that there is one name per class).
PerClassTable per_class_table(const Evaluation& eval, const std::vector<std::string>& class_names);

// A confusion matrix (int64 [C, C], rows true, columns predicted) with the class names, as
// confusion.csv holds it. Throws InputError when `confusion` is not square [C, C].
ConfusionTable confusion_table(const at::Tensor& confusion,
                               const std::vector<std::string>& class_names);

// Accuracy, mean recall and precision and the per-class recall and precision of `eval`.
EvaluationFigures evaluation_figures(const Evaluation& eval);

// Summary of a series of test accuracies, one per evaluation in order (see AccuracySummary).
// Throws InputError when `series` is empty.
AccuracySummary summarize_accuracies(const std::vector<double>& series);

}  // namespace crest
