// DML-PL's pseudo-labelling (crest.selection: knn; Yan, Hui and Li, Information Sciences 626,
// 2023). The paper's abstract says only "clustering the labeled data and selecting nearest
// neighbours"; with no public code, every rule below is crest's choice (docs/methods.md,
// "DML-PL"), each behind a crest.knn_* key:
//   1. the anchors (the labeled images; with crest.knn_anchors all, also the images
//      pseudo-labeled in earlier rounds) are clustered class by class with a spherical k-means
//      of min(crest.knn_clusters, n_c) clusters on their unit-length embeddings;
//   2. every unlabeled image takes the class of its most similar cluster centre (cosine), and
//      its agreement is the share of its crest.knn_neighbours most similar anchors that carry
//      that class;
//   3. images whose agreement reaches crest.knn_agreement are eligible; a round takes at most
//      its quota of them, round-robin over the classes (crest.knn_order balanced) or by score
//      (global). The caller makes the last round take every image left (quota = pool, agreement
//      0), so that the last generation trains on every unlabeled image.
// Everything is computed in float64 on the embeddings' device, in chunks of the pool, and is
// deterministic: every tie goes to the lower index. tests/fixtures/knn_reference.py is a plain
// NumPy transcription that tests/unit/selftrain/knn_selection_test.cpp matches.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "crest/config/choices.h"

namespace crest {

// The cluster centres of step 1.
struct KnnCentroids {
  at::Tensor centres;  // float64 [K, D], unit length, class by class (class 0's clusters first)
  at::Tensor classes;  // int64 [K]: the class of each centre
};

// Step 1: per class c with n_c anchors, k = min(clusters, n_c) centres. Seeds: the anchor most
// similar to the class's normalised mean, then repeatedly the anchor with the largest distance
// 1 - cos to its nearest seed so far. Then `iterations` Lloyd rounds (fewer when the assignment
// stops changing): each anchor joins its most similar centre, each centre becomes the normalised
// sum of its members (an empty cluster keeps its centre). A class without anchors has no centre.
// `embeddings` float [A, D] (normalised here again), `labels` int64 [A] in [0, num_classes).
// std::invalid_argument on shapes that disagree, a label out of range or clusters < 1.
KnnCentroids class_centroids(const at::Tensor& embeddings, const at::Tensor& labels,
                             int num_classes, int clusters, int iterations);

// Step 2 for every pool image.
struct KnnScores {
  std::vector<std::int64_t> labels;  // class of the most similar centre
  std::vector<double> similarities;  // cosine to that centre
  std::vector<double> agreements;    // share of the k nearest anchors with that class
};

// `pool` float [M, D] and `anchors` float [A, D] (both normalised here), `anchor_labels` int64
// [A]; k = min(neighbours, A) neighbours by cosine, ties to the lower anchor index.
// std::invalid_argument on shapes that disagree or no anchors.
KnnScores score_pool(const at::Tensor& pool, const at::Tensor& anchors,
                     const at::Tensor& anchor_labels, const KnnCentroids& centroids,
                     int neighbours);

// One round's selection.
struct KnnSelection {
  // Per selected image, class by class (class 0 first), best first within a class:
  std::vector<std::int64_t> rows;    // row of the image in the pool
  std::vector<std::int64_t> labels;  // its pseudo-label
  std::vector<double> agreements;
  std::vector<double> distances;  // 1 - cosine to the centre of its class
  // Per class:
  std::vector<std::int64_t> assigned;  // pool images whose nearest centre is of the class
  std::vector<std::int64_t> eligible;  // of those, agreement >= min_agreement
  std::vector<std::int64_t> selected;
  std::vector<double> mean_agreement;  // over the selected; NaN when none
  std::vector<double> mean_distance;   // over the selected; NaN when none
};

// Step 3. Within a class the eligible images rank by agreement (descending), similarity
// (descending), row (ascending). balanced: the quota is filled by taking each class's next best
// in class order, round after round, skipping classes with none left; global: the best over all
// classes by the same ranking. `quota` >= 0 (more than the eligible images takes them all);
// min_agreement in [0, 1] (compared with a tolerance of 1e-9). std::invalid_argument on a
// negative quota or a label out of range.
KnnSelection select_knn(const KnnScores& scores, int num_classes, std::int64_t quota,
                        double min_agreement, KnnOrder order);

// The quota of round r (0-based) of R rounds for a pool of `pool` images of which `left` are
// still unlabeled: the last round (r = R - 1) takes `left`; otherwise `share` > 0 gives
// ceil(share * pool) and share 0 (auto) ceil(left / (R - r)); never more than `left`.
std::int64_t knn_round_quota(std::int64_t pool, std::int64_t left, int round, int rounds,
                             double share);

}  // namespace crest
