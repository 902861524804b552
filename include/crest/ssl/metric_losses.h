// The metric losses of DML-PL (train.algorithm dmlpl; docs/methods.md, "DML-PL: the learner") on
// a batch of embeddings and their labels. DML-PL's paper (Yan, Hui and Li, Information Sciences
// 626, 2023) publishes no code: both losses and their settings are crest's choices
// (dmlpl.metric_loss, dmlpl.margin, dmlpl.temperature). Pure functions of their inputs, computed
// in float32 whatever the embeddings' dtype, with no host synchronisation (masks and where, no
// .item() and no data-dependent shapes), so that a step using them can be captured as a CUDA
// graph. tests/fixtures/dmlpl_reference.py transcribes both from the formulas below with loops.
#pragma once

#include <ATen/ATen.h>

#include "crest/config/config.h"

namespace crest {

// Batch-hard triplet loss (Hermans, Beyer and Leibe 2017, "In Defense of the Triplet Loss for
// Person Re-Identification", eq. 5 with a hinge):
//   d_ij = sqrt(max(||e_i - e_j||^2, 1e-12))   (the clamp keeps the gradient finite at d = 0)
//   d_ap(i) = max_{j != i, y_j = y_i} d_ij      (hardest positive)
//   d_an(i) = min_{j: y_j != y_i} d_ij          (hardest negative)
//   loss = mean over anchors i that have a positive and a negative of
//          max(0, d_ap(i) - d_an(i) + margin)
// embeddings float [N, D] (unit length in DML-PL: distances in [0, 2]), labels int64 [N];
// margin >= 0. Returns a scalar; 0 (still attached to the graph, zero gradient) when no anchor
// has both a positive and a negative (N < 2, one class only, or every class of one image).
at::Tensor batch_hard_triplet_loss(const at::Tensor& embeddings, const at::Tensor& labels,
                                   double margin);

// Supervised contrastive loss, one view per image (Khosla et al. 2020, "Supervised Contrastive
// Learning", L_out, eq. 2, without the temperature / base_temperature factor of their code):
//   s_ia = e_i . e_a / temperature
//   P(i) = {p != i: y_p = y_i}
//   loss_i = -1/|P(i)| sum_{p in P(i)} log( exp(s_ip) / sum_{a != i} exp(s_ia) )
//   loss = mean over anchors with |P(i)| > 0
// Each row's denominator is taken after subtracting the row's maximum over a != i (no overflow
// for small temperatures). embeddings float [N, D] (unit length), labels int64 [N];
// temperature > 0. Returns a scalar; 0 (attached to the graph) when no anchor has a positive
// (N = 0 included).
at::Tensor supervised_contrastive_loss(const at::Tensor& embeddings, const at::Tensor& labels,
                                       double temperature);

// The loss dmlpl.metric_loss names with its setting (dmlpl.margin or dmlpl.temperature).
at::Tensor dmlpl_metric_loss(const at::Tensor& embeddings, const at::Tensor& labels,
                             const DmlplConfig& config);

}  // namespace crest
