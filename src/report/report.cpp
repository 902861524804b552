#include "crest/report/report.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <sstream>

#include "crest/config/choices.h"
#include "crest/io/file.h"
#include "crest/io/generation_files.h"
#include "crest/io/output_paths.h"
#include "crest/io/run_files.h"
#include "crest/report/svg.h"
#include "crest/util/error.h"
#include "report_parts.h"

namespace crest {

namespace fs = std::filesystem;

namespace report_parts {

// ---- page pieces ------------------------------------------------------------------------------

std::string esc(const std::string& text) { return html_escape(text); }

std::string fixed(double value, int decimals) {
  if (!std::isfinite(value)) return "n/a";  // an undefined figure (metrics/metrics.h)
  char buffer[48];
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
  return buffer;
}

std::string percent(double value) {
  return std::isfinite(value) ? fixed(100 * value, 1) + "%" : "n/a";
}

std::string gen_name(int g) { return "gen " + std::to_string(g); }

std::string gen_file(const char* file) {
  return std::string(kGenerationFolderPattern) + "/" + file;
}

std::string figure(const std::string& svg, const std::string& caption_html) {
  return "<figure>" + svg +
         (caption_html.empty() ? "" : "<figcaption>" + caption_html + "</figcaption>") +
         "</figure>\n";
}

ChartSeries named_series(const std::string& name, const std::string& color, bool dashed) {
  ChartSeries s;
  s.name = name;
  s.color = color;
  s.dashed = dashed;
  return s;
}

std::string empty_note(const std::string& text) {
  return "<p class=\"empty\">" + esc(text) + "</p>\n";
}

}  // namespace report_parts

using namespace report_parts;  // NOLINT(build/namespaces): the page's shared pieces

namespace {

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
  const GenerationRow* best = nullptr;
  if (run.best_generation) {
    for (const auto& r : rows) {
      if (r.generation == *run.best_generation) best = &r;
    }
  }
  const GenerationRow& headline = best ? *best : rows.back();
  out << "<div class=\"cards\">";
  auto card = [&](const std::string& value, const std::string& label) {
    out << "<div class=\"card\"><b>" << esc(value) << "</b><span>" << esc(label) << "</span></div>";
  };
  const bool selected = best && selects_on_validation(run);
  card(best ? gen_name(best->generation) : gen_name(rows.back().generation) + " (so far)",
       selected ? "selected generation (highest validation mean recall)"
       : best   ? "last generation (no validation split)"
                : "last finished generation");
  card(percent(headline.accuracy), "test accuracy");
  card(percent(headline.mean_recall), "mean per-class recall");
  card(percent(headline.minority_recall), "minority-class recall");
  card(percent(headline.majority_recall), "majority-class recall");
  card(std::to_string(headline.labeled),
       "labeled (" + std::to_string(headline.pseudo_labeled) + " pseudo)");
  out << "</div>\n";

  const bool has_val = std::any_of(rows.begin(), rows.end(), [](const GenerationRow& r) {
    return std::isfinite(r.val_mean_recall);
  });
  out << "<div class=\"tablewrap\"><table id=\"generations-table\"><thead><tr>"
      << "<th>gen</th><th>t<sub>g</sub></th><th>labeled</th><th>pseudo-labeled</th>"
      << "<th>accuracy</th><th title=\"median of the last 20 per-epoch EMA test accuracies\">"
         "accuracy, median of last 20</th><th>mean recall</th><th>mean precision</th>"
      << "<th>minority recall</th><th>majority recall</th><th>minority precision</th>"
      << "<th>selected</th><th>selection precision</th>"
      << (has_val ? "<th>val mean recall</th>" : "") << "</tr></thead><tbody>\n";
  for (const auto& r : rows) {
    const bool is_best = selected && r.generation == best->generation;
    out << "<tr" << (is_best ? " class=\"best\" title=\"selected on validation\"" : "") << "><td>"
        << r.generation << (is_best ? " \u2605" : "") << "</td><td>" << fixed(r.t, 3) << "</td><td>"
        << r.labeled << "</td><td>" << r.pseudo_labeled << "</td><td>" << fixed(r.accuracy)
        << "</td><td>" << fixed(r.accuracy_median_last_20) << "</td><td>" << fixed(r.mean_recall)
        << "</td><td>" << fixed(r.mean_precision) << "</td><td>" << fixed(r.minority_recall)
        << "</td><td>" << fixed(r.majority_recall) << "</td><td>" << fixed(r.minority_precision)
        << "</td><td>" << r.selected << "</td><td>"
        << (run.pool_truth_known || r.selected == 0 ? fixed(r.selection_precision) : "unknown")
        << "</td>" << (has_val ? "<td>" + fixed(r.val_mean_recall) + "</td>" : "") << "</tr>\n";
  }
  out << "</tbody></table></div>\n</section>\n";
  return out.str();
}

// The caption of the recall chart: whether accuracy and mean recall coincide, and which
// generation is marked (the one selected on validation; none without a validation split).
std::string recall_caption(const RunFolder& run, bool has_best) {
  const auto& rows = *run.rows;
  std::string caption;
  if (std::all_of(rows.begin(), rows.end(), [](const GenerationRow& r) {
        return std::abs(r.accuracy - r.mean_recall) < 1e-9;
      })) {
    caption = "The test set is balanced, so accuracy equals mean recall (the lines coincide). ";
  }
  if (has_best) {
    caption += std::string(
                   "The marked generation is the one selected on validation (highest "
                   "validation mean recall, ") +
               kRunSummaryFile + ").";
  } else if (run.best_generation) {
    caption += std::string(
                   "No generation is marked: the run has no validation split "
                   "(crest.select_on last), so its result is simply the last generation; ") +
               esc(kValidationSplitHint) + ".";
  } else {
    caption += std::string("No generation is marked: ") + kRunSummaryFile +
               " is written when the run finishes.";
  }
  return caption;
}

// The line chart of mean recall, accuracy, minority and majority recall (and validation mean
// recall when there is one) per generation, the one selected on validation marked; run.rows is
// not empty.
std::string recall_figure(const RunFolder& run, const std::vector<std::string>& categories) {
  const auto& rows = *run.rows;
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
    x.push_back(static_cast<double>(i));
    mean_recall.values.push_back(r.mean_recall);
    accuracy.values.push_back(r.accuracy);
    minority.values.push_back(r.minority_recall);
    majority.values.push_back(r.majority_recall);
    val.values.push_back(r.val_mean_recall);
    has_val = has_val || std::isfinite(r.val_mean_recall);
    if (selects_on_validation(run) && run.best_generation && r.generation == *run.best_generation)
      best_index = i;
  }
  std::vector<ChartSeries> series = {mean_recall, accuracy, minority, majority};
  if (has_val) series.push_back(val);
  ChartFrame frame;
  frame.figure = "generations";
  frame.title = "Mean per-class recall and accuracy per generation";
  frame.x_label = "generation";
  frame.y_label = "test set (EMA model)";
  frame.width = kHalfWidth;
  frame.height = kGenerationChartHeight;
  frame.y_min = 0;
  frame.y_max = 1;
  std::vector<ChartMarker> markers;
  if (best_index) markers.push_back({static_cast<double>(*best_index), "selected", true});
  return figure(line_chart(frame, x, series, markers, categories),
                recall_caption(run, best_index.has_value()));
}

// Beside the recall chart: how the labeled set grew (original and pseudo-labeled images per
// generation, stacked), which is what moves those figures.
std::string labeled_size_figure(const std::vector<GenerationRow>& rows,
                                const std::vector<std::string>& categories) {
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
  sizes.height = kGenerationChartHeight;
  return figure(bar_chart(sizes, categories, {original, pseudo}, /*stacked=*/true),
                "Pseudo-labels come from the previous generation's selection.");
}

std::string generations_section(const RunFolder& run) {
  std::ostringstream out;
  out << "<section id=\"generations\"><h2>Recall and accuracy per generation</h2>\n"
      << "<p class=\"lead\">Test-set figures of each generation's EMA model at its end. "
         "Minority and majority recall average the rarest and most frequent 30% of the "
         "classes.</p>\n";
  if (!run.rows || run.rows->empty()) {
    out << empty_note(std::string("No generation has finished yet (") + kGenerationsFile +
                      " has no rows).")
        << "</section>\n";
    return out.str();
  }
  std::vector<std::string> categories;
  for (const auto& r : *run.rows) categories.push_back(std::to_string(r.generation));
  out << "<div class=\"grid grid2\">\n"
      << recall_figure(run, categories) << labeled_size_figure(*run.rows, categories)
      << "</div>\n</section>\n";
  return out.str();
}

std::string distribution_section(const RunFolder& run) {
  std::ostringstream out;
  out << "<section id=\"distribution\"><h2>Labeled set per generation</h2>\n"
      << "<p class=\"lead\">Images per class that each generation trained on: the original "
         "labeled set and the pseudo-labels selected at the end of the previous generation. "
         "CReST keeps a larger share of the images predicted as a rare class (its rate mu_l "
         "is higher), not necessarily more images: a head class is predicted far more often.</p>\n";
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
    out << empty_note("No " + gen_file(kLabeledDistributionFile) + " yet.") << "</section>\n";
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

// The segments of every generation's execution.json as one table: where, with what and in what
// precision each stretch of steps ran (a resume starts a new segment).
std::string execution_table(const RunFolder& run) {
  std::ostringstream out;
  out << "<h3>How each generation ran (" << kExecutionFile << ")</h3>"
      << "<table class=\"env\" id=\"execution\"><thead><tr><th>gen</th><th>from step</th>"
      << "<th class=\"text\">started (UTC)</th><th class=\"text\">device</th><th>ranks</th>"
      << "<th>threads</th><th class=\"text\">step</th><th class=\"text\">crest</th></tr></thead>"
      << "<tbody>\n";
  for (const GenerationFiles& g : run.generations) {
    if (!g.execution) continue;
    for (const ExecutionSegment& s : g.execution->segments) {
      const std::string step = s.precision + ", " + s.memory_format + ", " + s.sgd + " SGD" +
                               (s.cuda_graph ? ", CUDA graph" : "");
      out << "<tr><td>" << g.generation << "</td><td>" << s.from_step << "</td><td class=\"text\">"
          << esc(s.started) << "</td><td class=\"text\">" << esc(s.device) << "</td><td>"
          << s.world_size << "</td><td>" << s.threads << "</td><td class=\"text\">" << esc(step)
          << "</td><td class=\"text\">" << esc(s.crest_version + ", LibTorch " + s.torch_version)
          << "</td></tr>\n";
    }
  }
  out << "</tbody></table>\n";
  return out.str();
}

std::string config_section(const RunFolder& run) {
  std::ostringstream out;
  out << "<details id=\"config\"><summary>Config and environment</summary>\n";
  out << "<h3>Environment</h3><table class=\"env\"><tbody>\n";
  auto row = [&](const std::string& key, const std::string& value) {
    out << "<tr><th class=\"text\">" << esc(key) << "</th><td class=\"text\">" << esc(value)
        << "</td></tr>\n";
  };
  // The run's first start, from the first generation's record.
  for (const GenerationFiles& g : run.generations) {
    if (!g.execution || g.execution->segments.empty()) continue;
    const ExecutionSegment& first = g.execution->segments.front();
    row("run started " + first.started, first.command);
    row("device", first.device);
    break;
  }
  row("report written by",
      std::string("crest ") + CREST_VERSION + ", LibTorch " + CREST_TORCH_VERSION);
  out << "</tbody></table>\n";
  out << execution_table(run);
  if (!run.log_lines.empty()) {
    out << "<h3>" << kLogFile << " (warnings and errors)</h3><pre class=\"log\">";
    for (const auto& line : run.log_lines) out << esc(line) << "\n";
    out << "</pre>\n";
  }
  out << "<h3>Resolved config (" << kConfigFile << ")</h3><pre>" << esc(run.config_yaml)
      << "</pre>\n";
  out << "</details>\n";
  return out.str();
}

}  // namespace

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
      << " generation(s) finished \u00b7 "
      << (selects_on_validation(run) ? "generation selected on validation (crest.select_on val)"
                                     : "no validation split: the result is the last generation")
      << "</p>\n";
  if (!run.failure.empty()) {
    out << "<div class=\"banner\" id=\"failed\" role=\"alert\"><strong>Failed run.</strong> "
        << esc(run.failure)
        << " The report shows the generations that finished before it; their figures are "
           "those of healthy models. Lower train.lr or check the data, then rerun.</div>\n";
  } else if (!run.complete()) {
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
  if (!out.empty()) check_output_file(out, "--out", {kReportFile});
  const RunFolder run = load_run(run_dir);
  if (!run.failure.empty()) {
    spdlog::warn("{} is a failed run: {}", run_dir.string(), run.failure);
  } else if (!run.complete()) {
    std::string missing;
    for (const auto& m : run.missing) missing += (missing.empty() ? "" : "; ") + m;
    spdlog::warn("{} is an incomplete run: {}", run_dir.string(), missing);
  }
  const fs::path path = out.empty() ? run_dir / kReportFile : out;
  write_file_atomic(path, report_html(run));
  return path;
}

}  // namespace crest
