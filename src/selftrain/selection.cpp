#include "crest/selftrain/selection.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "crest/util/error.h"

namespace crest {

std::vector<double> crest_rates(const std::vector<double>& profile, double alpha) {
  const std::size_t classes = profile.size();
  if (classes == 0) throw InputError("crest_rates: the class profile is empty");
  for (double n : profile) {
    if (!(n > 0.0)) {
      throw InputError("crest_rates: every class needs a positive count in the profile (got " +
                       std::to_string(n) +
                       "); use crest.rate_profile=ideal or label every "
                       "class at least once");
    }
  }
  // order[l] = class index of rank l (0-based: most frequent first).
  std::vector<std::size_t> order(classes);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return profile[a] > profile[b]; });
  const double head = profile[order.front()];
  std::vector<double> rates(classes);
  for (std::size_t l = 0; l < classes; ++l) {
    // Rank l (1-based l+1) takes the count of rank L+1-(l+1) = L-l (1-based): order[L-1-l].
    const double mirrored = profile[order[classes - 1 - l]];
    rates[order[l]] = std::pow(mirrored / head, alpha);
  }
  return rates;
}

std::vector<double> ideal_profile(int num_classes, double gamma) {
  std::vector<double> profile(static_cast<std::size_t>(num_classes));
  for (int c = 0; c < num_classes; ++c) {
    const double exponent = num_classes == 1 ? 0.0 : c / (num_classes - 1.0);
    profile[static_cast<std::size_t>(c)] = std::pow(1.0 / gamma, exponent);
  }
  return profile;
}

Selection select_pseudo_labels(const at::Tensor& probs, const std::vector<double>& rates) {
  if (probs.dim() != 2 || probs.size(1) != static_cast<std::int64_t>(rates.size())) {
    throw InputError("select_pseudo_labels: probabilities must be [M, " +
                     std::to_string(rates.size()) + "]");
  }
  const auto classes = static_cast<std::size_t>(probs.size(1));
  const at::Tensor cpu = probs.to(at::kCPU, at::kDouble).contiguous();
  const auto [confidence_t, label_t] = cpu.max(1);
  const auto* confidence = confidence_t.data_ptr<double>();
  const auto* label = label_t.data_ptr<std::int64_t>();
  std::vector<std::vector<std::int64_t>> by_class(classes);
  for (std::int64_t row = 0; row < cpu.size(0); ++row) {
    by_class[static_cast<std::size_t>(label[row])].push_back(row);
  }
  Selection selection;
  selection.rates = rates;
  for (std::size_t c = 0; c < classes; ++c) {
    auto& rows = by_class[c];
    std::stable_sort(rows.begin(), rows.end(),
                     [&](std::int64_t a, std::int64_t b) { return confidence[a] > confidence[b]; });
    const auto predicted = static_cast<std::int64_t>(rows.size());
    // floor(n_c * mu_c), as the reference's int(len * rate).
    const auto keep =
        static_cast<std::int64_t>(std::floor(static_cast<double>(predicted) * rates[c]));
    selection.predicted.push_back(predicted);
    selection.selected.push_back(keep);
    for (std::int64_t k = 0; k < keep; ++k) {
      const std::int64_t row = rows[static_cast<std::size_t>(k)];
      selection.rows.push_back(row);
      selection.labels.push_back(static_cast<std::int64_t>(c));
      selection.confidences.push_back(confidence[row]);
    }
  }
  return selection;
}

SelectionAccounting account_selection(const Selection& selection,
                                      const std::vector<std::int64_t>& pool_truth,
                                      int num_classes) {
  const auto classes = static_cast<std::size_t>(num_classes);
  if (selection.selected.size() != classes) {
    throw InputError("account_selection: the selection has " +
                     std::to_string(selection.selected.size()) + " classes, expected " +
                     std::to_string(num_classes));
  }
  auto check_label = [&](std::int64_t label) {
    if (label < 0 || label >= num_classes) {
      throw InputError("account_selection: label " + std::to_string(label) + " is outside [0, " +
                       std::to_string(num_classes) + ")");
    }
    return static_cast<std::size_t>(label);
  };
  SelectionAccounting a;
  a.correct.assign(classes, 0);
  a.pool_true_counts.assign(classes, 0);
  for (std::int64_t truth : pool_truth) ++a.pool_true_counts[check_label(truth)];
  for (std::size_t k = 0; k < selection.rows.size(); ++k) {
    const std::int64_t row = selection.rows[k];
    if (row < 0 || static_cast<std::size_t>(row) >= pool_truth.size()) {
      throw InputError("account_selection: selected row " + std::to_string(row) +
                       " is outside the pool of " + std::to_string(pool_truth.size()));
    }
    const std::int64_t truth = pool_truth[static_cast<std::size_t>(row)];
    if (truth == selection.labels[k]) {
      ++a.correct[check_label(truth)];
      ++a.correct_total;
    }
  }
  for (std::size_t c = 0; c < classes; ++c) {
    a.precision.push_back(selection.selected[c] > 0 ? static_cast<double>(a.correct[c]) /
                                                          static_cast<double>(selection.selected[c])
                                                    : 0.0);
    a.recall.push_back(a.pool_true_counts[c] > 0 ? static_cast<double>(a.correct[c]) /
                                                       static_cast<double>(a.pool_true_counts[c])
                                                 : 0.0);
  }
  a.precision_total = selection.rows.empty() ? 0.0
                                             : static_cast<double>(a.correct_total) /
                                                   static_cast<double>(selection.rows.size());
  return a;
}

PrecisionEstimate estimate_selection_precision(const std::vector<double>& heldout_precision,
                                               const std::vector<std::int64_t>& heldout_predicted,
                                               const std::vector<std::int64_t>& selected,
                                               double threshold) {
  if (heldout_precision.size() != selected.size() || heldout_predicted.size() != selected.size()) {
    throw InputError("estimate_selection_precision: " + std::to_string(heldout_precision.size()) +
                     " held-out precisions and " + std::to_string(heldout_predicted.size()) +
                     " counts for " + std::to_string(selected.size()) + " classes");
  }
  PrecisionEstimate estimate;
  estimate.precision = heldout_precision;
  estimate.predicted = heldout_predicted;
  double sum = 0.0;
  std::int64_t weight = 0;
  for (std::size_t c = 0; c < selected.size(); ++c) {
    const double p = heldout_precision[c];
    if (selected[c] <= 0 || std::isnan(p)) continue;
    sum += static_cast<double>(selected[c]) * p;
    weight += selected[c];
    if (p < threshold) estimate.poor_classes.push_back(static_cast<int>(c));
  }
  if (weight > 0) estimate.weighted = sum / static_cast<double>(weight);
  estimate.poor = !estimate.poor_classes.empty() || (weight > 0 && estimate.weighted < threshold);
  return estimate;
}

}  // namespace crest
