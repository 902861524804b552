// The per-class sections of the HTML report (declared in report_parts.h): recall and
// precision per class, the pseudo-label selection per class and the confusion matrix.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "crest/config/choices.h"
#include "crest/io/run_files.h"
#include "crest/io/selection_files.h"
#include "report_parts.h"

namespace crest::report_parts {

namespace {

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

// What tells one of two per-class charts apart.
struct PerClassFigure {
  std::string figure;  // the data-figure attribute
  std::string title;
  std::string y_label;
  std::string caption;  // HTML
  bool unit_range;      // the value axis is [0, 1]
};

// Two per-class charts (a series per generation) over the classes `names`, side by side while
// the classes are few (12 at most), one above the other at full width otherwise; closes its
// <div>.
std::string per_class_pair(const std::vector<std::string>& names, const std::string& x_label,
                           const PerClassFigure& first,
                           const std::vector<ChartSeries>& first_series,
                           const PerClassFigure& second,
                           const std::vector<ChartSeries>& second_series) {
  const bool half = names.size() <= 12 && !second_series.empty();
  std::string out = std::string("<div class=\"grid ") + (half ? "grid2" : "") + "\">\n";
  auto chart = [&](const PerClassFigure& which, const std::vector<ChartSeries>& series) {
    ChartFrame frame;
    frame.x_label = x_label;
    frame.width = half ? kHalfWidth : kFullWidth;
    frame.height = half ? 320 : 380;
    if (which.unit_range) {
      frame.y_min = 0;
      frame.y_max = 1;
    }
    frame.figure = which.figure;
    frame.title = which.title;
    frame.y_label = which.y_label;
    return figure(per_class_chart(frame, names, series, half), which.caption);
  };
  out += chart(first, first_series);
  if (!second_series.empty()) out += chart(second, second_series);  // never an empty chart
  return out + "</div>\n";
}

// The selection section's opening paragraph: how pseudo-labels are chosen, and whether their
// precision is known.
std::string selection_lead(const RunFolder& run) {
  const bool knn = std::any_of(run.generations.begin(), run.generations.end(),
                               [](const auto& g) { return g.selection && g.selection->knn; });
  if (knn) {
    return "<p class=\"lead\">crest.selection knn (DML-PL, crest's rules): at the end of "
           "generation K the EMA model's embeddings of the labeled images are clustered class by "
           "class; every unlabeled image not yet labeled takes the class of its nearest cluster, "
           "and is kept when enough of its nearest labeled neighbours carry that class, up to "
           "the round's quota. Pseudo-labels accumulate over the generations, and the round "
           "before the last generation labels every image left (" +
           gen_file(kSelectionFile) + ", " + gen_file(kPseudoLabelsFile) + ")." +
           (run.pool_truth_known ? " Precision is measured against the hidden true labels."
                                 : " The unlabeled images have no labels, so the precision of "
                                   "the selection is unknown.") +
           "</p>\n";
  }
  return "<p class=\"lead\">At the end of generation K the EMA model labels the unlabeled "
         "pool and keeps, per predicted class c, the most confident fraction "
         "\u03bc<sub>c</sub> of its predictions; they join the labeled set of generation "
         "K+1 (" +
         gen_file(kSelectionFile) + ")." +
         (run.pool_truth_known
              ? " Precision is measured against the hidden true labels."
              : " The unlabeled images have no labels, so the precision of the selection is "
                "unknown; crest estimates it per class from held-out labeled images (" +
                    gen_file(kSelectionFile) + " precision_estimate) and " +
                    gen_file(kPseudoLabelsFile) + " names the file of each selected image.") +
         "</p>\n";
}

// The selection of every generation that has one: selected images and their precision per
// class (a series per generation), and the rows of the totals table.
struct SelectionFigures {
  std::vector<ChartSeries> counts, precision;
  std::vector<std::string> names;
  std::string table_rows;
  std::string estimated_on;  // where the latest estimate came from ("" = none)
  std::string poor;          // the warnings of poor selections (HTML)
};

// The precision of class c shown for selection `s`: measured, else estimated; NaN when there is
// neither or nothing is selected.
double shown_precision(const SelectionRecord& s, std::size_t c) {
  if (s.selected[c] == 0) return kNaN;
  if (s.truth_known) return s.precision[c];
  return s.estimate ? s.estimate->precision[c] : kNaN;
}

// The precision of the whole selection for the totals table.
std::string total_precision(const SelectionRecord& s) {
  if (s.truth_known) return fixed(s.precision_total);
  if (!s.estimate) return "unknown";
  return "unknown (estimated " + fixed(s.estimate->weighted) + (s.estimate->poor ? ", poor" : "") +
         ")";
}

// A warning for a selection whose estimated precision is poor.
std::string poor_note(int generation, const SelectionRecord& s) {
  if (!s.estimate || !s.estimate->poor) return "";
  std::string classes;
  for (int c : s.estimate->poor_classes) {
    const auto k = static_cast<std::size_t>(c);
    classes +=
        (classes.empty() ? "" : ", ") + s.names[k] + " " + fixed(s.estimate->precision[k], 2);
  }
  return "<li>" + esc(gen_name(generation)) + ": estimated precision " +
         esc(fixed(s.estimate->weighted, 2)) +
         (classes.empty() ? "" : " (classes " + esc(classes) + ")") +
         ", below crest.min_pseudo_precision " + esc(fixed(s.estimate->threshold, 2)) + "</li>";
}

// Adds generation `generation`'s selection `s` to `figures`.
void add_selection(int generation, const SelectionRecord& s, SelectionFigures& figures) {
  figures.names = s.names;
  ChartSeries n = named_series(gen_name(generation), palette_color(figures.counts.size()));
  ChartSeries p = named_series(gen_name(generation), palette_color(figures.precision.size()));
  for (std::size_t c = 0; c < s.names.size(); ++c) {
    n.values.push_back(static_cast<double>(s.selected[c]));
    // Precision of an empty selection is undefined: no bar rather than a misleading 0.
    p.values.push_back(shown_precision(s, c));
    const std::string head = s.names[c] + " \u00b7 end of " + gen_name(generation) + ": ";
    const std::string correct =
        s.truth_known ? std::to_string(s.correct[c]) + " correct" : "correctness unknown";
    if (s.knn) {
      n.tooltips.push_back(head + std::to_string(s.selected[c]) + " selected of " +
                           std::to_string(s.predicted[c]) + " nearest its clusters (" +
                           std::to_string(s.knn->eligible[c]) + " eligible; agreement " +
                           fixed(s.knn->mean_agreement[c], 2) + ", distance " +
                           fixed(s.knn->mean_distance[c], 3) + "), " + correct);
    } else {
      n.tooltips.push_back(head + std::to_string(s.selected[c]) + " selected of " +
                           std::to_string(s.predicted[c]) +
                           " predicted (\u03bc = " + fixed(s.rates[c], 3) + "), " + correct);
    }
    p.tooltips.push_back(head + (s.truth_known ? "precision " + fixed(s.precision[c]) + " (" +
                                                     std::to_string(s.correct[c]) + " of " +
                                                     std::to_string(s.selected[c]) + ")"
                                 : s.estimate
                                     ? "estimated precision " + fixed(shown_precision(s, c))
                                     : std::string("precision unknown")));
  }
  figures.counts.push_back(n);
  if (s.truth_known || s.estimate) figures.precision.push_back(p);
  if (s.estimate) figures.estimated_on = s.estimate->source;
  figures.poor += poor_note(generation, s);
  figures.table_rows += "<tr><td>" + std::to_string(generation) + "</td><td>" +
                        std::to_string(s.selected_total) + "</td><td>" + esc(total_precision(s)) +
                        "</td></tr>\n";
}

// The classes of `m` without test images or never predicted, and over how many classes the
// mean recall and precision are taken; "" when every figure is defined.
std::string undefined_note(const PerClassTable& m) {
  std::string no_support, never_predicted;
  int with_support = 0, predicted = 0;
  const auto add = [](std::string& list, const std::string& name) {
    list += (list.empty() ? "" : ", ") + name;
  };
  for (std::size_t c = 0; c < m.names.size(); ++c) {
    m.support[c] > 0 ? static_cast<void>(++with_support) : add(no_support, m.names[c]);
    m.predicted[c] > 0 ? static_cast<void>(++predicted) : add(never_predicted, m.names[c]);
  }
  const std::string total = std::to_string(m.names.size());
  std::string note;
  if (!no_support.empty()) {
    note += "<p class=\"note\">No test images of " + html_escape(no_support) +
            ": their recall is n/a and the mean recall averages " + std::to_string(with_support) +
            " of " + total + " classes.</p>\n";
  }
  if (!never_predicted.empty()) {
    note += "<p class=\"note\">Never predicted: " + html_escape(never_predicted) +
            ": their precision is n/a and the mean precision averages " +
            std::to_string(predicted) + " of " + total + " classes.</p>\n";
  }
  return note;
}

}  // namespace

std::string per_class_section(const RunFolder& run) {
  std::ostringstream out;
  out << "<section id=\"per-class\"><h2>Per-class recall and precision</h2>\n"
      << "<p class=\"lead\">The EMA model of each generation on the test set ("
      << gen_file(kPerClassFile)
      << "). Classes are in the order of the long-tailed training set: class 0 "
         "is the most frequent.</p>\n";
  std::vector<ChartSeries> recall, precision;
  std::vector<std::string> names;
  const PerClassTable* last = nullptr;
  for (const auto& g : run.generations) {
    if (!g.per_class) continue;
    const PerClassTable& m = *g.per_class;
    last = &m;
    names = m.names;
    ChartSeries r = named_series(gen_name(g.generation), palette_color(recall.size()));
    ChartSeries p = named_series(gen_name(g.generation), palette_color(precision.size()));
    for (std::size_t c = 0; c < m.names.size(); ++c) {
      r.values.push_back(m.recall[c]);  // NaN (undefined): no bar
      p.values.push_back(m.precision[c]);
      // Hits from whichever ratio is defined; neither is only for a class with no images at all.
      const double hits = m.support[c] > 0 ? m.recall[c] * static_cast<double>(m.support[c])
                          : m.predicted[c] > 0
                              ? m.precision[c] * static_cast<double>(m.predicted[c])
                              : 0.0;
      const std::string correct = std::isfinite(hits) ? std::to_string(std::llround(hits)) : "?";
      const std::string head = m.names[c] + " \u00b7 " + gen_name(g.generation);
      r.tooltips.push_back(head + ": recall " +
                           (m.support[c] > 0 ? fixed(m.recall[c]) + " (" + correct + " of " +
                                                   std::to_string(m.support[c]) + ")"
                                             : std::string("n/a (no test images)")));
      p.tooltips.push_back(head + ": precision " +
                           (m.predicted[c] > 0 ? fixed(m.precision[c]) + " (" + correct + " of " +
                                                     std::to_string(m.predicted[c]) + " predicted)"
                                               : std::string("n/a (never predicted)")));
    }
    recall.push_back(r);
    precision.push_back(p);
  }
  if (!recall.empty()) out << undefined_note(*last);
  if (recall.empty()) {
    out << empty_note("No " + gen_file(kPerClassFile) +
                      " yet: it is written when a generation finishes.")
        << "</section>\n";
    return out.str();
  }
  out << per_class_pair(names, "class",
                        {"per-class-recall", "Per-class recall (test set)", "recall",
                         "A class without test images has no bar (recall n/a).", true},
                        recall,
                        {"per-class-precision", "Per-class precision (test set)", "precision",
                         "A class never predicted has no bar (precision n/a).", true},
                        precision)
      << "</section>\n";
  return out.str();
}

// The mean of `values` over the classes with a selection, weighted by it; NaN when none.
double weighted_mean(const std::vector<double>& values, const std::vector<std::int64_t>& selected) {
  double sum = 0.0, n = 0.0;
  for (std::size_t c = 0; c < values.size(); ++c) {
    if (selected[c] == 0) continue;
    sum += values[c] * static_cast<double>(selected[c]);
    n += static_cast<double>(selected[c]);
  }
  return n > 0 ? sum / n : kNaN;
}

// crest.selection knn: one row per round (quota, eligible, selected, what is left, agreement and
// distance of the selection), then the per-class account of the latest round.
std::string knn_tables(const RunFolder& run) {
  std::ostringstream rounds;
  const SelectionRecord* latest = nullptr;
  for (const auto& g : run.generations) {
    if (!g.selection || !g.selection->knn) continue;
    const SelectionRecord& s = *g.selection;
    const KnnSelectionRecord& k = *s.knn;
    std::int64_t eligible = 0;
    for (std::int64_t e : k.eligible) eligible += e;
    rounds << "<tr><td>" << k.round + 1 << " of " << k.rounds << "</td><td>" << s.pool
           << "</td><td>" << k.quota << "</td><td>" << eligible << "</td><td>" << s.selected_total
           << "</td><td>" << k.left_after << "</td><td>"
           << fixed(weighted_mean(k.mean_agreement, s.selected), 2) << "</td><td>"
           << fixed(weighted_mean(k.mean_distance, s.selected), 3) << "</td><td>"
           << esc(total_precision(s)) << "</td></tr>\n";
    latest = &s;
  }
  if (latest == nullptr) return "";
  std::ostringstream out;
  out << "<h3>Nearest-neighbour rounds (crest.selection knn)</h3><table><thead><tr>"
         "<th>round</th><th>unlabeled left</th><th>quota</th><th>eligible</th><th>selected</th>"
         "<th>left after</th><th>agreement</th><th>distance</th><th>precision</th></tr></thead>"
         "<tbody>\n"
      << rounds.str() << "</tbody></table>\n<details><summary>Per class, round "
      << latest->knn->round + 1 << "</summary><table><thead><tr><th>class</th>"
      << "<th>nearest its clusters</th><th>eligible</th><th>selected</th><th>agreement</th>"
      << "<th>distance</th><th>precision</th></tr></thead><tbody>\n";
  const SelectionRecord& s = *latest;
  for (std::size_t c = 0; c < s.names.size(); ++c) {
    out << "<tr><td>" << esc(s.names[c]) << "</td><td>" << s.predicted[c] << "</td><td>"
        << s.knn->eligible[c] << "</td><td>" << s.selected[c] << "</td><td>"
        << fixed(s.knn->mean_agreement[c], 2) << "</td><td>" << fixed(s.knn->mean_distance[c], 3)
        << "</td><td>"
        << (s.truth_known && s.selected[c] > 0 ? fixed(s.precision[c]) : std::string("\u2013"))
        << "</td></tr>\n";
  }
  out << "</tbody></table></details>\n";
  return out.str();
}

std::string selection_section(const RunFolder& run) {
  std::ostringstream out;
  out << "<section id=\"selection\"><h2>Pseudo-label selection</h2>\n" << selection_lead(run);
  if (run.mode == to_string(CrestMode::kFixMatch)) {
    out << empty_note("crest.mode is fixmatch: no pseudo-labels are selected.") << "</section>\n";
    return out.str();
  }
  SelectionFigures figures;
  for (const auto& g : run.generations) {
    if (g.selection) add_selection(g.generation, *g.selection, figures);
  }
  if (figures.counts.empty()) {
    out << empty_note("No " + gen_file(kSelectionFile) +
                      " yet: it is written at the end of a generation.")
        << "</section>\n";
    return out.str();
  }
  const bool estimated = !run.pool_truth_known;
  if (!figures.poor.empty()) {
    out << "<div class=\"banner\" id=\"poor-selection\" role=\"alert\"><strong>Poor "
           "pseudo-labels.</strong> The next generation trained on a selection whose estimated "
           "precision is low:<ul>"
        << figures.poor << "</ul></div>\n";
  }
  if (figures.precision.empty()) {
    out << empty_note(
        "No precision chart: the unlabeled images have no labels and no estimate "
        "of their precision was recorded (nothing was selected, or a run of an older "
        "version).");
  }
  out << per_class_pair(
             figures.names, "predicted class",
             {"selection-count", "Pseudo-labels selected per class", "selected images", "", false},
             figures.counts,
             {"selection-precision",
              estimated ? "Estimated precision of the selected pseudo-labels"
                        : "Precision of the selected pseudo-labels",
              estimated ? "estimated precision" : "precision",
              estimated ? "Estimated on " + esc(figures.estimated_on) +
                              ": the EMA model's per-class precision there, standing in for the "
                              "selection's. A class with nothing selected has no bar."
                        : "A class with nothing selected has no bar.",
              true},
             figures.precision)
      << "<h3>Totals</h3><table><thead><tr><th>selected at the end of gen</th>"
      << "<th>selected</th><th>precision</th></tr></thead><tbody>\n"
      << figures.table_rows << "</tbody></table>\n"
      << knn_tables(run) << "</section>\n";
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
    if (shown) {
      why = selects_on_validation(run) ? "the generation selected on validation"
                                       : "the last generation (the run has no validation split)";
    }
  }
  if (!shown) {
    for (const auto& g : run.generations) {
      if (g.confusion) shown = &g;
    }
    if (shown) {
      why = run.best_generation ? "the last generation with a confusion matrix (the chosen one, " +
                                      gen_name(*run.best_generation) + ", has none)"
                                : "the last finished generation (the run is not finished)";
    }
  }
  if (!shown) {
    out << empty_note("No " + gen_file(kConfusionFile) +
                      " yet: it is written when a generation finishes.")
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

}  // namespace crest::report_parts
