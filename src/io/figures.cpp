#include "crest/io/figures.h"

#include <tuple>

#include "json_fields.h"

namespace crest {

using io_detail::json_member;
using io_detail::members_from_json;
using io_detail::members_to_json;

namespace {

// The JSON fields of each record, in the order they are read.
constexpr auto kFigureMembers =
    std::make_tuple(json_member("accuracy", &EvaluationFigures::accuracy),
                    json_member("mean_recall", &EvaluationFigures::mean_recall),
                    json_member("mean_precision", &EvaluationFigures::mean_precision),
                    json_member("per_class_recall", &EvaluationFigures::per_class_recall),
                    json_member("per_class_precision", &EvaluationFigures::per_class_precision));

constexpr auto kSummaryMembers =
    std::make_tuple(json_member("final_acc", &AccuracySummary::final_acc),
                    json_member("best", &AccuracySummary::best),
                    json_member("best_index", &AccuracySummary::best_index),
                    json_member("median_last_1", &AccuracySummary::median_last_1),
                    json_member("median_last_10", &AccuracySummary::median_last_10),
                    json_member("median_last_20", &AccuracySummary::median_last_20),
                    json_member("median_last_50", &AccuracySummary::median_last_50));

}  // namespace

nlohmann::json to_json(const EvaluationFigures& figures) {
  return members_to_json(figures, kFigureMembers);
}

EvaluationFigures evaluation_figures_from_json(const nlohmann::json& j,
                                               const std::filesystem::path& file) {
  return members_from_json<EvaluationFigures>(j, file, kFigureMembers);
}

nlohmann::json to_json(const AccuracySummary& summary) {
  return members_to_json(summary, kSummaryMembers);
}

AccuracySummary accuracy_summary_from_json(const nlohmann::json& j,
                                           const std::filesystem::path& file) {
  return members_from_json<AccuracySummary>(j, file, kSummaryMembers);
}

}  // namespace crest
