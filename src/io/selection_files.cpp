#include "crest/io/selection_files.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <unordered_set>

#include "crest/io/csv.h"
#include "crest/io/file.h"
#include "json_fields.h"

namespace crest {

namespace fs = std::filesystem;

using io_detail::json_member;
using io_detail::number_or_nan;
using io_detail::optional_json_list;

constexpr const char* kUnknownText = "unknown";

void write_pseudo_labels_csv(const fs::path& file, const std::vector<PseudoLabelRow>& rows) {
  const bool with_files = std::any_of(rows.begin(), rows.end(),
                                      [](const PseudoLabelRow& r) { return !r.file.empty(); });
  const bool with_distances = std::any_of(
      rows.begin(), rows.end(), [](const PseudoLabelRow& r) { return !std::isnan(r.distance); });
  std::string out = std::string("index,predicted,confidence,true_label") +
                    (with_distances ? ",distance" : "") + (with_files ? ",file" : "") + "\n";
  for (const PseudoLabelRow& r : rows) {
    char confidence[32];
    std::snprintf(confidence, sizeof(confidence), "%.6f", r.confidence);
    out += std::to_string(r.index) + ',' + std::to_string(r.predicted) + ',' + confidence + ',' +
           (r.true_label < 0 ? std::string(kUnknownText) : std::to_string(r.true_label));
    if (with_distances) {
      char distance[32];
      std::snprintf(distance, sizeof(distance), "%.6f", r.distance);
      out += std::string(",") + distance;
    }
    if (with_files) out += ',' + csv_field(r.file);
    out += '\n';
  }
  write_file_atomic(file, out);
}

std::vector<PseudoLabelRow> read_pseudo_labels_csv(const fs::path& file,
                                                   const PseudoLabelLimits& limits) {
  const CsvTable t = read_csv(file);
  const std::size_t index = t.column("index"), predicted = t.column("predicted"),
                    confidence = t.column("confidence"), true_label = t.column("true_label"),
                    distance = t.find_column("distance"), file_column = t.find_column("file");
  const std::string what_to_do = "; the file was edited or damaged (start a new run folder)";
  auto check_class = [&](std::size_t r, std::size_t col, std::int64_t value) {
    if (value < 0 || value >= limits.num_classes) {
      throw DataError(t.where(r) + ": column '" + t.header[col] + "' is " + std::to_string(value) +
                      ", not a class of this run (0.." + std::to_string(limits.num_classes - 1) +
                      ")" + what_to_do);
    }
  };
  std::vector<PseudoLabelRow> rows;
  std::unordered_set<std::int64_t> seen;
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    PseudoLabelRow row;
    row.index = t.integer(r, index);
    row.predicted = t.integer(r, predicted);
    row.confidence = t.number(r, confidence);
    const bool unknown = t.rows[r][true_label] == kUnknownText;
    row.true_label = unknown ? -1 : t.integer(r, true_label);
    if (file_column < t.header.size()) row.file = t.rows[r][file_column];
    if (distance < t.header.size()) {
      row.distance = t.number(r, distance);
      if (!(row.distance >= 0.0 && row.distance <= 2.0)) {
        throw DataError(t.where(r) + ": distance " + t.rows[r][distance] +
                        " is not a cosine distance (0 to 2)" + what_to_do);
      }
    }
    check_class(r, predicted, row.predicted);
    if (!unknown) check_class(r, true_label, row.true_label);
    if (!(row.confidence >= 0.0 && row.confidence <= 1.0)) {
      throw DataError(t.where(r) + ": confidence " + t.rows[r][confidence] +
                      " is not a probability" + what_to_do);
    }
    if (limits.in_pool && !limits.in_pool(row.index)) {
      throw DataError(t.where(r) + ": image " + std::to_string(row.index) +
                      " is not in this run's unlabeled pool" + what_to_do);
    }
    if (limits.true_label && limits.true_label(row.index) != row.true_label) {
      const auto name = [](std::int64_t y) { return y < 0 ? kUnknownText : std::to_string(y); };
      throw DataError(t.where(r) + ": image " + std::to_string(row.index) + " has true label " +
                      name(limits.true_label(row.index)) + " in the dataset, not " +
                      name(row.true_label) + what_to_do);
    }
    if (unknown && !limits.true_label) {
      throw DataError(t.where(r) +
                      ": the true label is 'unknown', but this run knows the label "
                      "of every image" +
                      what_to_do);
    }
    if (!seen.insert(row.index).second) {
      throw DataError(t.where(r) + ": image " + std::to_string(row.index) + " is selected twice" +
                      what_to_do);
    }
    rows.push_back(row);
  }
  return rows;
}

// The per-class lists every selection.json has, in the order they are read.
constexpr auto kSelectionLists = std::make_tuple(
    json_member("classes", &SelectionRecord::names), json_member("rates", &SelectionRecord::rates),
    json_member("predicted", &SelectionRecord::predicted),
    json_member("selected", &SelectionRecord::selected));

namespace {

// "precision_estimate" of selection.json; NaN as null.
nlohmann::json estimate_json(const SelectionEstimate& e) {
  nlohmann::json precision = nlohmann::json::array();
  for (double p : e.precision)
    precision.push_back(std::isnan(p) ? nlohmann::json() : nlohmann::json(p));
  return {{"source", e.source},
          {"images", e.images},
          {"trained_on", e.trained_on},
          {"precision", precision},
          {"predicted", e.predicted},
          {"weighted", std::isnan(e.weighted) ? nlohmann::json() : nlohmann::json(e.weighted)},
          {"threshold", e.threshold},
          {"poor_classes", e.poor_classes},
          {"poor", e.poor}};
}

// The inverse; DataError naming the file when a part is missing, of the wrong type or out of
// range.
SelectionEstimate estimate_from_json(const nlohmann::json& j, std::size_t classes,
                                     const fs::path& file) {
  const std::string where = file.string() + ": 'precision_estimate'";
  SelectionEstimate e;
  try {
    e.source = j.at("source").get<std::string>();
    e.images = j.at("images").get<std::int64_t>();
    e.trained_on = j.at("trained_on").get<bool>();
    for (const auto& p : j.at("precision")) {
      e.precision.push_back(p.is_null() ? std::nan("") : p.get<double>());
    }
    e.predicted = j.at("predicted").get<std::vector<std::int64_t>>();
    e.weighted = j.at("weighted").is_null() ? std::nan("") : j.at("weighted").get<double>();
    e.threshold = j.at("threshold").get<double>();
    e.poor_classes = j.at("poor_classes").get<std::vector<int>>();
    e.poor = j.at("poor").get<bool>();
  } catch (const nlohmann::json::exception& error) {
    throw DataError(where + " is damaged (" + error.what() + ")");
  }
  if (e.precision.size() != classes || e.predicted.size() != classes) {
    throw DataError(where + " needs one precision and count per class");
  }
  for (double p : e.precision) io_detail::check_ratio(p, "an estimated precision", file);
  io_detail::check_ratio(e.weighted, "'weighted'", file);
  for (int c : e.poor_classes) {
    if (c < 0 || static_cast<std::size_t>(c) >= classes) {
      throw DataError(where + ": 'poor_classes' names class " + std::to_string(c));
    }
  }
  return e;
}

// A per-class list with NaN as null.
nlohmann::json nullable_list(const std::vector<double>& values) {
  nlohmann::json list = nlohmann::json::array();
  for (double v : values) list.push_back(std::isnan(v) ? nlohmann::json() : nlohmann::json(v));
  return list;
}

// "knn" of selection.json.
nlohmann::json knn_json(const KnnSelectionRecord& k) {
  return {{"round", k.round},
          {"rounds", k.rounds},
          {"quota", k.quota},
          {"labeled_before", k.labeled_before},
          {"left_after", k.left_after},
          {"anchors", k.anchors},
          {"anchor_set", k.anchor_set},
          {"order", k.order},
          {"clusters", k.clusters},
          {"neighbours", k.neighbours},
          {"min_agreement", k.min_agreement},
          {"eligible", k.eligible},
          {"mean_agreement", nullable_list(k.mean_agreement)},
          {"mean_distance", nullable_list(k.mean_distance)}};
}

// The inverse, checked against the record's per-class counts; DataError naming the file.
KnnSelectionRecord knn_from_json(const nlohmann::json& j, const SelectionRecord& s,
                                 const fs::path& file) {
  const std::string where = file.string() + ": 'knn'";
  KnnSelectionRecord k;
  const auto nullable = [](const nlohmann::json& list) {
    std::vector<double> out;
    for (const auto& v : list) out.push_back(v.is_null() ? std::nan("") : v.get<double>());
    return out;
  };
  try {
    k.round = j.at("round").get<int>();
    k.rounds = j.at("rounds").get<int>();
    k.quota = j.at("quota").get<std::int64_t>();
    k.labeled_before = j.at("labeled_before").get<std::int64_t>();
    k.left_after = j.at("left_after").get<std::int64_t>();
    k.anchors = j.at("anchors").get<std::int64_t>();
    k.anchor_set = j.at("anchor_set").get<std::string>();
    k.order = j.at("order").get<std::string>();
    k.clusters = j.at("clusters").get<int>();
    k.neighbours = j.at("neighbours").get<int>();
    k.min_agreement = j.at("min_agreement").get<double>();
    k.eligible = j.at("eligible").get<std::vector<std::int64_t>>();
    k.mean_agreement = nullable(j.at("mean_agreement"));
    k.mean_distance = nullable(j.at("mean_distance"));
  } catch (const nlohmann::json::exception& error) {
    throw DataError(where + " is damaged (" + error.what() + "); the file was edited or damaged");
  }
  const std::size_t classes = s.names.size();
  if (k.eligible.size() != classes || k.mean_agreement.size() != classes ||
      k.mean_distance.size() != classes) {
    throw DataError(where + " needs one eligible count, agreement and distance per class");
  }
  for (std::size_t c = 0; c < classes; ++c) {
    io_detail::check_ratio(k.mean_agreement[c], "a mean agreement", file);
    if (k.mean_distance[c] < 0.0 || k.mean_distance[c] > 2.0) {
      throw DataError(where + ": mean distance " + std::to_string(k.mean_distance[c]) +
                      " of class " + s.names[c] + " is not a cosine distance (0 to 2)");
    }
    if (s.selected[c] > k.eligible[c] || k.eligible[c] > s.predicted[c]) {
      throw DataError(where + ": class " + s.names[c] +
                      " selects more images than are eligible, or has more eligible than "
                      "assigned; the file was edited or damaged");
    }
  }
  for (std::int64_t n : {k.quota, k.labeled_before, k.left_after, k.anchors}) {
    io_detail::check_count(n, "a knn count", file);
  }
  io_detail::check_ratio(k.min_agreement, "'min_agreement'", file);
  return k;
}

}  // namespace

void write_selection_json(const fs::path& file, const SelectionRecord& s) {
  nlohmann::json fields = {{"policy", s.policy},
                           {"generation", s.generation},
                           {"pool", s.pool},
                           {"alpha", s.alpha},
                           {"rate_profile", s.rate_profile},
                           {"truth", s.truth_known ? "known" : kUnknownText},
                           {"selected_total", s.selected_total}};
  if (s.truth_known) {
    fields.update({{"correct", s.correct},
                   {"precision", s.precision},
                   {"pool_true_counts", s.pool_true_counts},
                   {"recall", s.recall},
                   {"precision_total", s.precision_total}});
  } else {
    for (const char* key :
         {"correct", "precision", "pool_true_counts", "recall", "precision_total"})
      fields[key] = nullptr;
  }
  if (s.estimate) fields["precision_estimate"] = estimate_json(*s.estimate);
  if (s.knn) fields["knn"] = knn_json(*s.knn);
  io_detail::write_members_file(file, fields, s, kSelectionLists);
}

SelectionRecord read_selection_json(const fs::path& file) {
  SelectionRecord s;
  const nlohmann::json j = io_detail::read_members_file(file, s, kSelectionLists);
  s.truth_known = !(j.contains("truth") && j["truth"] == kUnknownText);
  if (s.truth_known) {
    s.correct = io_detail::json_list<std::int64_t>(j, "correct", file);
    s.precision = io_detail::json_list<double>(j, "precision", file);
  } else {
    s.correct.assign(s.names.size(), 0);  // read as 0 for the checks below; truth_known says
    s.precision.assign(s.names.size(), 0.0);
  }
  for (const auto* list : {&s.predicted, &s.selected, &s.correct}) {
    if (list->size() != s.names.size()) {
      throw DataError(file.string() + ": the per-class lists do not have one entry per class (" +
                      std::to_string(s.names.size()) + ")");
    }
  }
  if (s.rates.size() != s.names.size() || s.precision.size() != s.names.size()) {
    throw DataError(file.string() + ": 'rates' and 'precision' need one entry per class (" +
                    std::to_string(s.names.size()) + ")");
  }
  if (!s.truth_known) {
    s.correct.clear();
    s.precision.clear();
  }
  if (s.truth_known) {
    s.pool_true_counts = optional_json_list<std::int64_t>(j, "pool_true_counts", file);
    s.recall = optional_json_list<double>(j, "recall", file);
  }
  const double generation = number_or_nan(j, "generation");
  s.generation = std::isfinite(generation) ? static_cast<int>(generation) : 0;
  const double pool = number_or_nan(j, "pool");
  s.pool = std::isfinite(pool) ? static_cast<std::int64_t>(pool) : 0;
  s.alpha = number_or_nan(j, "alpha");
  if (j.contains("rate_profile") && j["rate_profile"].is_string()) {
    s.rate_profile = j["rate_profile"].get<std::string>();
  }
  const double total = number_or_nan(j, "selected_total");
  s.selected_total = std::isfinite(total) ? static_cast<std::int64_t>(total) : 0;
  s.precision_total = number_or_nan(j, "precision_total");
  for (const auto* list : {&s.rates, &s.precision, &s.recall}) {
    for (double v : *list) io_detail::check_ratio(v, "a rate, precision or recall", file);
  }
  for (const auto* list : {&s.predicted, &s.selected, &s.correct, &s.pool_true_counts}) {
    for (std::int64_t n : *list) io_detail::check_count(n, "a per-class count", file);
  }
  for (std::size_t c = 0; c < s.names.size(); ++c) {
    if (s.selected[c] > s.predicted[c] || (s.truth_known && s.correct[c] > s.selected[c])) {
      throw DataError(file.string() + ": class " + s.names[c] +
                      " selects more images than it predicts, or has more correct than selected; "
                      "the file was edited or damaged");
    }
  }
  io_detail::check_count(s.selected_total, "'selected_total'", file);
  io_detail::check_ratio(s.precision_total, "'precision_total'", file);
  if (j.contains("precision_estimate")) {
    s.estimate = estimate_from_json(j.at("precision_estimate"), s.names.size(), file);
  }
  if (j.contains("policy") && !(j["policy"] == "confidence" || j["policy"] == "knn")) {
    throw DataError(file.string() + ": 'policy' is " + j["policy"].dump() +
                    ", not confidence or knn; the file was edited or damaged");
  }
  if (j.contains("policy")) s.policy = j["policy"].get<std::string>();
  if (s.policy == "knn") {
    if (!j.contains("knn")) {
      throw DataError(file.string() +
                      ": policy knn without its 'knn' record; the file was "
                      "edited or damaged");
    }
    s.knn = knn_from_json(j.at("knn"), s, file);
  }
  return s;
}

}  // namespace crest
