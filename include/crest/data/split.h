// The long-tailed training set and its labeled/unlabeled split.
//
// crest protocol (the CReST reference, after Cui et al.):
//   N_c = int(N_max * (1/gamma)^(c/(L-1))) for class c = 0..L-1 (class 0 the head);
//   the LT set keeps, per class, the first N_c of the class's indices shuffled by
//   RandomState(lt_seed) (classes in order, one stream);
//   the split seeds RandomState(fold), walks the classes in order, shuffles each class's
//   positions within the LT set and labels the first ceil(N_c * beta).
// as_is protocol: the labeled and unlabeled images exactly as given (no cut, no fraction).
// darp protocol (DARP, DASO, USB): labeled counts from N_1 and gamma_l, unlabeled counts from
//   M_1 and gamma_u (reversed when gamma_u < 0), N_i = int(N_1 * gamma^(-i/(L-1))) for
//   i < L-1 and int(N_1 / gamma) for the last class; per class, one RandomState(fold) shuffle
//   of the class's source indices, the first N_i labeled and the next M_i unlabeled.
// acr protocol (Gank0078/ACR and pywin/SeMi dataset/cifar.py: make_imb_data, train_split):
//   darp's counts, no shuffle: per class, in the source's order, the first N_i labeled and the
//   next M_i unlabeled. The reference's unlabeled set is the first N_i + M_i (the labeled images
//   too, targets -2); here `unlabeled` holds only the M_i, and the training's unlabeled stream
//   (the whole LT set under every protocol, selftrain/run_data.h) holds both.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "crest/config/config.h"
#include "crest/data/dataset.h"

namespace crest {

// N_c of the crest protocol; truncation toward zero as in the reference.
std::vector<std::int64_t> crest_lt_counts(std::int64_t n_max, int num_classes, double gamma);

// N_i of the darp and acr protocols (gamma >= 1): make_imb_data's
// int(N_1 * (1/gamma)^(i/(L-1))), the last class int(N_1 / gamma).
std::vector<std::int64_t> darp_counts(std::int64_t n_max, int num_classes, double gamma);

struct Split {
  // Indices into the source training set, ascending.
  std::vector<std::int64_t> lt_indices;  // the long-tailed training set
  std::vector<std::int64_t> labeled;     // its labeled part
  std::vector<std::int64_t> unlabeled;   // its unlabeled-only part
  // Per-class counts, indexed by label.
  std::vector<std::int64_t> lt_counts;
  std::vector<std::int64_t> labeled_counts;
  std::vector<std::int64_t> unlabeled_counts;  // of the unlabeled images whose label is known
  std::int64_t unlabeled_unknown = 0;          // unlabeled images without a known label

  // Whether every unlabeled image has a known (hidden) label, so that selections can be scored.
  bool unlabeled_truth_known() const { return unlabeled_unknown == 0; }
};

// gamma of the labeled set, the class profile behind crest.rate_profile ideal:
// data.imbalance_ratio (crest protocol) or data.imbalance_ratio_labeled (darp, acr); 0 for
// as_is, whose profile is always the measured labeled counts.
double labeled_imbalance_ratio(const DataConfig& data);

// max / min of per-class counts (the measured imbalance ratio); 0 when a class has none.
double measured_imbalance_ratio(const std::vector<std::int64_t>& counts);

// Builds the split of `labels` (int64 [N], values in [0, num_classes) or kUnknownLabel) as
// `data` configures. as_is: the images with a label are the labeled set, the others the
// unlabeled pool. crest, darp, acr: the protocol cuts the images with a label, which must come
// first; the images without one (a suffix of `labels`) are added to the unlabeled pool.
// Throws DataError when a class of the source is too small for the counts asked for.
Split build_split(const at::Tensor& labels, int num_classes, const DataConfig& data);

// The split without the source indices `drop` (from the labeled and the unlabeled part alike),
// its LT set and counts recomputed from `labels` (data.duplicates: drop).
void remove_from_split(Split& split, const std::vector<std::int64_t>& drop,
                       const at::Tensor& labels, int num_classes);

}  // namespace crest
