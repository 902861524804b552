// The bar and line charts of the SVG chart kit (declared in crest/report/svg.h): value axes,
// legends, bars, lines, points and markers. The kit's shared parts are in svg_parts.cpp.
#include "crest/report/svg.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "crest/util/error.h"
#include "svg_parts.h"

namespace crest {

namespace {

using namespace svg_parts;  // NOLINT(build/namespaces): the chart kit's private parts

std::string series_color(const ChartSeries& s, std::size_t index) {
  return s.color.empty() ? palette_color(index) : s.color;
}

// The legend of `series` from (x0, y0), wrapping at `width`; line swatches or square ones.
Legend legend(const std::vector<ChartSeries>& series, double x0, double y0, double width,
              bool lines) {
  Legend out;
  double x = x0;
  double y = y0;
  bool any = false;
  for (std::size_t i = 0; i < series.size(); ++i) {
    const ChartSeries& s = series[i];
    if (s.name.empty()) continue;
    const double item = 18 + text_width(s.name, kTickSize) + 14;
    if (any && x + item > x0 + width) {
      x = x0;
      y += kLegendRow;
    }
    any = true;
    const std::string color = series_color(s, i);
    if (lines) {
      out.svg += "<line x1=\"" + num(x) + "\" y1=\"" + num(y + 6) + "\" x2=\"" + num(x + 14) +
                 "\" y2=\"" + num(y + 6) + "\" stroke=\"" + color + "\" stroke-width=\"2.5\"" +
                 (s.dashed ? " stroke-dasharray=\"4 3\"" : "") + "/>";
    } else {
      out.svg += "<rect x=\"" + num(x) + "\" y=\"" + num(y) +
                 "\" width=\"12\" height=\"12\" fill=\"" + color + "\"/>";
    }
    out.svg += text_element(x + 18, y + 10, s.name, kTickSize, "start");
    x += item;
  }
  out.height = any ? y - y0 + kLegendRow : 0;
  return out;
}

// A value axis from data (with optional fixed ends) and its ticks.
ValueAxis value_axis(double data_lo, double data_hi, double fixed_lo, double fixed_hi) {
  if (!finite(data_lo) || !finite(data_hi)) {
    data_lo = 0;
    data_hi = 1;
  }
  if (finite(fixed_lo)) data_lo = fixed_lo;
  if (finite(fixed_hi)) data_hi = fixed_hi;
  ValueAxis axis;
  const std::vector<double> ticks = nice_ticks(data_lo, data_hi, 5);
  axis.lo = finite(fixed_lo) ? fixed_lo : ticks.front();
  axis.hi = finite(fixed_hi) ? fixed_hi : ticks.back();
  if (axis.hi <= axis.lo) axis.hi = axis.lo + 1;
  const double eps = (axis.hi - axis.lo) * 1e-9;
  for (double t : ticks) {
    if (t >= axis.lo - eps && t <= axis.hi + eps) axis.ticks.push_back(t);
  }
  return axis;
}

// Left margin: y label and tick labels.
double left_margin(const ChartFrame& frame, const ValueAxis& axis) {
  double widest = 0;
  for (double t : axis.ticks) widest = std::max(widest, text_width(display_number(t), kTickSize));
  return 8 + (frame.y_label.empty() ? 0 : 18) + widest + 8;
}

std::string tooltip(const ChartSeries& s, std::size_t i, const std::string& where, double v) {
  if (i < s.tooltips.size() && !s.tooltips[i].empty()) return s.tooltips[i];
  std::string text = where;
  if (!s.name.empty()) text += (text.empty() ? "" : " \u00b7 ") + s.name;
  return text + ": " + display_number(v, 6);
}

// Throws InputError unless every series has `n` values ("<chart> '<figure>': series ...").
void check_lengths(const std::string& chart, const ChartFrame& frame,
                   const std::vector<ChartSeries>& series, std::size_t n, const std::string& what) {
  for (const auto& s : series) {
    if (s.values.size() != n) {
      throw InputError(chart + " '" + frame.figure + "': series '" + s.name + "' has " +
                       std::to_string(s.values.size()) + " values for " + std::to_string(n) + " " +
                       what);
    }
  }
}

// A chart with a value axis drawn in its frame: the plot, its legend and its category labels
// (none for numeric x), the value axis and where a value goes.
struct ValueChart {
  Plot plot;
  Legend key;
  CategoryAxis cats;
  ValueAxis axis;

  // The y of value `v`, clamped to the axis.
  double y_of(double v) const {
    v = std::clamp(v, axis.lo, axis.hi);
    return plot.bottom - (v - axis.lo) / (axis.hi - axis.lo) * plot.height();
  }
};

// The layout of a bar or line chart: margins from the tick labels, the legend under the title,
// the category labels (`categories` empty: one row of numeric labels) and the plot between.
// Turned labels that would leave the picture on the left push the plot right.
ValueChart lay_out(const ChartFrame& frame, const ValueAxis& axis,
                   const std::vector<ChartSeries>& series,
                   const std::vector<std::string>& categories, double right_margin, bool lines) {
  ValueChart chart;
  chart.axis = axis;
  Plot& plot = chart.plot;
  plot.left = left_margin(frame, axis);
  plot.right = frame.width - right_margin;
  chart.key = legend(series, plot.left, header_height(frame), plot.width(), lines);
  plot.top = header_height(frame) + chart.key.height + (chart.key.height > 0 ? 6 : 4);
  const double slots = static_cast<double>(std::max<std::size_t>(categories.size(), 1));
  chart.cats = layout_categories(categories, plot.width() / slots);
  if (chart.cats.overhang > plot.left) {
    plot.left = chart.cats.overhang;
    chart.cats = layout_categories(categories, plot.width() / slots);
  }
  plot.bottom = frame.height - chart.cats.height - x_label_room(frame);
  return chart;
}

// The x axis: a rule across the plot at height `y`.
std::string x_axis_line(const Plot& plot, double y) {
  return "<line x1=\"" + num(plot.left) + "\" y1=\"" + num(y) + "\" x2=\"" + num(plot.right) +
         "\" y2=\"" + num(y) + "\" stroke=\"" + kAxisColor + "\"/>";
}

// The opening of a bar or line chart: the frame, its legend and the value axis.
std::string open_value_chart(const ChartFrame& frame, const ValueChart& chart) {
  return frame_open(frame, frame.height, chart.key.svg) +
         frame_value_axis(frame, chart.plot, chart.axis);
}

// The bar chart's value range: 0 always, and the stacked sums when stacking.
std::pair<double, double> bar_range(const std::vector<ChartSeries>& series, std::size_t n,
                                    bool stacked) {
  double lo = 0, hi = 0;
  for (std::size_t c = 0; c < n; ++c) {
    double pos = 0, neg = 0;
    for (const auto& s : series) {
      const double v = s.values[c];
      if (!finite(v)) continue;
      if (stacked) {
        (v >= 0 ? pos : neg) += v;
      } else {
        hi = std::max(hi, v);
        lo = std::min(lo, v);
      }
    }
    hi = std::max(hi, pos);
    lo = std::min(lo, neg);
  }
  if (hi == lo) hi = lo + 1;
  return {lo, hi};
}

// The bars of every category in slots `band` wide.
std::string bars(const ValueChart& chart, const std::vector<std::string>& categories,
                 const std::vector<ChartSeries>& series, bool stacked, double band) {
  // Bars no wider than 64 units: a chart of two categories should not look like a wall.
  const double slots = stacked || series.empty() ? 1.0 : static_cast<double>(series.size());
  const double group = std::min(band * (slots > 1 ? 0.84 : 0.7), 64.0 * slots);
  const double bar_w = group / slots;
  std::ostringstream out;
  out << "<g class=\"bars\">";
  for (std::size_t c = 0; c < categories.size(); ++c) {
    const double x0 = chart.plot.left + band * static_cast<double>(c) + (band - group) / 2;
    double pos = 0, neg = 0;
    for (std::size_t k = 0; k < series.size(); ++k) {
      const ChartSeries& s = series[k];
      const double v = s.values[c];
      if (!finite(v)) continue;
      double base = 0;
      double x = x0 + bar_w * static_cast<double>(k);
      if (stacked) {
        x = x0;
        base = v >= 0 ? pos : neg;
        (v >= 0 ? pos : neg) += v;
      }
      const double y_a = chart.y_of(base);
      const double y_b = chart.y_of(base + v);
      out << "<rect class=\"bar\" x=\"" << num(x) << "\" y=\"" << num(std::min(y_a, y_b))
          << "\" width=\"" << num(std::max(bar_w - (stacked ? 0 : 0.5), 0.5)) << "\" height=\""
          << num(std::abs(y_b - y_a)) << "\" fill=\"" << series_color(s, k) << "\">"
          << title_element(tooltip(s, c, categories[c], v)) << "</rect>";
    }
  }
  out << "</g>";
  return out.str();
}

// A line chart's x range: the categories' slots, or the data with a margin when it is one point.
std::pair<double, double> x_range(const std::vector<double>& x,
                                  const std::vector<std::string>& x_categories) {
  if (!x_categories.empty()) return {-0.5, static_cast<double>(x_categories.size()) - 0.5};
  double x_lo = INFINITY, x_hi = -INFINITY;
  for (double v : x) {
    if (!finite(v)) continue;
    x_lo = std::min(x_lo, v);
    x_hi = std::max(x_hi, v);
  }
  if (!finite(x_lo)) {
    x_lo = 0;
    x_hi = 1;
  }
  if (x_hi == x_lo) {
    x_lo -= 1;
    x_hi += 1;
  }
  return {x_lo, x_hi};
}

// A line chart laid out: the value chart, the x range and where an x goes.
struct LineChart : ValueChart {
  double x_lo = 0, x_hi = 1;
  bool categorical = false;
  std::size_t slots = 0;  // categories

  double x_of(double v) const { return plot.left + (v - x_lo) / (x_hi - x_lo) * plot.width(); }
};

// Numeric x ticks: as many as fit without their labels touching.
std::string numeric_x_ticks(const LineChart& chart) {
  const Plot& plot = chart.plot;
  double widest = 0;
  const std::vector<double> candidates = nice_ticks(chart.x_lo, chart.x_hi, 6);
  for (double t : candidates) widest = std::max(widest, text_width(display_number(t), kTickSize));
  const std::size_t fit =
      std::max<std::size_t>(2, static_cast<std::size_t>(plot.width() / (widest + 12)));
  std::vector<double> ticks = candidates;
  if (ticks.size() > fit) ticks = nice_ticks(chart.x_lo, chart.x_hi, static_cast<int>(fit) - 1);
  const double eps = (chart.x_hi - chart.x_lo) * 1e-9;
  std::ostringstream out;
  for (double t : ticks) {
    if (t < chart.x_lo - eps || t > chart.x_hi + eps) continue;
    const double x = chart.x_of(t);
    out << "<line x1=\"" << num(x) << "\" y1=\"" << num(plot.bottom) << "\" x2=\"" << num(x)
        << "\" y2=\"" << num(plot.bottom + 4) << "\" stroke=\"" << kAxisColor << "\"/>";
    out << text_element(x, plot.bottom + kTickSize + 5, display_number(t), kTickSize, "middle",
                        "class=\"tick\"");
  }
  return out.str();
}

// The markers, drawn under the lines so that the lines stay visible.
std::string markers_svg(const LineChart& chart, const std::vector<ChartMarker>& markers) {
  const Plot& plot = chart.plot;
  std::ostringstream out;
  for (const ChartMarker& m : markers) {
    if (!finite(m.x) || m.x < chart.x_lo || m.x > chart.x_hi) continue;
    const double mx = chart.x_of(m.x);
    if (m.emphasis) {
      const double w = chart.categorical
                           ? std::min(plot.width() / static_cast<double>(chart.slots) * 0.5, 80.0)
                           : 10.0;
      out << "<rect class=\"marker\" x=\"" << num(mx - w / 2) << "\" y=\"" << num(plot.top)
          << "\" width=\"" << num(w) << "\" height=\"" << num(plot.height())
          << "\" fill=\"#fff3bf\" stroke=\"#e6c200\" stroke-dasharray=\"3 3\">"
          << title_element(m.label) << "</rect>";
      out << text_element(mx, plot.top + 13, m.label, kTickSize, "middle",
                          "font-weight=\"600\" fill=\"#8a6d00\"");
    } else {
      out << "<line class=\"marker\" x1=\"" << num(mx) << "\" y1=\"" << num(plot.top) << "\" x2=\""
          << num(mx) << "\" y2=\"" << num(plot.bottom)
          << "\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>";
      out << text_element(mx + 3, plot.top + 11, m.label, kTickSize - 1, "start", "fill=\"#666\"");
    }
  }
  return out.str();
}

// Series k: its path (broken at NaN) and its points, which carry the tooltips; on long series
// only the isolated points are drawn.
std::string line_svg(const LineChart& chart, const std::vector<double>& x, const ChartSeries& s,
                     std::size_t k, const std::vector<std::string>& x_categories) {
  const std::string color = series_color(s, k);
  std::ostringstream out;
  std::string d;
  std::size_t finite_points = 0;
  bool pen = false;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!finite(s.values[i]) || !finite(x[i])) {
      pen = false;
      continue;
    }
    ++finite_points;
    d += (pen ? "L" : "M") + num(chart.x_of(x[i])) + " " + num(chart.y_of(s.values[i]));
    pen = true;
  }
  if (!d.empty()) {
    out << "<path class=\"line\" d=\"" << d << "\" fill=\"none\" stroke=\"" << color
        << "\" stroke-width=\"2\" stroke-linejoin=\"round\""
        << (s.dashed ? " stroke-dasharray=\"6 4\"" : "") << ">" << title_element(s.name)
        << "</path>";
  }
  const bool all_points = finite_points <= 80;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double v = s.values[i];
    if (!finite(v) || !finite(x[i])) continue;
    const bool isolated =
        (i == 0 || !finite(s.values[i - 1])) && (i + 1 == x.size() || !finite(s.values[i + 1]));
    if (!all_points && !isolated) continue;
    const std::string where = chart.categorical
                                  ? x_categories[static_cast<std::size_t>(std::llround(x[i]))]
                                  : display_number(x[i], 8);
    out << "<circle class=\"point\" cx=\"" << num(chart.x_of(x[i])) << "\" cy=\""
        << num(chart.y_of(v)) << "\" r=\"3\" fill=\"" << color << "\">"
        << title_element(tooltip(s, i, where, v)) << "</circle>";
  }
  return out.str();
}

}  // namespace

std::string bar_chart(const ChartFrame& frame, const std::vector<std::string>& categories,
                      const std::vector<ChartSeries>& series, bool stacked) {
  const std::size_t n = categories.size();
  check_lengths("bar chart", frame, series, n, "categories");
  const auto [lo, hi] = bar_range(series, n, stacked);
  const ValueChart chart =
      lay_out(frame, value_axis(lo, hi, frame.y_min, frame.y_max), series, categories, 12, false);
  const Plot& plot = chart.plot;
  const double band = plot.width() / static_cast<double>(std::max<std::size_t>(n, 1));
  std::ostringstream out;
  out << open_value_chart(frame, chart) << bars(chart, categories, series, stacked, band);
  out << x_axis_line(plot, chart.y_of(0));
  out << category_labels(chart.cats, categories, plot.bottom, [&](std::size_t i) {
    return plot.left + band * (static_cast<double>(i) + 0.5);
  });
  out << frame_x_label(frame, plot, frame.height) << "</svg>";
  return out.str();
}

std::string line_chart(const ChartFrame& frame, const std::vector<double>& x,
                       const std::vector<ChartSeries>& series,
                       const std::vector<ChartMarker>& markers,
                       const std::vector<std::string>& x_categories) {
  check_lengths("line chart", frame, series, x.size(), "x positions");
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& s : series) {
    for (double v : s.values) {
      if (!finite(v)) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  LineChart chart;
  static_cast<ValueChart&>(chart) =
      lay_out(frame, value_axis(lo, hi, frame.y_min, frame.y_max), series, x_categories, 14, true);
  std::tie(chart.x_lo, chart.x_hi) = x_range(x, x_categories);
  chart.categorical = !x_categories.empty();
  chart.slots = x_categories.size();
  const Plot& plot = chart.plot;

  std::ostringstream out;
  out << open_value_chart(frame, chart);
  out << x_axis_line(plot, plot.bottom);
  if (chart.categorical) {
    out << category_labels(chart.cats, x_categories, plot.bottom,
                           [&](std::size_t i) { return chart.x_of(static_cast<double>(i)); });
  } else {
    out << numeric_x_ticks(chart);
  }
  out << markers_svg(chart, markers);
  for (std::size_t k = 0; k < series.size(); ++k) {
    out << line_svg(chart, x, series[k], k, x_categories);
  }
  out << frame_x_label(frame, plot, frame.height) << "</svg>";
  return out.str();
}

}  // namespace crest
