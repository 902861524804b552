// A tiny SVG chart kit for the HTML report: bar charts (grouped or stacked), line charts and a
// heat map, each returned as one self-contained <svg> element. Charts are plain functions of
// plain values. Sizes are viewBox units, so a page scales a chart to its width; pick a width
// close to the width the chart will be shown at so that text keeps its intended size.
//
// Every chart carries data-figure="<ChartFrame::figure>" so a page (and its tests) can find it.
// Bars are <rect class="bar">, lines <path class="line">, points <circle class="point">, heat map
// cells <rect class="cell">; each has a <title> (the browser's tooltip) with its numbers. All
// text that goes into the SVG is escaped here, so callers pass plain text.
#pragma once

#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crest {

// html_text (util/text_escape.h): &, <, >, " and ' as character references, control characters
// and invalid UTF-8 made visible; safe in element text and quoted attribute values.
std::string html_escape(std::string_view text);

// A number for people: whole numbers in full ("131072"), others with at most `digits`
// significant digits and no trailing zeros ("0.325", "1.5e-05"); "–" for NaN.
std::string display_number(double value, int digits = 4);

// About `count` evenly spaced "nice" values (1, 2 or 5 times a power of ten) from at or below
// `lo` to at or above `hi`. A degenerate range (lo == hi) is widened first.
std::vector<double> nice_ticks(double lo, double hi, int count = 5);

// The i-th colour of the categorical palette (wraps around).
std::string palette_color(std::size_t index);

// One series of a chart.
struct ChartSeries {
  std::string name;            // legend entry; "" leaves it out of the legend
  std::vector<double> values;  // bars: one per category; lines: one per x; NaN = no value
  std::string color;           // any CSS colour; "" = palette_color(series index)
  bool dashed = false;         // lines only
  // Optional, one per value: the tooltip text; an empty entry gets "<name>: <value>".
  std::vector<std::string> tooltips;
};

// What every chart has: its identity, title, axis labels, size and value range.
struct ChartFrame {
  std::string figure;   // the data-figure attribute
  std::string title;    // drawn above the plot ("" = none)
  std::string x_label;  // drawn under the x axis
  std::string y_label;  // drawn rotated left of the y axis
  double width = 560;   // viewBox width
  double height = 300;  // viewBox height
  // The value axis; NaN = from the data (bar charts always include 0).
  double y_min = std::numeric_limits<double>::quiet_NaN();
  double y_max = std::numeric_limits<double>::quiet_NaN();
  // Extra attributes on the <svg> element, e.g. {"data-generation", "2"}; values are escaped.
  std::vector<std::pair<std::string, std::string>> attributes;
};

// One bar per series and category, side by side within a category (grouped) or piled up
// (stacked). Category labels turn and thin out when they do not fit side by side.
std::string bar_chart(const ChartFrame& frame, const std::vector<std::string>& categories,
                      const std::vector<ChartSeries>& series, bool stacked = false);

// A vertical line across a line chart at `x`, labelled at the top (e.g. "best", "gen 1").
struct ChartMarker {
  double x = 0.0;
  std::string label;
  bool emphasis = false;  // drawn as a highlighted band instead of a thin rule
};

// Lines through (x[i], series.values[i]); a NaN value breaks the line and a point without
// neighbours is drawn as a dot. With `x_categories`, x holds category indices and the x ticks
// are those categories' names (thinned out when crowded). Throws InputError when a series has
// a different length from x.
std::string line_chart(const ChartFrame& frame, const std::vector<double>& x,
                       const std::vector<ChartSeries>& series,
                       const std::vector<ChartMarker>& markers = {},
                       const std::vector<std::string>& x_categories = {});

// A heat map of cells[r][c] (rows top to bottom, columns left to right), shaded by each cell's
// share of its row (normalise_rows: a confusion matrix's recall view) or of the largest cell,
// with the values written in the cells when they are big enough. Throws InputError when the
// shape does not match the labels.
std::string heat_map(const ChartFrame& frame, const std::vector<std::string>& row_labels,
                     const std::vector<std::string>& column_labels,
                     const std::vector<std::vector<double>>& cells, bool normalise_rows = true);

}  // namespace crest
