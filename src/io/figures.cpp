#include "crest/io/figures.h"

#include "json_fields.h"

namespace crest {

using io_detail::json_field;
using io_detail::json_list;

nlohmann::json to_json(const EvaluationFigures& figures) {
  return {{"accuracy", figures.accuracy},
          {"mean_recall", figures.mean_recall},
          {"mean_precision", figures.mean_precision},
          {"per_class_recall", figures.per_class_recall},
          {"per_class_precision", figures.per_class_precision}};
}

EvaluationFigures evaluation_figures_from_json(const nlohmann::json& j,
                                               const std::filesystem::path& file) {
  EvaluationFigures f;
  f.accuracy = json_field<double>(j, "accuracy", file);
  f.mean_recall = json_field<double>(j, "mean_recall", file);
  f.mean_precision = json_field<double>(j, "mean_precision", file);
  f.per_class_recall = json_list<double>(j, "per_class_recall", file);
  f.per_class_precision = json_list<double>(j, "per_class_precision", file);
  return f;
}

nlohmann::json to_json(const AccuracySummary& summary) {
  return {{"final_acc", summary.final_acc},           {"best", summary.best},
          {"best_index", summary.best_index},         {"median_last_1", summary.median_last_1},
          {"median_last_10", summary.median_last_10}, {"median_last_20", summary.median_last_20},
          {"median_last_50", summary.median_last_50}};
}

AccuracySummary accuracy_summary_from_json(const nlohmann::json& j,
                                           const std::filesystem::path& file) {
  AccuracySummary s;
  s.final_acc = json_field<double>(j, "final_acc", file);
  s.best = json_field<double>(j, "best", file);
  s.best_index = json_field<std::int64_t>(j, "best_index", file);
  s.median_last_1 = json_field<double>(j, "median_last_1", file);
  s.median_last_10 = json_field<double>(j, "median_last_10", file);
  s.median_last_20 = json_field<double>(j, "median_last_20", file);
  s.median_last_50 = json_field<double>(j, "median_last_50", file);
  return s;
}

}  // namespace crest
