// Private to the SVG chart kit (src/report/svg.cpp, src/report/heat_map.cpp; defined in
// src/report/svg_parts.cpp): text measures, SVG elements, the axes and the frame that every chart
// draws around its plot. Sizes are viewBox units.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "crest/report/svg.h"

namespace crest::svg_parts {

constexpr double kTitleSize = 14;
constexpr double kLabelSize = 12;
constexpr double kTickSize = 11;
constexpr double kLegendRow = 17;
constexpr std::size_t kMaxLabelChars = 16;
constexpr const char* kAxisColor = "#444";
constexpr const char* kGridColor = "#e4e4e4";
constexpr const char* kTextColor = "#222";

// Estimated width of `text` (UTF-8) at font size `size`: about 0.6 em a character, on the
// generous side, since it is only used to lay out labels.
double text_width(const std::string& text, double size);

// `text` cut to kMaxLabelChars code points with an ellipsis (the caller keeps the full name for
// the tooltip).
std::string shorten(const std::string& text);

// A coordinate: one decimal, no trailing ".0".
std::string num(double value);

// Whether `v` is neither NaN nor infinite.
bool finite(double v);

// A <text> element at (x, y) with `text` escaped; `extra` is more attributes, already escaped.
std::string text_element(double x, double y, const std::string& text, double size,
                         const std::string& anchor, const std::string& extra = "");

// A <title> element (the browser's tooltip) with `text` escaped.
std::string title_element(const std::string& text);

// The legend: swatches and names in rows that wrap at a width; `height` is 0 without entries.
struct Legend {
  std::string svg;
  double height = 0;
};

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

// The layout of `categories` under slots `band` units wide.
CategoryAxis layout_categories(const std::vector<std::string>& categories, double band);

// Labels of categories centred at x = `centre(i)` under y = `axis_y`; `full` holds the uncut
// names (tooltips of the cut ones).
std::string category_labels(const CategoryAxis& axis, const std::vector<std::string>& full,
                            double axis_y, const std::function<double(std::size_t)>& centre);

// A value axis: its ends and the ticks between them.
struct ValueAxis {
  double lo = 0;
  double hi = 1;
  std::vector<double> ticks;
};

// The plot rectangle inside the frame.
struct Plot {
  double left = 0, top = 0, right = 0, bottom = 0;
  double width() const { return right - left; }
  double height() const { return bottom - top; }
};

// The frame every chart draws around its plot, in the order it is drawn:
//   frame_open: the <svg> element, the title and the legend `legend_svg` (may be "");
//   frame_value_axis: grid lines, tick labels, the y axis and the y label (charts with values);
//   frame_y_label: the y label alone, centred at height `y` (the heat map: rows are categories);
//   frame_x_label: the x label under the plot ("" without one); the chart then closes </svg>.
// `height` is the chart's viewBox height.
std::string frame_open(const ChartFrame& frame, double height, const std::string& legend_svg);
std::string frame_value_axis(const ChartFrame& frame, const Plot& plot, const ValueAxis& axis);
std::string frame_y_label(const ChartFrame& frame, double y);
std::string frame_x_label(const ChartFrame& frame, const Plot& plot, double height);

// Top margin: the title.
double header_height(const ChartFrame& frame);

// Room under the category labels: the x label's, or a small gap.
double x_label_room(const ChartFrame& frame);

}  // namespace crest::svg_parts
