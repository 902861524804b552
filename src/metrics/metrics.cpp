#include "crest/metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <sstream>

#include "crest/util/error.h"

namespace crest {

namespace {

std::string shape_of(const at::Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

void check_class_indices(const at::Tensor& t, const char* what) {
  if (t.dim() != 1) {
    throw InputError(std::string(what) + " must be a 1-D tensor of class indices [N], got shape " +
                     shape_of(t));
  }
  if (!at::isIntegralType(t.scalar_type(), /*includeBool=*/false)) {
    throw InputError(std::string(what) + " must hold integer class indices, got dtype " +
                     std::string(c10::toString(t.scalar_type())) +
                     " (take the argmax of logits over the class dimension first)");
  }
}

void check_range(const at::Tensor& t, const char* what, int num_classes) {
  const std::int64_t lo = t.min().item<std::int64_t>();
  const std::int64_t hi = t.max().item<std::int64_t>();
  const std::int64_t bad = lo < 0 ? lo : hi;
  if (lo < 0 || hi >= num_classes) {
    throw InputError(std::string(what) + " contain " + std::to_string(bad) + ", outside [0, " +
                     std::to_string(num_classes) +
                     ") for num_classes = " + std::to_string(num_classes));
  }
}

// numerator / denominator; undefined (NaN) over an empty denominator.
double ratio(std::int64_t numerator, std::int64_t denominator) {
  return denominator == 0 ? kUndefined
                          : static_cast<double>(numerator) / static_cast<double>(denominator);
}

// F1 from precision and recall: 2PR / (P + R) when both are defined (0 when P + R = 0). With
// one undefined, F1 = 2 TP / (support + predicted) is still defined and 0 (no hits) unless the
// class is neither true nor predicted anywhere.
double f1_score(double precision, double recall, std::int64_t support_plus_predicted) {
  if (std::isnan(precision) || std::isnan(recall)) {
    return support_plus_predicted > 0 ? 0.0 : kUndefined;
  }
  const double sum = precision + recall;
  return sum > 0.0 ? 2.0 * precision * recall / sum : 0.0;
}

// k of minority_classes/majority_classes.
std::size_t class_quota(std::size_t num_classes, double fraction, const char* who) {
  if (num_classes == 0) throw InputError(std::string(who) + ": train_counts is empty");
  if (!(fraction > 0.0 && fraction <= 1.0)) {
    throw InputError(std::string(who) + ": fraction must be in (0, 1], got " +
                     std::to_string(fraction));
  }
  const auto k =
      static_cast<std::size_t>(std::floor(fraction * static_cast<double>(num_classes) + 1e-9));
  return std::clamp<std::size_t>(k, 1, num_classes);
}

std::vector<int> first_classes(std::vector<int> order, std::size_t k) {
  order.resize(k);
  std::sort(order.begin(), order.end());
  return order;
}

std::vector<int> class_order(std::size_t num_classes) {
  std::vector<int> order(num_classes);
  std::iota(order.begin(), order.end(), 0);
  return order;
}

// Median of the last k values of `series` (all of them when fewer than k).
double median_last(const std::vector<double>& series, std::size_t k) {
  const std::size_t n = std::min(k, series.size());
  std::vector<double> tail(series.end() - static_cast<std::ptrdiff_t>(n), series.end());
  std::sort(tail.begin(), tail.end());
  if (n % 2 == 1) return tail[n / 2];
  return 0.5 * (tail[n / 2 - 1] + tail[n / 2]);
}

}  // namespace

at::Tensor confusion_matrix(const at::Tensor& predictions, const at::Tensor& labels,
                            int num_classes) {
  if (num_classes < 1) {
    throw InputError("num_classes must be >= 1, got " + std::to_string(num_classes));
  }
  check_class_indices(predictions, "predictions");
  check_class_indices(labels, "labels");
  if (predictions.numel() != labels.numel()) {
    throw InputError("predictions and labels must have the same length, got " +
                     std::to_string(predictions.numel()) + " predictions and " +
                     std::to_string(labels.numel()) + " labels");
  }
  const std::int64_t c = num_classes;
  if (labels.numel() == 0) return at::zeros({c, c}, at::kLong);
  const at::Tensor truth = labels.to(at::kLong);
  const at::Tensor predicted = predictions.to(labels.device(), at::kLong);
  check_range(truth, "labels", num_classes);
  check_range(predicted, "predictions", num_classes);
  // One pass for the whole batch: each pair (t, p) is the bin t * C + p.
  return at::bincount(truth * c + predicted, /*weights=*/{}, /*minlength=*/c * c)
      .reshape({c, c})
      .to(at::kCPU);
}

Evaluation evaluate_confusion(const at::Tensor& confusion) {
  if (confusion.dim() != 2 || confusion.size(0) != confusion.size(1) || confusion.size(0) < 1) {
    throw InputError("a confusion matrix must be square [C, C] with C >= 1, got shape " +
                     shape_of(confusion));
  }
  const at::Tensor counts = confusion.to(at::kCPU, at::kLong).contiguous();
  const auto matrix = counts.accessor<std::int64_t, 2>();
  const auto c = static_cast<std::size_t>(counts.size(0));

  Evaluation eval;
  eval.confusion = counts;
  ClassMetrics& m = eval.per_class;
  m.precision.assign(c, kUndefined);
  m.recall.assign(c, kUndefined);
  m.f1.assign(c, kUndefined);
  m.support.assign(c, 0);
  m.predicted.assign(c, 0);
  std::int64_t correct = 0;
  for (std::size_t t = 0; t < c; ++t) {
    for (std::size_t p = 0; p < c; ++p) {
      const std::int64_t n = matrix[static_cast<std::int64_t>(t)][static_cast<std::int64_t>(p)];
      if (n < 0) {
        throw InputError("a confusion matrix holds counts, got " + std::to_string(n) + " at [" +
                         std::to_string(t) + ", " + std::to_string(p) + "]");
      }
      m.support[t] += n;
      m.predicted[p] += n;
      eval.count += n;
      if (t == p) correct += n;
    }
  }
  if (eval.count == 0) throw InputError("cannot evaluate an empty set of predictions");

  double recall_sum = 0.0, precision_sum = 0.0;
  for (std::size_t k = 0; k < c; ++k) {
    const std::int64_t hits = matrix[static_cast<std::int64_t>(k)][static_cast<std::int64_t>(k)];
    m.precision[k] = ratio(hits, m.predicted[k]);
    m.recall[k] = ratio(hits, m.support[k]);
    m.f1[k] = f1_score(m.precision[k], m.recall[k], m.support[k] + m.predicted[k]);
    if (m.support[k] > 0) {
      recall_sum += m.recall[k];
      ++eval.recall_classes;
    }
    if (m.predicted[k] > 0) {
      precision_sum += m.precision[k];
      ++eval.precision_classes;
    }
  }
  // count > 0 guarantees at least one class with support and one predicted class.
  eval.accuracy = ratio(correct, eval.count);
  eval.mean_recall = recall_sum / eval.recall_classes;
  eval.mean_precision = precision_sum / eval.precision_classes;
  return eval;
}

Evaluation evaluate_predictions(const at::Tensor& predictions, const at::Tensor& labels,
                                int num_classes) {
  return evaluate_confusion(confusion_matrix(predictions, labels, num_classes));
}

double mean_over(const std::vector<double>& values, const std::vector<int>& classes) {
  if (classes.empty()) throw InputError("mean_over: no classes to average over");
  double sum = 0.0;
  int defined = 0;
  for (int k : classes) {
    if (k < 0 || static_cast<std::size_t>(k) >= values.size()) {
      throw InputError("mean_over: class " + std::to_string(k) + " is outside [0, " +
                       std::to_string(values.size()) + ")");
    }
    const double v = values[static_cast<std::size_t>(k)];
    if (std::isnan(v)) continue;
    sum += v;
    ++defined;
  }
  return defined == 0 ? kUndefined : sum / defined;
}

std::vector<int> undefined_classes(const std::vector<double>& values) {
  std::vector<int> out;
  for (std::size_t k = 0; k < values.size(); ++k) {
    if (std::isnan(values[k])) out.push_back(static_cast<int>(k));
  }
  return out;
}

std::vector<int> minority_classes_of_profile(const std::vector<double>& profile, double fraction) {
  const std::size_t k = class_quota(profile.size(), fraction, "minority_classes");
  std::vector<int> order = class_order(profile.size());
  // Smallest count first; among equals the higher index (nearer the tail) first.
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    const double ca = profile[static_cast<std::size_t>(a)];
    const double cb = profile[static_cast<std::size_t>(b)];
    return ca != cb ? ca < cb : a > b;
  });
  return first_classes(std::move(order), k);
}

std::vector<int> majority_classes_of_profile(const std::vector<double>& profile, double fraction) {
  const std::size_t k = class_quota(profile.size(), fraction, "majority_classes");
  std::vector<int> order = class_order(profile.size());
  // Largest count first; among equals the lower index (nearer the head) first.
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    const double ca = profile[static_cast<std::size_t>(a)];
    const double cb = profile[static_cast<std::size_t>(b)];
    return ca != cb ? ca > cb : a < b;
  });
  return first_classes(std::move(order), k);
}

std::vector<int> minority_classes(const std::vector<std::int64_t>& train_counts, double fraction) {
  return minority_classes_of_profile(std::vector<double>(train_counts.begin(), train_counts.end()),
                                     fraction);
}

std::vector<int> majority_classes(const std::vector<std::int64_t>& train_counts, double fraction) {
  return majority_classes_of_profile(std::vector<double>(train_counts.begin(), train_counts.end()),
                                     fraction);
}

at::Tensor logit_adjust(const at::Tensor& logits, const at::Tensor& class_prior, double tau) {
  if (logits.dim() < 1) {
    throw InputError("logit_adjust: logits must have a class dimension [..., C], got a scalar");
  }
  if (class_prior.dim() != 1 || class_prior.size(0) != logits.size(-1)) {
    throw InputError("logit_adjust: class_prior must have shape [" +
                     std::to_string(logits.size(-1)) + "] to match logits of shape " +
                     shape_of(logits) + ", got shape " + shape_of(class_prior));
  }
  // The prior is tiny ([C]): normalise it in double on the CPU, where the checks are cheap.
  const at::Tensor prior = class_prior.to(at::kCPU, at::kDouble);
  if (!prior.isfinite().all().item<bool>() || (prior < 0).any().item<bool>()) {
    throw InputError("logit_adjust: class_prior entries must be finite and >= 0");
  }
  const double total = prior.sum().item<double>();
  if (!(total > 0.0)) throw InputError("logit_adjust: class_prior sums to 0");
  const at::Tensor log_prior = (prior / total).clamp_min(kPriorEpsilon).log();
  return logits - tau * log_prior.to(logits.device(), logits.scalar_type());
}

PerClassTable per_class_table(const Evaluation& eval, const std::vector<std::string>& class_names) {
  const ClassMetrics& m = eval.per_class;
  return {class_names, m.precision, m.recall, m.f1, m.support, m.predicted};
}

ConfusionTable confusion_table(const at::Tensor& confusion,
                               const std::vector<std::string>& class_names) {
  if (confusion.dim() != 2 || confusion.size(0) != confusion.size(1)) {
    throw InputError("confusion_table: the confusion matrix must be square [C, C], got shape " +
                     shape_of(confusion));
  }
  const at::Tensor counts = confusion.to(at::kCPU, at::kLong).contiguous();
  const auto matrix = counts.accessor<std::int64_t, 2>();
  ConfusionTable table;
  table.names = class_names;
  for (std::int64_t t = 0; t < counts.size(0); ++t) {
    std::vector<std::int64_t> row;
    for (std::int64_t p = 0; p < counts.size(1); ++p) row.push_back(matrix[t][p]);
    table.counts.push_back(std::move(row));
  }
  return table;
}

EvaluationFigures evaluation_figures(const Evaluation& eval) {
  return {eval.accuracy, eval.mean_recall, eval.mean_precision, eval.per_class.recall,
          eval.per_class.precision};
}

AccuracySummary summarize_accuracies(const std::vector<double>& series) {
  if (series.empty()) throw InputError("summarize_accuracies: the accuracy series is empty");
  AccuracySummary summary;
  summary.final_acc = series.back();
  const auto best = std::max_element(series.begin(), series.end());  // the first maximum
  summary.best = *best;
  summary.best_index = static_cast<std::int64_t>(best - series.begin());
  summary.median_last_1 = median_last(series, 1);
  summary.median_last_10 = median_last(series, 10);
  summary.median_last_20 = median_last(series, 20);
  summary.median_last_50 = median_last(series, 50);
  return summary;
}

}  // namespace crest
