#include "crest/selftrain/knn_selection.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

namespace crest {
namespace {

constexpr double kNormEps = 1e-12;      // rows shorter than this stay zero (as F.normalize)
constexpr double kAgreementTol = 1e-9;  // agreement >= min_agreement - kAgreementTol
constexpr double kQuotaTol = 1e-9;      // ceil(share * pool - kQuotaTol): 0.07 * 100 is 7
constexpr std::int64_t kChunkCells = std::int64_t{1} << 23;  // [rows, A] float64: 64 MiB
constexpr std::int64_t kMaxChunkRows = 2048;

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

// float64 copy with every row divided by max(|row|, kNormEps).
at::Tensor unit_rows(const at::Tensor& x) {
  const at::Tensor d = x.to(at::kDouble);
  return d / d.norm(2, {1}, true).clamp_min(kNormEps);
}

std::string shape_of(const at::Tensor& t) {
  std::string out = "[";
  for (std::int64_t i = 0; i < t.dim(); ++i) out += (i ? ", " : "") + std::to_string(t.size(i));
  return out + "]";
}

void require_finite(const at::Tensor& x, const std::string& what) {
  require(x.numel() == 0 || at::isfinite(x).all().item<bool>(),
          what + " hold a NaN or infinite value (did the training diverge?)");
}

// `labels` must be integral [rows]; with num_classes > 0, every value in [0, num_classes).
at::Tensor checked_labels(const at::Tensor& labels, std::int64_t rows, std::int64_t num_classes,
                          const std::string& what) {
  require(labels.dim() == 1 && labels.size(0) == rows &&
              at::isIntegralType(labels.scalar_type(), /*includeBool=*/false),
          what + ": labels must be integer [" + std::to_string(rows) + "], got " +
              std::string(labels.toString()) + " " + shape_of(labels));
  if (num_classes > 0 && labels.numel() > 0) {
    const std::int64_t low = labels.min().item<std::int64_t>();
    const std::int64_t high = labels.max().item<std::int64_t>();
    require(low >= 0 && high < num_classes, what + ": labels must lie in [0, " +
                                                std::to_string(num_classes) + "), got " +
                                                std::to_string(low < 0 ? low : high));
  }
  return labels.to(at::kLong);
}

// Farthest-point seeds of one class's unit rows `members` [n, D]: the row most similar to the
// normalised mean, then repeatedly the unchosen row least similar to its nearest seed (largest
// 1 - cos). argmax / argmin return the first index on ties.
at::Tensor farthest_point_seeds(const at::Tensor& members, std::int64_t k) {
  const at::Tensor mean = unit_rows(members.sum(0, true));
  std::int64_t seed = members.matmul(mean.t()).squeeze(1).argmax().item<std::int64_t>();
  std::vector<std::int64_t> seeds{seed};
  at::Tensor nearest = members.matmul(members[seed]);
  at::Tensor taken = at::zeros({members.size(0)}, members.options().dtype(at::kBool));
  while (static_cast<std::int64_t>(seeds.size()) < k) {
    taken[seed] = true;
    seed = nearest.masked_fill(taken, std::numeric_limits<double>::infinity())
               .argmin()
               .item<std::int64_t>();
    seeds.push_back(seed);
    nearest = at::maximum(nearest, members.matmul(members[seed]));
  }
  const at::Tensor index = at::tensor(seeds, at::kLong).to(members.device());
  return members.index_select(0, index);
}

// Lloyd rounds of the spherical k-means. The sums go through a one-hot matmul rather than
// index_add_, whose atomics on CUDA would make them order-dependent.
at::Tensor lloyd(const at::Tensor& members, at::Tensor centres, int iterations) {
  at::Tensor previous;
  for (int i = 0; i < iterations; ++i) {
    const at::Tensor assign = members.matmul(centres.t()).argmax(1);
    if (previous.defined() && at::equal(assign, previous)) break;
    const at::Tensor one_hot = at::one_hot(assign, centres.size(0)).to(at::kDouble);
    const at::Tensor sums = one_hot.t().matmul(members);
    const at::Tensor norms = sums.norm(2, {1}, true);
    centres = at::where(norms > kNormEps, sums / norms.clamp_min(kNormEps), centres);
    previous = assign;
  }
  return centres;
}

// Votes of each row's k most similar anchors under the tie rule itself: every anchor above the
// k-th largest similarity `kth` [m, 1], then the anchors equal to it in index order, as many as
// there is room for. `similarity` [m, A], `same` [m, A]: the anchor carries the row's label.
at::Tensor tied_votes(const at::Tensor& similarity, const at::Tensor& same, const at::Tensor& kth,
                      std::int64_t k) {
  const at::Tensor above = similarity > kth;
  const at::Tensor tied = similarity == kth;
  const at::Tensor room = k - above.sum(1, true);
  const at::Tensor first_tied = tied & (tied.cumsum(1, at::kInt) <= room);
  return ((above | first_tied) & same).sum(1);
}

// Share of each row's k most similar anchors (ties to the lower anchor index) whose label is
// the row's label. `similarity` [m, A], `anchor_labels` [A], `labels` [m]. Where the (k+1)-th
// largest similarity is below the k-th, topk's k indices are exactly the neighbours whatever its
// order among ties; only the rows with a tie across that boundary take tied_votes.
at::Tensor knn_agreement(const at::Tensor& similarity, const at::Tensor& anchor_labels,
                         const at::Tensor& labels, std::int64_t k) {
  const std::int64_t count = similarity.size(1);
  const auto [values, index] = similarity.topk(std::min(k + 1, count), 1, true, true);
  const at::Tensor neighbour_labels =
      anchor_labels.index_select(0, index.slice(1, 0, k).flatten()).view({-1, k});
  at::Tensor votes = (neighbour_labels == labels.unsqueeze(1)).sum(1);
  if (k < count) {
    const at::Tensor kth = values.select(1, k - 1);
    const at::Tensor rows = (values.select(1, k) == kth).nonzero().squeeze(1);
    if (rows.numel() > 0) {
      const at::Tensor same =
          anchor_labels.unsqueeze(0) == labels.index_select(0, rows).unsqueeze(1);
      votes.index_copy_(0, rows,
                        tied_votes(similarity.index_select(0, rows), same,
                                   kth.index_select(0, rows).unsqueeze(1), k));
    }
  }
  return votes.to(at::kDouble) / static_cast<double>(k);
}

template <typename T>
std::vector<T> to_vector(const at::Tensor& t) {
  const at::Tensor cpu = t.to(at::kCPU).contiguous();
  return std::vector<T>(cpu.data_ptr<T>(), cpu.data_ptr<T>() + cpu.numel());
}

void check_score_inputs(const at::Tensor& pool, const at::Tensor& anchors,
                        const KnnCentroids& centroids, int neighbours) {
  require(pool.dim() == 2 && anchors.dim() == 2 && pool.size(1) == anchors.size(1),
          "score_pool: pool [M, D] and anchors [A, D] must be 2-D with the same D, got " +
              shape_of(pool) + " and " + shape_of(anchors));
  require(anchors.size(0) > 0, "score_pool: no anchors (the labeled set is empty)");
  const at::Tensor& c = centroids.centres;
  require(c.defined() && c.dim() == 2 && c.size(0) > 0 && c.size(1) == anchors.size(1),
          "score_pool: centroids.centres must be [K >= 1, " + std::to_string(anchors.size(1)) +
              "], got " + (c.defined() ? shape_of(c) : std::string("none")));
  require(neighbours >= 1,
          "score_pool: neighbours must be at least 1, got " + std::to_string(neighbours));
  require_finite(pool, "score_pool: the pool's embeddings");
  require_finite(anchors, "score_pool: the anchors' embeddings");
  require_finite(c, "score_pool: the centres");
}

void check_select_inputs(const KnnScores& scores, int num_classes, std::int64_t quota,
                         double min_agreement) {
  const std::size_t m = scores.labels.size();
  require(scores.similarities.size() == m && scores.agreements.size() == m,
          "select_knn: labels, similarities and agreements must have one entry per pool image, "
          "got " +
              std::to_string(m) + ", " + std::to_string(scores.similarities.size()) + " and " +
              std::to_string(scores.agreements.size()));
  require(num_classes >= 1,
          "select_knn: num_classes must be at least 1, got " + std::to_string(num_classes));
  require(quota >= 0, "select_knn: the quota must be >= 0, got " + std::to_string(quota));
  require(min_agreement >= 0.0 && min_agreement <= 1.0,
          "select_knn: min_agreement must lie in [0, 1], got " + std::to_string(min_agreement));
  for (std::size_t row = 0; row < m; ++row) {
    const std::int64_t label = scores.labels[row];
    require(label >= 0 && label < num_classes,
            "select_knn: the label of pool row " + std::to_string(row) + " is " +
                std::to_string(label) + ", outside [0, " + std::to_string(num_classes) + ")");
    require(!std::isnan(scores.agreements[row]) && !std::isnan(scores.similarities[row]),
            "select_knn: pool row " + std::to_string(row) + " has a NaN score");
  }
}

// How many of each class's ranked eligible images the quota takes.
std::vector<std::int64_t> takes_balanced(const std::vector<std::vector<std::int64_t>>& ranked,
                                         std::int64_t quota) {
  std::vector<std::int64_t> take(ranked.size(), 0);
  bool progressed = true;
  while (quota > 0 && progressed) {
    progressed = false;
    for (std::size_t c = 0; c < ranked.size() && quota > 0; ++c) {
      if (take[c] < static_cast<std::int64_t>(ranked[c].size())) {
        ++take[c];
        --quota;
        progressed = true;
      }
    }
  }
  return take;
}

template <typename Better>
std::vector<std::int64_t> takes_global(const std::vector<std::vector<std::int64_t>>& ranked,
                                       const KnnScores& scores, std::int64_t quota, Better better) {
  std::vector<std::int64_t> all;
  for (const auto& rows : ranked) all.insert(all.end(), rows.begin(), rows.end());
  std::sort(all.begin(), all.end(), better);
  all.resize(static_cast<std::size_t>(std::min<std::int64_t>(quota, all.size())));
  std::vector<std::int64_t> take(ranked.size(), 0);
  for (std::int64_t row : all) ++take[static_cast<std::size_t>(scores.labels[row])];
  return take;
}

double mean_or_nan(double sum, std::int64_t n) {
  return n == 0 ? std::numeric_limits<double>::quiet_NaN() : sum / static_cast<double>(n);
}

}  // namespace

KnnCentroids class_centroids(const at::Tensor& embeddings, const at::Tensor& labels,
                             int num_classes, int clusters, int iterations) {
  require(embeddings.dim() == 2, "class_centroids: embeddings must be [A, D], got " +
                                     std::to_string(embeddings.dim()) + "-D");
  require(num_classes >= 1,
          "class_centroids: num_classes must be at least 1, got " + std::to_string(num_classes));
  require(clusters >= 1,
          "class_centroids: clusters must be at least 1, got " + std::to_string(clusters));
  require(iterations >= 0,
          "class_centroids: iterations must be at least 0, got " + std::to_string(iterations));
  require_finite(embeddings, "class_centroids: the embeddings");
  const at::Tensor x = unit_rows(embeddings);
  const at::Tensor y =
      checked_labels(labels, embeddings.size(0), num_classes, "class_centroids").to(x.device());
  std::vector<at::Tensor> centres;
  std::vector<std::int64_t> classes;
  for (int c = 0; c < num_classes; ++c) {
    const at::Tensor members = x.index_select(0, (y == c).nonzero().squeeze(1));
    if (members.size(0) == 0) continue;
    const std::int64_t k = std::min<std::int64_t>(clusters, members.size(0));
    centres.push_back(lloyd(members, farthest_point_seeds(members, k), iterations));
    classes.insert(classes.end(), static_cast<std::size_t>(k), c);
  }
  KnnCentroids out;
  out.centres = centres.empty() ? at::zeros({0, x.size(1)}, x.options()) : at::cat(centres);
  out.classes = at::tensor(classes, at::kLong).to(x.device());
  return out;
}

KnnScores score_pool(const at::Tensor& pool, const at::Tensor& anchors,
                     const at::Tensor& anchor_labels, const KnnCentroids& centroids,
                     int neighbours) {
  check_score_inputs(pool, anchors, centroids, neighbours);
  const std::int64_t count = anchors.size(0);
  const at::Device device = pool.device();
  const at::Tensor a = unit_rows(anchors.to(device));
  const at::Tensor a_labels = checked_labels(anchor_labels, count, 0, "score_pool").to(device);
  const at::Tensor centres = centroids.centres.to(device, at::kDouble);
  const at::Tensor centre_classes =
      checked_labels(centroids.classes, centres.size(0), 0, "score_pool (centroids.classes)")
          .to(device);
  const std::int64_t k = std::min<std::int64_t>(neighbours, count);
  const std::int64_t chunk = std::clamp<std::int64_t>(kChunkCells / count, 1, kMaxChunkRows);
  std::vector<at::Tensor> labels, similarities, agreements;
  for (std::int64_t start = 0; start < pool.size(0); start += chunk) {
    const at::Tensor rows = unit_rows(pool.slice(0, start, start + chunk));
    const at::Tensor to_centres = rows.matmul(centres.t());
    const at::Tensor nearest = to_centres.argmax(1, true);  // the first on ties
    similarities.push_back(to_centres.gather(1, nearest).squeeze(1));
    labels.push_back(centre_classes.index_select(0, nearest.squeeze(1)));
    agreements.push_back(knn_agreement(rows.matmul(a.t()), a_labels, labels.back(), k));
  }
  KnnScores out;
  if (labels.empty()) return out;
  out.labels = to_vector<std::int64_t>(at::cat(labels));
  out.similarities = to_vector<double>(at::cat(similarities));
  out.agreements = to_vector<double>(at::cat(agreements));
  return out;
}

KnnSelection select_knn(const KnnScores& scores, int num_classes, std::int64_t quota,
                        double min_agreement, KnnOrder order) {
  check_select_inputs(scores, num_classes, quota, min_agreement);
  const auto classes = static_cast<std::size_t>(num_classes);
  KnnSelection out;
  out.assigned.assign(classes, 0);
  std::vector<std::vector<std::int64_t>> ranked(classes);
  for (std::size_t row = 0; row < scores.labels.size(); ++row) {
    const auto c = static_cast<std::size_t>(scores.labels[row]);
    ++out.assigned[c];
    if (scores.agreements[row] >= min_agreement - kAgreementTol) {
      ranked[c].push_back(static_cast<std::int64_t>(row));
    }
  }
  // Agreement, then similarity (descending), then row (ascending): a strict total order.
  const auto better = [&scores](std::int64_t a, std::int64_t b) {
    const auto i = static_cast<std::size_t>(a), j = static_cast<std::size_t>(b);
    if (scores.agreements[i] != scores.agreements[j]) {
      return scores.agreements[i] > scores.agreements[j];
    }
    if (scores.similarities[i] != scores.similarities[j]) {
      return scores.similarities[i] > scores.similarities[j];
    }
    return a < b;
  };
  for (auto& rows : ranked) std::sort(rows.begin(), rows.end(), better);
  const std::vector<std::int64_t> take = order == KnnOrder::kBalanced
                                             ? takes_balanced(ranked, quota)
                                             : takes_global(ranked, scores, quota, better);
  for (std::size_t c = 0; c < classes; ++c) {
    out.eligible.push_back(static_cast<std::int64_t>(ranked[c].size()));
    out.selected.push_back(take[c]);
    double agreement_sum = 0.0, distance_sum = 0.0;
    for (std::int64_t n = 0; n < take[c]; ++n) {
      const std::int64_t row = ranked[c][static_cast<std::size_t>(n)];
      const auto i = static_cast<std::size_t>(row);
      out.rows.push_back(row);
      out.labels.push_back(static_cast<std::int64_t>(c));
      out.agreements.push_back(scores.agreements[i]);
      out.distances.push_back(1.0 - scores.similarities[i]);
      agreement_sum += scores.agreements[i];
      distance_sum += out.distances.back();
    }
    out.mean_agreement.push_back(mean_or_nan(agreement_sum, take[c]));
    out.mean_distance.push_back(mean_or_nan(distance_sum, take[c]));
  }
  return out;
}

std::int64_t knn_round_quota(std::int64_t pool, std::int64_t left, int round, int rounds,
                             double share) {
  require(rounds >= 1 && round >= 0 && round < rounds,
          "knn_round_quota: round " + std::to_string(round) + " of " + std::to_string(rounds) +
              " rounds: need 0 <= round < rounds");
  require(pool >= 0 && left >= 0 && left <= pool,
          "knn_round_quota: need 0 <= left <= pool, got left " + std::to_string(left) +
              " of a pool of " + std::to_string(pool));
  require(share >= 0.0 && share <= 1.0,
          "knn_round_quota: share must lie in [0, 1], got " + std::to_string(share));
  if (round == rounds - 1) return left;
  if (share > 0.0) {
    const double wanted = std::ceil(share * static_cast<double>(pool) - kQuotaTol);
    return std::min<std::int64_t>(left, static_cast<std::int64_t>(std::max(wanted, 0.0)));
  }
  const std::int64_t rounds_left = rounds - round;
  return (left + rounds_left - 1) / rounds_left;  // already <= left
}

}  // namespace crest
