#include "crest/report/report.h"

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <system_error>

#include "crest/config/choices.h"
#include "crest/report/svg.h"
#include "crest/util/error.h"
#include "crest/util/fs.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Page geometry in CSS pixels; charts get viewBoxes of the width they are shown at, so their
// text keeps its size on a laptop screen (~1280 px).
constexpr double kFullWidth = 1140;
constexpr double kHalfWidth = 560;
// Grouped bars stay readable up to about this many bars a chart; beyond it, lines.
constexpr std::size_t kMaxBarsFull = 160;
constexpr std::size_t kMaxBarsHalf = 60;
// crest.log lines shown under "Environment" (the first and last half when there are more).
constexpr std::size_t kMaxLogLines = 60;

// ---- reading --------------------------------------------------------------------------------

// The name of `file` relative to the run folder, for messages people read next to the folder.
std::string relative_name(const fs::path& dir, const fs::path& file) {
  std::error_code ec;
  const fs::path rel = fs::relative(file, dir, ec);
  return ec || rel.empty() ? file.string() : rel.generic_string();
}

// An RFC 4180 CSV file (quoted fields may hold commas, quotes and line breaks), its header and
// the line each row starts on, with accessors that name file:line in their errors.
struct CsvTable {
  fs::path file;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int> lines;

  std::string where(std::size_t row) const {
    return file.string() + ":" + std::to_string(lines[row]);
  }

  std::size_t column(const std::string& name) const {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) {
      throw DataError(file.string() + ":1: no column '" + name +
                      "' in the header; is this a file of a crest run?");
    }
    return static_cast<std::size_t>(it - header.begin());
  }

  // The number in (row, col); "" is NaN when `optional`, an error otherwise.
  double number(std::size_t row, std::size_t col, bool optional = false) const {
    const std::string& text = rows[row][col];
    if (text.empty() && optional) return kNaN;
    errno = 0;
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE) {
      throw DataError(where(row) + ": column '" + header[col] + "' is '" + text +
                      "', not a number");
    }
    return value;
  }

  std::int64_t integer(std::size_t row, std::size_t col) const {
    const double value = number(row, col);
    if (value != std::floor(value) || std::abs(value) > 9e15) {
      throw DataError(where(row) + ": column '" + header[col] + "' is '" + rows[row][col] +
                      "', not a whole number");
    }
    return static_cast<std::int64_t>(value);
  }
};

CsvTable read_csv(const fs::path& file) {
  const std::string text = read_file(file);
  CsvTable table;
  table.file = file;
  std::vector<std::vector<std::string>> records;
  std::vector<int> starts;
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false;
  bool in_record = false;
  int line = 1;
  int start = 1;
  auto end_record = [&]() {
    fields.push_back(field);
    field.clear();
    // A blank line is not a record.
    if (!(fields.size() == 1 && fields[0].empty())) {
      records.push_back(fields);
      starts.push_back(start);
    }
    fields.clear();
    in_record = false;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!in_record) {
      in_record = true;
      start = line;
    }
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
    } else if (c == '"' && field.empty()) {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(field);
      field.clear();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_record();
      ++line;
    } else {
      field += c;
    }
  }
  if (quoted) {
    throw DataError(file.string() + ":" + std::to_string(start) +
                    ": a quoted field is never closed (the file is damaged or cut off)");
  }
  if (in_record) end_record();
  if (records.empty()) throw DataError(file.string() + ":1: the file is empty, expected a header");
  table.header = records.front();
  for (std::size_t r = 1; r < records.size(); ++r) {
    if (records[r].size() != table.header.size()) {
      throw DataError(file.string() + ":" + std::to_string(starts[r]) + ": " +
                      std::to_string(records[r].size()) + " fields, the header has " +
                      std::to_string(table.header.size()));
    }
    table.rows.push_back(records[r]);
    table.lines.push_back(starts[r]);
  }
  return table;
}

nlohmann::json read_json(const fs::path& file) {
  try {
    return nlohmann::json::parse(read_file(file));
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann's message says "at line L, column C".
    throw DataError(file.string() + ": not valid JSON: " + e.what());
  }
}

template <typename T>
std::vector<T> json_list(const nlohmann::json& j, const char* key, const fs::path& file) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_array()) {
    throw DataError(file.string() + ": expected a list '" + key + "'");
  }
  std::vector<T> out;
  for (const auto& v : *it) {
    if constexpr (std::is_same_v<T, std::string>) {
      if (!v.is_string()) throw DataError(file.string() + ": '" + key + "' must hold strings");
      out.push_back(v.get<std::string>());
    } else {
      if (!v.is_number()) throw DataError(file.string() + ": '" + key + "' must hold numbers");
      out.push_back(v.get<T>());
    }
  }
  return out;
}

double json_number(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : kNaN;
}

// Checks that a per-class file lists the same number of classes as the files before it.
struct ClassCheck {
  std::string first_file;
  std::size_t count = 0;

  void operator()(std::size_t classes, const fs::path& file, const fs::path& dir) {
    if (first_file.empty()) {
      first_file = relative_name(dir, file);
      count = classes;
    } else if (classes != count) {
      throw DataError(file.string() + ": " + std::to_string(classes) + " classes, but " +
                      first_file + " has " + std::to_string(count) +
                      "; the files come from different runs");
    }
  }
};

// Rows must list classes 0, 1, ... in order (the writers do), so index c is class c.
void check_class_column(const CsvTable& table) {
  const std::size_t col = table.column("class");
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    if (table.integer(r, col) != static_cast<std::int64_t>(r)) {
      throw DataError(table.where(r) + ": expected class " + std::to_string(r) + ", found '" +
                      table.rows[r][col] + "'");
    }
  }
}

LabeledDistribution read_distribution(const fs::path& file) {
  const CsvTable t = read_csv(file);
  check_class_column(t);
  const std::size_t name = t.column("name"), labeled = t.column("labeled"),
                    pseudo = t.column("pseudo_labeled");
  LabeledDistribution d;
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    d.names.push_back(t.rows[r][name]);
    d.labeled.push_back(t.integer(r, labeled));
    d.pseudo_labeled.push_back(t.integer(r, pseudo));
  }
  return d;
}

PerClassMetrics read_per_class(const fs::path& file) {
  const CsvTable t = read_csv(file);
  check_class_column(t);
  const std::size_t name = t.column("name"), precision = t.column("precision"),
                    recall = t.column("recall"), f1 = t.column("f1"), support = t.column("support"),
                    predicted = t.column("predicted");
  PerClassMetrics m;
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    m.names.push_back(t.rows[r][name]);
    m.precision.push_back(t.number(r, precision));
    m.recall.push_back(t.number(r, recall));
    m.f1.push_back(t.number(r, f1));
    m.support.push_back(t.integer(r, support));
    m.predicted.push_back(t.integer(r, predicted));
  }
  return m;
}

ConfusionTable read_confusion(const fs::path& file) {
  const CsvTable t = read_csv(file);
  ConfusionTable m;
  m.names.assign(t.header.begin() + 1, t.header.end());
  if (t.rows.size() != m.names.size()) {
    throw DataError(file.string() + ": " + std::to_string(t.rows.size()) + " rows for " +
                    std::to_string(m.names.size()) + " classes; a confusion matrix is square");
  }
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    std::vector<std::int64_t> row;
    for (std::size_t c = 1; c < t.header.size(); ++c) row.push_back(t.integer(r, c));
    m.counts.push_back(row);
  }
  return m;
}

SelectionStats read_selection(const fs::path& file) {
  const nlohmann::json j = read_json(file);
  if (!j.is_object()) throw DataError(file.string() + ": expected a JSON object");
  SelectionStats s;
  s.names = json_list<std::string>(j, "classes", file);
  s.rates = json_list<double>(j, "rates", file);
  s.predicted = json_list<std::int64_t>(j, "predicted", file);
  s.selected = json_list<std::int64_t>(j, "selected", file);
  s.correct = json_list<std::int64_t>(j, "correct", file);
  s.precision = json_list<double>(j, "precision", file);
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
  const double total = json_number(j, "selected_total");
  s.selected_total = std::isfinite(total) ? static_cast<std::int64_t>(total) : 0;
  s.precision_total = json_number(j, "precision_total");
  return s;
}

// metrics.jsonl. A run killed while appending can leave its last line cut off: that line (and
// only that one, when the file does not end in a newline) is left out with a note.
std::vector<TrainingPoint> read_curve(const fs::path& file, const fs::path& dir,
                                      std::vector<std::string>& notes) {
  const std::string text = read_file(file);
  std::vector<TrainingPoint> points;
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
    } catch (const nlohmann::json::parse_error& e) {
      if (last_unterminated) {
        notes.push_back(relative_name(dir, file) + ": line " + std::to_string(line) +
                        " is cut off (the run stopped while writing it) and is left out");
        break;
      }
      throw DataError(file.string() + ":" + std::to_string(line) + ": not valid JSON: " + e.what());
    }
    if (!j.is_object() || !j.contains("step") || !j["step"].is_number()) {
      throw DataError(file.string() + ":" + std::to_string(line) +
                      ": expected a JSON object with a numeric 'step'");
    }
    TrainingPoint p;
    p.step = j["step"].get<double>();
    p.loss = json_number(j, "loss");
    p.loss_x = json_number(j, "loss_x");
    p.loss_u = json_number(j, "loss_u");
    p.mask_rate = json_number(j, "mask_rate");
    p.pseudo_label_acc = json_number(j, "pseudo_label_acc");
    p.acc_raw = json_number(j, "acc_raw");
    p.acc_ema = json_number(j, "acc_ema");
    p.acc_ema_la = json_number(j, "acc_ema_la");
    p.lr = json_number(j, "lr");
    points.push_back(p);
  }
  return points;
}

std::vector<GenerationSummary> read_generations_csv(const fs::path& file) {
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
  const auto val_it = std::find(t.header.begin(), t.header.end(), "val_mean_recall");
  std::vector<GenerationSummary> rows;
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    // The writer leaves a figure that is not defined empty (e.g. selection_precision of a
    // fixmatch run, which selects nothing): those read back as NaN.
    auto ratio = [&](std::size_t col) { return t.number(r, col, /*optional=*/true); };
    GenerationSummary g;
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
    if (val_it != t.header.end()) {
      g.val_mean_recall = ratio(static_cast<std::size_t>(val_it - t.header.begin()));
    }
    rows.push_back(g);
  }
  return rows;
}

// The config keys the report needs, read leniently: a run written by another crest version
// may have keys this one does not know, and the report should still be drawn.
void read_config(const fs::path& file, RunFolder& run) {
  run.config_yaml = read_file(file);
  YAML::Node root;
  try {
    root = YAML::Load(run.config_yaml);
  } catch (const YAML::Exception& e) {
    throw DataError(file.string() + ":" + std::to_string(e.mark.line + 1) +
                    ": not valid YAML: " + e.msg);
  }
  if (!root.IsMap()) throw DataError(file.string() + ":1: expected a YAML mapping of sections");
  // A default YAML::Node is a valid null node, so absence is an empty optional instead.
  const YAML::Node& sections = root;
  auto scalar = [&](const char* section, const char* key) -> std::optional<YAML::Node> {
    const YAML::Node s = sections[section];
    if (!s.IsDefined() || !s.IsMap()) return std::nullopt;
    const YAML::Node v = s[key];
    if (!v.IsDefined() || !v.IsScalar()) return std::nullopt;
    return v;
  };
  auto integer = [&](const char* section, const char* key) -> std::int64_t {
    const std::optional<YAML::Node> v = scalar(section, key);
    if (!v) return -1;
    try {
      return v->as<std::int64_t>();
    } catch (const YAML::Exception&) {
      throw DataError(file.string() + ":" + std::to_string(v->Mark().line + 1) + ": " + section +
                      "." + key + " is '" + v->Scalar() + "', not a whole number");
    }
  };
  if (const auto v = scalar("crest", "mode")) run.mode = v->Scalar();
  if (const auto v = scalar("crest", "select_on")) run.select_on = v->Scalar();
  if (const auto v = scalar("data", "dataset")) run.dataset = v->Scalar();
  run.planned_generations = static_cast<int>(integer("crest", "generations"));
  const std::int64_t epochs = integer("train", "epochs");
  const std::int64_t steps = integer("train", "steps_per_epoch");
  if (epochs > 0 && steps > 0) run.steps_per_generation = epochs * steps;
}

// The crest.log lines that say what ran where: the command, device, model, resumes, the end,
// and every warning and error.
std::vector<std::string> read_log_lines(const fs::path& file) {
  std::istringstream in(read_file(file));
  std::vector<std::string> kept;
  std::string line;
  static const std::regex kWanted(
      R"(\] (run folder |device |WRN-|done: )|: resuming at step |\[(warning|error|critical)\])");
  while (std::getline(in, line)) {
    if (std::regex_search(line, kWanted)) kept.push_back(line);
  }
  if (kept.size() > kMaxLogLines) {
    const std::size_t half = kMaxLogLines / 2;
    std::vector<std::string> cut(kept.begin(), kept.begin() + static_cast<std::ptrdiff_t>(half));
    cut.push_back("\u2026 " + std::to_string(kept.size() - 2 * half) + " lines left out \u2026");
    cut.insert(cut.end(), kept.end() - static_cast<std::ptrdiff_t>(half), kept.end());
    kept = std::move(cut);
  }
  return kept;
}

std::vector<std::pair<int, fs::path>> generation_folders(const fs::path& dir) {
  std::vector<std::pair<int, fs::path>> found;
  static const std::regex kName(R"(gen_(\d{1,6}))");
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && std::regex_match(name, m, kName)) {
      found.emplace_back(std::stoi(m[1].str()), entry.path());
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

// ---- page pieces ------------------------------------------------------------------------------

std::string esc(const std::string& text) { return html_escape(text); }

std::string fixed(double value, int decimals = 4) {
  if (!std::isfinite(value)) return "\u2013";
  char buffer[48];
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
  return buffer;
}

std::string percent(double value) {
  return std::isfinite(value) ? fixed(100 * value, 1) + "%" : "\u2013";
}

std::string gen_name(int g) { return "gen " + std::to_string(g); }

std::string figure(const std::string& svg, const std::string& caption_html) {
  return "<figure>" + svg +
         (caption_html.empty() ? "" : "<figcaption>" + caption_html + "</figcaption>") +
         "</figure>\n";
}

ChartSeries named_series(const std::string& name, const std::string& color, bool dashed = false) {
  ChartSeries s;
  s.name = name;
  s.color = color;
  s.dashed = dashed;
  return s;
}

std::string empty_note(const std::string& text) {
  return "<p class=\"empty\">" + esc(text) + "</p>\n";
}

std::string css() {
  return R"(
:root { color-scheme: light; }
body { margin: 0; background: #f6f7f9; color: #1d1f23;
  font: 15px/1.45 "DejaVu Sans", system-ui, -apple-system, "Segoe UI", Helvetica, Arial,
    sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 20px 20px 48px; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 19px; margin: 0 0 4px; }
h3 { font-size: 15px; margin: 14px 0 6px; }
section, details { background: #fff; border: 1px solid #dde1e6; border-radius: 8px;
  padding: 16px 20px; margin: 18px 0; }
.meta { color: #555; margin: 0 0 8px; }
.lead { color: #444; margin: 0 0 10px; max-width: 900px; }
.banner { background: #fff4e5; border: 1px solid #f0a030; border-left: 6px solid #e8850c;
  border-radius: 8px; padding: 12px 18px; margin: 16px 0; }
.banner strong { color: #9a4d00; }
.banner ul, .notes ul { margin: 6px 0 0; padding-left: 22px; }
.notes { color: #555; font-size: 14px; }
.grid { display: grid; gap: 14px 18px; align-items: start; }
.grid2 { grid-template-columns: repeat(2, minmax(0, 1fr)); }
.grid3 { grid-template-columns: repeat(3, minmax(0, 1fr)); }
figure { margin: 6px 0; }
figure svg.chart { display: block; width: 100%; height: auto; }
figcaption { color: #555; font-size: 13px; margin-top: 2px; }
svg text { font-family: inherit; }
svg .bar:hover, svg .cell:hover { opacity: 0.8; }
table { border-collapse: collapse; font-size: 13.5px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e6e8eb; text-align: right; }
th { background: #f1f3f5; font-weight: 600; }
td.text, th.text { text-align: left; }
tr.best td { background: #fff7d6; font-weight: 600; }
.tablewrap { overflow-x: auto; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 10px 0 14px; }
.card { background: #f1f5fb; border-radius: 6px; padding: 8px 14px; min-width: 120px; }
.card b { display: block; font-size: 20px; }
.card span { color: #555; font-size: 12.5px; }
details summary { cursor: pointer; font-weight: 600; font-size: 17px; }
pre { background: #f6f8fa; border: 1px solid #e1e4e8; border-radius: 6px; padding: 10px 12px;
  overflow-x: auto; font-size: 12.5px; line-height: 1.4; }
pre.log { white-space: pre-wrap; overflow-wrap: anywhere; }
.empty { color: #777; font-style: italic; }
)";
}

// Header, headline numbers and the generations table.
std::string summary_section(const RunFolder& run) {
  std::ostringstream out;
  out << "<section id=\"summary\"><h2>Summary</h2>\n";
  if (!run.rows || run.rows->empty()) {
    out << empty_note("No generation has finished yet, so there is no per-generation table.");
    out << "</section>\n";
    return out.str();
  }
  const auto& rows = *run.rows;
  const GenerationSummary* best = nullptr;
  if (run.best_generation) {
    for (const auto& r : rows) {
      if (r.generation == *run.best_generation) best = &r;
    }
  }
  const GenerationSummary& headline = best ? *best : rows.back();
  out << "<div class=\"cards\">";
  auto card = [&](const std::string& value, const std::string& label) {
    out << "<div class=\"card\"><b>" << esc(value) << "</b><span>" << esc(label) << "</span></div>";
  };
  card(best ? gen_name(best->generation) : gen_name(rows.back().generation) + " (so far)",
       best ? "best generation (select_on " + run.select_on + ")" : "last finished generation");
  card(percent(headline.accuracy), "test accuracy");
  card(percent(headline.mean_recall), "mean per-class recall");
  card(percent(headline.minority_recall), "minority-class recall");
  card(percent(headline.majority_recall), "majority-class recall");
  card(std::to_string(headline.labeled),
       "labeled (" + std::to_string(headline.pseudo_labeled) + " pseudo)");
  out << "</div>\n";

  const bool has_val = std::any_of(rows.begin(), rows.end(), [](const GenerationSummary& r) {
    return std::isfinite(r.val_mean_recall);
  });
  out << "<div class=\"tablewrap\"><table id=\"generations-table\"><thead><tr>"
      << "<th>gen</th><th>t<sub>g</sub></th><th>labeled</th><th>pseudo-labeled</th>"
      << "<th>accuracy</th><th>mean recall</th><th>mean precision</th>"
      << "<th>minority recall</th><th>majority recall</th><th>minority precision</th>"
      << "<th>selected</th><th>selection precision</th>"
      << (has_val ? "<th>val mean recall</th>" : "") << "</tr></thead><tbody>\n";
  for (const auto& r : rows) {
    const bool is_best = best && r.generation == best->generation;
    out << "<tr" << (is_best ? " class=\"best\" title=\"best generation\"" : "") << "><td>"
        << r.generation << (is_best ? " \u2605" : "") << "</td><td>" << fixed(r.t, 3) << "</td><td>"
        << r.labeled << "</td><td>" << r.pseudo_labeled << "</td><td>" << fixed(r.accuracy)
        << "</td><td>" << fixed(r.mean_recall) << "</td><td>" << fixed(r.mean_precision)
        << "</td><td>" << fixed(r.minority_recall) << "</td><td>" << fixed(r.majority_recall)
        << "</td><td>" << fixed(r.minority_precision) << "</td><td>" << r.selected << "</td><td>"
        << fixed(r.selection_precision) << "</td>"
        << (has_val ? "<td>" + fixed(r.val_mean_recall) + "</td>" : "") << "</tr>\n";
  }
  out << "</tbody></table></div>\n</section>\n";
  return out.str();
}

std::string generations_section(const RunFolder& run) {
  std::ostringstream out;
  out << "<section id=\"generations\"><h2>Recall and accuracy per generation</h2>\n"
      << "<p class=\"lead\">Test-set figures of each generation's EMA model at its end. "
         "Minority and majority recall average the rarest and most frequent 30% of the "
         "classes.</p>\n";
  if (!run.rows || run.rows->empty()) {
    out << empty_note("No generation has finished yet (generations.csv has no rows).")
        << "</section>\n";
    return out.str();
  }
  const auto& rows = *run.rows;
  std::vector<std::string> categories;
  std::vector<double> x;
  ChartSeries mean_recall = named_series("mean per-class recall", palette_color(0));
  ChartSeries accuracy = named_series("accuracy", "#222", true);
  ChartSeries minority = named_series("minority recall", palette_color(2));
  ChartSeries majority = named_series("majority recall", palette_color(4));
  ChartSeries val = named_series("val mean recall", palette_color(6), true);
  bool has_val = false;
  std::optional<std::size_t> best_index;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    categories.push_back(std::to_string(r.generation));
    x.push_back(static_cast<double>(i));
    mean_recall.values.push_back(r.mean_recall);
    accuracy.values.push_back(r.accuracy);
    minority.values.push_back(r.minority_recall);
    majority.values.push_back(r.majority_recall);
    val.values.push_back(r.val_mean_recall);
    has_val = has_val || std::isfinite(r.val_mean_recall);
    if (run.best_generation && r.generation == *run.best_generation) best_index = i;
  }
  std::vector<ChartSeries> series = {mean_recall, accuracy, minority, majority};
  if (has_val) series.push_back(val);
  ChartFrame frame;
  frame.figure = "generations";
  frame.title = "Mean per-class recall and accuracy per generation";
  frame.x_label = "generation";
  frame.y_label = "test set (EMA model)";
  frame.width = kHalfWidth;
  frame.height = 340;
  frame.y_min = 0;
  frame.y_max = 1;
  std::vector<ChartMarker> markers;
  if (best_index) markers.push_back({static_cast<double>(*best_index), "best", true});
  std::string caption;
  if (std::all_of(rows.begin(), rows.end(), [](const GenerationSummary& r) {
        return std::abs(r.accuracy - r.mean_recall) < 1e-9;
      })) {
    caption = "The test set is balanced, so accuracy equals mean recall (the lines coincide). ";
  }
  if (best_index) {
    caption += "The highlighted generation is the run's best (summary.json, select_on " +
               esc(run.select_on) + ").";
  } else {
    caption += "No best generation is marked: summary.json is written when the run finishes.";
  }
  out << "<div class=\"grid grid2\">\n"
      << figure(line_chart(frame, x, series, markers, categories), caption);

  // Beside it: how the labeled set grew, which is what moves those figures.
  ChartSeries original = named_series("labeled", palette_color(0));
  ChartSeries pseudo = named_series("pseudo-labeled", palette_color(1));
  for (const auto& r : rows) {
    const std::int64_t own = r.labeled - r.pseudo_labeled;
    original.values.push_back(static_cast<double>(own));
    pseudo.values.push_back(static_cast<double>(r.pseudo_labeled));
    original.tooltips.push_back(gen_name(r.generation) + ": " + std::to_string(own) +
                                " labeled of " + std::to_string(r.labeled));
    pseudo.tooltips.push_back(gen_name(r.generation) + ": " + std::to_string(r.pseudo_labeled) +
                              " pseudo-labeled of " + std::to_string(r.labeled) +
                              " (t = " + fixed(r.t, 3) + ")");
  }
  ChartFrame sizes;
  sizes.figure = "labeled-size";
  sizes.title = "Labeled set size per generation";
  sizes.x_label = "generation";
  sizes.y_label = "images";
  sizes.width = kHalfWidth;
  sizes.height = frame.height;
  out << figure(bar_chart(sizes, categories, {original, pseudo}, /*stacked=*/true),
                "Pseudo-labels come from the previous generation's selection.")
      << "</div>\n</section>\n";
  return out.str();
}

std::string distribution_section(const RunFolder& run) {
  std::ostringstream out;
  out << "<section id=\"distribution\"><h2>Labeled set per generation</h2>\n"
      << "<p class=\"lead\">Images per class that each generation trained on: the original "
         "labeled set and the pseudo-labels selected at the end of the previous generation. "
         "CReST adds more pseudo-labels to the rare classes.</p>\n";
  std::vector<const GenerationFiles*> gens;
  std::int64_t largest = 1;
  for (const auto& g : run.generations) {
    if (!g.distribution) continue;
    gens.push_back(&g);
    for (std::size_t c = 0; c < g.distribution->names.size(); ++c) {
      largest = std::max(largest, g.distribution->labeled[c] + g.distribution->pseudo_labeled[c]);
    }
  }
  if (gens.empty()) {
    out << empty_note("No gen_K/labeled_distribution.csv yet.") << "</section>\n";
    return out.str();
  }
  const std::size_t columns = std::min<std::size_t>(gens.size(), 3);
  const double width = columns == 1 ? kHalfWidth : (kFullWidth - 18 * (columns - 1)) / columns;
  // One scale for all generations, so that the panels compare at a glance.
  const double y_max = nice_ticks(0, static_cast<double>(largest), 5).back();
  out << "<div class=\"grid grid" << std::max<std::size_t>(columns, 2) << "\">\n";
  for (const GenerationFiles* g : gens) {
    const LabeledDistribution& d = *g->distribution;
    ChartSeries labeled = named_series("labeled", palette_color(0));
    ChartSeries pseudo = named_series("pseudo-labeled", palette_color(1));
    std::int64_t n_labeled = 0, n_pseudo = 0;
    for (std::size_t c = 0; c < d.names.size(); ++c) {
      labeled.values.push_back(static_cast<double>(d.labeled[c]));
      pseudo.values.push_back(static_cast<double>(d.pseudo_labeled[c]));
      labeled.tooltips.push_back(d.names[c] + ": " + std::to_string(d.labeled[c]) +
                                 " labeled (total " +
                                 std::to_string(d.labeled[c] + d.pseudo_labeled[c]) + ")");
      pseudo.tooltips.push_back(d.names[c] + ": " + std::to_string(d.pseudo_labeled[c]) +
                                " pseudo-labeled (total " +
                                std::to_string(d.labeled[c] + d.pseudo_labeled[c]) + ")");
      n_labeled += d.labeled[c];
      n_pseudo += d.pseudo_labeled[c];
    }
    ChartFrame frame;
    frame.figure = "labeled-distribution";
    frame.attributes = {{"data-generation", std::to_string(g->generation)}};
    frame.title = gen_name(g->generation) + ": " + std::to_string(n_labeled) + " labeled + " +
                  std::to_string(n_pseudo) + " pseudo-labeled";
    frame.x_label = "class";
    frame.y_label = "images";
    frame.width = width;
    frame.height = 300;
    frame.y_max = y_max;
    out << figure(bar_chart(frame, d.names, {labeled, pseudo}, /*stacked=*/true), "");
  }
  out << "</div>\n</section>\n";
  return out.str();
}

// A per-class chart with one series per generation: grouped bars while they stay readable,
// lines over the classes beyond that.
std::string per_class_chart(ChartFrame frame, const std::vector<std::string>& names,
                            const std::vector<ChartSeries>& series, bool half) {
  const std::size_t bars = names.size() * std::max<std::size_t>(series.size(), 1);
  if (bars <= (half ? kMaxBarsHalf : kMaxBarsFull)) return bar_chart(frame, names, series);
  std::vector<double> x;
  for (std::size_t c = 0; c < names.size(); ++c) x.push_back(static_cast<double>(c));
  return line_chart(frame, x, series, {}, names);
}

std::string per_class_section(const RunFolder& run) {
  std::ostringstream out;
  out << "<section id=\"per-class\"><h2>Per-class recall and precision</h2>\n"
      << "<p class=\"lead\">The EMA model of each generation on the test set (gen_K/"
         "per_class.csv). Classes are in the order of the long-tailed training set: class 0 "
         "is the most frequent.</p>\n";
  std::vector<ChartSeries> recall, precision;
  std::vector<std::string> names;
  for (const auto& g : run.generations) {
    if (!g.per_class) continue;
    const PerClassMetrics& m = *g.per_class;
    names = m.names;
    ChartSeries r = named_series(gen_name(g.generation), palette_color(recall.size()));
    ChartSeries p = named_series(gen_name(g.generation), palette_color(precision.size()));
    for (std::size_t c = 0; c < m.names.size(); ++c) {
      r.values.push_back(m.recall[c]);
      p.values.push_back(m.precision[c]);
      const auto correct =
          static_cast<std::int64_t>(std::llround(m.recall[c] * static_cast<double>(m.support[c])));
      r.tooltips.push_back(m.names[c] + " \u00b7 " + gen_name(g.generation) + ": recall " +
                           fixed(m.recall[c]) + " (" + std::to_string(correct) + " of " +
                           std::to_string(m.support[c]) + ")");
      p.tooltips.push_back(m.names[c] + " \u00b7 " + gen_name(g.generation) + ": precision " +
                           fixed(m.precision[c]) + " (" + std::to_string(correct) + " of " +
                           std::to_string(m.predicted[c]) + " predicted)");
    }
    recall.push_back(r);
    precision.push_back(p);
  }
  if (recall.empty()) {
    out << empty_note("No gen_K/per_class.csv yet: it is written when a generation finishes.")
        << "</section>\n";
    return out.str();
  }
  const bool half = names.size() <= 12;
  ChartFrame frame;
  frame.x_label = "class";
  frame.width = half ? kHalfWidth : kFullWidth;
  frame.height = half ? 320 : 380;
  frame.y_min = 0;
  frame.y_max = 1;
  out << "<div class=\"grid " << (half ? "grid2" : "") << "\">\n";
  frame.figure = "per-class-recall";
  frame.title = "Per-class recall (test set)";
  frame.y_label = "recall";
  out << figure(per_class_chart(frame, names, recall, half), "");
  frame.figure = "per-class-precision";
  frame.title = "Per-class precision (test set)";
  frame.y_label = "precision";
  out << figure(per_class_chart(frame, names, precision, half), "");
  out << "</div>\n</section>\n";
  return out.str();
}

std::string selection_section(const RunFolder& run) {
  std::ostringstream out;
  out << "<section id=\"selection\"><h2>Pseudo-label selection</h2>\n"
      << "<p class=\"lead\">At the end of generation K the EMA model labels the unlabeled "
         "pool and keeps, per predicted class c, the most confident fraction "
         "\u03bc<sub>c</sub> of its predictions; they join the labeled set of generation "
         "K+1 (gen_K/selection.json). Precision is measured against the hidden true "
         "labels.</p>\n";
  if (run.mode == to_string(CrestMode::kFixMatch)) {
    out << empty_note("crest.mode is fixmatch: no pseudo-labels are selected.") << "</section>\n";
    return out.str();
  }
  std::vector<ChartSeries> counts, precision;
  std::vector<std::string> names;
  std::ostringstream table;
  for (const auto& g : run.generations) {
    if (!g.selection) continue;
    const SelectionStats& s = *g.selection;
    names = s.names;
    ChartSeries n = named_series(gen_name(g.generation), palette_color(counts.size()));
    ChartSeries p = named_series(gen_name(g.generation), palette_color(precision.size()));
    for (std::size_t c = 0; c < s.names.size(); ++c) {
      n.values.push_back(static_cast<double>(s.selected[c]));
      // Precision of an empty selection is undefined: no bar rather than a misleading 0.
      p.values.push_back(s.selected[c] > 0 ? s.precision[c] : kNaN);
      const std::string head = s.names[c] + " \u00b7 end of " + gen_name(g.generation) + ": ";
      n.tooltips.push_back(head + std::to_string(s.selected[c]) + " selected of " +
                           std::to_string(s.predicted[c]) +
                           " predicted (\u03bc = " + fixed(s.rates[c], 3) + "), " +
                           std::to_string(s.correct[c]) + " correct");
      p.tooltips.push_back(head + "precision " + fixed(s.precision[c]) + " (" +
                           std::to_string(s.correct[c]) + " of " + std::to_string(s.selected[c]) +
                           ")");
    }
    counts.push_back(n);
    precision.push_back(p);
    table << "<tr><td>" << g.generation << "</td><td>" << s.selected_total << "</td><td>"
          << fixed(s.precision_total) << "</td></tr>\n";
  }
  if (counts.empty()) {
    out << empty_note("No gen_K/selection.json yet: it is written at the end of a generation.")
        << "</section>\n";
    return out.str();
  }
  const bool half = names.size() <= 12;
  ChartFrame frame;
  frame.x_label = "predicted class";
  frame.width = half ? kHalfWidth : kFullWidth;
  frame.height = half ? 320 : 380;
  out << "<div class=\"grid " << (half ? "grid2" : "") << "\">\n";
  frame.figure = "selection-count";
  frame.title = "Pseudo-labels selected per class";
  frame.y_label = "selected images";
  out << figure(per_class_chart(frame, names, counts, half), "");
  frame.figure = "selection-precision";
  frame.title = "Precision of the selected pseudo-labels";
  frame.y_label = "precision";
  frame.y_min = 0;
  frame.y_max = 1;
  out << figure(per_class_chart(frame, names, precision, half),
                "A class with nothing selected has no bar.");
  out << "</div>\n<h3>Totals</h3><table><thead><tr><th>selected at the end of gen</th>"
      << "<th>selected</th><th>precision</th></tr></thead><tbody>\n"
      << table.str() << "</tbody></table>\n</section>\n";
  return out.str();
}

std::string confusion_section(const RunFolder& run) {
  std::ostringstream out;
  out << "<section id=\"confusion\"><h2>Confusion matrix</h2>\n";
  const GenerationFiles* shown = nullptr;
  std::string why;
  if (run.best_generation) {
    for (const auto& g : run.generations) {
      if (g.generation == *run.best_generation && g.confusion) shown = &g;
    }
    if (shown) why = "the best generation (select_on " + run.select_on + ")";
  }
  if (!shown) {
    for (const auto& g : run.generations) {
      if (g.confusion) shown = &g;
    }
    if (shown) {
      why = run.best_generation ? "the last generation with a confusion matrix (the best one, " +
                                      gen_name(*run.best_generation) + ", has none)"
                                : "the last finished generation (no best generation yet)";
    }
  }
  if (!shown) {
    out << empty_note("No gen_K/confusion.csv yet: it is written when a generation finishes.")
        << "</section>\n";
    return out.str();
  }
  const ConfusionTable& m = *shown->confusion;
  std::vector<std::vector<double>> cells;
  for (const auto& row : m.counts) cells.emplace_back(row.begin(), row.end());
  const std::size_t n = m.names.size();
  ChartFrame frame;
  frame.figure = "confusion";
  frame.attributes = {{"data-generation", std::to_string(shown->generation)}};
  frame.title = "Test-set confusion matrix, " + gen_name(shown->generation);
  frame.x_label = "predicted class";
  frame.y_label = "true class";
  // About 80 units a cell for a few classes; the whole width for many.
  frame.width = n <= 12 ? std::min(620.0, 200.0 + 80.0 * static_cast<double>(n)) : 1000;
  frame.height = frame.width;
  out << "<p class=\"lead\">Of " << esc(why)
      << ": counts of test images, rows the true class, columns the predicted class; the shade "
         "is the share of the row (the diagonal is each class's recall).</p>\n";
  // Shown at its own width, never stretched: its text keeps the size of the other charts'.
  out << "<figure style=\"max-width: " << display_number(frame.width, 6) << "px\">"
      << heat_map(frame, m.names, m.names, cells, true) << "</figure>\n</section>\n";
  return out.str();
}

std::string curves_section(const RunFolder& run) {
  std::ostringstream out;
  out << "<section id=\"curves\"><h2>Training curves</h2>\n";
  std::vector<const GenerationFiles*> gens;
  for (const auto& g : run.generations) {
    if (g.curve && !g.curve->empty()) gens.push_back(&g);
  }
  if (gens.empty()) {
    out << empty_note("No evaluations recorded yet (gen_K/metrics.jsonl).") << "</section>\n";
    return out.str();
  }
  const bool several = gens.size() > 1;
  out << "<p class=\"lead\">One point per evaluation (gen_K/metrics.jsonl)"
      << (several ? "; the generations are drawn one after the other, each starting again at "
                    "step 0 of its own schedule"
                  : "")
      << ".</p>\n";
  // Generations back to back: generation K starts where K-1's schedule ended.
  std::vector<double> x;
  std::vector<std::string> where;  // "gen K, step S" for tooltips
  std::vector<ChartMarker> markers;
  std::vector<const TrainingPoint*> points;
  // Step 0 anchors the x axis at the start of training (the first evaluation comes later).
  x.push_back(0);
  where.emplace_back();
  points.push_back(nullptr);
  double offset = 0;
  for (std::size_t i = 0; i < gens.size(); ++i) {
    const auto& curve = *gens[i]->curve;
    if (several) markers.push_back({offset, gen_name(gens[i]->generation), false});
    if (i > 0) {  // a gap that breaks the lines between generations
      x.push_back(offset);
      where.emplace_back();
      points.push_back(nullptr);
    }
    double last = 0;
    for (const auto& p : curve) {
      x.push_back(offset + p.step);
      where.push_back(gen_name(gens[i]->generation) + ", step " + display_number(p.step, 10));
      points.push_back(&p);
      last = std::max(last, p.step);
    }
    offset += run.steps_per_generation > 0
                  ? std::max(static_cast<double>(run.steps_per_generation), last)
                  : last;
  }
  auto series = [&](const std::string& name, double TrainingPoint::*field, std::size_t color,
                    bool dashed = false) {
    ChartSeries s = named_series(name, palette_color(color), dashed);
    for (std::size_t i = 0; i < points.size(); ++i) {
      const double v = points[i] ? points[i]->*field : kNaN;
      s.values.push_back(v);
      s.tooltips.push_back(points[i] ? where[i] + " \u00b7 " + name + ": " + display_number(v, 5)
                                     : "");
    }
    return s;
  };
  ChartFrame frame;
  frame.x_label = several ? "step (generations one after another)" : "step";
  frame.width = kHalfWidth;
  frame.height = 280;
  out << "<div class=\"grid grid2\">\n";
  frame.figure = "curves-loss";
  frame.title = "Training loss";
  frame.y_label = "loss";
  frame.y_min = 0;
  out << figure(line_chart(frame, x,
                           {series("loss", &TrainingPoint::loss, 0),
                            series("labeled loss_x", &TrainingPoint::loss_x, 1, true),
                            series("unlabeled loss_u", &TrainingPoint::loss_u, 2, true)},
                           markers),
                "");
  frame.figure = "curves-mask-rate";
  frame.title = "Mask rate and pseudo-label accuracy";
  frame.y_label = "fraction";
  frame.y_max = 1;
  out << figure(
      line_chart(frame, x,
                 {series("mask rate (confidence \u2265 threshold)", &TrainingPoint::mask_rate, 0),
                  series("pseudo-label accuracy", &TrainingPoint::pseudo_label_acc, 4, true)},
                 markers),
      "");
  frame.figure = "curves-accuracy";
  frame.title = "Test accuracy";
  frame.y_label = "accuracy";
  out << figure(line_chart(frame, x,
                           {series("EMA", &TrainingPoint::acc_ema, 0),
                            series("raw", &TrainingPoint::acc_raw, 1, true),
                            series("EMA, logit-adjusted", &TrainingPoint::acc_ema_la, 2, true)},
                           markers),
                "");
  frame.figure = "curves-lr";
  frame.title = "Learning rate";
  frame.y_label = "lr";
  frame.y_max = kNaN;
  out << figure(line_chart(frame, x, {series("lr", &TrainingPoint::lr, 6)}, markers), "");
  out << "</div>\n</section>\n";
  return out.str();
}

// The rest of the last log line whose message starts with `key` ("" when none has it).
std::string log_message(const std::vector<std::string>& lines, const std::string& key) {
  std::string found;
  for (const auto& line : lines) {
    const std::size_t at = line.find("] " + key);
    if (at != std::string::npos) found = line.substr(at + 2);
  }
  return found;
}

std::string config_section(const RunFolder& run) {
  std::ostringstream out;
  out << "<details id=\"config\"><summary>Config and environment</summary>\n";
  out << "<h3>Environment</h3><table class=\"env\"><tbody>\n";
  auto row = [&](const std::string& key, const std::string& value) {
    out << "<tr><th class=\"text\">" << esc(key) << "</th><td class=\"text\">" << esc(value)
        << "</td></tr>\n";
  };
  // "device cpu (2 threads) | synthetic 4 classes | LT set 127 | ...": the device, then the data.
  const std::string device = log_message(run.log_lines, "device ");
  if (!device.empty()) {
    const std::size_t bar = device.find(" | ");
    row("device (crest.log)", device.substr(7, bar == std::string::npos ? bar : bar - 7));
    if (bar != std::string::npos) row("data (crest.log)", device.substr(bar + 3));
  }
  const std::string model = log_message(run.log_lines, "WRN-");
  if (!model.empty()) row("model and schedule (crest.log)", model);
  for (const auto& line : run.log_lines) {
    const std::size_t at = line.find("] run folder ");
    if (at != std::string::npos) {
      row("run started " + line.substr(1, std::min<std::size_t>(at, 20) - 1), line.substr(at + 13));
    }
  }
  row("report written by",
      std::string("crest ") + CREST_VERSION + ", LibTorch " + CREST_TORCH_VERSION);
  out << "</tbody></table>\n";
  if (!run.log_lines.empty()) {
    out << "<h3>crest.log (run, device, resume and end lines, warnings and errors)</h3>"
        << "<pre class=\"log\">";
    for (const auto& line : run.log_lines) out << esc(line) << "\n";
    out << "</pre>\n";
  }
  out << "<h3>Resolved config (config.yaml)</h3><pre>" << esc(run.config_yaml) << "</pre>\n";
  out << "</details>\n";
  return out.str();
}

}  // namespace

RunFolder load_run(const fs::path& dir) {
  if (!fs::is_directory(dir)) {
    throw InputError(dir.string() +
                     " is not a folder; expected a run folder written by "
                     "`crest train` (holding config.yaml, generations.csv and gen_K/)");
  }
  if (!fs::is_regular_file(dir / "config.yaml")) {
    throw InputError(dir.string() +
                     " is not a run folder: it has no config.yaml; expected a "
                     "folder written by `crest train` (config.yaml, generations.csv, gen_K/)");
  }
  RunFolder run;
  run.dir = dir;
  read_config(dir / "config.yaml", run);

  if (fs::exists(dir / "generations.csv")) run.rows = read_generations_csv(dir / "generations.csv");
  if (fs::exists(dir / "summary.json")) {
    const nlohmann::json summary = read_json(dir / "summary.json");
    const auto it = summary.find("best_generation");
    if (it == summary.end() || !it->is_number_integer()) {
      throw DataError((dir / "summary.json").string() + ": expected an integer 'best_generation'");
    }
    run.best_generation = it->get<int>();
    if (summary.contains("minority_classes")) {
      run.minority_classes = json_list<int>(summary, "minority_classes", dir / "summary.json");
    }
  }
  if (fs::exists(dir / "crest.log")) {
    run.log_lines = read_log_lines(dir / "crest.log");
  } else {
    run.notes.push_back("crest.log is missing: the environment is not known");
  }

  ClassCheck classes;
  const bool selecting = run.mode != to_string(CrestMode::kFixMatch);
  for (const auto& [index, gen_dir] : generation_folders(dir)) {
    GenerationFiles g;
    g.generation = index;
    g.finished = fs::exists(gen_dir / "generation.json");
    if (fs::exists(gen_dir / "labeled_distribution.csv")) {
      g.distribution = read_distribution(gen_dir / "labeled_distribution.csv");
      classes(g.distribution->names.size(), gen_dir / "labeled_distribution.csv", dir);
    }
    if (fs::exists(gen_dir / "per_class.csv")) {
      g.per_class = read_per_class(gen_dir / "per_class.csv");
      classes(g.per_class->names.size(), gen_dir / "per_class.csv", dir);
    }
    if (fs::exists(gen_dir / "confusion.csv")) {
      g.confusion = read_confusion(gen_dir / "confusion.csv");
      classes(g.confusion->names.size(), gen_dir / "confusion.csv", dir);
    }
    if (fs::exists(gen_dir / "selection.json")) {
      g.selection = read_selection(gen_dir / "selection.json");
      classes(g.selection->names.size(), gen_dir / "selection.json", dir);
    }
    if (fs::exists(gen_dir / "metrics.jsonl")) {
      g.curve = read_curve(gen_dir / "metrics.jsonl", dir, run.notes);
    }
    // A finished generation has all of its files; say which one is gone.
    if (g.finished) {
      const std::string name = "gen_" + std::to_string(index) + "/";
      for (const char* file :
           {"labeled_distribution.csv", "per_class.csv", "confusion.csv", "metrics.jsonl"}) {
        if (!fs::exists(gen_dir / file)) {
          run.notes.push_back(name + file + " is missing: its figure leaves this generation out");
        }
      }
      if (selecting && !g.selection) {
        run.notes.push_back(name + "selection.json is missing: no selection is shown for it");
      }
    }
    run.generations.push_back(std::move(g));
  }

  // What an unfinished run lacks.
  int planned = run.planned_generations;
  if (planned < 0) {
    planned = run.generations.empty() ? 0 : run.generations.back().generation + 1;
  }
  for (int k = 0; k < planned; ++k) {
    const auto it = std::find_if(run.generations.begin(), run.generations.end(),
                                 [k](const GenerationFiles& g) { return g.generation == k; });
    const std::string name = "gen_" + std::to_string(k);
    if (it == run.generations.end()) {
      run.missing.push_back(name + ": not started");
      continue;
    }
    if (it->finished) continue;
    std::string text = name + ": did not finish (no generation.json";
    for (const char* file : {"per_class.csv", "confusion.csv"}) {
      if (!fs::exists(dir / name / file)) text += std::string(", no ") + file;
    }
    text += ")";
    if (it->curve && !it->curve->empty()) {
      text += "; training reached step " + display_number(it->curve->back().step, 12);
      if (run.steps_per_generation > 0) {
        text += " of " + std::to_string(run.steps_per_generation);
      }
    } else {
      text += "; no evaluation recorded yet";
    }
    run.missing.push_back(text);
  }
  if (!run.rows) {
    run.missing.push_back(
        "generations.csv: not written yet (it gets a row when a generation "
        "finishes)");
  } else if (planned > 0 && static_cast<int>(run.rows->size()) < planned) {
    run.missing.push_back("generations.csv: " + std::to_string(run.rows->size()) + " of " +
                          std::to_string(planned) + " generations");
  }
  if (!run.best_generation) {
    run.missing.push_back(
        "summary.json: not written yet (it names the best generation when the "
        "run finishes)");
  }
  return run;
}

std::string report_html(const RunFolder& run) {
  const std::string name = run.dir.filename().empty() ? run.dir.parent_path().filename().string()
                                                      : run.dir.filename().string();
  int finished = 0;
  for (const auto& g : run.generations) finished += g.finished ? 1 : 0;
  std::ostringstream out;
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      << "<meta name=\"generator\" content=\"crest " << CREST_VERSION << "\">\n"
      << "<title>crest report: " << esc(name) << "</title>\n<style>" << css()
      << "</style>\n</head>\n<body>\n<main>\n";
  out << "<h1>crest report: " << esc(name) << "</h1>\n<p class=\"meta\">Run folder <code>"
      << esc(run.dir.string()) << "</code> \u00b7 mode " << esc(run.mode.empty() ? "?" : run.mode)
      << " \u00b7 dataset " << esc(run.dataset.empty() ? "?" : run.dataset) << " \u00b7 "
      << finished << " of "
      << (run.planned_generations >= 0 ? std::to_string(run.planned_generations) : "?")
      << " generation(s) finished \u00b7 best generation chosen by "
      << esc(run.select_on.empty() ? "?" : run.select_on) << "</p>\n";
  if (!run.complete()) {
    out << "<div class=\"banner\" id=\"incomplete\" role=\"alert\"><strong>Incomplete run.</strong>"
        << " This run has not finished (it is still running, or it was stopped): the report "
           "shows the files that exist. Missing:<ul>\n";
    for (const auto& m : run.missing) out << "<li>" << esc(m) << "</li>\n";
    out << "</ul></div>\n";
  }
  if (!run.notes.empty()) {
    out << "<div class=\"notes\" id=\"notes\">Notes:<ul>\n";
    for (const auto& n : run.notes) out << "<li>" << esc(n) << "</li>\n";
    out << "</ul></div>\n";
  }
  out << summary_section(run) << generations_section(run) << distribution_section(run)
      << per_class_section(run) << selection_section(run) << confusion_section(run)
      << curves_section(run) << config_section(run);
  out << "<p class=\"meta\">Written by <code>crest report</code> (crest " << CREST_VERSION
      << ") from the files in the run folder; hover over a bar, point or cell for its numbers."
      << "</p>\n</main>\n</body>\n</html>\n";
  return out.str();
}

fs::path write_report(const fs::path& run_dir, const fs::path& out) {
  const RunFolder run = load_run(run_dir);
  if (!run.complete()) {
    std::string missing;
    for (const auto& m : run.missing) missing += (missing.empty() ? "" : "; ") + m;
    spdlog::warn("{} is an incomplete run: {}", run_dir.string(), missing);
  }
  const fs::path path = out.empty() ? run_dir / "report.html" : out;
  write_file_atomic(path, report_html(run));
  return path;
}

}  // namespace crest
