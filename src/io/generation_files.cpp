#include "crest/io/generation_files.h"

#include <sstream>

#include "crest/io/csv.h"
#include "crest/io/file.h"
#include "crest/io/run_files.h"
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

// The figures of a row (ratios; t_g is one too), with how a reader treats each: kRequired must be
// a number in a strict read, kNullable may be null (undefined), kNewer may be absent (files of
// older versions) or null.
enum class FigureRule { kRequired, kNullable, kNewer };
struct RowFigure {
  const char* key;
  double GenerationRow::*member;
  FigureRule rule;
};
constexpr RowFigure kRowFigures[] = {
    {"t", &GenerationRow::t, FigureRule::kRequired},
    {"accuracy", &GenerationRow::accuracy, FigureRule::kRequired},
    {"mean_recall", &GenerationRow::mean_recall, FigureRule::kRequired},
    {"mean_precision", &GenerationRow::mean_precision, FigureRule::kRequired},
    {"minority_recall", &GenerationRow::minority_recall, FigureRule::kRequired},
    {"majority_recall", &GenerationRow::majority_recall, FigureRule::kRequired},
    {"minority_precision", &GenerationRow::minority_precision, FigureRule::kRequired},
    {"selection_precision", &GenerationRow::selection_precision, FigureRule::kNullable},
    {"val_mean_recall", &GenerationRow::val_mean_recall, FigureRule::kNullable},
    {"accuracy_median_last_20", &GenerationRow::accuracy_median_last_20, FigureRule::kNewer}};

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
  for (const RowFigure& f : kRowFigures) check_ratio(row.*f.member, at + "'" + f.key + "'", file);
}

}  // namespace

nlohmann::json to_json(const GenerationRow& row) {
  nlohmann::json j = {{"generation", row.generation},
                      {"labeled", row.labeled},
                      {"pseudo_labeled", row.pseudo_labeled},
                      {"selected", row.selected}};
  for (const RowFigure& f : kRowFigures) j[f.key] = number_or_null(row.*f.member);
  return j;
}

GenerationRow generation_row_from_json(const nlohmann::json& j, const fs::path& file, bool strict) {
  if (!j.is_object()) throw DataError(file.string() + ": a generation row must be a JSON object");
  GenerationRow row;
  row.generation = json_field<int>(j, "generation", file);
  for (const RowFigure& f : kRowFigures) {
    switch (f.rule) {
      case FigureRule::kRequired:
        row.*f.member = figure(j, f.key, file, strict);
        break;
      case FigureRule::kNullable:
        row.*f.member = nullable(j, f.key, file, strict);
        break;
      case FigureRule::kNewer:
        row.*f.member = number_or_nan(j, f.key);
        break;
    }
  }
  row.labeled = count(j, "labeled", file, strict);
  row.pseudo_labeled = count(j, "pseudo_labeled", file, strict);
  row.selected = count(j, "selected", file, strict);
  check_row(row, file);
  return row;
}

void write_generations_csv(const fs::path& file, const std::vector<GenerationRow>& rows) {
  std::ostringstream out;
  out << "generation,t,labeled,pseudo_labeled,accuracy,mean_recall,mean_precision,"
         "minority_recall,majority_recall,minority_precision,selected,selection_precision,"
         "val_mean_recall,accuracy_median_last_20\n";
  for (const auto& r : rows) {
    out << r.generation << "," << csv_number(r.t) << "," << r.labeled << "," << r.pseudo_labeled
        << "," << csv_number(r.accuracy) << "," << csv_number(r.mean_recall) << ","
        << csv_number(r.mean_precision) << "," << csv_number(r.minority_recall) << ","
        << csv_number(r.majority_recall) << "," << csv_number(r.minority_precision) << ","
        << r.selected << "," << csv_number(r.selection_precision) << ","
        << csv_number(r.val_mean_recall) << "," << csv_number(r.accuracy_median_last_20) << "\n";
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
  const std::size_t median = t.find_column("accuracy_median_last_20");
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
    if (median < t.header.size()) g.accuracy_median_last_20 = ratio(median);
    rows.push_back(g);
  }
  return rows;
}

void write_generation_record(const fs::path& file, const GenerationRecord& record) {
  nlohmann::json j = {{"row", to_json(record.row)},
                      {"test", to_json(record.test)},
                      {"labeled_counts", record.labeled_counts},
                      {"ema_accuracy", to_json(record.ema_accuracy)}};
  if (!record.files.empty()) {
    nlohmann::json& files = j["files"];
    for (const auto& [name, f] : record.files) {
      files[name] = {{"bytes", f.bytes}, {"fnv1a64", f.fnv1a64}};
    }
  }
  io_detail::write_json_file(file, j);
}

const char* const kGenerationReadBackFiles[3] = {kPseudoLabelsFile, kSelectionFile,
                                                 kTrainingSummaryFile};

namespace {

// generation.json's "files" (absent in files of older versions: none).
std::map<std::string, FileFingerprint> fingerprints_from_json(const nlohmann::json& j,
                                                              const fs::path& file) {
  std::map<std::string, FileFingerprint> files;
  const auto it = j.find("files");
  if (it == j.end()) return files;
  if (!it->is_object())
    throw DataError(file.string() + ": 'files' is " + it->dump() +
                    ", not an object of file fingerprints");
  for (const auto& [name, f] : it->items()) {
    if (!f.is_object()) throw DataError(file.string() + ": 'files." + name + "' is not an object");
    FileFingerprint fingerprint;
    fingerprint.bytes = json_field<std::int64_t>(f, "bytes", file);
    fingerprint.fnv1a64 = json_field<std::string>(f, "fnv1a64", file);
    files[name] = fingerprint;
  }
  return files;
}

}  // namespace

std::map<std::string, FileFingerprint> read_back_fingerprints(const fs::path& gen_dir) {
  std::map<std::string, FileFingerprint> files;
  for (const char* name : kGenerationReadBackFiles) {
    if (fs::exists(gen_dir / name)) files[name] = fingerprint_file(gen_dir / name);
  }
  return files;
}

void check_generation_files(const fs::path& gen_dir, const GenerationRecord& record) {
  const std::string remedy =
      ". A resume reads it back as it was when the generation finished, and the generation "
      "after it would train on something else: put the original file back, or start a new run "
      "folder";
  const std::string done = (gen_dir / kGenerationDoneFile).string();
  for (const auto& [name, recorded] : record.files) {
    const fs::path file = gen_dir / name;
    if (!fs::exists(file)) {
      throw DataError(file.string() + " is missing, but " + done + " recorded it (" +
                      std::to_string(recorded.bytes) + " bytes)" + remedy);
    }
    const FileFingerprint now = fingerprint_file(file);
    if (now != recorded) {
      throw DataError(file.string() + " changed after generation " +
                      std::to_string(record.row.generation) + " finished: " + done + " recorded " +
                      std::to_string(recorded.bytes) + " bytes with FNV-1a " + recorded.fnv1a64 +
                      ", the file now has " + std::to_string(now.bytes) + " bytes with FNV-1a " +
                      now.fnv1a64 + remedy);
    }
  }
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
  record.files = fingerprints_from_json(j, file);
  return record;
}

void write_run_summary(const fs::path& file, const RunSummary& s) {
  nlohmann::json j = {{"status", s.status}, {"mode", s.mode}, {"select_on", s.select_on}};
  if (!s.pool_truth_known) j["pool_truth"] = "unknown";
  if (s.failed_generation) j["failed_generation"] = *s.failed_generation;
  if (!s.error.empty()) j["error"] = s.error;
  // Under select_on val the generation chosen on validation is "selected"; under select_on last
  // it is simply the last one, named so (no "best": nothing was compared).
  if (s.best_generation && s.select_on == kSelectOnValidation) {
    j["selected_generation"] = *s.best_generation;
    j["selected_on"] = kSelectedOnMetric;
    if (s.best) j["selected"] = to_json(*s.best);
  } else if (s.best_generation) {
    j["last_generation"] = *s.best_generation;
  }
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
  if (j.contains("pool_truth")) {
    const auto truth = json_field<std::string>(j, "pool_truth", file);
    if (truth != "unknown") {
      throw DataError(file.string() + ": 'pool_truth' is \"" + truth +
                      "\", expected \"unknown\" or no such key");
    }
    s.pool_truth_known = false;
  }
  // "selected_generation" (select_on val), "last_generation" (select_on last) or, in files of
  // older versions, "best_generation" for either.
  for (const char* key : {"selected_generation", "last_generation", "best_generation"}) {
    const auto chosen = j.find(key);
    if (!s.best_generation && chosen != j.end() && chosen->is_number_integer()) {
      s.best_generation = chosen->get<int>();
    }
  }
  for (const char* key : {"selected", "best"}) {
    if (!s.best && j.contains(key)) s.best = generation_row_from_json(j.at(key), file, false);
  }
  if (j.contains("final")) s.final_row = generation_row_from_json(j.at("final"), file, false);
  // The last generation's row is the final one.
  if (!s.best && s.final_row && s.best_generation == s.final_row->generation) s.best = s.final_row;
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
