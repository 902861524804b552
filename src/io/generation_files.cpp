#include "crest/io/generation_files.h"

#include <sstream>

#include "crest/io/csv.h"
#include "crest/io/file.h"
#include "json_fields.h"

namespace crest {

namespace fs = std::filesystem;

using io_detail::check_count;
using io_detail::check_figures;
using io_detail::check_ratio;
using io_detail::json_field;
using io_detail::json_list;
using io_detail::kNaN;
using io_detail::number_or_nan;
using io_detail::number_or_null;

namespace {

// A figure that may be null (NaN) in the file.
double nullable(const nlohmann::json& j, const char* key, const fs::path& file, bool strict) {
  if (strict && !j.contains(key)) throw DataError(file.string() + ": expected '" + key + "'");
  return number_or_nan(j, key);
}

std::int64_t count(const nlohmann::json& j, const char* key, const fs::path& file, bool strict) {
  if (!strict && !j.contains(key)) return 0;
  return json_field<std::int64_t>(j, key, file);
}

double figure(const nlohmann::json& j, const char* key, const fs::path& file, bool strict) {
  if (!strict && !j.contains(key)) return kNaN;
  return json_field<double>(j, key, file);
}

// Every count non-negative, every figure NaN or in [0, 1].
void check_row(const GenerationRow& row, const fs::path& file) {
  const std::string at = "generation " + std::to_string(row.generation) + ": ";
  check_count(row.generation, "'generation'", file);
  check_count(row.labeled, at + "'labeled'", file);
  check_count(row.pseudo_labeled, at + "'pseudo_labeled'", file);
  check_count(row.selected, at + "'selected'", file);
  if (row.pseudo_labeled > row.labeled) {
    throw DataError(file.string() + ": " + at + "more pseudo-labeled images than labeled ones; " +
                    "the file was edited or damaged");
  }
  const std::pair<const char*, double> figures[] = {
      {"t", row.t},
      {"accuracy", row.accuracy},
      {"mean_recall", row.mean_recall},
      {"mean_precision", row.mean_precision},
      {"minority_recall", row.minority_recall},
      {"majority_recall", row.majority_recall},
      {"minority_precision", row.minority_precision},
      {"selection_precision", row.selection_precision},
      {"val_mean_recall", row.val_mean_recall}};
  for (const auto& [key, value] : figures) check_ratio(value, at + "'" + key + "'", file);
}

}  // namespace

nlohmann::json to_json(const GenerationRow& row) {
  return {{"generation", row.generation},
          {"t", row.t},
          {"labeled", row.labeled},
          {"pseudo_labeled", row.pseudo_labeled},
          {"accuracy", row.accuracy},
          {"mean_recall", row.mean_recall},
          {"mean_precision", row.mean_precision},
          {"minority_recall", row.minority_recall},
          {"majority_recall", row.majority_recall},
          {"minority_precision", row.minority_precision},
          {"selected", row.selected},
          {"selection_precision", number_or_null(row.selection_precision)},
          {"val_mean_recall", number_or_null(row.val_mean_recall)}};
}

GenerationRow generation_row_from_json(const nlohmann::json& j, const fs::path& file, bool strict) {
  if (!j.is_object()) throw DataError(file.string() + ": a generation row must be a JSON object");
  GenerationRow row;
  row.generation = json_field<int>(j, "generation", file);
  row.t = figure(j, "t", file, strict);
  row.labeled = count(j, "labeled", file, strict);
  row.pseudo_labeled = count(j, "pseudo_labeled", file, strict);
  row.accuracy = figure(j, "accuracy", file, strict);
  row.mean_recall = figure(j, "mean_recall", file, strict);
  row.mean_precision = figure(j, "mean_precision", file, strict);
  row.minority_recall = figure(j, "minority_recall", file, strict);
  row.majority_recall = figure(j, "majority_recall", file, strict);
  row.minority_precision = figure(j, "minority_precision", file, strict);
  row.selected = count(j, "selected", file, strict);
  row.selection_precision = nullable(j, "selection_precision", file, strict);
  row.val_mean_recall = nullable(j, "val_mean_recall", file, strict);
  check_row(row, file);
  return row;
}

void write_generations_csv(const fs::path& file, const std::vector<GenerationRow>& rows) {
  std::ostringstream out;
  out << "generation,t,labeled,pseudo_labeled,accuracy,mean_recall,mean_precision,"
         "minority_recall,majority_recall,minority_precision,selected,selection_precision,"
         "val_mean_recall\n";
  for (const auto& r : rows) {
    out << r.generation << "," << csv_number(r.t) << "," << r.labeled << "," << r.pseudo_labeled
        << "," << csv_number(r.accuracy) << "," << csv_number(r.mean_recall) << ","
        << csv_number(r.mean_precision) << "," << csv_number(r.minority_recall) << ","
        << csv_number(r.majority_recall) << "," << csv_number(r.minority_precision) << ","
        << r.selected << "," << csv_number(r.selection_precision) << ","
        << csv_number(r.val_mean_recall) << "\n";
  }
  write_file_atomic(file, out.str());
}

std::vector<GenerationRow> read_generations_csv(const fs::path& file) {
  const CsvTable t = read_csv(file);
  const std::size_t generation = t.column("generation"), tc = t.column("t"),
                    labeled = t.column("labeled"), pseudo = t.column("pseudo_labeled"),
                    accuracy = t.column("accuracy"), mean_recall = t.column("mean_recall"),
                    mean_precision = t.column("mean_precision"),
                    minority_recall = t.column("minority_recall"),
                    majority_recall = t.column("majority_recall"),
                    minority_precision = t.column("minority_precision"),
                    selected = t.column("selected"),
                    selection_precision = t.column("selection_precision");
  // Older runs may lack the validation column.
  const std::size_t val = t.find_column("val_mean_recall");
  std::vector<GenerationRow> rows;
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    // The writer leaves a figure that is not defined empty: those read back as NaN.
    auto ratio = [&](std::size_t col) { return t.number(r, col, /*optional=*/true); };
    GenerationRow g;
    g.generation = static_cast<int>(t.integer(r, generation));
    g.t = ratio(tc);
    g.labeled = t.integer(r, labeled);
    g.pseudo_labeled = t.integer(r, pseudo);
    g.accuracy = ratio(accuracy);
    g.mean_recall = ratio(mean_recall);
    g.mean_precision = ratio(mean_precision);
    g.minority_recall = ratio(minority_recall);
    g.majority_recall = ratio(majority_recall);
    g.minority_precision = ratio(minority_precision);
    g.selected = t.integer(r, selected);
    g.selection_precision = ratio(selection_precision);
    if (val < t.header.size()) g.val_mean_recall = ratio(val);
    rows.push_back(g);
  }
  return rows;
}

void write_generation_record(const fs::path& file, const GenerationRecord& record) {
  const nlohmann::json j = {{"row", to_json(record.row)},
                            {"test", to_json(record.test)},
                            {"labeled_counts", record.labeled_counts},
                            {"ema_accuracy", to_json(record.ema_accuracy)}};
  io_detail::write_json_file(file, j);
}

GenerationRecord read_generation_record(const fs::path& file) {
  const nlohmann::json j = io_detail::read_json_object(file);
  GenerationRecord record;
  for (const char* key : {"row", "test", "ema_accuracy"}) {
    if (!j.contains(key)) throw DataError(file.string() + ": expected '" + key + "'");
  }
  record.row = generation_row_from_json(j.at("row"), file, /*strict=*/true);
  record.test = evaluation_figures_from_json(j.at("test"), file);
  record.labeled_counts = json_list<std::int64_t>(j, "labeled_counts", file);
  record.ema_accuracy = accuracy_summary_from_json(j.at("ema_accuracy"), file);
  check_figures(record.test, "'test'", file);
  if (record.labeled_counts.size() != record.test.per_class_recall.size()) {
    throw DataError(file.string() + ": 'labeled_counts' has " +
                    std::to_string(record.labeled_counts.size()) + " classes, 'test' has " +
                    std::to_string(record.test.per_class_recall.size()));
  }
  for (std::int64_t n : record.labeled_counts) check_count(n, "'labeled_counts'", file);
  io_detail::check_accuracy_summary(record.ema_accuracy, file);
  return record;
}

void write_run_summary(const fs::path& file, const RunSummary& s) {
  nlohmann::json j = {{"status", s.status}, {"mode", s.mode}, {"select_on", s.select_on}};
  if (s.failed_generation) j["failed_generation"] = *s.failed_generation;
  if (!s.error.empty()) j["error"] = s.error;
  if (s.best_generation) j["best_generation"] = *s.best_generation;
  if (s.best) j["best"] = to_json(*s.best);
  if (s.final_row) j["final"] = to_json(*s.final_row);
  if (s.minority_classes) j["minority_classes"] = *s.minority_classes;
  if (s.majority_classes) j["majority_classes"] = *s.majority_classes;
  if (s.generations) {
    nlohmann::json generations = nlohmann::json::array();
    for (const auto& r : *s.generations) generations.push_back(to_json(r));
    j["generations"] = generations;
  }
  io_detail::write_json_file(file, j);
}

RunSummary read_run_summary(const fs::path& file) {
  const nlohmann::json j = io_detail::read_json_object(file);
  RunSummary s;
  if (j.contains("status")) s.status = json_field<std::string>(j, "status", file);
  if (s.status != kRunFinished && s.status != kRunDiverged) {
    throw DataError(file.string() + ": 'status' is \"" + s.status + "\", expected \"" +
                    kRunFinished + "\" or \"" + kRunDiverged + "\"");
  }
  if (j.contains("failed_generation")) {
    s.failed_generation = json_field<int>(j, "failed_generation", file);
  }
  if (j.contains("error")) s.error = json_field<std::string>(j, "error", file);
  if (j.contains("mode")) s.mode = json_field<std::string>(j, "mode", file);
  if (j.contains("select_on")) s.select_on = json_field<std::string>(j, "select_on", file);
  const auto best = j.find("best_generation");
  if (best != j.end() && best->is_number_integer()) s.best_generation = best->get<int>();
  if (j.contains("best")) s.best = generation_row_from_json(j.at("best"), file, false);
  if (j.contains("final")) s.final_row = generation_row_from_json(j.at("final"), file, false);
  if (j.contains("minority_classes")) {
    s.minority_classes = json_list<int>(j, "minority_classes", file);
  }
  if (j.contains("majority_classes")) {
    s.majority_classes = json_list<int>(j, "majority_classes", file);
  }
  if (j.contains("generations")) {
    if (!j.at("generations").is_array()) {
      throw DataError(file.string() + ": expected a list 'generations'");
    }
    s.generations.emplace();
    for (const auto& row : j.at("generations")) {
      s.generations->push_back(generation_row_from_json(row, file, false));
    }
  }
  return s;
}

}  // namespace crest
