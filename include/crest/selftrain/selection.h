// CReST's class-rebalancing selection (Wei et al. 2021, section 3.2; reference
// semisup.get_pseudo_label_list + cifar.get_split):
//   rank the classes by frequency, l = 1 the most frequent; the class ranked l keeps
//   mu_l = (N_{L+1-l} / N_1)^alpha of the unlabeled images predicted as it, the most confident
//   first: floor(n_l * mu_l) of them. The rarest class keeps everything, the head class
//   (N_L / N_1)^alpha.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <limits>
#include <vector>

namespace crest {

// mu_c for each class index c, from the class profile N (counts or an ideal profile, by class
// index). Classes are ranked by N descending, ties by class index.
std::vector<double> crest_rates(const std::vector<double>& profile, double alpha);

// The ideal long-tailed profile by class index: N_c proportional to (1/gamma)^(c/(L-1)).
std::vector<double> ideal_profile(int num_classes, double gamma);

struct Selection {
  // Per selected image, in selection order (class by class, most confident first):
  std::vector<std::int64_t> rows;    // row of the image in the predictions
  std::vector<std::int64_t> labels;  // predicted class (the pseudo-label)
  std::vector<double> confidences;   // max softmax probability
  // Per class:
  std::vector<double> rates;            // mu_c used
  std::vector<std::int64_t> predicted;  // images predicted as the class
  std::vector<std::int64_t> selected;   // floor(predicted * mu_c)
};

// Selects from `probs` [M, C] (softmax outputs of the EMA model, any device). Within a class,
// images are ordered by confidence descending and ties by row ascending, so the selection is
// deterministic. Classes nobody predicted select nothing.
Selection select_pseudo_labels(const at::Tensor& probs, const std::vector<double>& rates);

// How good a selection is, against the hidden true labels of the pool (for monitoring: the
// method never sees them). Per class c, indexed by the pseudo-label:
struct SelectionAccounting {
  std::vector<std::int64_t> correct;           // selected as c and truly c
  std::vector<std::int64_t> pool_true_counts;  // images of true class c in the pool
  std::vector<double> precision;               // correct / selected (0 when none selected)
  std::vector<double> recall;                  // correct / pool_true_counts (0 when none)
  std::int64_t correct_total = 0;
  double precision_total = 0.0;  // correct_total / images selected (0 when none)
};

// Accounts `selection` (made from the predictions of the pool's rows) against `pool_truth`, the
// true label of every row of the pool, in [0, num_classes). Throws InputError when a selected
// row is outside the pool or a label outside the classes.
SelectionAccounting account_selection(const Selection& selection,
                                      const std::vector<std::int64_t>& pool_truth, int num_classes);

// Where the pool's labels are unknown (images without labels), the selection's precision is
// estimated from held-out labeled images (#30): the EMA model's per-class precision on them
// stands in for the precision of the pseudo-labels of that class. It is an estimate: the
// held-out images follow the labeled set's class mix, not the pool's, and the selection keeps
// only the most confident predictions.
struct PrecisionEstimate {
  std::vector<double> precision;        // per class; NaN where no held-out image is predicted c
  std::vector<std::int64_t> predicted;  // held-out images predicted as c
  // sum_c selected_c p_c / sum_c selected_c over the classes with a selection and an estimate;
  // NaN when there is none.
  double weighted = std::numeric_limits<double>::quiet_NaN();
  std::vector<int> poor_classes;  // selected_c > 0 and p_c < the threshold
  bool poor = false;              // poor_classes is not empty, or weighted < the threshold
};

// The estimate from `heldout` (metrics/metrics.h evaluate_predictions on the held-out images:
// its precision and predicted per class) for a selection of `selected` images per class, poor
// below `threshold` (crest.min_pseudo_precision, in [0, 1]). InputError when the class counts
// disagree.
PrecisionEstimate estimate_selection_precision(const std::vector<double>& heldout_precision,
                                               const std::vector<std::int64_t>& heldout_predicted,
                                               const std::vector<std::int64_t>& selected,
                                               double threshold);

}  // namespace crest
