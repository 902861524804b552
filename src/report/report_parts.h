// Private to the HTML report (src/report/report.cpp, class_sections.cpp, curve_sections.cpp): page
// geometry, the small pieces every section uses and the per-class sections.
#pragma once

#include <cstddef>
#include <limits>
#include <string>

#include "crest/report/report.h"
#include "crest/report/svg.h"

namespace crest::report_parts {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Page geometry in CSS pixels; charts get viewBoxes of the width they are shown at, so their
// text keeps its size on a laptop screen (~1280 px).
inline constexpr double kFullWidth = 1140;
inline constexpr double kHalfWidth = 560;
// The two charts side by side in the generations section.
inline constexpr double kGenerationChartHeight = 340;
// Grouped bars stay readable up to about this many bars a chart; beyond it, lines.
inline constexpr std::size_t kMaxBarsFull = 160;
inline constexpr std::size_t kMaxBarsHalf = 60;

// Text escaped for HTML.
std::string esc(const std::string& text);

// `value` with `decimals` decimals; "\u2013" (an en dash) when it is not finite.
std::string fixed(double value, int decimals = 4);

// A ratio as a percentage with one decimal ("32.5%"); an en dash when it is not finite.
std::string percent(double value);

// "gen K".
std::string gen_name(int g);

// "gen_K/FILE": a generation's file, as captions name it.
std::string gen_file(const char* file);

// Whether the run selects its generation on validation (crest.select_on val); otherwise its
// chosen generation is simply the last one and is called so.
inline bool selects_on_validation(const RunFolder& run) { return run.select_on == "val"; }

// A <figure> of `svg`, with a caption (HTML) unless it is empty.
std::string figure(const std::string& svg, const std::string& caption_html);

// An empty series with its legend name, colour and line style.
ChartSeries named_series(const std::string& name, const std::string& color, bool dashed = false);

// A note (escaped) where a section has nothing to show yet.
std::string empty_note(const std::string& text);

// The per-class sections, each a <section> of the page: recall and precision per class and
// generation; the pseudo-label selection per class; the confusion matrix.
std::string per_class_section(const RunFolder& run);
std::string selection_section(const RunFolder& run);
std::string confusion_section(const RunFolder& run);

// The training curves (curve_sections.cpp): a <section> with one chart per figure of
// gen_K/metrics.jsonl, the generations one after the other.
std::string curves_section(const RunFolder& run);

}  // namespace crest::report_parts
