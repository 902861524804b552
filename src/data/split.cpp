#include "crest/data/split.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <utility>

#include "crest/config/protocol_default.h"
#include "crest/data/numpy_random.h"
#include "crest/util/error.h"

namespace crest {

namespace {

// Source indices of each class, ascending.
std::vector<std::vector<std::int64_t>> indices_by_class(const at::Tensor& labels, int num_classes) {
  std::vector<std::vector<std::int64_t>> by_class(static_cast<std::size_t>(num_classes));
  const at::Tensor cpu = labels.to(at::kCPU, at::kLong).contiguous();
  const auto* data = cpu.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < cpu.numel(); ++i) {
    if (data[i] < 0 || data[i] >= num_classes) {
      throw DataError("training label " + std::to_string(data[i]) + " at index " +
                      std::to_string(i) + " is out of range for " + std::to_string(num_classes) +
                      " classes");
    }
    by_class[static_cast<std::size_t>(data[i])].push_back(i);
  }
  return by_class;
}

void check_available(const std::vector<std::vector<std::int64_t>>& by_class,
                     const std::vector<std::int64_t>& wanted, const std::string& what,
                     const DataConfig& data) {
  for (std::size_t c = 0; c < wanted.size(); ++c) {
    const auto have = static_cast<std::int64_t>(by_class[c].size());
    if (wanted[c] > have) {
      throw DataError("class " + std::to_string(c) + " has " + std::to_string(have) +
                      " training images but " + what + " needs " + std::to_string(wanted[c]) +
                      "; lower the counts (data.max_per_class, data.num_labeled_head, "
                      "data.num_unlabeled_head) or use a larger dataset; " +
                      protocol_hint(data));
    }
  }
}

void finish(Split& split, int num_classes, const at::Tensor& labels) {
  std::sort(split.labeled.begin(), split.labeled.end());
  std::sort(split.unlabeled.begin(), split.unlabeled.end());
  split.lt_indices = split.labeled;
  split.lt_indices.insert(split.lt_indices.end(), split.unlabeled.begin(), split.unlabeled.end());
  std::sort(split.lt_indices.begin(), split.lt_indices.end());
  const at::Tensor cpu = labels.to(at::kCPU, at::kLong).contiguous();
  const auto* data = cpu.data_ptr<std::int64_t>();
  auto count = [&](const std::vector<std::int64_t>& indices) {
    std::vector<std::int64_t> counts(static_cast<std::size_t>(num_classes), 0);
    for (std::int64_t i : indices) {
      if (data[i] != kUnknownLabel) ++counts[static_cast<std::size_t>(data[i])];
    }
    return counts;
  };
  split.lt_counts = count(split.lt_indices);
  split.labeled_counts = count(split.labeled);
  split.unlabeled_counts = count(split.unlabeled);
  split.unlabeled_unknown = static_cast<std::int64_t>(
      std::count_if(split.unlabeled.begin(), split.unlabeled.end(),
                    [&](std::int64_t i) { return data[i] == kUnknownLabel; }));
}

// as_is: every image with a label is labeled, every image without one is unlabeled.
Split build_as_is_split(const at::Tensor& labels, int num_classes) {
  const at::Tensor cpu = labels.to(at::kCPU, at::kLong).contiguous();
  const auto* data = cpu.data_ptr<std::int64_t>();
  Split split;
  for (std::int64_t i = 0; i < cpu.numel(); ++i) {
    (data[i] == kUnknownLabel ? split.unlabeled : split.labeled).push_back(i);
  }
  finish(split, num_classes, labels);
  return split;
}

Split build_crest_split(const at::Tensor& labels, int num_classes, const DataConfig& data) {
  auto by_class = indices_by_class(labels, num_classes);
  std::int64_t n_max = data.max_per_class;
  if (n_max == 0) {
    n_max = static_cast<std::int64_t>(by_class[0].size());
    for (const auto& indices : by_class) {
      n_max = std::min(n_max, static_cast<std::int64_t>(indices.size()));
    }
    if (n_max == 0) {
      throw DataError(
          "a class of the training set has no images, so N_max (the smallest "
          "class) is 0; set data.max_per_class or use a dataset with every class; " +
          protocol_hint(data));
    }
  }
  const std::vector<std::int64_t> counts =
      crest_lt_counts(n_max, num_classes, data.imbalance_ratio);
  check_available(by_class, counts, "the long-tailed set (N_max = " + std::to_string(n_max) + ")",
                  data);

  // Which images each class keeps: one RandomState(lt_seed) stream over the classes in order.
  NumpyRandomState lt_rng(static_cast<std::uint32_t>(data.lt_seed));
  std::vector<std::vector<std::int64_t>> kept(by_class.size());
  for (std::size_t c = 0; c < by_class.size(); ++c) {
    std::vector<std::int64_t> indices = by_class[c];
    lt_rng.shuffle(indices);
    indices.resize(static_cast<std::size_t>(counts[c]));
    std::sort(indices.begin(), indices.end());
    kept[c] = std::move(indices);
  }

  // The split as the reference's get_split: positions within the LT set, grouped by class in
  // order of appearance, one shuffle per class from RandomState(fold).
  std::vector<std::int64_t> lt_set;
  for (const auto& indices : kept) lt_set.insert(lt_set.end(), indices.begin(), indices.end());
  std::sort(lt_set.begin(), lt_set.end());
  const at::Tensor cpu = labels.to(at::kCPU, at::kLong).contiguous();
  const auto* label = cpu.data_ptr<std::int64_t>();
  std::vector<std::vector<std::int64_t>> positions(by_class.size());
  for (std::size_t p = 0; p < lt_set.size(); ++p) {
    positions[static_cast<std::size_t>(label[lt_set[p]])].push_back(static_cast<std::int64_t>(p));
  }
  NumpyRandomState split_rng(static_cast<std::uint32_t>(data.fold));
  Split split;
  for (auto& class_positions : positions) {
    split_rng.shuffle(class_positions);
    // ceil(N_c * beta) as the reference computes it, in double precision.
    const auto n_labeled = static_cast<std::size_t>(
        std::ceil(static_cast<double>(class_positions.size()) * data.label_fraction));
    for (std::size_t k = 0; k < class_positions.size(); ++k) {
      const std::int64_t index = lt_set[static_cast<std::size_t>(class_positions[k])];
      (k < n_labeled ? split.labeled : split.unlabeled).push_back(index);
    }
  }
  finish(split, num_classes, labels);
  return split;
}

// N_i and M_i of the darp and acr protocols: M_i reversed when gamma_u < 0.
std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> darp_class_counts(
    int num_classes, const DataConfig& data) {
  std::vector<std::int64_t> n_labeled =
      darp_counts(data.num_labeled_head, num_classes, data.imbalance_ratio_labeled);
  std::vector<std::int64_t> n_unlabeled =
      darp_counts(data.num_unlabeled_head, num_classes, std::fabs(data.imbalance_ratio_unlabeled));
  if (data.imbalance_ratio_unlabeled < 0) std::reverse(n_unlabeled.begin(), n_unlabeled.end());
  return {n_labeled, n_unlabeled};
}

Split build_darp_split(const at::Tensor& labels, int num_classes, const DataConfig& data) {
  auto by_class = indices_by_class(labels, num_classes);
  const auto [n_labeled, n_unlabeled] = darp_class_counts(num_classes, data);
  std::vector<std::int64_t> total(n_labeled.size());
  for (std::size_t c = 0; c < total.size(); ++c) total[c] = n_labeled[c] + n_unlabeled[c];
  check_available(by_class, total, "the darp protocol (labeled + unlabeled)", data);

  NumpyRandomState rng(static_cast<std::uint32_t>(data.fold));
  Split split;
  for (std::size_t c = 0; c < by_class.size(); ++c) {
    std::vector<std::int64_t> indices = by_class[c];
    rng.shuffle(indices);
    const auto nl = static_cast<std::size_t>(n_labeled[c]);
    const auto nu = static_cast<std::size_t>(n_unlabeled[c]);
    split.labeled.insert(split.labeled.end(), indices.begin(), indices.begin() + nl);
    split.unlabeled.insert(split.unlabeled.end(), indices.begin() + nl, indices.begin() + nl + nu);
  }
  finish(split, num_classes, labels);
  return split;
}

// train_split of ACR and SeMi (dataset/cifar.py): the same counts as darp, but each class's
// images taken in the source's order (idxs[:N_i] labeled, idxs[N_i:N_i + M_i] the rest of the
// reference's unlabeled set idxs[:N_i + M_i]); the fold is not used.
Split build_acr_split(const at::Tensor& labels, int num_classes, const DataConfig& data) {
  const auto by_class = indices_by_class(labels, num_classes);
  const auto [n_labeled, n_unlabeled] = darp_class_counts(num_classes, data);
  std::vector<std::int64_t> total(n_labeled.size());
  for (std::size_t c = 0; c < total.size(); ++c) total[c] = n_labeled[c] + n_unlabeled[c];
  check_available(by_class, total, "the acr protocol (labeled + unlabeled)", data);
  Split split;
  for (std::size_t c = 0; c < by_class.size(); ++c) {
    const auto& indices = by_class[c];
    const auto nl = static_cast<std::ptrdiff_t>(n_labeled[c]);
    const auto nu = static_cast<std::ptrdiff_t>(n_unlabeled[c]);
    split.labeled.insert(split.labeled.end(), indices.begin(), indices.begin() + nl);
    split.unlabeled.insert(split.unlabeled.end(), indices.begin() + nl, indices.begin() + nl + nu);
  }
  finish(split, num_classes, labels);
  return split;
}

}  // namespace

std::vector<std::int64_t> crest_lt_counts(std::int64_t n_max, int num_classes, double gamma) {
  if (num_classes < 1) throw InputError("a long-tailed set needs at least one class");
  std::vector<std::int64_t> counts(static_cast<std::size_t>(num_classes));
  const double r = 1.0 / gamma;
  for (int c = 0; c < num_classes; ++c) {
    const double exponent = num_classes == 1 ? 0.0 : c / (num_classes - 1.0);
    counts[static_cast<std::size_t>(c)] =
        static_cast<std::int64_t>(static_cast<double>(n_max) * std::pow(r, exponent));
  }
  return counts;
}

std::vector<std::int64_t> darp_counts(std::int64_t n_max, int num_classes, double gamma) {
  if (num_classes < 1) throw InputError("a long-tailed set needs at least one class");
  std::vector<std::int64_t> counts(static_cast<std::size_t>(num_classes));
  const double mu = num_classes == 1 ? 1.0 : std::pow(1.0 / gamma, 1.0 / (num_classes - 1));
  for (int i = 0; i < num_classes; ++i) {
    const double n = (i == num_classes - 1 && num_classes > 1)
                         ? static_cast<double>(n_max) / gamma
                         : static_cast<double>(n_max) * std::pow(mu, i);
    counts[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(n);
  }
  return counts;
}

double labeled_imbalance_ratio(const DataConfig& data) {
  switch (data.protocol) {
    case SplitProtocol::kCrest:
      return data.imbalance_ratio;
    case SplitProtocol::kDarp:
    case SplitProtocol::kAcr:
      return data.imbalance_ratio_labeled;
    case SplitProtocol::kAsIs:
      return 0.0;
  }
  return data.imbalance_ratio;
}

double measured_imbalance_ratio(const std::vector<std::int64_t>& counts) {
  if (counts.empty()) return 0.0;
  const auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
  return *lo == 0 ? 0.0 : static_cast<double>(*hi) / static_cast<double>(*lo);
}

void remove_from_split(Split& split, const std::vector<std::int64_t>& drop,
                       const at::Tensor& labels, int num_classes) {
  std::vector<std::int64_t> sorted = drop;
  std::sort(sorted.begin(), sorted.end());
  const auto dropped = [&](std::int64_t i) {
    return std::binary_search(sorted.begin(), sorted.end(), i);
  };
  for (auto* part : {&split.labeled, &split.unlabeled}) {
    part->erase(std::remove_if(part->begin(), part->end(), dropped), part->end());
  }
  finish(split, num_classes, labels);
}

Split build_split(const at::Tensor& labels, int num_classes, const DataConfig& data) {
  if (data.protocol == SplitProtocol::kAsIs) return build_as_is_split(labels, num_classes);
  // The crest, darp and acr protocols cut the labeled images; images without a label (a suffix)
  // join the unlabeled pool as they are.
  const at::Tensor cpu = labels.to(at::kCPU, at::kLong).contiguous();
  const auto* data_ptr = cpu.data_ptr<std::int64_t>();
  std::int64_t known = cpu.numel();
  while (known > 0 && data_ptr[known - 1] == kUnknownLabel) --known;
  const at::Tensor known_labels = cpu.slice(0, 0, known);
  Split split;
  switch (data.protocol) {
    case SplitProtocol::kCrest:
      split = build_crest_split(known_labels, num_classes, data);
      break;
    case SplitProtocol::kDarp:
      split = build_darp_split(known_labels, num_classes, data);
      break;
    case SplitProtocol::kAcr:
      split = build_acr_split(known_labels, num_classes, data);
      break;
    case SplitProtocol::kAsIs:
      break;
  }
  if (known == cpu.numel()) return split;
  for (std::int64_t i = known; i < cpu.numel(); ++i) split.unlabeled.push_back(i);
  finish(split, num_classes, cpu);
  return split;
}

}  // namespace crest
