#include "crest/io/training_files.h"

#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <utility>

#include "crest/io/file.h"
#include "crest/io/json_text.h"
#include "json_fields.h"

namespace crest {

namespace fs = std::filesystem;

using io_detail::get_members;
using io_detail::json_field;
using io_detail::json_member;
using io_detail::number_or_nan;

namespace {

nlohmann::json metrics_json(const MetricsLine& l) {
  nlohmann::json j = {{"step", l.step},
                      {"epoch", l.epoch},
                      {"lr", l.lr},
                      {"loss", l.loss},
                      {"loss_x", l.loss_x},
                      {"loss_u", l.loss_u},
                      {"mask_rate", l.mask_rate},
                      {"pseudo_label_acc", l.pseudo_label_acc},
                      {"acc_raw", l.acc_raw},
                      {"acc_ema", l.acc_ema},
                      {"acc_raw_la", l.acc_raw_la},
                      {"acc_ema_la", l.acc_ema_la},
                      {"mean_recall_ema", l.mean_recall_ema},
                      {"per_class_recall_ema", l.per_class_recall_ema},
                      {"per_class_recall_raw", l.per_class_recall_raw},
                      {"steps_per_sec", l.steps_per_sec}};
  for (const auto& [key, values] : l.learner_figures) {
    j[key] = values.size() == 1 ? nlohmann::json(values[0]) : nlohmann::json(values);
  }
  return j;
}

std::vector<double> numbers_or_empty(const nlohmann::json& j, const char* key) {
  std::vector<double> out;
  const auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& v : *it) out.push_back(v.is_number() ? v.get<double>() : io_detail::kNaN);
  return out;
}

// A parsed line; `step` must be a number (the caller checks).
// `where`: FILE:LINE for messages. Steps are whole and non-negative, accuracies and rates
// ratios (or absent), per-class recalls ratios.
MetricsLine metrics_from_json(const nlohmann::json& j, const fs::path& where) {
  MetricsLine l;
  std::tie(l.step, l.epoch) = io_detail::step_and_epoch(j, where);
  l.lr = number_or_nan(j, "lr");
  l.loss = number_or_nan(j, "loss");
  l.loss_x = number_or_nan(j, "loss_x");
  l.loss_u = number_or_nan(j, "loss_u");
  l.mask_rate = number_or_nan(j, "mask_rate");
  l.pseudo_label_acc = number_or_nan(j, "pseudo_label_acc");
  l.acc_raw = number_or_nan(j, "acc_raw");
  l.acc_ema = number_or_nan(j, "acc_ema");
  l.acc_raw_la = number_or_nan(j, "acc_raw_la");
  l.acc_ema_la = number_or_nan(j, "acc_ema_la");
  l.mean_recall_ema = number_or_nan(j, "mean_recall_ema");
  l.per_class_recall_ema = numbers_or_empty(j, "per_class_recall_ema");
  l.per_class_recall_raw = numbers_or_empty(j, "per_class_recall_raw");
  l.steps_per_sec = number_or_nan(j, "steps_per_sec");
  // Any other key is a learner's own figure (a number, or an array of numbers).
  static const nlohmann::json known = metrics_json(MetricsLine{});
  for (const auto& [key, value] : j.items()) {
    if (known.contains(key)) continue;
    l.learner_figures.emplace_back(key, value.is_array()
                                            ? numbers_or_empty(j, key.c_str())
                                            : std::vector<double>{number_or_nan(j, key.c_str())});
  }
  const std::pair<const char*, double> ratios[] = {{"mask_rate", l.mask_rate},
                                                   {"pseudo_label_acc", l.pseudo_label_acc},
                                                   {"acc_raw", l.acc_raw},
                                                   {"acc_ema", l.acc_ema},
                                                   {"acc_raw_la", l.acc_raw_la},
                                                   {"acc_ema_la", l.acc_ema_la},
                                                   {"mean_recall_ema", l.mean_recall_ema}};
  for (const auto& [key, value] : ratios) {
    io_detail::check_ratio(value, std::string("'") + key + "'", where);
  }
  for (double v : l.per_class_recall_ema)
    io_detail::check_ratio(v, "'per_class_recall_ema'", where);
  for (double v : l.per_class_recall_raw)
    io_detail::check_ratio(v, "'per_class_recall_raw'", where);
  return l;
}

fs::path line_of(const fs::path& file, int line) {
  return fs::path(file.string() + ":" + std::to_string(line));
}

bool has_numeric_step(const nlohmann::json& j) {
  return j.is_object() && j.contains("step") && j["step"].is_number();
}

}  // namespace

std::string metrics_line_text(const MetricsLine& line) { return json_text(metrics_json(line)); }

void start_metrics_file(const fs::path& file) { write_file_atomic(file, ""); }

void append_metrics_line(const fs::path& file, const MetricsLine& line) {
  append_line(file, metrics_line_text(line));
}

MetricsLog read_metrics_file(const fs::path& file) {
  const std::string text = read_file(file);
  MetricsLog log;
  std::size_t begin = 0;
  for (int line = 1; begin < text.size(); ++line) {
    std::size_t end = text.find('\n', begin);
    const bool last_unterminated = end == std::string::npos;
    if (last_unterminated) end = text.size();
    const std::string content = text.substr(begin, end - begin);
    begin = end + 1;
    if (content.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(content);
    } catch (const nlohmann::json::exception& e) {
      if (last_unterminated) {
        log.cut_line = line;
        break;
      }
      throw DataError(file.string() + ":" + std::to_string(line) + ": not valid JSON: " + e.what());
    }
    if (!has_numeric_step(j)) {
      throw DataError(file.string() + ":" + std::to_string(line) +
                      ": expected a JSON object with a numeric 'step'");
    }
    log.lines.push_back(metrics_from_json(j, line_of(file, line)));
  }
  return log;
}

std::vector<MetricsLine> truncate_metrics_file(const fs::path& file, std::int64_t step) {
  std::vector<MetricsLine> kept;
  for (const auto& [j, number] : io_detail::truncate_step_lines(
           file, step, "Move the generation's folder away to retrain it")) {
    kept.push_back(metrics_from_json(j, line_of(file, number)));
  }
  return kept;
}

// The plain fields of training_summary.json (the figures are objects of their own), in the
// order they are read: the counts before the figures, the fingerprints after them.
constexpr auto kSummaryCounts =
    std::make_tuple(json_member("steps", &TrainingSummary::steps),
                    json_member("evaluations", &TrainingSummary::evaluations));
constexpr auto kSummaryFingerprints =
    std::make_tuple(json_member("model_fingerprint", &TrainingSummary::model_fingerprint),
                    json_member("ema_fingerprint", &TrainingSummary::ema_fingerprint));

void write_training_summary(const fs::path& file, const TrainingSummary& s) {
  std::map<std::string, nlohmann::json> objects = {{"ema_accuracy", to_json(s.ema_accuracy)},
                                                   {"final_ema", to_json(s.final_ema)}};
  if (!s.init_backbone_fingerprint.empty()) {
    objects["init_backbone_fingerprint"] = s.init_backbone_fingerprint;
  }
  if (!s.warm_start_fingerprint.empty()) {
    objects["warm_start_fingerprint"] = s.warm_start_fingerprint;
  }
  if (!s.precision.empty()) objects["precision"] = s.precision;
  if (!s.memory_format.empty()) objects["memory_format"] = s.memory_format;
  io_detail::write_members_file(file, objects, s,
                                std::tuple_cat(kSummaryCounts, kSummaryFingerprints));
}

TrainingSummary read_training_summary(const fs::path& file) {
  TrainingSummary s;
  const nlohmann::json j = io_detail::read_members_file(file, s, kSummaryCounts);
  if (!j.contains("ema_accuracy") || !j.contains("final_ema")) {
    throw DataError(file.string() + ": expected 'ema_accuracy' and 'final_ema'");
  }
  s.ema_accuracy = accuracy_summary_from_json(j.at("ema_accuracy"), file);
  s.final_ema = evaluation_figures_from_json(j.at("final_ema"), file);
  get_members(j, file, s, kSummaryFingerprints);
  if (j.contains("init_backbone_fingerprint") && j["init_backbone_fingerprint"].is_string()) {
    s.init_backbone_fingerprint = j["init_backbone_fingerprint"].get<std::string>();
  }
  for (auto [key, field] :
       {std::pair{"warm_start_fingerprint", &TrainingSummary::warm_start_fingerprint},
        std::pair{"precision", &TrainingSummary::precision},
        std::pair{"memory_format", &TrainingSummary::memory_format}}) {
    if (j.contains(key) && j[key].is_string()) s.*field = j[key].get<std::string>();
  }
  io_detail::check_count(s.steps, "'steps'", file);
  io_detail::check_count(s.evaluations, "'evaluations'", file);
  io_detail::check_accuracy_summary(s.ema_accuracy, file);
  io_detail::check_figures(s.final_ema, "'final_ema'", file);
  return s;
}

}  // namespace crest
