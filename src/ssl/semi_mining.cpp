#include "crest/ssl/semi_mining.h"

#include <ATen/core/Reduction.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "crest/util/error.h"

namespace crest {

SemiViewFeatures semi_view_features(const at::Tensor& features, std::int64_t batch,
                                    bool reference_rows) {
  if (batch < 1 || features.dim() != 2 || features.size(0) != 4 * batch) {
    throw std::invalid_argument("semi_view_features: needs features [4 B, D] for B = " +
                                std::to_string(batch));
  }
  if (reference_rows) {
    // Interleaved row j B + i holds concatenated row 4 i + j (ref train_semi.py:97-99).
    const at::Tensor grouped = features.view({batch, 4, features.size(1)});
    return {grouped.select(1, 1), grouped.select(1, 2), grouped.select(1, 3)};
  }
  return {features.narrow(0, batch, batch), features.narrow(0, 2 * batch, batch),
          features.narrow(0, 3 * batch, batch)};
}

at::Tensor semi_logit_adjustment(const at::Tensor& prior, double tau) {
  return at::log(at::pow(prior, tau) + 1e-12);
}

at::Tensor semi_prototype_probs(const at::Tensor& features, const at::Tensor& prototypes,
                                double temperature) {
  const at::Tensor dist = at::cdist(features, prototypes);
  return at::softmax(-dist / temperature, 1);
}

at::Tensor semi_blend_pseudo_labels(const at::Tensor& probs, const at::Tensor& proto_probs,
                                    const at::Tensor& class_weight, double alpha, double ramp) {
  const at::Tensor keep = 1 - class_weight * (alpha * ramp);
  const at::Tensor take = (class_weight * ramp) * alpha;
  return keep * probs + take * proto_probs;
}

SemiTargets semi_targets(const at::Tensor& pseudo_label, const at::Tensor& logits_weak,
                         const at::Tensor& logits_weak_balanced, const at::Tensor& adjustment,
                         double threshold, double temperature) {
  const at::Tensor p_h2 = at::softmax((logits_weak - adjustment) / temperature, -1);
  const at::Tensor p_b = at::softmax(logits_weak_balanced / temperature, -1);
  const at::Tensor p_t = at::softmax(logits_weak / temperature, -1);
  auto [max_probs, targets] = at::max(pseudo_label, -1);
  auto [max_h2, targets_h2] = at::max(p_h2, -1);
  const at::Tensor max_b = std::get<0>(at::max(p_b, -1));
  const at::Tensor max_t = std::get<0>(at::max(p_t, -1));
  SemiTargets out;
  out.targets = targets;
  out.confidence = max_probs;
  out.mask = at::logical_or(max_probs.ge(threshold), max_t.ge(threshold)).to(at::kFloat);
  out.targets_balanced = targets_h2;
  out.mask_balanced = at::logical_or(max_b.ge(threshold), max_h2.ge(threshold)).to(at::kFloat);
  return out;
}

at::Tensor semi_confident_counts(const at::Tensor& pseudo_label, const at::Tensor& mask) {
  const at::Tensor targets = at::argmax(pseudo_label, 1).masked_select(mask.to(at::kBool));
  return at::bincount(targets, {}, pseudo_label.size(1));
}

at::Tensor semi_class_frequency(const at::Tensor& label_counts) {
  const at::Tensor share = label_counts.to(at::kFloat) / label_counts.sum();
  return share / at::sum(share);
}

at::Tensor semi_hard_example_weights(const at::Tensor& pseudo_label, double scale) {
  const at::Tensor p = at::clamp(pseudo_label, 1e-8, 1.0 - 1e-8);
  const at::Tensor log2_classes = at::log2(at::scalar_tensor(
      static_cast<double>(pseudo_label.size(1)), pseudo_label.options().dtype(at::kFloat)));
  return -at::sum(p * at::log2(p), 1) / log2_classes * scale + (1 - scale);
}

SemiConsistency semi_feature_consistency(const at::Tensor& weak, const at::Tensor& strong,
                                         const at::Tensor& strong1, const at::Tensor& center,
                                         const at::Tensor& mask, double temperature) {
  const at::Tensor q_weak = at::cat({weak, weak}, 0);
  const at::Tensor q_strong = at::cat({strong, strong1}, 0);
  const at::Tensor teacher = at::softmax((q_weak.detach() - center) / (temperature / 5), 1);
  const at::Tensor unconfident = at::cat({mask, mask}).to(at::kBool).logical_not().to(at::kFloat);
  const at::Tensor cross = at::sum(-teacher * at::log_softmax(q_strong / temperature, 1), 1);
  return {(cross * unconfident).mean(), at::sum(teacher, 0, /*keepdim=*/true).detach()};
}

at::Tensor semi_update_center(const at::Tensor& center, const at::Tensor& teacher_sum,
                              std::int64_t rows) {
  const at::Tensor batch_center = teacher_sum / rows;
  return center * 0.9 + batch_center * (1 - 0.9);
}

at::Tensor semi_masked_cross_entropy(const at::Tensor& logits, const at::Tensor& targets,
                                     const at::Tensor& mask, const at::Tensor& weights) {
  at::Tensor loss = at::cross_entropy_loss(logits, targets, {}, at::Reduction::None) * mask;
  if (weights.defined()) loss = loss * weights;
  return loss.mean();
}

at::Tensor semi_balanced_labeled_loss(const at::Tensor& logits_balanced, const at::Tensor& labels,
                                      const at::Tensor& adjustment) {
  return at::cross_entropy_loss(logits_balanced + adjustment, labels, {}, at::Reduction::Mean);
}

namespace {

// The bank's confidence decay factor (ref memorybank.py:16; float32 as it multiplies).
constexpr float kBankDecay = 0.99F;

// One class's slots on the host, in slot order: confidence, insertion count, and the row of
// the pool [old memory (C K rows); new features] that the slot's feature comes from.
struct Slots {
  std::vector<float> conf;
  std::vector<std::int64_t> count;
  std::vector<std::int64_t> source;
};

// A stable sort by confidence, highest first (the reference's torch.argsort(descending=True)
// with equal confidences kept in slot order).
void sort_slots(Slots& slots) {
  std::vector<std::size_t> order(slots.conf.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return slots.conf[a] > slots.conf[b]; });
  Slots sorted;
  for (std::size_t j : order) {
    sorted.conf.push_back(slots.conf[j]);
    sorted.count.push_back(slots.count[j]);
    sorted.source.push_back(slots.source[j]);
  }
  slots = std::move(sorted);
}

// memorybank.py:97-111 for one offered row: the features drop their first row and take the
// new one last; only the last confidence changes; then sorted. The insertion count of the
// value s (shared by every slot holding s) grows by one.
bool offer(Slots& slots, float s, std::int64_t pool_row) {
  const std::size_t last = slots.conf.size() - 1;
  if (!(s > slots.conf[last])) return false;
  std::rotate(slots.source.begin(), slots.source.begin() + 1, slots.source.end());
  slots.source[last] = pool_row;
  std::int64_t inserted = 0;
  for (std::size_t j = 0; j < last; ++j) {
    if (slots.conf[j] == s) inserted = slots.count[j];
  }
  slots.conf[last] = s;
  for (std::size_t j = 0; j <= last; ++j) {
    if (slots.conf[j] == s) slots.count[j] = inserted + 1;
  }
  sort_slots(slots);
  return true;
}

// memorybank.py:32-63 for one class: a value filling k slots and inserted m times since the
// last decay decays in its first max(0, k - m) slots (all of them when m = 0). Counting m per
// value held in the bank (not the reference's list of every insertion) decides the same: a
// value that left every slot can only return by insertion, so its earlier count never matters.
void decay_slots(Slots& slots, float beta) {
  std::map<float, std::int64_t> left;  // value -> slots still to decay
  for (std::size_t j = 0; j < slots.conf.size(); ++j) {
    auto it = left.find(slots.conf[j]);
    if (it == left.end()) it = left.emplace(slots.conf[j], -slots.count[j]).first;
    ++it->second;
  }
  bool any = false;
  std::vector<float> decayed = slots.conf;
  for (std::size_t j = 0; j < slots.conf.size(); ++j) {
    std::int64_t& n = left[slots.conf[j]];
    if (n > 0) {
      decayed[j] = slots.conf[j] * beta;
      --n;
      any = true;
    }
  }
  slots.conf = std::move(decayed);
  std::fill(slots.count.begin(), slots.count.end(), 0);
  if (any) sort_slots(slots);
}

// The bank's slots on the host; each slot's source is its own row of the old memory.
std::vector<Slots> host_slots(const at::Tensor& confidences, const at::Tensor& inserted_count) {
  const std::int64_t classes = confidences.size(0);
  const std::int64_t per_class = confidences.size(1);
  const at::Tensor conf = confidences.to(at::kCPU).contiguous();
  const at::Tensor count = inserted_count.to(at::kCPU).contiguous();
  const float* c = conf.data_ptr<float>();
  const std::int64_t* n = count.data_ptr<std::int64_t>();
  std::vector<Slots> out(static_cast<std::size_t>(classes));
  for (std::int64_t k = 0; k < classes; ++k) {
    Slots& s = out[static_cast<std::size_t>(k)];
    s.conf.assign(c + k * per_class, c + (k + 1) * per_class);
    s.count.assign(n + k * per_class, n + (k + 1) * per_class);
    s.source.resize(static_cast<std::size_t>(per_class));
    std::iota(s.source.begin(), s.source.end(), k * per_class);
  }
  return out;
}

// Writes `slots` back: one gather of the memory rows from the pool [old memory; features].
void store_slots(const std::vector<Slots>& slots, const at::Tensor& features, at::Tensor& memory,
                 at::Tensor& confidences, at::Tensor& inserted_count) {
  std::vector<float> conf;
  std::vector<std::int64_t> count;
  std::vector<std::int64_t> source;
  for (const Slots& s : slots) {
    conf.insert(conf.end(), s.conf.begin(), s.conf.end());
    count.insert(count.end(), s.count.begin(), s.count.end());
    source.insert(source.end(), s.source.begin(), s.source.end());
  }
  at::NoGradGuard no_grad;
  at::Tensor pool = memory.view({-1, memory.size(2)});
  if (features.defined()) pool = at::cat({pool, features.detach().to(memory.options())}, 0);
  const at::Tensor index = at::tensor(source, at::kLong).to(memory.device());
  memory.copy_(pool.index_select(0, index).view(memory.sizes()));
  confidences.copy_(at::tensor(conf, at::kFloat).view(confidences.sizes()));
  inserted_count.copy_(at::tensor(count, at::kLong).view(inserted_count.sizes()));
}

}  // namespace

SemiMemoryBankImpl::SemiMemoryBankImpl(std::int64_t classes, std::int64_t per_class,
                                       std::int64_t dim, at::Device device)
    : classes_(classes), per_class_(per_class), dim_(dim) {
  if (classes < 1 || per_class < 1 || dim < 1) {
    throw InputError("the SeMi memory bank needs at least one class, slot and feature, got " +
                     std::to_string(classes) + " classes x " + std::to_string(per_class) +
                     " slots x " + std::to_string(dim) + " features");
  }
  const auto options = at::TensorOptions().dtype(at::kFloat).device(device);
  memory_ = register_buffer("memory", at::zeros({classes, per_class, dim}, options));
  confidences_ = register_buffer("confidences", at::zeros({classes, per_class}, options));
  inserted_count_ =
      register_buffer("inserted_count", at::zeros({classes, per_class}, options.dtype(at::kLong)));
}

void SemiMemoryBankImpl::update(const at::Tensor& features, const at::Tensor& classes,
                                const at::Tensor& confidences, const at::Tensor& mask) {
  const std::int64_t rows = features.dim() == 2 ? features.size(0) : -1;
  if (rows < 0 || features.size(1) != dim_ || classes.numel() != rows ||
      confidences.numel() != rows || mask.numel() != rows) {
    throw std::invalid_argument("SemiMemoryBank::update: needs features [N, " +
                                std::to_string(dim_) + "] and N classes, confidences, mask");
  }
  const at::Tensor cls = classes.to(at::kCPU, at::kLong).contiguous();
  const at::Tensor conf = confidences.to(at::kCPU, at::kFloat).contiguous();
  const at::Tensor offered = mask.ne(0).to(at::kCPU).contiguous();
  std::vector<Slots> slots = host_slots(confidences_, inserted_count_);
  bool changed = false;
  for (std::int64_t n = 0; n < rows; ++n) {
    if (!offered.data_ptr<bool>()[n]) continue;
    const std::int64_t c = cls.data_ptr<std::int64_t>()[n];
    if (c < 0 || c >= classes_) {
      throw std::invalid_argument("SemiMemoryBank::update: class " + std::to_string(c) +
                                  " outside [0, " + std::to_string(classes_) + ")");
    }
    changed |= offer(slots[static_cast<std::size_t>(c)], conf.data_ptr<float>()[n],
                     classes_ * per_class_ + n);
  }
  if (changed) store_slots(slots, features, memory_, confidences_, inserted_count_);
}

void SemiMemoryBankImpl::decay() {
  std::vector<Slots> slots = host_slots(confidences_, inserted_count_);
  for (Slots& s : slots) decay_slots(s, kBankDecay);
  store_slots(slots, at::Tensor(), memory_, confidences_, inserted_count_);
}

at::Tensor SemiMemoryBankImpl::prototypes() const { return memory_.mean(1); }

}  // namespace crest
