#include "crest/report/svg.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "crest/util/error.h"

namespace crest {

namespace {

constexpr double kTitleSize = 14;
constexpr double kLabelSize = 12;
constexpr double kTickSize = 11;
constexpr double kLegendRow = 17;
constexpr std::size_t kMaxLabelChars = 16;
constexpr const char* kAxisColor = "#444";
constexpr const char* kGridColor = "#e4e4e4";
constexpr const char* kTextColor = "#222";

// Estimated width of text in DejaVu Sans / Helvetica-like fonts: about 0.6 em a character. Only
// used to lay out labels, so an estimate on the generous side is what we want.
double text_width(const std::string& text, double size) {
  std::size_t chars = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++chars;  // count UTF-8 code points, not bytes
  }
  return static_cast<double>(chars) * size * 0.6;
}

// Long class names are cut (the full name stays in the tooltip) so one name cannot squeeze
// the plot.
std::string shorten(const std::string& text) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (++chars > kMaxLabelChars - 1) return text.substr(0, i) + "\u2026";
  }
  return text;
}

// A coordinate: one decimal, no trailing ".0" (keeps the SVG small).
std::string num(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.1f", value);
  std::string text = buffer;
  if (text.size() > 2 && text.compare(text.size() - 2, 2, ".0") == 0) text.resize(text.size() - 2);
  if (text == "-0") text = "0";
  return text;
}

bool finite(double v) { return std::isfinite(v); }

std::string text_element(double x, double y, const std::string& text, double size,
                         const std::string& anchor, const std::string& extra = "") {
  return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" font-size=\"" + num(size) +
         "\" text-anchor=\"" + anchor + "\"" + (extra.empty() ? "" : " " + extra) + ">" +
         html_escape(text) + "</text>";
}

std::string title_element(const std::string& text) {
  return "<title>" + html_escape(text) + "</title>";
}

std::string open_svg(const ChartFrame& frame, double height) {
  std::string out = "<svg class=\"chart\" viewBox=\"0 0 " + num(frame.width) + " " + num(height) +
                    "\" width=\"" + num(frame.width) + "\" height=\"" + num(height) +
                    "\" role=\"img\" font-family=\"sans-serif\" fill=\"" + kTextColor + "\"";
  if (!frame.figure.empty()) out += " data-figure=\"" + html_escape(frame.figure) + "\"";
  for (const auto& [name, value] : frame.attributes) {
    out += " " + html_escape(name) + "=\"" + html_escape(value) + "\"";
  }
  if (!frame.title.empty()) out += " aria-label=\"" + html_escape(frame.title) + "\"";
  out += ">";
  if (!frame.title.empty()) {
    out += text_element(frame.width / 2, 8 + kTitleSize, frame.title, kTitleSize, "middle",
                        "font-weight=\"600\"");
  }
  return out;
}

std::string series_color(const ChartSeries& s, std::size_t index) {
  return s.color.empty() ? palette_color(index) : s.color;
}

// The legend: swatches and names in rows that wrap at `width`, starting at (x0, y0).
struct Legend {
  std::string svg;
  double height = 0;
};

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

// How category labels fit under an axis: side by side, or turned 45 degrees and, when even
// that is too crowded, only every step-th one.
struct CategoryAxis {
  std::vector<std::string> labels;  // shortened
  bool rotate = false;
  std::size_t step = 1;
  double height = 0;  // room they need under the axis
  // How far turned labels reach left of the first category's slot (0 when not turned).
  double overhang = 0;
};

CategoryAxis layout_categories(const std::vector<std::string>& categories, double band) {
  CategoryAxis axis;
  double widest = 0;
  for (const auto& c : categories) {
    axis.labels.push_back(shorten(c));
    widest = std::max(widest, text_width(axis.labels.back(), kTickSize));
  }
  if (widest + 6 <= band) {
    axis.height = kTickSize + 8;
    return axis;
  }
  axis.rotate = true;
  axis.step = std::max<std::size_t>(
      1, static_cast<std::size_t>(std::ceil(kTickSize * 1.3 / std::max(band, 1e-9))));
  // Turned text measures about 0.55 em a character; 0.6 above errs on the side of turning.
  axis.height = widest * 0.55 / 0.6 * 0.7071 + kTickSize + 8;
  for (std::size_t i = 0; i < axis.labels.size(); i += axis.step) {
    const double reach =
        text_width(axis.labels[i], kTickSize) * 0.7071 + 6 - band * (static_cast<double>(i) + 0.5);
    axis.overhang = std::max(axis.overhang, reach);
  }
  return axis;
}

// Labels of categories centred at `centre(i)` under y = `axis_y`.
template <typename Centre>
std::string category_labels(const CategoryAxis& axis, const std::vector<std::string>& full,
                            double axis_y, Centre centre) {
  std::string out;
  for (std::size_t i = 0; i < axis.labels.size(); i += axis.step) {
    const double x = centre(i);
    std::string element;
    if (axis.rotate) {
      const double y = axis_y + 10;
      element = "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" font-size=\"" + num(kTickSize) +
                "\" text-anchor=\"end\" transform=\"rotate(-45 " + num(x) + " " + num(y) + ")\">" +
                html_escape(axis.labels[i]);
    } else {
      element = "<text x=\"" + num(x) + "\" y=\"" + num(axis_y + kTickSize + 4) +
                "\" font-size=\"" + num(kTickSize) + "\" text-anchor=\"middle\">" +
                html_escape(axis.labels[i]);
    }
    // The full name as a tooltip when it was cut.
    if (axis.labels[i] != full[i]) element += title_element(full[i]);
    out += element + "</text>";
  }
  return out;
}

// A value axis from data (with optional fixed ends) and its ticks.
struct ValueAxis {
  double lo = 0;
  double hi = 1;
  std::vector<double> ticks;
};

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

double widest_tick(const ValueAxis& axis) {
  double widest = 0;
  for (double t : axis.ticks) widest = std::max(widest, text_width(display_number(t), kTickSize));
  return widest;
}

// The plot rectangle inside the frame.
struct Plot {
  double left = 0, top = 0, right = 0, bottom = 0;
  double width() const { return right - left; }
  double height() const { return bottom - top; }
};

// Gridlines, y tick labels and the y axis label for a value axis drawn over `plot`.
std::string y_axis(const Plot& plot, const ValueAxis& axis, const std::string& label,
                   double label_x) {
  std::string out;
  for (double t : axis.ticks) {
    const double y = plot.bottom - (t - axis.lo) / (axis.hi - axis.lo) * plot.height();
    out += "<line x1=\"" + num(plot.left) + "\" y1=\"" + num(y) + "\" x2=\"" + num(plot.right) +
           "\" y2=\"" + num(y) + "\" stroke=\"" + kGridColor + "\"/>";
    out +=
        text_element(plot.left - 5, y + 4, display_number(t), kTickSize, "end", "class=\"tick\"");
  }
  out += "<line x1=\"" + num(plot.left) + "\" y1=\"" + num(plot.top) + "\" x2=\"" + num(plot.left) +
         "\" y2=\"" + num(plot.bottom) + "\" stroke=\"" + kAxisColor + "\"/>";
  if (!label.empty()) {
    const double y = (plot.top + plot.bottom) / 2;
    out += "<text class=\"axis-label\" x=\"" + num(label_x) + "\" y=\"" + num(y) +
           "\" font-size=\"" + num(kLabelSize) +
           "\" text-anchor=\"middle\" transform=\"rotate(-90 " + num(label_x) + " " + num(y) +
           ")\">" + html_escape(label) + "</text>";
  }
  return out;
}

std::string x_axis_line(const Plot& plot, double y) {
  return "<line x1=\"" + num(plot.left) + "\" y1=\"" + num(y) + "\" x2=\"" + num(plot.right) +
         "\" y2=\"" + num(y) + "\" stroke=\"" + kAxisColor + "\"/>";
}

std::string x_label_element(const ChartFrame& frame, const Plot& plot, double height) {
  if (frame.x_label.empty()) return "";
  return "<text class=\"axis-label\" x=\"" + num((plot.left + plot.right) / 2) + "\" y=\"" +
         num(height - 6) + "\" font-size=\"" + num(kLabelSize) + "\" text-anchor=\"middle\">" +
         html_escape(frame.x_label) + "</text>";
}

std::string tooltip(const ChartSeries& s, std::size_t i, const std::string& where, double v) {
  if (i < s.tooltips.size() && !s.tooltips[i].empty()) return s.tooltips[i];
  std::string text = where;
  if (!s.name.empty()) text += (text.empty() ? "" : " \u00b7 ") + s.name;
  return text + ": " + display_number(v, 6);
}

// Top margin: title plus legend.
double header_height(const ChartFrame& frame) { return 8 + (frame.title.empty() ? 0 : 24); }

// Left margin: y label and tick labels.
double left_margin(const ChartFrame& frame, const ValueAxis& axis) {
  return 8 + (frame.y_label.empty() ? 0 : 18) + widest_tick(axis) + 8;
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string display_number(double value, int digits) {
  if (std::isnan(value)) return "\u2013";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  if (value == 0) return "0";  // also -0
  char buffer[48];
  // Whole numbers (steps, counts) in full: "131072" reads better than "1.311e+05".
  if (value == std::floor(value) && std::abs(value) < 1e15) {
    std::snprintf(buffer, sizeof(buffer), "%.0f", value);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.*g", digits, value);
  }
  return buffer;
}

std::vector<double> nice_ticks(double lo, double hi, int count) {
  if (!finite(lo) || !finite(hi)) return {0, 1};
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) {
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.5;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / std::max(1, count);
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  const double fraction = raw / power;
  const double step = (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power;
  const double first = std::floor(lo / step + 1e-9) * step;
  std::vector<double> ticks;
  for (double t = first; t < hi + step * (1 - 1e-9); t += step) {
    // Snap -0 and float drift (0.30000000000000004) to the step's precision.
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : std::round(t / step) * step);
    if (ticks.size() > 100) break;
  }
  return ticks;
}

std::string palette_color(std::size_t index) {
  // Tableau 10: distinguishable, and readable on white.
  static const std::array<const char*, 10> kPalette = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2",
                                                       "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
                                                       "#9c755f", "#bab0ac"};
  return kPalette[index % kPalette.size()];
}

std::string bar_chart(const ChartFrame& frame, const std::vector<std::string>& categories,
                      const std::vector<ChartSeries>& series, bool stacked) {
  const std::size_t n = categories.size();
  for (const auto& s : series) {
    if (s.values.size() != n) {
      throw InputError("bar chart '" + frame.figure + "': series '" + s.name + "' has " +
                       std::to_string(s.values.size()) + " values for " + std::to_string(n) +
                       " categories");
    }
  }
  // The value range: 0 always, and the stacked sums when stacking.
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
  const ValueAxis axis = value_axis(lo, hi, frame.y_min, frame.y_max);

  Plot plot;
  plot.left = left_margin(frame, axis);
  plot.right = frame.width - 12;
  const Legend key = legend(series, plot.left, header_height(frame), plot.width(), false);
  plot.top = header_height(frame) + key.height + (key.height > 0 ? 6 : 4);
  double band = plot.width() / static_cast<double>(std::max<std::size_t>(n, 1));
  CategoryAxis cats = layout_categories(categories, band);
  if (cats.overhang > plot.left) {  // turned labels would leave the picture on the left
    plot.left = cats.overhang;
    band = plot.width() / static_cast<double>(std::max<std::size_t>(n, 1));
    cats = layout_categories(categories, band);
  }
  plot.bottom = frame.height - cats.height - (frame.x_label.empty() ? 4 : 22);

  auto y_of = [&](double v) {
    v = std::clamp(v, axis.lo, axis.hi);
    return plot.bottom - (v - axis.lo) / (axis.hi - axis.lo) * plot.height();
  };
  std::ostringstream out;
  out << open_svg(frame, frame.height) << key.svg;
  out << y_axis(plot, axis, frame.y_label, 8 + kLabelSize / 2 + 2);

  // Bars no wider than 64 units: a chart of two categories should not look like a wall.
  const double slots = stacked || series.empty() ? 1.0 : static_cast<double>(series.size());
  const double group = std::min(band * (slots > 1 ? 0.84 : 0.7), 64.0 * slots);
  const double bar_w = group / slots;
  out << "<g class=\"bars\">";
  for (std::size_t c = 0; c < n; ++c) {
    const double x0 = plot.left + band * static_cast<double>(c) + (band - group) / 2;
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
      const double y_a = y_of(base);
      const double y_b = y_of(base + v);
      out << "<rect class=\"bar\" x=\"" << num(x) << "\" y=\"" << num(std::min(y_a, y_b))
          << "\" width=\"" << num(std::max(bar_w - (stacked ? 0 : 0.5), 0.5)) << "\" height=\""
          << num(std::abs(y_b - y_a)) << "\" fill=\"" << series_color(s, k) << "\">"
          << title_element(tooltip(s, c, categories[c], v)) << "</rect>";
    }
  }
  out << "</g>";
  out << x_axis_line(plot, y_of(std::clamp(0.0, axis.lo, axis.hi)));
  out << category_labels(cats, categories, plot.bottom, [&](std::size_t i) {
    return plot.left + band * (static_cast<double>(i) + 0.5);
  });
  out << x_label_element(frame, plot, frame.height) << "</svg>";
  return out.str();
}

std::string line_chart(const ChartFrame& frame, const std::vector<double>& x,
                       const std::vector<ChartSeries>& series,
                       const std::vector<ChartMarker>& markers,
                       const std::vector<std::string>& x_categories) {
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& s : series) {
    if (s.values.size() != x.size()) {
      throw InputError("line chart '" + frame.figure + "': series '" + s.name + "' has " +
                       std::to_string(s.values.size()) + " values for " + std::to_string(x.size()) +
                       " x positions");
    }
    for (double v : s.values) {
      if (!finite(v)) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  const ValueAxis axis = value_axis(lo, hi, frame.y_min, frame.y_max);

  // The x range: the categories' slots, or the data with a margin when it is one point.
  const bool categorical = !x_categories.empty();
  double x_lo = INFINITY, x_hi = -INFINITY;
  if (categorical) {
    x_lo = -0.5;
    x_hi = static_cast<double>(x_categories.size()) - 0.5;
  } else {
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
  }

  Plot plot;
  plot.left = left_margin(frame, axis);
  plot.right = frame.width - 14;
  const Legend key = legend(series, plot.left, header_height(frame), plot.width(), true);
  plot.top = header_height(frame) + key.height + (key.height > 0 ? 6 : 4);
  CategoryAxis cats;
  if (categorical) {
    const double slots = static_cast<double>(x_categories.size());
    cats = layout_categories(x_categories, plot.width() / slots);
    if (cats.overhang > plot.left) {  // turned labels would leave the picture on the left
      plot.left = cats.overhang;
      cats = layout_categories(x_categories, plot.width() / slots);
    }
  } else {
    cats.height = kTickSize + 8;
  }
  plot.bottom = frame.height - cats.height - (frame.x_label.empty() ? 4 : 22);

  auto px = [&](double v) { return plot.left + (v - x_lo) / (x_hi - x_lo) * plot.width(); };
  auto py = [&](double v) {
    v = std::clamp(v, axis.lo, axis.hi);
    return plot.bottom - (v - axis.lo) / (axis.hi - axis.lo) * plot.height();
  };

  std::ostringstream out;
  out << open_svg(frame, frame.height) << key.svg;
  out << y_axis(plot, axis, frame.y_label, 8 + kLabelSize / 2 + 2);
  out << x_axis_line(plot, plot.bottom);
  if (categorical) {
    out << category_labels(cats, x_categories, plot.bottom,
                           [&](std::size_t i) { return px(static_cast<double>(i)); });
  } else {
    // Numeric ticks: as many as fit without their labels touching.
    double widest = 0;
    const std::vector<double> candidates = nice_ticks(x_lo, x_hi, 6);
    for (double t : candidates) widest = std::max(widest, text_width(display_number(t), kTickSize));
    const std::size_t fit =
        std::max<std::size_t>(2, static_cast<std::size_t>(plot.width() / (widest + 12)));
    std::vector<double> ticks = candidates;
    if (ticks.size() > fit) ticks = nice_ticks(x_lo, x_hi, static_cast<int>(fit) - 1);
    const double eps = (x_hi - x_lo) * 1e-9;
    for (double t : ticks) {
      if (t < x_lo - eps || t > x_hi + eps) continue;
      out << "<line x1=\"" << num(px(t)) << "\" y1=\"" << num(plot.bottom) << "\" x2=\""
          << num(px(t)) << "\" y2=\"" << num(plot.bottom + 4) << "\" stroke=\"" << kAxisColor
          << "\"/>";
      out << text_element(px(t), plot.bottom + kTickSize + 5, display_number(t), kTickSize,
                          "middle", "class=\"tick\"");
    }
  }

  // Markers under the lines, so the lines stay visible.
  for (const ChartMarker& m : markers) {
    if (!finite(m.x) || m.x < x_lo || m.x > x_hi) continue;
    const double mx = px(m.x);
    if (m.emphasis) {
      const double w =
          categorical
              ? std::min(plot.width() / static_cast<double>(x_categories.size()) * 0.5, 80.0)
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

  for (std::size_t k = 0; k < series.size(); ++k) {
    const ChartSeries& s = series[k];
    const std::string color = series_color(s, k);
    std::string d;
    std::size_t finite_points = 0;
    bool pen = false;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!finite(s.values[i]) || !finite(x[i])) {
        pen = false;
        continue;
      }
      ++finite_points;
      d += (pen ? "L" : "M") + num(px(x[i])) + " " + num(py(s.values[i]));
      pen = true;
    }
    if (!d.empty()) {
      out << "<path class=\"line\" d=\"" << d << "\" fill=\"none\" stroke=\"" << color
          << "\" stroke-width=\"2\" stroke-linejoin=\"round\""
          << (s.dashed ? " stroke-dasharray=\"6 4\"" : "") << ">" << title_element(s.name)
          << "</path>";
    }
    // Points carry the tooltips; on long series only the isolated ones are drawn.
    const bool all_points = finite_points <= 80;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double v = s.values[i];
      if (!finite(v) || !finite(x[i])) continue;
      const bool isolated =
          (i == 0 || !finite(s.values[i - 1])) && (i + 1 == x.size() || !finite(s.values[i + 1]));
      if (!all_points && !isolated) continue;
      const std::string where = categorical
                                    ? x_categories[static_cast<std::size_t>(std::llround(x[i]))]
                                    : display_number(x[i], 8);
      out << "<circle class=\"point\" cx=\"" << num(px(x[i])) << "\" cy=\"" << num(py(v))
          << "\" r=\"3\" fill=\"" << color << "\">" << title_element(tooltip(s, i, where, v))
          << "</circle>";
    }
  }
  out << x_label_element(frame, plot, frame.height) << "</svg>";
  return out.str();
}

std::string heat_map(const ChartFrame& frame, const std::vector<std::string>& row_labels,
                     const std::vector<std::string>& column_labels,
                     const std::vector<std::vector<double>>& cells, bool normalise_rows) {
  const std::size_t rows = row_labels.size();
  const std::size_t cols = column_labels.size();
  if (cells.size() != rows) {
    throw InputError("heat map '" + frame.figure + "': " + std::to_string(cells.size()) +
                     " rows of cells for " + std::to_string(rows) + " row labels");
  }
  for (const auto& row : cells) {
    if (row.size() != cols) {
      throw InputError("heat map '" + frame.figure + "': a row has " + std::to_string(row.size()) +
                       " cells for " + std::to_string(cols) + " column labels");
    }
  }
  // The shade of each cell in [0, 1].
  double largest = 0;
  for (const auto& row : cells) {
    for (double v : row) {
      if (finite(v)) largest = std::max(largest, v);
    }
  }
  std::vector<double> row_sums;
  for (const auto& row : cells) {
    double sum = 0;
    for (double v : row) sum += finite(v) ? v : 0;
    row_sums.push_back(sum);
  }
  auto shade = [&](std::size_t r, double v) {
    const double d = normalise_rows ? row_sums[r] : largest;
    return finite(v) && d > 0 ? std::clamp(v / d, 0.0, 1.0) : 0.0;
  };

  std::vector<std::string> short_rows;
  double widest_row = 0;
  for (const auto& r : row_labels) {
    short_rows.push_back(shorten(r));
    widest_row = std::max(widest_row, text_width(short_rows.back(), kTickSize));
  }
  const double top = header_height(frame) + 4;
  const double left = 8 + (frame.y_label.empty() ? 0 : 18) + widest_row + 8;
  const double scale_room = 64;  // the colour scale on the right
  const double avail_w = frame.width - left - scale_room - 8;
  // The cell size from the width alone first, then from the height the labels leave.
  double cell = avail_w / static_cast<double>(std::max<std::size_t>(cols, 1));
  CategoryAxis cats = layout_categories(column_labels, cell);
  const double bottom_room = cats.height + (frame.x_label.empty() ? 4 : 22);
  cell = std::min(cell, (frame.height - top - bottom_room) /
                            static_cast<double>(std::max<std::size_t>(rows, 1)));
  cats = layout_categories(column_labels, cell);
  const double grid_w = cell * static_cast<double>(cols);
  const double grid_h = cell * static_cast<double>(rows);
  const double height = top + grid_h + cats.height + (frame.x_label.empty() ? 4 : 22);

  Plot plot;
  plot.left = left;
  plot.top = top;
  plot.right = left + grid_w;
  plot.bottom = top + grid_h;

  // Blues, light to dark; white text on the dark half.
  static const std::array<std::array<int, 3>, 5> kStops = {
      {{247, 251, 255}, {198, 219, 239}, {107, 174, 214}, {33, 113, 181}, {8, 48, 107}}};
  auto color = [&](double t) {
    const double pos = t * static_cast<double>(kStops.size() - 1);
    const std::size_t i = std::min<std::size_t>(static_cast<std::size_t>(pos), kStops.size() - 2);
    const double f = pos - static_cast<double>(i);
    char buffer[16];
    int rgb[3];
    for (int k = 0; k < 3; ++k) {
      rgb[k] = static_cast<int>(std::lround(kStops[i][static_cast<std::size_t>(k)] * (1 - f) +
                                            kStops[i + 1][static_cast<std::size_t>(k)] * f));
    }
    std::snprintf(buffer, sizeof(buffer), "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
    return std::string(buffer);
  };

  std::ostringstream out;
  out << open_svg(frame, height);
  out << "<g class=\"cells\">";
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) {
      const double v = cells[r][c];
      const double t = shade(r, v);
      const double x = left + cell * static_cast<double>(c);
      const double y = top + cell * static_cast<double>(r);
      std::string tip = row_labels[r] + " \u2192 " + column_labels[c] + ": " + display_number(v, 8);
      if (normalise_rows && row_sums[r] > 0) tip += " (" + display_number(100 * t, 3) + "% of row)";
      out << "<rect class=\"cell\" x=\"" << num(x) << "\" y=\"" << num(y) << "\" width=\""
          << num(cell) << "\" height=\"" << num(cell) << "\" fill=\"" << color(t)
          << "\" stroke=\"#fff\" stroke-width=\"" << (cell > 8 ? "1" : "0") << "\">"
          << title_element(tip) << "</rect>";
      const std::string value = display_number(v, 4);
      const double size = std::min(kLabelSize, cell * 0.38);
      if (size >= 7 && text_width(value, size) <= cell - 4) {
        out << text_element(x + cell / 2, y + cell / 2 + size * 0.35, value, size, "middle",
                            std::string("pointer-events=\"none\" fill=\"") +
                                (t > 0.5 ? "#fff" : kTextColor) + "\"");
      }
    }
  }
  out << "</g>";
  // Row labels, thinned out like the columns when the rows are thin.
  const std::size_t row_step = std::max<std::size_t>(
      1, static_cast<std::size_t>(std::ceil(kTickSize * 1.2 / std::max(cell, 1e-9))));
  for (std::size_t r = 0; r < rows; r += row_step) {
    out << "<text x=\"" << num(left - 5) << "\" y=\""
        << num(top + cell * (static_cast<double>(r) + 0.5) + 4) << "\" font-size=\""
        << num(kTickSize) << "\" text-anchor=\"end\">" << html_escape(short_rows[r])
        << (short_rows[r] != row_labels[r] ? title_element(row_labels[r]) : "") << "</text>";
  }
  out << category_labels(cats, column_labels, plot.bottom, [&](std::size_t i) {
    return left + cell * (static_cast<double>(i) + 0.5);
  });
  if (!frame.y_label.empty()) {
    const double y = top + grid_h / 2;
    const double x = 8 + kLabelSize / 2 + 2;
    out << "<text class=\"axis-label\" x=\"" << num(x) << "\" y=\"" << num(y) << "\" font-size=\""
        << num(kLabelSize) << "\" text-anchor=\"middle\" transform=\"rotate(-90 " << num(x) << " "
        << num(y) << ")\">" << html_escape(frame.y_label) << "</text>";
  }
  out << x_label_element(frame, plot, height);

  // The colour scale: ten steps from 0 to the row share (or the largest value).
  const double scale_x = plot.right + 16;
  const double scale_h = std::min(grid_h, 160.0);
  constexpr int kSteps = 10;
  for (int i = 0; i < kSteps; ++i) {
    const double t0 = static_cast<double>(i) / kSteps;
    const double y = top + scale_h * (1 - static_cast<double>(i + 1) / kSteps);
    out << "<rect class=\"scale\" x=\"" << num(scale_x) << "\" y=\"" << num(y)
        << "\" width=\"12\" height=\"" << num(scale_h / kSteps + 0.3) << "\" fill=\""
        << color(t0 + 0.5 / kSteps) << "\"/>";
  }
  const std::string top_label = normalise_rows ? "100%" : display_number(largest);
  out << text_element(scale_x + 16, top + 9, top_label, kTickSize - 1, "start");
  out << text_element(scale_x + 16, top + scale_h, normalise_rows ? "0%" : "0", kTickSize - 1,
                      "start");
  if (normalise_rows) {
    out << text_element(scale_x, top + scale_h + 14, "of row", kTickSize - 1, "start");
  }
  out << "</svg>";
  return out.str();
}

}  // namespace crest
