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
// deterministic: every tie goes to the lower index. "Normalised" means each row divided by
// max(|row|, 1e-12), so a zero row stays zero (cosine 0 to everything). Every function throws
// std::invalid_argument on a NaN or infinite embedding (a diverged model) and on the other bad
// inputs its comment lists. tests/fixtures/knn_reference.py is a plain NumPy transcription that
// tests/unit/selftrain/knn_selection_test.cpp matches.
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
// similar to the class's normalised mean (the first anchor where the class's anchors cancel and
// the mean is zero), then repeatedly, among the anchors not yet seeds, the one with the largest
// distance 1 - cos to its nearest seed so far (so duplicated anchors still give k seeds). Then
// `iterations` Lloyd rounds (fewer when the assignment stops changing, which changes nothing):
// each anchor joins its most similar centre (ties: the lower centre), each centre becomes the
// normalised sum of its members (a cluster that is empty, or whose members' sum is shorter than
// 1e-12, keeps its centre). iterations 0 returns the seeds. A class without anchors has no
// centre; no anchors at all gives K = 0.
// `embeddings` float or double [A, D] (normalised here again), `labels` integer [A] in
// [0, num_classes). std::invalid_argument on shapes that disagree, a label out of range,
// num_classes < 1, clusters < 1 or iterations < 0.
KnnCentroids class_centroids(const at::Tensor& embeddings, const at::Tensor& labels,
                             int num_classes, int clusters, int iterations);

// Step 2 for every pool image.
struct KnnScores {
  std::vector<std::int64_t> labels;  // class of the most similar centre (ties: the lower centre)
  std::vector<double> similarities;  // cosine to that centre (its dot with the centre as given)
  std::vector<double> agreements;    // share of the k nearest anchors with that class
};

// `pool` float [M, D] and `anchors` float [A, D] (both normalised here), `anchor_labels` integer
// [A]; `centroids` as class_centroids returns them (centres used as given). k = min(neighbours,
// A) neighbours by cosine, ties to the lower anchor index. The pool goes through in chunks of at
// most 2048 rows and 2^23 similarities (64 MiB of float64); M = 0 gives empty vectors. Results
// are on the host. std::invalid_argument on shapes that disagree (centres [K, D] with K >= 1,
// classes [K]), no anchors or neighbours < 1.
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
// (descending), row (ascending), compared exactly. balanced: the quota is filled by taking each
// class's next best in class order, round after round, skipping classes with none left (a quota
// that runs out mid-round favours the lower classes); global: the best over all classes by the
// same ranking. Either way the result lists the selected class by class. `quota` >= 0 (more than
// the eligible images takes them all); an image is eligible when agreement >= min_agreement -
// 1e-9. std::invalid_argument on a negative quota, a label out of [0, num_classes),
// num_classes < 1, min_agreement outside [0, 1] (or NaN), a NaN score, or score vectors of
// different lengths.
KnnSelection select_knn(const KnnScores& scores, int num_classes, std::int64_t quota,
                        double min_agreement, KnnOrder order);

// The quota of round r (0-based) of R rounds for a pool of `pool` images of which `left` are
// still unlabeled: the last round (r = R - 1) takes `left`; otherwise `share` > 0 gives
// ceil(share * pool - 1e-9) (so that 0.07 * 100, 7.000000000000001 in float64, gives 7) and
// share 0 (auto) ceil(left / (R - r)); never more than `left`. std::invalid_argument unless
// R >= 1, 0 <= r < R, 0 <= left <= pool and share in [0, 1].
std::int64_t knn_round_quota(std::int64_t pool, std::int64_t left, int round, int rounds,
                             double share);

}  // namespace crest
