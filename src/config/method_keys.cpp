// The key tables of the learners' own sections (config_keys.h, method_keys): one section per
// method beside FixMatch and MixMatch, each key named after the reference's flag.
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

}  // namespace

std::vector<Field> method_keys() { return acr_keys(); }

}  // namespace crest::config_detail
