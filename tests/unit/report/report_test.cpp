// The SVG chart helpers (escaping, labels, bar heights, broken lines, heat map cells) and the
// run-folder reader behind `crest report`: a small hand-written run folder, an unfinished one,
// and malformed files whose errors must name the file and line.
#include "crest/report/report.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <regex>
#include <string>
#include <vector>

#include "crest/io/execution_files.h"
#include "crest/io/file.h"
#include "crest/report/svg.h"
#include "crest/util/error.h"
#include "test_util.h"

namespace crest {
namespace {

namespace fs = std::filesystem;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

// Heights of the <rect class="bar"> elements, in document order.
std::vector<double> bar_heights(const std::string& svg) {
  static const std::regex kBar(
      R"re(class="bar" x="[-0-9.]+" y="[-0-9.]+" width="[0-9.]+" height="([0-9.]+)")re");
  std::vector<double> heights;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), kBar); it != std::sregex_iterator();
       ++it) {
    heights.push_back(std::stod((*it)[1].str()));
  }
  return heights;
}

ChartSeries series(const std::string& name, std::vector<double> values) {
  ChartSeries s;
  s.name = name;
  s.values = std::move(values);
  return s;
}

class ReportTest : public TempDirTest {
 protected:
  // A finished run of 2 generations and 3 classes, as `crest train` writes it (the files the
  // report reads, with the columns they have).
  void write_run(const fs::path& run) {
    write_file_atomic(run / "config.yaml",
                      "data:\n  dataset: synthetic\ntrain:\n  steps_per_epoch: 10\n  epochs: 2\n"
                      "crest:\n  mode: crest+\n  generations: 2\n  select_on: last\n");
    write_file_atomic(run / "crest.log",
                      "[2026-01-01 00:00:00.000] [info] run folder r (crest train)\n"
                      "[2026-01-01 00:00:00.001] [info] device cpu (2 threads) | synthetic\n"
                      "[2026-01-01 00:00:00.002] [info] WRN-10-1 | 2 x 10 steps\n"
                      "[2026-01-01 00:00:01.000] [info] gen 0/2 10/20 | 1 steps/s\n"
                      "[2026-01-01 00:00:02.000] [warning] crest.alpha is 3\n");
    write_file_atomic(
        run / "generations.csv",
        "generation,t,labeled,pseudo_labeled,accuracy,mean_recall,mean_precision,"
        "minority_recall,majority_recall,minority_precision,selected,"
        "selection_precision,val_mean_recall\n"
        "0,1.000000,30,0,0.500000,0.500000,0.400000,0.100000,0.900000,0.2,12,0.75,\n"
        "1,0.500000,42,12,0.600000,0.600000,0.500000,0.300000,0.800000,0.3,10,0.8,\n");
    write_file_atomic(run / "summary.json",
                      R"({"best_generation": 1, "minority_classes": [2], "mode": "crest+"})");
    for (int g = 0; g < 2; ++g) write_generation(run / ("gen_" + std::to_string(g)), g);
  }

  void write_generation(const fs::path& gen, int g) {
    const std::string pseudo = g == 0 ? "0" : "4";
    // The second class's name holds a comma and a quote, so it is quoted as RFC 4180 says.
    write_file_atomic(gen / "labeled_distribution.csv",
                      "class,name,labeled,pseudo_labeled,total\n0,cat,20," + pseudo +
                          ",24\n1,\"dog, \"\"big\"\"\",7," + pseudo + ",11\n2,<b>&,3," + pseudo +
                          ",7\n");
    write_file_atomic(gen / "per_class.csv",
                      "class,name,precision,recall,f1,support,predicted\n"
                      "0,cat,0.500000,0.900000,0.642857,10,18\n"
                      "1,\"dog, \"\"big\"\"\",0.600000,0.300000,0.400000,10,5\n"
                      "2,<b>&,0.000000,0.000000,0.000000,10,0\n");
    write_file_atomic(gen / "confusion.csv",
                      "true\\predicted,cat,\"dog, \"\"big\"\"\",<b>&\n"
                      "cat,9,1,0\n\"dog, \"\"big\"\"\",7,3,0\n<b>&,2,8,0\n");
    write_file_atomic(gen / "selection.json",
                      R"({"classes": ["cat", "dog, \"big\"", "<b>&"], "rates": [0.5, 0.8, 1.0],
                          "predicted": [10, 6, 0], "selected": [5, 5, 0], "correct": [4, 3, 0],
                          "precision": [0.8, 0.6, 0.0], "selected_total": 10,
                          "precision_total": 0.7})");
    write_file_atomic(gen / "metrics.jsonl",
                      "{\"step\":10,\"loss\":1.2,\"loss_x\":1.1,\"loss_u\":0.1,\"mask_rate\":0.2,"
                      "\"acc_raw\":0.4,\"acc_ema\":0.45,\"acc_ema_la\":0.5,\"lr\":0.03}\n"
                      "{\"step\":20,\"loss\":0.9,\"loss_x\":0.8,\"loss_u\":0.1,\"mask_rate\":0.4,"
                      "\"acc_raw\":0.5,\"acc_ema\":0.55,\"acc_ema_la\":0.6,\"lr\":0.029}\n");
    write_file_atomic(gen / "generation.json",
                      "{\"row\": {\"generation\": " + std::to_string(g) + "}}\n");
    ExecutionSegment segment;
    segment.started = "2026-01-01T00:00:00Z";
    segment.command = "crest train";
    segment.device = "cpu (2 threads of 2 available)";
    segment.threads = 2;
    segment.precision = "bf16";
    segment.memory_format = "channels_last";
    segment.sgd = "foreach";
    segment.crest_version = "0.1.0";
    segment.torch_version = "1.13.1";
    ExecutionRecord record;
    record.segments.push_back(segment);
    if (g == 1) {  // resumed at step 8
      segment.from_step = 8;
      segment.started = "2026-01-01T01:00:00Z";
      segment.threads = 1;
      record.segments.push_back(segment);
    }
    write_execution_record(gen / "execution.json", record);
  }
};

// ---- SVG helpers ----------------------------------------------------------------------------

TEST_F(ReportTest, HtmlEscapeReplacesEveryMarkupCharacter) {
  EXPECT_EQ(html_escape("<a href=\"x\">Tom & Jerry's</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
  EXPECT_EQ(html_escape("plain text"), "plain text");
  EXPECT_EQ(html_escape(""), "");
}

TEST_F(ReportTest, DisplayNumberTrimsAndMarksMissingValues) {
  EXPECT_EQ(display_number(0.325), "0.325");
  EXPECT_EQ(display_number(1200), "1200");
  EXPECT_EQ(display_number(131072), "131072");
  EXPECT_EQ(display_number(1.5e-5), "1.5e-05");
  EXPECT_EQ(display_number(0.123456), "0.1235");
  EXPECT_EQ(display_number(-0.0), "0");
  EXPECT_EQ(display_number(kNaN), "\u2013");
}

TEST_F(ReportTest, NiceTicksCoverTheRangeInRoundSteps) {
  const std::vector<double> ticks = nice_ticks(0, 0.93, 5);
  ASSERT_GE(ticks.size(), 3u);
  EXPECT_DOUBLE_EQ(ticks.front(), 0.0);
  EXPECT_GE(ticks.back(), 0.93);
  EXPECT_NEAR(ticks[1] - ticks[0], 0.2, 1e-12);
  EXPECT_EQ(nice_ticks(0, 57, 5), (std::vector<double>{0, 20, 40, 60}));
  // A degenerate range is widened rather than collapsing to one tick.
  EXPECT_GE(nice_ticks(3, 3, 5).size(), 2u);
}

TEST_F(ReportTest, BarHeightsAreProportionalToValues) {
  ChartFrame frame;
  frame.figure = "bars";
  frame.y_min = 0;
  frame.y_max = 4;
  const std::string svg = bar_chart(frame, {"a", "b", "c"}, {series("s", {1, 2, 4})});
  const std::vector<double> h = bar_heights(svg);
  ASSERT_EQ(h.size(), 3u);
  ASSERT_GT(h[0], 10.0);
  EXPECT_NEAR(h[1] / h[0], 2.0, 0.01);
  EXPECT_NEAR(h[2] / h[0], 4.0, 0.01);
  // Stacked bars pile up: the second series sits on the first.
  const std::string stacked =
      bar_chart(frame, {"a"}, {series("x", {1}), series("y", {3})}, /*stacked=*/true);
  const std::vector<double> s = bar_heights(stacked);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_NEAR(s[1] / s[0], 3.0, 0.01);
}

TEST_F(ReportTest, ChartsCarryTheirFigureTitleAxisLabelsAndNames) {
  ChartFrame frame;
  frame.figure = "per-class-recall";
  frame.title = "Per-class recall";
  frame.x_label = "class";
  frame.y_label = "recall";
  frame.attributes = {{"data-generation", "3"}};
  const std::string svg = bar_chart(frame, {"airplane", "truck"}, {series("gen 0", {0.5, 0.25})});
  EXPECT_EQ(svg.rfind("<svg ", 0), 0u);
  EXPECT_NE(svg.find("data-figure=\"per-class-recall\" data-generation=\"3\""), std::string::npos);
  EXPECT_NE(svg.find("viewBox=\"0 0 560 300\""), std::string::npos);
  EXPECT_NE(svg.find(">Per-class recall</text>"), std::string::npos);
  EXPECT_NE(svg.find(">class</text>"), std::string::npos);
  EXPECT_NE(svg.find(">recall</text>"), std::string::npos);
  EXPECT_NE(svg.find(">airplane"), std::string::npos);
  EXPECT_NE(svg.find(">truck"), std::string::npos);
  EXPECT_NE(svg.find(">gen 0</text>"), std::string::npos);  // the legend
  EXPECT_NE(svg.find("<title>truck \u00b7 gen 0: 0.25</title>"), std::string::npos);
  EXPECT_EQ(svg.substr(svg.size() - 6), "</svg>");
  // No namespace URL or any other reference to the network.
  EXPECT_EQ(svg.find("http"), std::string::npos);
}

TEST_F(ReportTest, ChartTextIsEscaped) {
  ChartFrame frame;
  frame.figure = "x\"y";
  frame.title = "<script>alert(1)</script>";
  ChartSeries s = series("a & b", {1, 2});
  s.tooltips = {"<i>", ""};
  const std::string svg = bar_chart(frame, {"<b>", "\"quoted\""}, {s});
  EXPECT_EQ(svg.find("<script>"), std::string::npos);
  EXPECT_EQ(svg.find("<b>"), std::string::npos);
  EXPECT_EQ(svg.find("<i>"), std::string::npos);
  EXPECT_NE(svg.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(svg.find("&lt;b&gt;"), std::string::npos);
  EXPECT_NE(svg.find("&quot;quoted&quot;"), std::string::npos);
  EXPECT_NE(svg.find("a &amp; b"), std::string::npos);
  EXPECT_NE(svg.find("data-figure=\"x&quot;y\""), std::string::npos);
}

TEST_F(ReportTest, CrowdedCategoryLabelsTurnAndThinOut) {
  std::vector<std::string> names;
  std::vector<double> values;
  for (int i = 0; i < 100; ++i) {
    names.push_back("class_number_" + std::to_string(i));
    values.push_back(i);
  }
  ChartFrame frame;
  frame.width = 600;
  const std::string svg = bar_chart(frame, names, {series("n", values)});
  EXPECT_EQ(count(svg, "class=\"bar\""), 100u);
  const std::size_t labels = count(svg, "rotate(-45");  // turned labels
  EXPECT_GT(labels, 10u);
  EXPECT_LT(labels, 100u);  // every k-th one only
  EXPECT_NE(svg.find(">class_number_0<"), std::string::npos);
}

TEST_F(ReportTest, LineChartBreaksAtMissingValuesAndMarks) {
  ChartFrame frame;
  frame.figure = "lines";
  const std::string svg = line_chart(
      frame, {0, 1, 2, 3, 4}, {series("acc", {0.1, 0.2, kNaN, 0.4, 0.5})}, {{2.0, "gen 1", false}});
  EXPECT_EQ(count(svg, "class=\"line\""), 1u);
  // One path with two pieces: M..L.. and M..L..
  const std::size_t d = svg.find(" d=\"");
  ASSERT_NE(d, std::string::npos);
  const std::string path = svg.substr(d, svg.find('"', d + 4) - d);
  EXPECT_EQ(count(path, "M"), 2u);
  EXPECT_EQ(count(path, "L"), 2u);
  EXPECT_EQ(count(svg, "class=\"point\""), 4u);
  EXPECT_NE(svg.find(">gen 1</text>"), std::string::npos);
  expect_input_error(
      [&] {
        line_chart(frame, {0, 1}, {series("bad", {1})});
      },
      {"lines", "bad", "1 values", "2 x positions"});
}

TEST_F(ReportTest, HeatMapHasOneCellPerEntryAndRowShares) {
  ChartFrame frame;
  frame.figure = "confusion";
  frame.x_label = "predicted";
  frame.y_label = "true";
  const std::string svg = heat_map(frame, {"a", "b"}, {"a", "b"}, {{3, 1}, {0, 4}}, true);
  EXPECT_EQ(count(svg, "class=\"cell\""), 4u);
  EXPECT_NE(svg.find("<title>a \u2192 b: 1 (25% of row)</title>"), std::string::npos);
  EXPECT_NE(svg.find("<title>b \u2192 b: 4 (100% of row)</title>"), std::string::npos);
  EXPECT_NE(svg.find(">predicted</text>"), std::string::npos);
  EXPECT_NE(svg.find(">true</text>"), std::string::npos);
  expect_input_error(
      [&] {
        heat_map(frame, {"a", "b"}, {"a"}, {{1, 2}, {3, 4}});
      },
      {"confusion", "2 cells", "1 column"});
}

// ---- reading run folders ----------------------------------------------------------------------

TEST_F(ReportTest, ReadsAFinishedRun) {
  write_run(dir_);
  const RunFolder run = load_run(dir_);
  EXPECT_TRUE(run.complete()) << (run.missing.empty() ? "" : run.missing.front());
  EXPECT_EQ(run.mode, "crest+");
  EXPECT_EQ(run.select_on, "last");
  EXPECT_EQ(run.planned_generations, 2);
  EXPECT_EQ(run.steps_per_generation, 20);
  ASSERT_TRUE(run.best_generation.has_value());
  EXPECT_EQ(*run.best_generation, 1);
  ASSERT_TRUE(run.rows.has_value());
  ASSERT_EQ(run.rows->size(), 2u);
  EXPECT_EQ((*run.rows)[1].pseudo_labeled, 12);
  EXPECT_DOUBLE_EQ((*run.rows)[1].mean_recall, 0.6);
  EXPECT_TRUE(std::isnan((*run.rows)[1].val_mean_recall));  // empty column: no val slice
  ASSERT_EQ(run.generations.size(), 2u);
  const GenerationFiles& g1 = run.generations[1];
  EXPECT_TRUE(g1.finished);
  ASSERT_TRUE(g1.distribution && g1.per_class && g1.confusion && g1.selection && g1.curve);
  EXPECT_EQ(g1.distribution->names, (std::vector<std::string>{"cat", "dog, \"big\"", "<b>&"}));
  EXPECT_EQ(g1.distribution->pseudo_labeled, (std::vector<std::int64_t>{4, 4, 4}));
  EXPECT_DOUBLE_EQ(g1.per_class->recall[0], 0.9);
  EXPECT_EQ(g1.per_class->predicted[1], 5);
  EXPECT_EQ(g1.confusion->counts[2], (std::vector<std::int64_t>{2, 8, 0}));
  EXPECT_EQ(g1.selection->selected, (std::vector<std::int64_t>{5, 5, 0}));
  ASSERT_EQ(g1.curve->size(), 2u);
  EXPECT_DOUBLE_EQ((*g1.curve)[1].acc_ema, 0.55);
  EXPECT_TRUE(std::isnan((*g1.curve)[1].pseudo_label_acc));  // a field the line lacks
  // How each generation ran comes from its execution.json; the log gives its warnings alone.
  ASSERT_EQ(run.log_lines.size(), 1u);
  EXPECT_NE(run.log_lines[0].find("crest.alpha is 3"), std::string::npos);
  ASSERT_TRUE(g1.execution);
  ASSERT_EQ(g1.execution->segments.size(), 2u);
  EXPECT_EQ(g1.execution->segments[1].from_step, 8);
  EXPECT_EQ(g1.execution->segments[1].threads, 1);
}

TEST_F(ReportTest, PageHasEveryFigureAndEscapesClassNames) {
  write_run(dir_);
  const std::string html = report_html(load_run(dir_));
  for (const char* figure :
       {"generations", "labeled-size", "labeled-distribution", "per-class-recall",
        "per-class-precision", "selection-count", "selection-precision", "confusion", "curves-loss",
        "curves-mask-rate", "curves-accuracy", "curves-lr"}) {
    EXPECT_NE(html.find(std::string("data-figure=\"") + figure + "\""), std::string::npos)
        << figure;
  }
  EXPECT_EQ(count(html, "data-figure=\"labeled-distribution\""), 2u);
  // Three segments (gen 1 was resumed at step 8), and the device of the first start.
  EXPECT_NE(html.find("id=\"execution\""), std::string::npos);
  EXPECT_EQ(count(html, "<td class=\"text\">cpu (2 threads of 2 available)</td>"), 4u);
  EXPECT_NE(html.find("<td>8</td>"), std::string::npos);
  EXPECT_NE(html.find("data-figure=\"confusion\" data-generation=\"1\""), std::string::npos);
  EXPECT_EQ(html.find("<b>&"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;&amp;"), std::string::npos);
  EXPECT_NE(html.find("dog, &quot;big&quot;"), std::string::npos);
  EXPECT_EQ(html.find("id=\"incomplete\""), std::string::npos);
  EXPECT_NE(html.find("<details id=\"config\">"), std::string::npos);
  EXPECT_NE(html.find("select_on: last"), std::string::npos);
  EXPECT_NE(html.find(std::string("crest ") + CREST_VERSION), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
}

TEST_F(ReportTest, DetectsAnUnfinishedRun) {
  write_run(dir_);
  // Killed in generation 1: it has its labeled set and one evaluation, nothing else; the run's
  // summary does not exist yet and generations.csv has generation 0 only.
  fs::remove(dir_ / "summary.json");
  for (const char* file : {"generation.json", "per_class.csv", "confusion.csv", "selection.json"}) {
    fs::remove(dir_ / "gen_1" / file);
  }
  write_file_atomic(dir_ / "gen_1" / "metrics.jsonl", "{\"step\":10,\"loss\":1.0}\n");
  const std::string csv = read_file(dir_ / "generations.csv");
  write_file_atomic(dir_ / "generations.csv", csv.substr(0, csv.rfind("1,0.5")));

  const RunFolder run = load_run(dir_);
  EXPECT_FALSE(run.complete());
  std::string missing;
  for (const auto& m : run.missing) missing += m + "\n";
  EXPECT_NE(missing.find("gen_1: did not finish"), std::string::npos) << missing;
  EXPECT_NE(missing.find("step 10 of 20"), std::string::npos) << missing;
  EXPECT_NE(missing.find("generations.csv: 1 of 2"), std::string::npos) << missing;
  EXPECT_NE(missing.find("summary.json"), std::string::npos) << missing;

  const std::string html = report_html(run);
  EXPECT_NE(html.find("id=\"incomplete\""), std::string::npos);
  EXPECT_NE(html.find("Incomplete run."), std::string::npos);
  // What exists is still drawn: generation 0's figures, generation 1's curve.
  EXPECT_NE(html.find("data-figure=\"per-class-recall\""), std::string::npos);
  EXPECT_NE(html.find("data-figure=\"confusion\" data-generation=\"0\""), std::string::npos);
  EXPECT_NE(html.find("gen 1, step 10"), std::string::npos);

  // Killed in generation 0 before any file of the run's tables.
  fs::remove_all(dir_ / "gen_1");
  fs::remove(dir_ / "generations.csv");
  const RunFolder early = load_run(dir_);
  std::string early_missing;
  for (const auto& m : early.missing) early_missing += m + "\n";
  EXPECT_NE(early_missing.find("gen_1: not started"), std::string::npos) << early_missing;
  EXPECT_NE(early_missing.find("generations.csv: not written yet"), std::string::npos);
  EXPECT_NE(report_html(early).find("No generation has finished yet"), std::string::npos);
}

TEST_F(ReportTest, EmptyFiguresOfAFixMatchRunAreMissingValues) {
  write_run(dir_);
  write_file_atomic(dir_ / "config.yaml", "crest:\n  mode: fixmatch\n  generations: 1\n");
  write_file_atomic(dir_ / "generations.csv",
                    "generation,t,labeled,pseudo_labeled,accuracy,mean_recall,mean_precision,"
                    "minority_recall,majority_recall,minority_precision,selected,"
                    "selection_precision,val_mean_recall\n"
                    "0,1.000000,30,0,0.5,0.5,0.4,0.1,0.9,0.2,0,,\n");
  fs::remove_all(dir_ / "gen_1");
  fs::remove(dir_ / "gen_0" / "selection.json");
  write_file_atomic(dir_ / "summary.json", R"({"best_generation": 0})");
  const RunFolder run = load_run(dir_);
  EXPECT_TRUE(run.complete());
  ASSERT_EQ(run.rows->size(), 1u);
  EXPECT_TRUE(std::isnan((*run.rows)[0].selection_precision));
  EXPECT_TRUE(run.notes.empty()) << run.notes.front();  // fixmatch writes no selection.json
  const std::string html = report_html(run);
  EXPECT_NE(html.find("crest.mode is fixmatch: no pseudo-labels are selected"), std::string::npos);
  EXPECT_EQ(html.find("data-figure=\"selection-count\""), std::string::npos);
}

TEST_F(ReportTest, CutOffLastLineOfMetricsIsLeftOutWithANote) {
  write_run(dir_);
  const fs::path metrics = dir_ / "gen_1" / "metrics.jsonl";
  write_file_atomic(metrics, read_file(metrics) + "{\"step\":30,\"lo");
  const RunFolder run = load_run(dir_);
  EXPECT_EQ(run.generations[1].curve->size(), 2u);
  ASSERT_EQ(run.notes.size(), 1u);
  EXPECT_NE(run.notes[0].find("gen_1/metrics.jsonl: line 3 is cut off"), std::string::npos);
}

TEST_F(ReportTest, NotARunFolderIsAnInputError) {
  expect_input_error([&] { load_run(dir_); },
                     {dir_.string(), "is not a run folder", "config.yaml"});
  expect_input_error([&] { load_run(dir_ / "nope"); }, {(dir_ / "nope").string(), "not a folder"});
}

TEST_F(ReportTest, MalformedFilesAreDataErrorsNamingFileAndLine) {
  write_run(dir_);
  const fs::path per_class = dir_ / "gen_0" / "per_class.csv";
  const std::string good = read_file(per_class);

  write_file_atomic(per_class, good + "3,extra,0.1\n");
  expect_data_error([&] { load_run(dir_); }, {per_class.string() + ":5", "3 fields"});

  std::string bad_number = good;
  bad_number.replace(bad_number.find("0.900000"), 8, "high");
  write_file_atomic(per_class, bad_number);
  expect_data_error([&] { load_run(dir_); },
                    {per_class.string() + ":2", "'recall'", "'high'", "not a number"});

  write_file_atomic(per_class, "class,name,precision\n0,cat,0.5\n");
  expect_data_error([&] { load_run(dir_); }, {per_class.string() + ":1", "no column 'recall'"});

  write_file_atomic(per_class, good + "3,\"never closed,0,0,0,0,0\n");
  expect_data_error([&] { load_run(dir_); }, {per_class.string() + ":5", "never closed"});
  write_file_atomic(per_class, good);

  const fs::path selection = dir_ / "gen_1" / "selection.json";
  write_file_atomic(selection, "{\n  \"classes\": [\"cat\",\n}");
  expect_data_error([&] { load_run(dir_); }, {selection.string(), "not valid JSON", "line 3"});
  write_file_atomic(selection, R"({"classes": ["cat"], "rates": [1], "predicted": [1],
                                   "selected": [1], "correct": [1], "precision": [1]})");
  expect_data_error([&] { load_run(dir_); },
                    {selection.string(), "1 classes", "gen_0/labeled_distribution.csv has 3"});
  fs::remove(selection);

  const fs::path metrics = dir_ / "gen_0" / "metrics.jsonl";
  write_file_atomic(metrics, "{\"step\":10}\nnot json\n{\"step\":20}\n");
  expect_data_error([&] { load_run(dir_); }, {metrics.string() + ":2", "not valid JSON"});
  write_file_atomic(metrics, "{\"loss\":1}\n");
  expect_data_error([&] { load_run(dir_); }, {metrics.string() + ":1", "'step'"});
  fs::remove(metrics);

  write_file_atomic(dir_ / "config.yaml", "crest:\n  generations: [1\n");
  expect_data_error([&] { load_run(dir_); }, {(dir_ / "config.yaml").string(), "not valid YAML"});
  write_file_atomic(dir_ / "config.yaml", "crest:\n  generations: many\n");
  expect_data_error([&] { load_run(dir_); },
                    {(dir_ / "config.yaml").string() + ":2", "crest.generations", "'many'"});
}

TEST_F(ReportTest, WriteReportWritesTheDefaultPathOrTheGivenOne) {
  write_run(dir_);
  const fs::path written = write_report(dir_);
  EXPECT_EQ(written, dir_ / "report.html");
  const std::string html = read_file(written);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(html.substr(html.size() - 8), "</html>\n");
  // Deterministic: the same folder gives the same bytes. Another file goes outside the run (inside
  // it, only report.html is the report's: io/output_paths.h).
  const fs::path outside = dir_.string() + "-out";
  EXPECT_EQ(write_report(dir_, outside / "page.html"), outside / "page.html");
  EXPECT_EQ(read_file(outside / "page.html"), html);
  fs::remove_all(outside);
  EXPECT_THROW(write_report(dir_, dir_ / "out" / "page.html"), InputError);
  for (const auto& entry : fs::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos);
  }
}

// #30: under select_on last no generation is starred and the page says the result is the last
// generation (whichever form summary.json has); under select_on val the selected one is.
TEST_F(ReportTest, MarksOnlyAGenerationSelectedOnValidation) {
  write_run(dir_);
  const std::string config = read_file(dir_ / "config.yaml");
  for (const std::string summary : {R"({"best_generation": 1, "minority_classes": [2]})",
                                    R"({"select_on": "last", "last_generation": 1})"}) {
    write_file_atomic(dir_ / "summary.json", summary);
    const std::string html = report_html(load_run(dir_));
    EXPECT_EQ(html.find("\u2605"), std::string::npos) << summary;
    EXPECT_EQ(html.find("class=\"best\""), std::string::npos) << summary;
    EXPECT_NE(html.find("last generation (no validation split)"), std::string::npos) << summary;
    EXPECT_NE(html.find("crest.select_on=val"), std::string::npos) << summary;
    EXPECT_EQ(html.find("best generation"), std::string::npos) << summary;
  }
  std::string val = config;
  val.replace(val.find("select_on: last"), 15, "select_on: val");
  write_file_atomic(dir_ / "config.yaml", val);
  for (int g : {0, 1}) {
    write_file_atomic(dir_ / "summary.json",
                      R"({"select_on": "val", "selected_generation": )" + std::to_string(g) + "}");
    const std::string html = report_html(load_run(dir_));
    EXPECT_EQ(count(html, "\u2605"), 1u);
    EXPECT_NE(html.find("<td>" + std::to_string(g) + " \u2605"), std::string::npos) << html;
    EXPECT_NE(html.find("selected generation (highest validation mean recall)"), std::string::npos);
  }
}

// #30: where the pool has no labels, the precision chart shows the estimate and says where it
// comes from; without an estimate it is left out with a reason, never drawn empty; a poor
// estimate is a banner.
TEST_F(ReportTest, SelectionPrecisionWithoutTruth) {
  write_run(dir_);
  const std::string unknown =
      R"({"classes": ["cat", "dog, \"big\"", "<b>&"], "rates": [0.5, 0.8, 1.0],
          "predicted": [10, 6, 0], "selected": [5, 5, 0], "truth": "unknown", "correct": null,
          "precision": null, "selected_total": 10)";
  const std::string estimate =
      R"(, "precision_estimate": {"source": "the validation split", "images": 9,
          "trained_on": false, "precision": [0.9, 0.2, null], "predicted": [5, 4, 0],
          "weighted": 0.55, "threshold": 0.5, "poor_classes": [1], "poor": true})";
  write_file_atomic(dir_ / "summary.json", R"({"select_on": "last", "last_generation": 1,
                                               "pool_truth": "unknown"})");
  for (int g = 0; g < 2; ++g) {
    write_file_atomic(dir_ / ("gen_" + std::to_string(g)) / "selection.json", unknown + "}");
  }
  std::string html = report_html(load_run(dir_));
  EXPECT_EQ(html.find("data-figure=\"selection-precision\""), std::string::npos);
  EXPECT_NE(html.find("No precision chart: the unlabeled images have no labels"),
            std::string::npos);
  EXPECT_NE(html.find("data-figure=\"selection-count\""), std::string::npos);
  for (int g = 0; g < 2; ++g) {
    write_file_atomic(dir_ / ("gen_" + std::to_string(g)) / "selection.json",
                      unknown + estimate + "}");
  }
  html = report_html(load_run(dir_));
  EXPECT_NE(html.find("data-figure=\"selection-precision\""), std::string::npos);
  EXPECT_NE(html.find("Estimated precision of the selected pseudo-labels"), std::string::npos);
  EXPECT_NE(html.find("Estimated on the validation split"), std::string::npos);
  EXPECT_NE(html.find("unknown (estimated 0.5500, poor)"), std::string::npos);
  EXPECT_NE(html.find("id=\"poor-selection\""), std::string::npos);
  EXPECT_NE(html.find("dog, &quot;big&quot; 0.20"), std::string::npos);
  EXPECT_EQ(html.find("No precision chart"), std::string::npos);
}

}  // namespace
}  // namespace crest
