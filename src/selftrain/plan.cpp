#include "crest/selftrain/plan.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "crest/data/numpy_random.h"
#include "crest/data/split.h"
#include "crest/io/run_files.h"
#include "crest/io/selection_files.h"
#include "crest/selftrain/selection.h"
#include "crest/util/device.h"
#include "crest/util/error.h"
#include "crest/util/text_escape.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

constexpr double kMinorityFraction = 0.3;  // the 30% rarest / most frequent classes

// Holds out a validation slice of the labeled positions, per class (see crest.val_fraction).
std::vector<std::int64_t> carve_validation(std::vector<std::int64_t>& labeled_positions,
                                           const std::vector<std::int64_t>& lt_labels,
                                           int num_classes, double fraction, std::int64_t fold) {
  std::vector<std::vector<std::int64_t>> by_class(static_cast<std::size_t>(num_classes));
  for (std::int64_t p : labeled_positions) {
    by_class[static_cast<std::size_t>(lt_labels[static_cast<std::size_t>(p)])].push_back(p);
  }
  NumpyRandomState rng(static_cast<std::uint32_t>(fold + 1000));
  std::vector<std::int64_t> val, train;
  for (auto& positions : by_class) {
    rng.shuffle(positions);
    const auto n = static_cast<std::int64_t>(positions.size());
    std::int64_t take = static_cast<std::int64_t>(std::floor(fraction * static_cast<double>(n)));
    if (take == 0 && n >= 2) take = 1;
    val.insert(val.end(), positions.begin(), positions.begin() + take);
    train.insert(train.end(), positions.begin() + take, positions.end());
  }
  std::sort(val.begin(), val.end());
  std::sort(train.begin(), train.end());
  labeled_positions = train;
  return val;
}

}  // namespace

RunPlan plan_run(const Config& config, const RunData& run) {
  const CrestConfig& cc = config.crest;
  const int num_classes = run.num_classes();
  RunPlan plan;
  plan.labeled_positions = run.labeled_positions;
  // A val set read from files (ROOT/val) is used as it is; else a slice of the labeled set.
  if (uses_validation(cc.select_on) && !run.val_images.defined()) {
    plan.val_positions = carve_validation(plan.labeled_positions, run.lt_labels, num_classes,
                                          cc.val_fraction, config.data.fold);
  }
  for (std::int64_t p : plan.labeled_positions) {
    plan.labeled_truth.push_back(run.lt_labels[static_cast<std::size_t>(p)]);
  }
  plan.labeled_counts = count_by_class(plan.labeled_truth, num_classes);
  std::vector<double> profile;
  // as_is has no gamma to build an ideal profile from: its profile is the labeled counts.
  const bool ideal =
      cc.rate_profile == RateProfile::kIdeal && config.data.protocol != SplitProtocol::kAsIs;
  plan.rate_profile = ideal ? RateProfile::kIdeal : RateProfile::kLabeled;
  plan.truth_known = run.truth_known;
  if (ideal) {
    profile = ideal_profile(num_classes, labeled_imbalance_ratio(config.data));
  } else {
    profile.assign(plan.labeled_counts.begin(), plan.labeled_counts.end());
  }
  plan.selecting = selects_pseudo_labels(cc.mode);
  if (plan.selecting && run.unlabeled_only.empty()) {
    throw InputError(
        "crest.mode " + to_string(cc.mode) +
        " selects pseudo-labels from the unlabeled images, but data.protocol as_is found none "
        "(a folder dataset reads them from ROOT/unlabeled; any dataset from "
        "data.unlabeled_root): add unlabeled images, or set crest.mode: fixmatch to train on the "
        "labeled images alone");
  }
  if (plan.selecting) plan.rates = crest_rates(profile, cc.alpha);
  double profile_sum = 0.0;
  for (double v : profile) profile_sum += v;
  for (double v : profile) plan.p_data.push_back(v / profile_sum);
  // Minority and majority are defined on the profile behind mu_l, not on the LT totals (with
  // the darp protocol's reversed unlabeled set those would name middle classes).
  plan.minority = minority_classes_of_profile(profile, kMinorityFraction);
  plan.majority = majority_classes_of_profile(profile, kMinorityFraction);
  return plan;
}

void log_plan(const Config& config, const RunData& run, const RunPlan& plan, at::Device device) {
  const std::string val =
      !plan.val_positions.empty() ? " (+" + std::to_string(plan.val_positions.size()) + " val)"
      : run.val_images.defined()  ? " | val " + std::to_string(run.val_labels.size(0))
                                  : "";
  spdlog::info("device {} | {} {} classes | LT set {} | labeled {}{} | unlabeled-only {} | test {}",
               describe_device(device), to_string(config.data.dataset), run.num_classes(),
               run.lt.size(), plan.labeled_positions.size(), val, run.unlabeled_only.size(),
               run.test_labels.size(0));
  if (config.data.protocol == SplitProtocol::kAsIs) {
    spdlog::info(
        "as_is: labeled set used as given, imbalance ratio {:.2f} (measured); the "
        "profile behind mu_l and p_data is the labeled counts",
        measured_imbalance_ratio(plan.labeled_counts));
  }
  if (config.data.protocol == SplitProtocol::kAcr) {
    spdlog::info(
        "data.protocol acr (ACR's train_split, the first images of each class, no shuffle: "
        "data.fold does not change it): the unlabeled set is the {} unlabeled-only images plus "
        "the {} labeled ones ({} in all); ACR's estimate skips the labeled ones, and CReST "
        "never pseudo-labels them",
        run.unlabeled_only.size(), run.labeled_positions.size(), run.lt.size());
  }
  if (!run.truth_known) {
    spdlog::info(
        "the unlabeled pool has images without labels: pseudo-label accuracy and "
        "selection precision are unknown");
  }
  if (run.val_images.defined() && !uses_validation(config.crest.select_on)) {
    spdlog::info("the val set ({} images) is not used: crest.select_on is last",
                 run.val_labels.size(0));
  }
  spdlog::info("WRN-{}-{} | {} x {} steps x {} generation(s) | mode {} | batch {} + {} x {}",
               config.model.depth, config.model.width, config.train.epochs,
               config.train.steps_per_epoch, config.crest.generations, to_string(config.crest.mode),
               config.train.batch_size, config.train.unlabeled_ratio, config.train.batch_size);
  if (!plan.selecting) return;
  const CrestConfig& cc = config.crest;
  if (cc.selection == SelectionPolicy::kKnn) {
    const std::string quota =
        cc.knn_quota > 0 ? fmt::format("at most {:.3f} of the pool", cc.knn_quota)
                         : std::string("auto (what is left, spread evenly over the rounds left)");
    spdlog::info(
        "selection knn (DML-PL, crest's rules): {} round(s); each labels, by the nearest of {} "
        "k-means cluster(s) per class of the {} anchors, the unlabeled images whose {} nearest "
        "anchors agree at least {:.2f}; quota {}, order {}; the round before the last generation "
        "labels every image left",
        cc.generations - 1, cc.knn_clusters, to_string(cc.knn_anchors), cc.knn_neighbours,
        cc.knn_agreement, quota, to_string(cc.knn_order));
    return;
  }
  std::string rates;
  char rate[32];
  for (std::size_t c = 0; c < plan.rates.size(); ++c) {
    std::snprintf(rate, sizeof(rate), " %.3f", plan.rates[c]);
    rates += (c == 0 ? "" : ", ") + visible_text(run.class_names[c]) + rate;
  }
  spdlog::info("selection rates mu_l (alpha {}): {}", config.crest.alpha, rates);
  if (config.crest.alpha > 1.0) {
    spdlog::warn(
        "crest.alpha is {}: the paper's alpha is the exponent of mu_l = (N_(L+1-l) / N_1)^alpha "
        "(1/3 by default, alpha <= 1 in the paper); the reference release's flag value 3 means "
        "alpha = 1/3. With alpha > 1 the frequent classes keep almost none of their "
        "pseudo-labels (see the rates above); set crest.alpha: 0.333 for the paper's setting",
        config.crest.alpha);
  }
}

LabeledSet labeled_set(const RunPlan& plan, const CarriedSelection& carried, int num_classes) {
  LabeledSet set;
  set.positions = plan.labeled_positions;
  set.targets = plan.labeled_truth;
  set.positions.insert(set.positions.end(), carried.positions.begin(), carried.positions.end());
  set.targets.insert(set.targets.end(), carried.labels.begin(), carried.labels.end());
  set.counts = count_by_class(set.targets, num_classes);
  set.pseudo_counts = count_by_class(carried.labels, num_classes);
  return set;
}

namespace {

// pseudo_labels.csv against selection.json's per-class counts of the same selection (what a run
// of any version wrote, so that a cut or edited file is found without generation.json's
// fingerprints too).
void check_against_selection(const fs::path& gen_dir, const fs::path& file,
                             const std::vector<std::int64_t>& labels, int num_classes) {
  const fs::path json = gen_dir / kSelectionFile;
  const std::string remedy =
      ": one of the two was edited, cut or replaced; put the originals back, or start a new run "
      "folder";
  if (!fs::exists(json)) {
    throw DataError("cannot resume: " + json.string() + " is missing, so " + file.string() +
                    " cannot be checked against it; put it back, or start a new run folder");
  }
  const SelectionRecord record = read_selection_json(json);
  const std::vector<std::int64_t> counts = count_by_class(labels, num_classes);
  const auto rows = static_cast<std::int64_t>(labels.size());
  if (record.selected_total != rows) {
    throw DataError(file.string() + " has " + std::to_string(rows) + " pseudo-labels, but " +
                    json.string() + " says " + std::to_string(record.selected_total) +
                    " were selected" + remedy);
  }
  if (record.selected.size() != counts.size()) {
    throw DataError(json.string() + " counts " + std::to_string(record.selected.size()) +
                    " classes, this run has " + std::to_string(num_classes) + remedy);
  }
  for (std::size_t c = 0; c < counts.size(); ++c) {
    if (record.selected[c] != counts[c]) {
      throw DataError(file.string() + " has " + std::to_string(counts[c]) +
                      " pseudo-labels of class " + std::to_string(c) + ", but " + json.string() +
                      " says " + std::to_string(record.selected[c]) + remedy);
    }
  }
}

}  // namespace

CarriedSelection read_carried_selection(const fs::path& gen_dir, const RunData& run) {
  const fs::path file = gen_dir / kPseudoLabelsFile;
  if (!fs::exists(file)) {
    throw DataError("cannot resume: " + file.string() +
                    " is missing, so the selection of that generation is lost; start a new run "
                    "folder");
  }
  std::vector<bool> in_pool(run.lt.size(), false);
  for (std::int64_t p : run.unlabeled_only) in_pool[static_cast<std::size_t>(p)] = true;
  auto position = [&run](std::int64_t index) -> std::int64_t {
    const auto it = std::lower_bound(run.lt.begin(), run.lt.end(), index);
    return it == run.lt.end() || *it != index ? -1 : it - run.lt.begin();
  };
  PseudoLabelLimits limits;
  limits.num_classes = run.num_classes();
  limits.in_pool = [&](std::int64_t index) {
    const std::int64_t p = position(index);
    return p >= 0 && in_pool[static_cast<std::size_t>(p)];
  };
  limits.true_label = [&](std::int64_t index) {
    return run.lt_labels[static_cast<std::size_t>(position(index))];
  };
  CarriedSelection carried;
  const std::vector<PseudoLabelRow> rows = read_pseudo_labels_csv(file, limits);
  for (const PseudoLabelRow& row : rows) {
    carried.positions.push_back(position(row.index));
    carried.labels.push_back(row.predicted);
  }
  check_against_selection(gen_dir, file, carried.labels, run.num_classes());
  return carried;
}

}  // namespace crest
