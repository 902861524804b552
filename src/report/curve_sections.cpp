// The training curves of the HTML report: loss, mask rate, accuracies and lr of every evaluation
// (gen_K/metrics.jsonl), the generations drawn one after the other on a shared x axis.
#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "crest/io/run_files.h"
#include "report_parts.h"

namespace crest::report_parts {

namespace {

// The shared x axis of the training curves: generations back to back, generation K starting
// where K-1's schedule ended; a null point breaks the lines (step 0, and between generations).
struct CurveAxis {
  std::vector<double> x;
  std::vector<std::string> where;  // "gen K, step S" for tooltips
  std::vector<ChartMarker> markers;
  std::vector<const MetricsLine*> points;
};

CurveAxis curve_axis(const RunFolder& run, const std::vector<const GenerationFiles*>& gens) {
  const bool several = gens.size() > 1;
  CurveAxis axis;
  // Step 0 anchors the x axis at the start of training (the first evaluation comes later).
  axis.x.push_back(0);
  axis.where.emplace_back();
  axis.points.push_back(nullptr);
  double offset = 0;
  for (std::size_t i = 0; i < gens.size(); ++i) {
    const auto& curve = *gens[i]->curve;
    if (several) axis.markers.push_back({offset, gen_name(gens[i]->generation), false});
    if (i > 0) {  // a gap that breaks the lines between generations
      axis.x.push_back(offset);
      axis.where.emplace_back();
      axis.points.push_back(nullptr);
    }
    double last = 0;
    for (const auto& p : curve) {
      const double step = static_cast<double>(p.step);
      axis.x.push_back(offset + step);
      axis.where.push_back(gen_name(gens[i]->generation) + ", step " + display_number(step, 10));
      axis.points.push_back(&p);
      last = std::max(last, step);
    }
    offset += run.steps_per_generation > 0
                  ? std::max(static_cast<double>(run.steps_per_generation), last)
                  : last;
  }
  return axis;
}

// The series of `field` over the curve axis: a value and a tooltip at each evaluation, NaN and
// no tooltip at the axis's breaks.
ChartSeries curve_series(const CurveAxis& axis, const std::string& name, double MetricsLine::*field,
                         std::size_t color, bool dashed = false) {
  ChartSeries s = named_series(name, palette_color(color), dashed);
  for (std::size_t i = 0; i < axis.points.size(); ++i) {
    const MetricsLine* point = axis.points[i];
    const double v = point ? point->*field : kNaN;
    s.values.push_back(v);
    s.tooltips.push_back(point ? axis.where[i] + " \u00b7 " + name + ": " + display_number(v, 5)
                               : "");
  }
  return s;
}

// The four training-curve charts (loss, mask rate, test accuracy, learning rate), two a row.
std::string curve_charts(const RunFolder& run, const CurveAxis& axis, bool several) {
  auto series = [&](const std::string& name, double MetricsLine::*field, std::size_t color,
                    bool dashed = false) { return curve_series(axis, name, field, color, dashed); };
  auto chart = [&](const ChartFrame& frame, const std::vector<ChartSeries>& lines) {
    return line_chart(frame, axis.x, lines, axis.markers);
  };
  std::ostringstream out;
  ChartFrame frame;
  frame.x_label = several ? "step (generations one after another)" : "step";
  frame.width = kHalfWidth;
  frame.height = 280;
  out << "<div class=\"grid grid2\">\n";
  frame.figure = "curves-loss";
  frame.title = "Training loss";
  frame.y_label = "loss";
  frame.y_min = 0;
  out << figure(chart(frame, {series("loss", &MetricsLine::loss, 0),
                              series("labeled loss_x", &MetricsLine::loss_x, 1, true),
                              series("unlabeled loss_u", &MetricsLine::loss_u, 2, true)}),
                "");
  frame.figure = "curves-mask-rate";
  frame.title = "Mask rate and pseudo-label accuracy";
  frame.y_label = "fraction";
  frame.y_max = 1;
  out << figure(
      chart(frame, {series("mask rate (confidence \u2265 threshold)", &MetricsLine::mask_rate, 0),
                    series("pseudo-label accuracy", &MetricsLine::pseudo_label_acc, 4, true)}),
      run.pool_truth_known ? ""
                           : "The unlabeled images have no labels, so the pseudo-label accuracy "
                             "is unknown and not drawn.");
  frame.figure = "curves-accuracy";
  frame.title = "Test accuracy";
  frame.y_label = "accuracy";
  std::vector<ChartSeries> accuracy = {series("EMA", &MetricsLine::acc_ema, 0),
                                       series("raw", &MetricsLine::acc_raw, 1, true)};
  // A run whose logits are adjusted by training gets no post-hoc curve (older runs wrote one,
  // adjusted twice).
  if (!run.logits_adjusted_in_training) {
    accuracy.push_back(series("EMA, logit-adjusted", &MetricsLine::acc_ema_la, 2, true));
  }
  out << figure(chart(frame, accuracy),
                run.logits_adjusted_in_training
                    ? "No post-hoc logit-adjusted curve: the run trained with "
                      "train.labeled_loss=logit_adjusted, whose logits already carry the "
                      "adjustment (a second one would count the class prior twice)."
                    : "");
  frame.figure = "curves-lr";
  frame.title = "Learning rate";
  frame.y_label = "lr";
  frame.y_max = kNaN;
  out << figure(chart(frame, {series("lr", &MetricsLine::lr, 6)}), "");
  out << "</div>\n";
  return out.str();
}

}  // namespace

std::string curves_section(const RunFolder& run) {
  std::ostringstream out;
  out << "<section id=\"curves\"><h2>Training curves</h2>\n";
  std::vector<const GenerationFiles*> gens;
  for (const auto& g : run.generations) {
    if (g.curve && !g.curve->empty()) gens.push_back(&g);
  }
  if (gens.empty()) {
    out << empty_note("No evaluations recorded yet (" + gen_file(kMetricsFile) + ").")
        << "</section>\n";
    return out.str();
  }
  const bool several = gens.size() > 1;
  out << "<p class=\"lead\">One point per evaluation (" << gen_file(kMetricsFile) << ")"
      << (several ? "; the generations are drawn one after the other, each starting again at "
                    "step 0 of its own schedule"
                  : "")
      << ".</p>\n";
  out << curve_charts(run, curve_axis(run, gens), several) << "</section>\n";
  return out.str();
}

}  // namespace crest::report_parts
