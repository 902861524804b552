#include "json_fields.h"

#include <utility>

#include "crest/io/file.h"
#include "crest/io/json_text.h"

namespace crest::io_detail {

nlohmann::json read_json_file(const std::filesystem::path& file) {
  try {
    return nlohmann::json::parse(read_file(file));
  } catch (const nlohmann::json::exception& e) {
    // parse_error, and out_of_range for a number past double's range (1e999).
    throw DataError(file.string() + ": not valid JSON (" + e.what() +
                    "); crest did not write it so: the file was edited or damaged");
  }
}

void check_ratio(double value, const std::string& what, const std::filesystem::path& file) {
  if (std::isnan(value) || (value >= 0.0 && value <= 1.0)) return;
  throw DataError(file.string() + ": " + what + " is " + std::to_string(value) +
                  ", not a ratio in [0, 1]; the file was edited or damaged");
}

void check_count(std::int64_t value, const std::string& what, const std::filesystem::path& file) {
  if (value >= 0) return;
  throw DataError(file.string() + ": " + what + " is " + std::to_string(value) +
                  ", a negative count; the file was edited or damaged");
}

void write_json_file(const std::filesystem::path& file, const nlohmann::json& j, int indent) {
  write_file_atomic(file, json_text(j, indent) + "\n");
}

nlohmann::json read_json_object(const std::filesystem::path& file) {
  nlohmann::json j = read_json_file(file);
  if (!j.is_object()) throw DataError(file.string() + ": expected a JSON object");
  return j;
}

void check_figures(const EvaluationFigures& f, const std::string& what,
                   const std::filesystem::path& file) {
  check_ratio(f.accuracy, what + " accuracy", file);
  check_ratio(f.mean_recall, what + " mean_recall", file);
  check_ratio(f.mean_precision, what + " mean_precision", file);
  if (f.per_class_recall.size() != f.per_class_precision.size()) {
    throw DataError(file.string() + ": " + what +
                    " per_class_recall and per_class_precision differ in length");
  }
  for (double v : f.per_class_recall) check_ratio(v, what + " per_class_recall", file);
  for (double v : f.per_class_precision) check_ratio(v, what + " per_class_precision", file);
}

void check_accuracy_summary(const AccuracySummary& s, const std::filesystem::path& file) {
  const std::pair<const char*, double> figures[] = {
      {"final_acc", s.final_acc},           {"best", s.best},
      {"median_last_1", s.median_last_1},   {"median_last_10", s.median_last_10},
      {"median_last_20", s.median_last_20}, {"median_last_50", s.median_last_50}};
  for (const auto& [key, value] : figures) check_ratio(value, std::string("'") + key + "'", file);
  check_count(s.best_index, "'best_index'", file);
}

std::vector<std::pair<nlohmann::json, int>> truncate_step_lines(const std::filesystem::path& file,
                                                                std::int64_t step,
                                                                const std::string& remedy) {
  std::vector<std::pair<nlohmann::json, int>> kept_lines;
  std::string kept;
  std::error_code ec;
  if (std::filesystem::exists(file, ec)) {
    const std::vector<std::string> lines = read_lines(file);
    for (std::size_t k = 0; k < lines.size(); ++k) {
      const std::string& line = lines[k];
      const int number = static_cast<int>(k) + 1;
      if (line.empty()) continue;
      nlohmann::json j;
      bool parsed_ok = true;
      try {
        j = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception&) {
        parsed_ok = false;
      }
      if (!parsed_ok || !j.is_object() || !j.contains("step") || !j["step"].is_number()) {
        // A crash can cut the last line short, and that ends the usable history; anything else
        // is not what crest wrote.
        if (k + 1 == lines.size()) break;
        throw DataError(file.string() + ":" + std::to_string(number) +
                        ": not a metrics line (a JSON object with a numeric 'step'); the file was "
                        "edited or damaged. " +
                        remedy);
      }
      if (j["step"].get<double>() > static_cast<double>(step)) break;
      kept_lines.emplace_back(j, number);
      kept += line + "\n";
    }
  }
  write_file_atomic(file, kept);
  return kept_lines;
}

std::pair<std::int64_t, std::int64_t> step_and_epoch(const nlohmann::json& j,
                                                     const std::filesystem::path& where) {
  const auto step = checked_number<std::int64_t>(j.at("step"), "step", where);
  check_count(step, "'step'", where);
  const std::int64_t epoch = j.contains("epoch") && !j["epoch"].is_null()
                                 ? checked_number<std::int64_t>(j["epoch"], "epoch", where)
                                 : 0;
  return {step, epoch};
}

}  // namespace crest::io_detail
