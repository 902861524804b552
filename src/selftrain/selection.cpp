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

}  // namespace crest
