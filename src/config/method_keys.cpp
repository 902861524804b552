// The key tables of the learners' own sections (config_keys.h, method_keys): one section per
// method beside FixMatch and MixMatch, each key named after the reference's flag.
#include <utility>

#include "config_keys.h"
#include "key_rules.h"

namespace crest::config_detail {

namespace {

// acr.*: Gank0078/ACR train.py's flags (docs/methods.md, "ACR").
std::vector<Field> acr_keys() {
  return {
      CREST_KEY("acr.tau1", acr.tau1,
                "acr: tau_max (--tau1) of the adaptive adjustment log(p_l^tau + 1e-12) of the "
                "standard head's pseudo-labels, tau = tau1 * e^d_con / (e^d_con + e^d_uni + "
                "e^d_rev), d the last epoch's mean symmetric KL divergences of the estimate from "
                "the labeled, uniform and reversed distributions; tau1 until the first estimate.",
                between(0, 10)),
      CREST_KEY("acr.tau12", acr.tau12,
                "acr: adjustment strength (--tau12) of the balanced head's pseudo-labels, taken "
                "from the standard head's weak logits.",
                between(0, 10)),
      CREST_KEY("acr.tau2", acr.tau2,
                "acr: logit adjustment (--tau2) inside the balanced head's labeled "
                "cross-entropy, CE(z_b + tau2 * log p_l, y).",
                between(0, 10)),
      CREST_KEY("acr.temperature", acr.temperature,
                "acr: softmax temperature T of every pseudo-label (--T; 1 = none).",
                above_at_most(0, 100)),
      CREST_KEY("acr.est_epoch", acr.est_epoch,
                "acr: epochs (train.steps_per_epoch steps each, counted from each generation's "
                "start) before the unlabeled class distribution is estimated (--est-epoch); the "
                "adaptive tau changes at the start of every later epoch.",
                between(0, 1 << 20)),
      CREST_KEY("acr.ema_u", acr.ema_u,
                "acr: momentum of the estimate of the unlabeled class distribution (--ema-u; "
                "0.99 as every README command, the script's default is 0.9).",
                at_least_below(0, 1)),
      CREST_KEY("acr.class_count", acr.class_count,
                "acr: how a step's confident balanced-head predictions count toward the estimate: "
                "reference (as the released code computes now_mask[targets] += mask: each class "
                "counts once per step, the last image predicted it deciding 1 or 0) | histogram "
                "(the number of confident images per class, as the paper describes).",
                choice()),
  };
}

// semi.*: pywin/SeMi train_semi.py's flags (docs/methods.md, "SeMi").
std::vector<Field> semi_keys() {
  return {
      CREST_KEY("semi.start_epoch", semi.start_epoch,
                "semi: epochs (train.steps_per_epoch steps each, from each generation's start) "
                "before the prototype blend, the hard-example weights and the feature "
                "consistency start (--est-epoch).",
                between(0, 1 << 20)),
      CREST_KEY("semi.alpha", semi.alpha,
                "semi: strength of the prototype blend p~ = (1 - a r w_c) p + a r w_c q, r = "
                "epoch / steps_per_epoch, w the confident-class frequency (--alpha; 0 = no "
                "blend).",
                between(0, 1)),
      CREST_KEY("semi.prototype_blend", semi.prototype_blend,
                "semi: blend the memory bank's prototype probabilities into the pseudo-labels "
                "(--use_pc).",
                any()),
      CREST_KEY("semi.proto_temperature", semi.proto_temperature,
                "semi: temperature of softmax(-||f - P_c|| / T), the prototype probabilities "
                "(--tau_tar).",
                above_at_most(0, 100)),
      CREST_KEY("semi.hard_scale", semi.hard_scale,
                "semi: hard-example weight H(p) / log C * scale + 1 - scale of each unlabeled "
                "image's loss (--scale; 0 = every image weighs 1).",
                between(0, 1)),
      CREST_KEY("semi.consistency_weight", semi.consistency_weight,
                "semi: weight of the feature-consistency term on unconfident images (--conswt).",
                between(0, kMaxLossWeight)),
      CREST_KEY("semi.consistency_temperature", semi.consistency_temperature,
                "semi: temperature of the feature-consistency softmaxes over the feature "
                "dimensions; the teacher's is a fifth of it (--proto_t).",
                above_at_most(0, 100)),
      CREST_KEY("semi.bank_per_class", semi.bank_per_class,
                "semi: memory-bank slots per class, confident strong-view features sorted by "
                "confidence (--mb_size).",
                between(1, 1 << 16)),
      CREST_KEY("semi.decay_steps", semi.decay_steps,
                "semi: the bank's confidences decay (x 0.99) every this many steps of an epoch "
                "(--decay_step; above train.steps_per_epoch: never).",
                between(1, 1 << 24)),
      CREST_KEY("semi.feature_rows", semi.feature_rows,
                "semi: which rows of the batch's features stand for an unlabeled image's views: "
                "reference (as train_semi.py slices its interleaved batch: rows of other images, "
                "a quarter of them labeled) | aligned (the image's own weak and strong views).",
                choice()),
  };
}

// daso.*: ytaek-oh/daso's ALGORITHM.DASO and MODEL.QUEUE options (docs/methods.md, "DASO").
std::vector<Field> daso_keys() {
  return {
      CREST_KEY("daso.warmup_steps", daso.warmup_steps,
                "daso: steps (from each generation's start) trained with the linear "
                "pseudo-labels alone before the semantic pseudo-labels are blended in and the "
                "alignment loss starts (PRETRAIN_STEPS); the queue fills from step 0.",
                between(0, 1 << 30)),
      CREST_KEY("daso.proto_temperature", daso.proto_temperature,
                "daso: temperature T_proto of softmax(cos(f, c_k) / T_proto), the semantic "
                "pseudo-label from the cosine similarities to the class prototypes (PROTO_TEMP).",
                above_at_most(0, 100)),
      CREST_KEY("daso.dist_update_period", daso.dist_update_period,
                "daso: the pseudo-label distribution that sets the blend is the class histogram "
                "of the final pseudo-labels of the last this many steps, refreshed every this "
                "many steps (PL_DIST_UPDATE_PERIOD).",
                between(1, 1 << 30)),
      CREST_KEY("daso.dist_aware", daso.dist_aware,
                "daso: blend class-adaptively, with weight v_k of the linear pseudo-label's class "
                "k (WITH_DIST_AWARE); false: the fixed daso.interp_alpha.",
                any()),
      CREST_KEY("daso.dist_temperature", daso.dist_temperature,
                "daso: temperature T_dist of the blend weights v = (m^(1/T_dist) / sum) / max, m "
                "the pseudo-label distribution (DIST_TEMP; the reference's CIFAR-10 config: 1.5 "
                "when the labeled and unlabeled imbalance agree, 0.3 otherwise).",
                above_at_most(0, 100)),
      CREST_KEY("daso.interp_alpha", daso.interp_alpha,
                "daso: the fixed blend weight of the semantic pseudo-label when daso.dist_aware "
                "is false (INTERP_ALPHA).",
                between(0, 1)),
      CREST_KEY("daso.alignment_weight", daso.alignment_weight,
                "daso: weight of the semantic alignment loss, the cross-entropy of the strong "
                "view's prototype similarities against the weak view's (PSA_LOSS_WEIGHT; 0 = "
                "none).",
                between(0, kMaxLossWeight)),
      CREST_KEY("daso.queue_size", daso.queue_size,
                "daso: labeled EMA-model features kept per class in the queue whose means are the "
                "prototypes; the oldest leave first (MODEL.QUEUE.MAX_SIZE).",
                between(1, 1 << 16)),
  };
}

// dmlpl.*: crest's own choices (no public code of DML-PL; docs/methods.md, "DML-PL").
std::vector<Field> dmlpl_keys() {
  return {
      CREST_KEY("dmlpl.embedding_dim", dmlpl.embedding_dim,
                "dmlpl: width of the embedding head fc_embedding on the pooled features; its "
                "output is L2-normalised, and the metric loss and crest.selection knn read it.",
                between(1, 4096)),
      CREST_KEY("dmlpl.metric_loss", dmlpl.metric_loss,
                "dmlpl: the metric loss over the labeled and pseudo-labeled images of the batch: "
                "triplet (batch-hard, Hermans et al. 2017: hardest positive and negative of each "
                "anchor, margin dmlpl.margin) | supcon (supervised contrastive, Khosla et al. "
                "2020, temperature dmlpl.temperature).",
                choice()),
      CREST_KEY("dmlpl.margin", dmlpl.margin,
                "dmlpl: triplet margin on Euclidean distances between unit-length embeddings "
                "(which lie in [0, 2]).",
                between(0, 2)),
      CREST_KEY("dmlpl.temperature", dmlpl.temperature,
                "dmlpl: supcon temperature of the cosine similarities.", above_at_most(0, 100)),
      CREST_KEY("dmlpl.metric_weight", dmlpl.metric_weight,
                "dmlpl: weight of the metric loss beside FixMatch's labeled and unlabeled losses "
                "(0 = FixMatch with an untrained embedding head).",
                between(0, kMaxLossWeight)),
  };
}

}  // namespace

std::vector<Field> method_keys() {
  std::vector<Field> keys = acr_keys();
  for (Field& field : semi_keys()) keys.push_back(std::move(field));
  for (Field& field : daso_keys()) keys.push_back(std::move(field));
  for (Field& field : dmlpl_keys()) keys.push_back(std::move(field));
  return keys;
}

}  // namespace crest::config_detail
