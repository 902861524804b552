// The heat map of the SVG chart kit (declared in crest/report/svg.h).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "crest/report/svg.h"
#include "crest/util/error.h"
#include "svg_parts.h"

namespace crest {

namespace {

using namespace svg_parts;  // NOLINT(build/namespaces): the chart kit's private parts

// Throws InputError unless `cells` is rows x cols.
void check_cells(const ChartFrame& frame, std::size_t rows, std::size_t cols,
                 const std::vector<std::vector<double>>& cells) {
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
}

// The shade of each cell in [0, 1]: its share of its row, or of the largest cell.
struct Shades {
  bool normalise_rows = false;
  double largest = 0;
  std::vector<double> row_sums;

  Shades(const std::vector<std::vector<double>>& cells, bool normalise)
      : normalise_rows(normalise) {
    for (const auto& row : cells) {
      for (double v : row) {
        if (finite(v)) largest = std::max(largest, v);
      }
    }
    for (const auto& row : cells) {
      double sum = 0;
      for (double v : row) sum += finite(v) ? v : 0;
      row_sums.push_back(sum);
    }
  }

  double operator()(std::size_t r, double v) const {
    const double d = normalise_rows ? row_sums[r] : largest;
    return finite(v) && d > 0 ? std::clamp(v / d, 0.0, 1.0) : 0.0;
  }
};

// Blues, light (t = 0) to dark (t = 1), as "#rrggbb".
std::string blues(double t) {
  static const std::array<std::array<int, 3>, 5> kStops = {
      {{247, 251, 255}, {198, 219, 239}, {107, 174, 214}, {33, 113, 181}, {8, 48, 107}}};
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
}

// Where the grid goes: square cells as large as the width and the height allow, the row labels
// left of it, the column labels under it and the colour scale right of it.
struct HeatLayout {
  std::vector<std::string> short_rows;
  CategoryAxis cats;
  double cell = 0;
  double grid_h = 0;
  double height = 0;  // of the whole chart
  Plot plot;          // the grid
};

HeatLayout lay_out(const ChartFrame& frame, const std::vector<std::string>& row_labels,
                   const std::vector<std::string>& column_labels) {
  const std::size_t rows = row_labels.size();
  const std::size_t cols = column_labels.size();
  HeatLayout out;
  double widest_row = 0;
  for (const auto& r : row_labels) {
    out.short_rows.push_back(shorten(r));
    widest_row = std::max(widest_row, text_width(out.short_rows.back(), kTickSize));
  }
  const double top = header_height(frame) + 4;
  const double left = 8 + (frame.y_label.empty() ? 0 : 18) + widest_row + 8;
  const double scale_room = 64;  // the colour scale on the right
  const double avail_w = frame.width - left - scale_room - 8;
  // The cell size from the width alone first, then from the height the labels leave.
  out.cell = avail_w / static_cast<double>(std::max<std::size_t>(cols, 1));
  out.cats = layout_categories(column_labels, out.cell);
  const double bottom_room = out.cats.height + x_label_room(frame);
  out.cell = std::min(out.cell, (frame.height - top - bottom_room) /
                                    static_cast<double>(std::max<std::size_t>(rows, 1)));
  out.cats = layout_categories(column_labels, out.cell);
  const double grid_w = out.cell * static_cast<double>(cols);
  out.grid_h = out.cell * static_cast<double>(rows);
  out.height = top + out.grid_h + out.cats.height + x_label_room(frame);
  out.plot.left = left;
  out.plot.top = top;
  out.plot.right = left + grid_w;
  out.plot.bottom = top + out.grid_h;
  return out;
}

// The cells with their tooltips, and their values where they fit; white text on the dark half.
std::string cells_svg(const HeatLayout& layout, const std::vector<std::string>& row_labels,
                      const std::vector<std::string>& column_labels,
                      const std::vector<std::vector<double>>& cells, const Shades& shade) {
  const double cell = layout.cell;
  std::ostringstream out;
  out << "<g class=\"cells\">";
  for (std::size_t r = 0; r < row_labels.size(); ++r) {
    for (std::size_t c = 0; c < column_labels.size(); ++c) {
      const double v = cells[r][c];
      const double t = shade(r, v);
      const double x = layout.plot.left + cell * static_cast<double>(c);
      const double y = layout.plot.top + cell * static_cast<double>(r);
      std::string tip = row_labels[r] + " \u2192 " + column_labels[c] + ": " + display_number(v, 8);
      if (shade.normalise_rows && shade.row_sums[r] > 0) {
        tip += " (" + display_number(100 * t, 3) + "% of row)";
      }
      out << "<rect class=\"cell\" x=\"" << num(x) << "\" y=\"" << num(y) << "\" width=\""
          << num(cell) << "\" height=\"" << num(cell) << "\" fill=\"" << blues(t)
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
  return out.str();
}

// Row labels, thinned out like the columns when the rows are thin.
std::string row_labels_svg(const HeatLayout& layout, const std::vector<std::string>& row_labels) {
  const double cell = layout.cell;
  const std::size_t row_step = std::max<std::size_t>(
      1, static_cast<std::size_t>(std::ceil(kTickSize * 1.2 / std::max(cell, 1e-9))));
  std::ostringstream out;
  for (std::size_t r = 0; r < row_labels.size(); r += row_step) {
    const std::string& label = layout.short_rows[r];
    out << "<text x=\"" << num(layout.plot.left - 5) << "\" y=\""
        << num(layout.plot.top + cell * (static_cast<double>(r) + 0.5) + 4) << "\" font-size=\""
        << num(kTickSize) << "\" text-anchor=\"end\">" << html_escape(label)
        << (label != row_labels[r] ? title_element(row_labels[r]) : "") << "</text>";
  }
  return out.str();
}

// The colour scale: ten steps from 0 to the row share (or the largest value).
std::string colour_scale(const HeatLayout& layout, const Shades& shade) {
  const double top = layout.plot.top;
  const double scale_x = layout.plot.right + 16;
  const double scale_h = std::min(layout.grid_h, 160.0);
  constexpr int kSteps = 10;
  std::ostringstream out;
  for (int i = 0; i < kSteps; ++i) {
    const double t0 = static_cast<double>(i) / kSteps;
    const double y = top + scale_h * (1 - static_cast<double>(i + 1) / kSteps);
    out << "<rect class=\"scale\" x=\"" << num(scale_x) << "\" y=\"" << num(y)
        << "\" width=\"12\" height=\"" << num(scale_h / kSteps + 0.3) << "\" fill=\""
        << blues(t0 + 0.5 / kSteps) << "\"/>";
  }
  const bool rows = shade.normalise_rows;
  out << text_element(scale_x + 16, top + 9, rows ? "100%" : display_number(shade.largest),
                      kTickSize - 1, "start");
  out << text_element(scale_x + 16, top + scale_h, rows ? "0%" : "0", kTickSize - 1, "start");
  if (rows) out << text_element(scale_x, top + scale_h + 14, "of row", kTickSize - 1, "start");
  return out.str();
}

}  // namespace

std::string heat_map(const ChartFrame& frame, const std::vector<std::string>& row_labels,
                     const std::vector<std::string>& column_labels,
                     const std::vector<std::vector<double>>& cells, bool normalise_rows) {
  check_cells(frame, row_labels.size(), column_labels.size(), cells);
  const Shades shade(cells, normalise_rows);
  const HeatLayout layout = lay_out(frame, row_labels, column_labels);
  const Plot& plot = layout.plot;
  std::ostringstream out;
  out << frame_open(frame, layout.height, "");
  out << cells_svg(layout, row_labels, column_labels, cells, shade);
  out << row_labels_svg(layout, row_labels);
  out << category_labels(layout.cats, column_labels, plot.bottom, [&](std::size_t i) {
    return plot.left + layout.cell * (static_cast<double>(i) + 0.5);
  });
  out << frame_y_label(frame, plot.top + layout.grid_h / 2);
  out << frame_x_label(frame, plot, layout.height);
  out << colour_scale(layout, shade) << "</svg>";
  return out.str();
}

}  // namespace crest
