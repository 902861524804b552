// The shared parts of the SVG chart kit (declared in crest/report/svg.h and svg_parts.h): HTML
// escaping, numbers for people, ticks and colours, text measures and elements, category axes and
// the frame every chart draws around its plot.
#include "svg_parts.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "crest/report/svg.h"
#include "crest/util/text_escape.h"

namespace crest {

namespace svg_parts {

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

// One decimal, no trailing ".0" (keeps the SVG small).
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
                         const std::string& anchor, const std::string& extra) {
  return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" font-size=\"" + num(size) +
         "\" text-anchor=\"" + anchor + "\"" + (extra.empty() ? "" : " " + extra) + ">" +
         html_escape(text) + "</text>";
}

std::string title_element(const std::string& text) {
  return "<title>" + html_escape(text) + "</title>";
}

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

std::string category_labels(const CategoryAxis& axis, const std::vector<std::string>& full,
                            double axis_y, const std::function<double(std::size_t)>& centre) {
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

std::string frame_open(const ChartFrame& frame, double height, const std::string& legend_svg) {
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
  return out + legend_svg;
}

std::string frame_value_axis(const ChartFrame& frame, const Plot& plot, const ValueAxis& axis) {
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
  return out + frame_y_label(frame, (plot.top + plot.bottom) / 2);
}

std::string frame_y_label(const ChartFrame& frame, double y) {
  if (frame.y_label.empty()) return "";
  const double x = 8 + kLabelSize / 2 + 2;
  return "<text class=\"axis-label\" x=\"" + num(x) + "\" y=\"" + num(y) + "\" font-size=\"" +
         num(kLabelSize) + "\" text-anchor=\"middle\" transform=\"rotate(-90 " + num(x) + " " +
         num(y) + ")\">" + html_escape(frame.y_label) + "</text>";
}

std::string frame_x_label(const ChartFrame& frame, const Plot& plot, double height) {
  if (frame.x_label.empty()) return "";
  return "<text class=\"axis-label\" x=\"" + num((plot.left + plot.right) / 2) + "\" y=\"" +
         num(height - 6) + "\" font-size=\"" + num(kLabelSize) + "\" text-anchor=\"middle\">" +
         html_escape(frame.x_label) + "</text>";
}

double header_height(const ChartFrame& frame) { return 8 + (frame.title.empty() ? 0 : 24); }

double x_label_room(const ChartFrame& frame) { return frame.x_label.empty() ? 4 : 22; }

}  // namespace svg_parts

std::string html_escape(std::string_view text) { return html_text(text); }

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
  if (!svg_parts::finite(lo) || !svg_parts::finite(hi)) return {0, 1};
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

}  // namespace crest
