// Figures that several run files embed: the test-set figures of an evaluation and the summary of
// a generation's accuracy series. Plain records (no tensors), so readers stay light.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

namespace crest {

// The EMA model on the test set, as generation.json ("test") and gen_K/summary.json
// ("final_ema") hold it. Ratios in [0, 1]; per-class vectors indexed by class. Built from an
// Evaluation by evaluation_figures() (metrics/metrics.h).
struct EvaluationFigures {
  double accuracy = 0.0;
  double mean_recall = 0.0;
  double mean_precision = 0.0;
  std::vector<double> per_class_recall;
  std::vector<double> per_class_precision;
};

// Summary of the test accuracies of a generation, one per evaluation in order (built by
// summarize_accuracies in metrics/metrics.h).
struct AccuracySummary {
  double final_acc = 0.0;       // the last one
  double best = 0.0;            // the largest
  std::int64_t best_index = 0;  // the first evaluation that reached `best`
  // Median of the last k evaluations, or of all of them when there are fewer than k; the
  // median of an even count is the mean of the two middle values.
  double median_last_1 = 0.0;
  double median_last_10 = 0.0;
  double median_last_20 = 0.0;
  double median_last_50 = 0.0;
};

// {accuracy, mean_recall, mean_precision, per_class_recall: [...], per_class_precision: [...]}
nlohmann::json to_json(const EvaluationFigures& figures);
// The inverse; DataError naming `file` when a field is absent or of the wrong type.
EvaluationFigures evaluation_figures_from_json(const nlohmann::json& j,
                                               const std::filesystem::path& file);

// {final_acc, best, best_index, median_last_1, median_last_10, median_last_20, median_last_50}
nlohmann::json to_json(const AccuracySummary& summary);
// The inverse; DataError naming `file` as above.
AccuracySummary accuracy_summary_from_json(const nlohmann::json& j,
                                           const std::filesystem::path& file);

}  // namespace crest
