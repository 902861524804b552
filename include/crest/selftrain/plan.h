// What stays fixed over the generations of a CReST run and what carries from one to the next:
// the original labeled set, the class profile N_l and the rates mu_l = (N_{L+1-l} / N_1)^alpha
// derived from it (Wei et al. 2021, Eq. 2), p_data for CReST+'s alignment, the minority and
// majority classes; the selection carried into the next generation and the labeled set it
// gives (Algorithm 1, step 1).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <vector>

#include "crest/config/config.h"
#include "crest/selftrain/run_data.h"

namespace crest {

// What stays fixed over the generations: the original labeled set, the class profile and the
// rates mu_l derived from it, and the classes the summaries call minority and majority.
struct RunPlan {
  std::vector<std::int64_t> labeled_positions;     // original labeled set (positions in the LT set)
  std::vector<std::int64_t> labeled_truth;         // their true labels
  std::vector<std::int64_t> labeled_counts;        // N_l per class
  std::vector<std::int64_t> val_positions;         // the validation slice (crest.select_on: val)
  bool selecting = false;                          // crest.mode is not fixmatch
  std::vector<double> rates;                       // mu_l per class (empty when not selecting)
  RateProfile rate_profile = RateProfile::kIdeal;  // the profile used (as_is: always labeled)
  bool truth_known = true;                         // the hidden labels of the pool are known
  std::vector<double> p_data;                      // the class profile, normalised
  std::vector<int> minority;
  std::vector<int> majority;
};

// A selection carried from one generation to the next: LT positions and their pseudo-labels.
struct CarriedSelection {
  std::vector<std::int64_t> positions;
  std::vector<std::int64_t> labels;
};

// One generation's labeled set: the original one plus the carried selection.
struct LabeledSet {
  std::vector<std::int64_t> positions;
  std::vector<std::int64_t> targets;        // true labels, then pseudo-labels
  std::vector<std::int64_t> counts;         // of targets, per class
  std::vector<std::int64_t> pseudo_counts;  // of the pseudo-labels, per class
};

// The labeled set, the class profile behind mu_l and p_data (ideal from gamma where the data
// was built from one, else the labeled counts N_l), the rates mu_l and the minority/majority
// classes of that profile; with crest.select_on val, the validation slice held out of the
// labeled set. InputError when a selecting mode finds no unlabeled-only images.
RunPlan plan_run(const Config& config, const RunData& run);

// The plan in the log: the data, the schedule, the rates.
void log_plan(const Config& config, const RunData& run, const RunPlan& plan, at::Device device);

// Step 1: the original labeled set plus the carried selection: the one made at the end of g-1
// (crest.selection confidence: nothing accumulates), or every earlier round's (knn).
LabeledSet labeled_set(const RunPlan& plan, const CarriedSelection& carried, int num_classes);

// The selection a finished generation made, read back from its pseudo_labels.csv (checked
// against the run's pool, and its total and per-class counts against the generation's
// selection.json: DataError naming the file otherwise).
CarriedSelection read_carried_selection(const std::filesystem::path& gen_dir, const RunData& run);

}  // namespace crest
