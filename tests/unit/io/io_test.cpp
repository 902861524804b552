// The run-folder format (io/): every record written and read back unchanged, the exact bytes of
// the CSV files people and scripts read, atomic writes, and malformed files whose errors name
// the file and the line.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "crest/io/class_tables.h"
#include "crest/io/csv.h"
#include "crest/io/file.h"
#include "crest/io/generation_files.h"
#include "crest/io/manifest.h"
#include "crest/io/run_files.h"
#include "crest/io/run_state.h"
#include "crest/io/selection_files.h"
#include "crest/io/sweep_files.h"
#include "crest/io/training_files.h"
#include "crest/util/error.h"
#include "test_util.h"

namespace crest {
namespace {

namespace fs = std::filesystem;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

class IoTest : public TempDirTest {
 protected:
  std::size_t file_count() const {
    std::size_t n = 0;
    for (const auto& entry : fs::recursive_directory_iterator(dir_)) n += entry.is_regular_file();
    return n;
  }
};

GenerationRow sample_row(int g) {
  GenerationRow r;
  r.generation = g;
  r.t = 0.75;
  r.labeled = 411 + g;
  r.pseudo_labeled = 12 * g;
  r.accuracy = 0.573;
  r.mean_recall = 0.5725;
  r.mean_precision = 0.6;
  r.minority_recall = 0.363333;
  r.majority_recall = 0.786667;
  r.minority_precision = 0.5;
  r.selected = 935;
  r.selection_precision = g == 0 ? 0.764706 : kNaN;
  r.val_mean_recall = kNaN;
  r.accuracy_median_last_20 = 0.571;
  return r;
}

// Equal, NaN equal to NaN.
void expect_same(double a, double b) {
  if (std::isnan(a)) {
    EXPECT_TRUE(std::isnan(b)) << b;
  } else {
    EXPECT_DOUBLE_EQ(a, b);
  }
}

void expect_same_row(const GenerationRow& a, const GenerationRow& b) {
  EXPECT_EQ(a.generation, b.generation);
  EXPECT_EQ(a.labeled, b.labeled);
  EXPECT_EQ(a.pseudo_labeled, b.pseudo_labeled);
  EXPECT_EQ(a.selected, b.selected);
  for (auto field : {&GenerationRow::t, &GenerationRow::accuracy, &GenerationRow::mean_recall,
                     &GenerationRow::mean_precision, &GenerationRow::minority_recall,
                     &GenerationRow::majority_recall, &GenerationRow::minority_precision,
                     &GenerationRow::selection_precision, &GenerationRow::val_mean_recall,
                     &GenerationRow::accuracy_median_last_20}) {
    expect_same(a.*field, b.*field);
  }
}

// ---- files and names --------------------------------------------------------------------------

TEST_F(IoTest, AtomicWritesLeaveNoTemporary) {
  write_file_atomic(dir_ / "a" / "b.txt", "one\n");
  write_file_atomic(dir_ / "a" / "b.txt", "two\n");
  EXPECT_EQ(read_file(dir_ / "a" / "b.txt"), "two\n");
  // A failed write leaves the previous file and no temporary.
  write_file_atomic(dir_ / "d" / "keep.txt", "kept\n");
  fs::create_directories(dir_ / "d" / "e.txt" / "inner");  // a folder where the file goes
  expect_error<WriteError>([&] { write_file_atomic(dir_ / "d" / "e.txt", "lost"); }, {"e.txt"});
  EXPECT_EQ(read_file(dir_ / "d" / "keep.txt"), "kept\n");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "d"), fs::directory_iterator()), 2);
  fs::remove_all(dir_ / "d");
  append_line(dir_ / "log.jsonl", "{}");
  append_line(dir_ / "log.jsonl", "{\"x\": 1}");
  EXPECT_EQ(read_lines(dir_ / "log.jsonl"), (std::vector<std::string>{"{}", "{\"x\": 1}"}));
  expect_data_error([&] { read_file(dir_ / "missing.txt"); }, {"missing.txt"});
}

TEST_F(IoTest, StaleTemporariesAreRecognisedAndRemoved) {
  for (const char* name : {"summary.json.tmp.4242", "checkpoint.pt.tmp", "a.csv.tmp.1"}) {
    EXPECT_TRUE(is_temporary_name(name)) << name;
  }
  for (const char* name : {"notes.tmp.txt", ".tmp", "x.tmp.12a", "x.tmp.", "tmp", "data.csv"}) {
    EXPECT_FALSE(is_temporary_name(name)) << name;
  }
  write_file_atomic(dir_ / "gen_0" / "summary.json.tmp.4242", "half");
  write_file_atomic(dir_ / "gen_0" / "summary.json", "{}");
  write_file_atomic(dir_ / "checkpoint.pt.tmp", "half");
  write_file_atomic(dir_ / "notes.tmp.txt", "mine");
  const std::vector<fs::path> removed = remove_stale_temporaries(dir_);
  EXPECT_EQ(removed.size(), 2u);
  EXPECT_FALSE(fs::exists(dir_ / "gen_0" / "summary.json.tmp.4242"));
  EXPECT_FALSE(fs::exists(dir_ / "checkpoint.pt.tmp"));
  EXPECT_TRUE(fs::exists(dir_ / "gen_0" / "summary.json"));
  EXPECT_TRUE(fs::exists(dir_ / "notes.tmp.txt"));
}

TEST_F(IoTest, GenerationFolders) {
  EXPECT_EQ(generation_folder_name(3), "gen_3");
  EXPECT_EQ(generation_dir(dir_, 12), dir_ / "gen_12");
  EXPECT_EQ(parse_generation_folder_name("gen_7"), 7);
  EXPECT_FALSE(parse_generation_folder_name("gen_").has_value());
  EXPECT_FALSE(parse_generation_folder_name("gen_1x").has_value());
  for (int g : {10, 2, 0}) fs::create_directories(generation_dir(dir_, g));
  write_file_atomic(dir_ / "gen_5", "a file, not a folder");
  const auto found = generation_dirs(dir_);
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0].first, 0);
  EXPECT_EQ(found[1].first, 2);  // by number, not by name
  EXPECT_EQ(found[2].first, 10);
  EXPECT_FALSE(is_run_folder(dir_));
  write_file_atomic(dir_ / kConfigFile, "run: {}\n");
  EXPECT_TRUE(is_run_folder(dir_));
}

// ---- CSV --------------------------------------------------------------------------------------

TEST_F(IoTest, CsvReaderHandlesQuotesAndNamesLines) {
  const CsvTable t =
      parse_csv("a,b\n1,\"x, \"\"y\"\"\"\n\n2,\"two\nlines\"\r\n3,\n", dir_ / "t.csv");
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.rows[0][1], "x, \"y\"");
  EXPECT_EQ(t.rows[1][1], "two\nlines");
  EXPECT_EQ(t.lines, (std::vector<int>{2, 4, 6}));
  EXPECT_EQ(t.where(2), (dir_ / "t.csv").string() + ":6");
  EXPECT_TRUE(std::isnan(t.number(2, 1, /*optional=*/true)));
  EXPECT_EQ(t.integer(2, 0), 3);
  expect_data_error([&] { t.number(2, 1); }, {"t.csv:6", "column 'b'", "not a number"});
  expect_data_error([&] { t.column("c"); }, {"t.csv:1", "no column 'c'"});
  EXPECT_FALSE(t.has_column("c"));
  expect_data_error([&] { parse_csv("a,b\n1,2\n3\n", "u.csv"); },
                    {"u.csv:3", "1 fields, the header has 2"});
  expect_data_error([&] { parse_csv("a\n\"open\n", "v.csv"); }, {"v.csv:2", "never closed"});
  expect_data_error([&] { parse_csv("", "w.csv"); }, {"w.csv:1", "empty"});
  EXPECT_EQ(csv_number(0.5), "0.500000");
  EXPECT_EQ(csv_number(kNaN), "");
}

// ---- generations.csv, generation.json, summary.json ---------------------------------------------

TEST_F(IoTest, GenerationsCsvExactBytesAndRoundTrip) {
  const fs::path file = dir_ / kGenerationsFile;
  const std::vector<GenerationRow> rows = {sample_row(0), sample_row(1)};
  write_generations_csv(file, rows);
  EXPECT_EQ(read_file(file),
            "generation,t,labeled,pseudo_labeled,accuracy,mean_recall,mean_precision,"
            "minority_recall,majority_recall,minority_precision,selected,selection_precision,"
            "val_mean_recall,accuracy_median_last_20\n"
            "0,0.750000,411,0,0.573000,0.572500,0.600000,0.363333,0.786667,0.500000,935,"
            "0.764706,,0.571000\n"
            "1,0.750000,412,12,0.573000,0.572500,0.600000,0.363333,0.786667,0.500000,935,,,"
            "0.571000\n");
  const std::vector<GenerationRow> back = read_generations_csv(file);
  ASSERT_EQ(back.size(), 2u);
  for (std::size_t i = 0; i < rows.size(); ++i) expect_same_row(rows[i], back[i]);
}

TEST_F(IoTest, GenerationsCsvMalformedLineNamesFileAndLine) {
  const fs::path file = dir_ / kGenerationsFile;
  write_generations_csv(file, {sample_row(0), sample_row(1)});
  std::string text = read_file(file);
  text.replace(text.rfind("412"), 3, "many");
  write_file_atomic(file, text);
  expect_data_error([&] { read_generations_csv(file); },
                    {file.string() + ":3", "column 'labeled'", "'many'"});
}

TEST_F(IoTest, GenerationRecordRoundTrip) {
  GenerationRecord record;
  record.row = sample_row(0);
  record.test = {0.5, 0.45, 0.4, {0.1, 0.8}, {0.3, 0.6}};
  record.labeled_counts = {30, 7};
  record.ema_accuracy = {0.5, 0.55, 3, 0.5, 0.52, 0.52, 0.52};
  const fs::path file = dir_ / "gen_0" / kGenerationDoneFile;
  write_generation_record(file, record);
  const GenerationRecord back = read_generation_record(file);
  expect_same_row(record.row, back.row);
  EXPECT_EQ(back.test.per_class_recall, record.test.per_class_recall);
  EXPECT_EQ(back.test.per_class_precision, record.test.per_class_precision);
  EXPECT_DOUBLE_EQ(back.test.accuracy, 0.5);
  EXPECT_EQ(back.labeled_counts, record.labeled_counts);
  EXPECT_EQ(back.ema_accuracy.best_index, 3);
  EXPECT_DOUBLE_EQ(back.ema_accuracy.median_last_10, 0.52);
  // The undefined figures are JSON nulls, as before.
  EXPECT_NE(read_file(file).find("\"val_mean_recall\": null"), std::string::npos);

  write_file_atomic(file, R"({"row": {"generation": 0}, "test": {}, "ema_accuracy": {}})");
  expect_data_error([&] { read_generation_record(file); }, {file.string(), "'t'"});
  write_file_atomic(file, "{\"row\": ");
  expect_data_error([&] { read_generation_record(file); }, {file.string(), "not valid JSON"});
}

TEST_F(IoTest, RunSummaryRoundTripAndPartialFiles) {
  RunSummary summary;
  summary.mode = "crest+";
  summary.select_on = "last";
  summary.best_generation = 1;
  summary.best = sample_row(1);
  summary.final_row = sample_row(1);
  summary.minority_classes = std::vector<int>{7, 8, 9};
  summary.majority_classes = std::vector<int>{0, 1, 2};
  summary.generations = std::vector<GenerationRow>{sample_row(0), sample_row(1)};
  const fs::path file = dir_ / kRunSummaryFile;
  write_run_summary(file, summary);
  const RunSummary back = read_run_summary(file);
  EXPECT_EQ(back.mode, "crest+");
  EXPECT_EQ(back.select_on, "last");
  EXPECT_EQ(back.best_generation, 1);
  expect_same_row(*back.final_row, sample_row(1));
  EXPECT_EQ(*back.minority_classes, (std::vector<int>{7, 8, 9}));
  EXPECT_EQ(*back.majority_classes, (std::vector<int>{0, 1, 2}));
  ASSERT_EQ(back.generations->size(), 2u);
  expect_same_row((*back.generations)[0], sample_row(0));

  // Only what the file holds; an absent figure of a row is NaN.
  write_file_atomic(file, R"({"final": {"generation": 2, "accuracy": 0.5}})");
  const RunSummary partial = read_run_summary(file);
  EXPECT_FALSE(partial.best_generation.has_value());
  EXPECT_FALSE(partial.generations.has_value());
  EXPECT_EQ(partial.final_row->generation, 2);
  EXPECT_TRUE(std::isnan(partial.final_row->mean_recall));
  write_file_atomic(file, R"({"minority_classes": ["a"]})");
  expect_data_error([&] { read_run_summary(file); }, {file.string(), "minority_classes"});
  write_file_atomic(file, "[1, 2]");
  expect_data_error([&] { read_run_summary(file); }, {file.string(), "JSON object"});
}

// ---- per-class tables -------------------------------------------------------------------------

TEST_F(IoTest, ClassTablesRoundTrip) {
  const std::vector<std::string> names = {"cat", "big, \"fluffy\" dog"};
  const PerClassTable per_class = {names,  {1.0, 0.5}, {0.5, 1.0}, {2.0 / 3, 2.0 / 3},
                                   {2, 1}, {1, 2}};
  write_per_class_csv(dir_ / kPerClassFile, per_class);
  const PerClassTable m = read_per_class_csv(dir_ / kPerClassFile);
  EXPECT_EQ(m.names, names);
  EXPECT_EQ(m.recall, per_class.recall);
  EXPECT_NEAR(m.f1[1], 2.0 / 3, 1e-6);  // %.6f
  EXPECT_EQ(m.support, per_class.support);
  EXPECT_EQ(m.predicted, per_class.predicted);

  const ConfusionTable confusion = {names, {{1, 1}, {0, 1}}};
  write_confusion_csv(dir_ / kConfusionFile, confusion);
  EXPECT_EQ(read_file(dir_ / kConfusionFile),
            "true\\predicted,cat,\"big, \"\"fluffy\"\" dog\"\ncat,1,1\n"
            "\"big, \"\"fluffy\"\" dog\",0,1\n");
  const ConfusionTable c = read_confusion_csv(dir_ / kConfusionFile);
  EXPECT_EQ(c.names, names);
  EXPECT_EQ(c.counts, confusion.counts);
  expect_input_error(
      [&] {
        write_confusion_csv(dir_ / "x.csv", {names, {{1, 2, 3}, {4, 5, 6}}});
      },
      {"square", "x.csv"});

  const LabeledDistribution distribution = {names, {20, 7}, {0, 4}, {20, 11}};
  write_labeled_distribution_csv(dir_ / kLabeledDistributionFile, distribution);
  EXPECT_EQ(read_file(dir_ / kLabeledDistributionFile),
            "class,name,labeled,pseudo_labeled,total\n0,cat,20,0,20\n"
            "1,\"big, \"\"fluffy\"\" dog\",7,4,11\n");
  const LabeledDistribution d = read_labeled_distribution_csv(dir_ / kLabeledDistributionFile);
  EXPECT_EQ(d.names, names);
  EXPECT_EQ(d.labeled, distribution.labeled);
  EXPECT_EQ(d.pseudo_labeled, distribution.pseudo_labeled);
  EXPECT_EQ(d.total, distribution.total);
  expect_input_error(
      [&] {
        write_labeled_distribution_csv(dir_ / "y.csv", {{"one"}, {1, 2}, {0, 0}, {1, 2}});
      },
      {"1 class names for 2 classes", "y.csv"});
}

TEST_F(IoTest, PerClassRowsMustBeClassesInOrder) {
  const fs::path file = dir_ / kPerClassFile;
  write_file_atomic(file,
                    "class,name,precision,recall,f1,support,predicted\n"
                    "0,a,0.5,0.5,0.5,1,1\n2,b,0.5,0.5,0.5,1,1\n");
  expect_data_error([&] { read_per_class_csv(file); }, {file.string() + ":3", "expected class 1"});
  write_file_atomic(file, "class,name,precision,recall,f1,support,predicted\n0,a,x,0.5,0.5,1,1\n");
  expect_data_error([&] { read_per_class_csv(file); },
                    {file.string() + ":2", "column 'precision'", "'x'"});
}

// ---- the selection ----------------------------------------------------------------------------

TEST_F(IoTest, PseudoLabelsRoundTrip) {
  const fs::path file = dir_ / kPseudoLabelsFile;
  write_pseudo_labels_csv(file, {{1042, 3, 0.98765432, 3}, {7, 9, 0.5, 1}});
  EXPECT_EQ(read_file(file),
            "index,predicted,confidence,true_label\n1042,3,0.987654,3\n7,9,0.500000,1\n");
  PseudoLabelLimits limits;
  limits.num_classes = 10;
  limits.in_pool = [](std::int64_t i) { return i == 7 || i == 1042 || i < 5; };
  const std::vector<PseudoLabelRow> rows = read_pseudo_labels_csv(file, limits);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].index, 1042);
  EXPECT_EQ(rows[0].predicted, 3);
  EXPECT_DOUBLE_EQ(rows[0].confidence, 0.987654);
  EXPECT_EQ(rows[1].true_label, 1);
  write_file_atomic(file, "index,predicted,confidence,true_label\n1,2,0.5,3\n4,five,0.5,6\n");
  expect_data_error([&] { read_pseudo_labels_csv(file, limits); },
                    {file.string() + ":3", "column 'predicted'", "'five'"});
  // Every value is checked against the run before anything uses it.
  const std::string header = "index,predicted,confidence,true_label\n";
  const std::pair<std::string, std::vector<std::string>> damaged[] = {
      {"1,77,0.5,3\n", {":2", "'predicted' is 77", "0..9"}},
      {"1,-1,0.5,3\n", {":2", "'predicted' is -1"}},
      {"1,99999999999999999999,0.5,3\n", {":2", "'predicted'", "not a whole number"}},
      {"1,2,0.5,10\n", {":2", "'true_label' is 10"}},
      {"1,2,1.5,3\n", {":2", "confidence 1.5", "not a probability"}},
      {"1,2,nan,3\n", {":2", "'confidence'", "not a number"}},
      {"1,2,0.5,3\n9,2,0.5,3\n", {":3", "image 9", "not in this run's unlabeled pool"}},
      {"1,2,0.5,3\n2,2,0.5,3\n1,0,0.5,3\n", {":4", "image 1", "selected twice"}},
      {"1.5,2,0.5,3\n", {":2", "'index'", "not a whole number"}}};
  // A true label edited to another valid class is caught against the dataset.
  PseudoLabelLimits with_truth = limits;
  with_truth.true_label = [](std::int64_t) { return std::int64_t{3}; };
  write_file_atomic(file, header + "1,2,0.5,3\n2,2,0.5,0\n");
  expect_data_error([&] { read_pseudo_labels_csv(file, with_truth); },
                    {file.string() + ":3", "true label 3 in the dataset, not 0"});
  for (const auto& [rows_text, needles] : damaged) {
    write_file_atomic(file, header + rows_text);
    std::vector<std::string> expected = needles;
    expected.push_back(file.string());
    expect_data_error([&] { read_pseudo_labels_csv(file, limits); }, expected);
  }
}

TEST_F(IoTest, SelectionRoundTrip) {
  SelectionRecord s;
  s.generation = 1;
  s.pool = 40;
  s.alpha = 1.0 / 3;
  s.rate_profile = "ideal";
  s.names = {"a", "b"};
  s.rates = {0.5, 1.0};
  s.predicted = {30, 10};
  s.selected = {15, 10};
  s.correct = {12, 5};
  s.pool_true_counts = {25, 15};
  s.precision = {0.8, 0.5};
  s.recall = {12.0 / 25, 5.0 / 15};
  s.selected_total = 25;
  s.precision_total = 17.0 / 25;
  const fs::path file = dir_ / kSelectionFile;
  write_selection_json(file, s);
  const SelectionRecord back = read_selection_json(file);
  EXPECT_EQ(back.generation, 1);
  EXPECT_EQ(back.pool, 40);
  EXPECT_DOUBLE_EQ(back.alpha, 1.0 / 3);
  EXPECT_EQ(back.rate_profile, "ideal");
  EXPECT_EQ(back.names, s.names);
  EXPECT_EQ(back.rates, s.rates);
  EXPECT_EQ(back.predicted, s.predicted);
  EXPECT_EQ(back.selected, s.selected);
  EXPECT_EQ(back.correct, s.correct);
  EXPECT_EQ(back.pool_true_counts, s.pool_true_counts);
  EXPECT_EQ(back.precision, s.precision);
  EXPECT_EQ(back.recall, s.recall);
  EXPECT_EQ(back.selected_total, 25);
  EXPECT_DOUBLE_EQ(back.precision_total, 17.0 / 25);
  write_file_atomic(file, R"({"classes": ["a"], "rates": [1], "predicted": [1, 2],
                              "selected": [1], "correct": [1], "precision": [1]})");
  expect_data_error([&] { read_selection_json(file); }, {file.string(), "one entry per class"});
}

// Images without labels (data.protocol as_is on a folder): the true label is written "unknown"
// and read back as -1 only where the run says it is unknown; files are named.
TEST_F(IoTest, PseudoLabelsWithUnknownTruthAndFiles) {
  const fs::path file = dir_ / kPseudoLabelsFile;
  write_pseudo_labels_csv(file,
                          {{12, 1, 0.9, -1, "unlabeled/a, b.png"}, {13, 0, 0.8, -1, "u/c.png"}});
  EXPECT_EQ(read_file(file),
            "index,predicted,confidence,true_label,file\n12,1,0.900000,unknown,\"unlabeled/a, "
            "b.png\"\n13,0,0.800000,unknown,u/c.png\n");
  PseudoLabelLimits limits;
  limits.num_classes = 2;
  limits.in_pool = [](std::int64_t i) { return i >= 10; };
  limits.true_label = [](std::int64_t) { return std::int64_t{-1}; };
  const std::vector<PseudoLabelRow> rows = read_pseudo_labels_csv(file, limits);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].true_label, -1);
  EXPECT_EQ(rows[0].file, "unlabeled/a, b.png");
  EXPECT_EQ(rows[1].file, "u/c.png");
  // A run that knows every label refuses "unknown", and a run without labels refuses a label.
  PseudoLabelLimits known = limits;
  known.true_label = [](std::int64_t) { return std::int64_t{1}; };
  expect_data_error([&] { read_pseudo_labels_csv(file, known); },
                    {file.string() + ":2", "true label 1 in the dataset, not unknown"});
  known.true_label = nullptr;
  expect_data_error([&] { read_pseudo_labels_csv(file, known); },
                    {file.string() + ":2", "'unknown'", "knows the label of every image"});
  write_file_atomic(file, "index,predicted,confidence,true_label\n12,1,0.5,1\n");
  expect_data_error([&] { read_pseudo_labels_csv(file, limits); },
                    {file.string() + ":2", "true label unknown in the dataset, not 1"});
}

TEST_F(IoTest, SelectionWithUnknownTruthRoundTrip) {
  SelectionRecord s;
  s.generation = 0;
  s.truth_known = false;
  s.pool = 40;
  s.rate_profile = "labeled";
  s.names = {"a", "b"};
  s.rates = {0.5, 1.0};
  s.predicted = {30, 10};
  s.selected = {15, 10};
  s.selected_total = 25;
  const fs::path file = dir_ / kSelectionFile;
  write_selection_json(file, s);
  const std::string text = read_file(file);
  EXPECT_NE(text.find("\"truth\": \"unknown\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"precision\": null"), std::string::npos) << text;
  EXPECT_NE(text.find("\"correct\": null"), std::string::npos) << text;
  const SelectionRecord back = read_selection_json(file);
  EXPECT_FALSE(back.truth_known);
  EXPECT_EQ(back.selected, s.selected);
  EXPECT_TRUE(back.correct.empty());
  EXPECT_TRUE(back.precision.empty());
  EXPECT_TRUE(std::isnan(back.precision_total));
  // Known truth still requires the lists.
  write_file_atomic(file, R"({"classes": ["a"], "rates": [1], "predicted": [1], "selected": [1]})");
  expect_data_error([&] { read_selection_json(file); }, {file.string(), "'correct'"});
}

// The estimated precision of a selection without truth (#30): written and read back, NaN as
// null; a damaged estimate is a DataError naming the file.
TEST_F(IoTest, SelectionPrecisionEstimateRoundTrip) {
  SelectionRecord s;
  s.truth_known = false;
  s.names = {"a", "b", "c"};
  s.rates = {0.5, 1.0, 1.0};
  s.predicted = {30, 10, 0};
  s.selected = {15, 10, 0};
  s.selected_total = 25;
  SelectionEstimate e;
  e.source = "the validation split";
  e.images = 12;
  e.trained_on = false;
  e.precision = {0.75, 0.25, std::nan("")};
  e.predicted = {8, 4, 0};
  e.weighted = (15 * 0.75 + 10 * 0.25) / 25;
  e.threshold = 0.5;
  e.poor_classes = {1};
  e.poor = true;
  s.estimate = e;
  const fs::path file = dir_ / kSelectionFile;
  write_selection_json(file, s);
  const SelectionRecord back = read_selection_json(file);
  ASSERT_TRUE(back.estimate.has_value());
  EXPECT_EQ(back.estimate->source, e.source);
  EXPECT_EQ(back.estimate->images, 12);
  EXPECT_DOUBLE_EQ(back.estimate->precision[1], 0.25);
  EXPECT_TRUE(std::isnan(back.estimate->precision[2]));
  EXPECT_DOUBLE_EQ(back.estimate->weighted, e.weighted);
  EXPECT_EQ(back.estimate->poor_classes, (std::vector<int>{1}));
  EXPECT_TRUE(back.estimate->poor);
  const std::string good = read_file(file);
  // Damaged estimates: each refused, naming the file and the part.
  const std::vector<std::pair<std::string, std::string>> damages = {
      {"\"images\": 12", "\"images\": \"twelve\""},
      {"\"poor_classes\": [\n      1\n    ]", "\"poor_classes\": [7]"},
      {"\"threshold\": 0.5", "\"threshold\": null"},
      {"0.75", "1.75"},
      {"\"predicted\": [\n      8,", "\"predicted\": ["},
  };
  for (const auto& [from, to] : damages) {
    std::string text = good;
    const auto at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from << " in " << text;
    text.replace(at, from.size(), to);
    write_file_atomic(file, text);
    expect_data_error([&] { read_selection_json(file); }, {file.string()});
  }
  // Files without it (known truth, older versions) have none.
  s.estimate.reset();
  write_selection_json(file, s);
  EXPECT_FALSE(read_selection_json(file).estimate.has_value());
}

TEST_F(IoTest, RunSummaryRecordsUnknownPoolTruth) {
  RunSummary summary;
  summary.mode = "crest+";
  summary.pool_truth_known = false;
  const fs::path file = dir_ / kRunSummaryFile;
  write_run_summary(file, summary);
  EXPECT_NE(read_file(file).find("\"pool_truth\": \"unknown\""), std::string::npos);
  EXPECT_FALSE(read_run_summary(file).pool_truth_known);
  summary.pool_truth_known = true;
  write_run_summary(file, summary);
  EXPECT_EQ(read_file(file).find("pool_truth"), std::string::npos);
  EXPECT_TRUE(read_run_summary(file).pool_truth_known);
  write_file_atomic(file, R"({"status": "finished", "pool_truth": "maybe"})");
  expect_data_error([&] { read_run_summary(file); }, {file.string(), "'pool_truth'", "maybe"});
}

// ---- metrics.jsonl and the generation's summary.json --------------------------------------------

MetricsLine sample_line(std::int64_t step) {
  MetricsLine l;
  l.step = step;
  l.epoch = step / 10;
  l.lr = 0.03;
  l.loss = 1.25;
  l.loss_x = 1.0;
  l.loss_u = 0.25;
  l.mask_rate = 0.5;
  l.pseudo_label_acc = 0.75;
  l.acc_raw = 0.4;
  l.acc_ema = 0.45;
  l.acc_raw_la = 0.41;
  l.acc_ema_la = 0.46;
  l.mean_recall_ema = 0.44;
  l.per_class_recall_ema = {0.5, 0.38};
  l.per_class_recall_raw = {0.4, 0.4};
  l.steps_per_sec = 12.5;
  return l;
}

TEST_F(IoTest, MetricsLinesRoundTripAndCutOffLastLine) {
  const fs::path file = dir_ / kMetricsFile;
  start_metrics_file(file);
  append_metrics_line(file, sample_line(10));
  append_metrics_line(file, sample_line(20));
  // Integers stay integers, keys in order: the bytes the trainer always wrote.
  EXPECT_EQ(metrics_line_text(sample_line(10)).substr(0, 36),
            "{\"acc_ema\":0.45,\"acc_ema_la\":0.46,\"a");
  EXPECT_NE(read_file(file).find("\"epoch\":1,"), std::string::npos);
  MetricsLog log = read_metrics_file(file);
  ASSERT_EQ(log.lines.size(), 2u);
  EXPECT_FALSE(log.cut_line.has_value());
  const MetricsLine& b = log.lines[1];
  EXPECT_EQ(b.step, 20);
  EXPECT_EQ(b.epoch, 2);
  EXPECT_DOUBLE_EQ(b.acc_ema_la, 0.46);
  EXPECT_EQ(b.per_class_recall_ema, (std::vector<double>{0.5, 0.38}));
  EXPECT_DOUBLE_EQ(b.steps_per_sec, 12.5);

  write_file_atomic(file, read_file(file) + "{\"step\": 30, \"lo");
  log = read_metrics_file(file);
  EXPECT_EQ(log.lines.size(), 2u);
  EXPECT_EQ(log.cut_line, 3);
  write_file_atomic(file, "{\"step\": 1}\n{bad\n{\"step\": 2}\n");
  expect_data_error([&] { read_metrics_file(file); }, {file.string() + ":2", "not valid JSON"});
  write_file_atomic(file, "{\"loss\": 1}\n");
  expect_data_error([&] { read_metrics_file(file); }, {file.string() + ":1", "numeric 'step'"});
  write_file_atomic(file, "{\"step\": 5, \"acc_ema\": null}\n");
  EXPECT_TRUE(std::isnan(read_metrics_file(file).lines[0].acc_ema));
}

TEST_F(IoTest, TruncatingMetricsKeepsTheLinesUpToTheCheckpoint) {
  const fs::path file = dir_ / kMetricsFile;
  const std::string first = metrics_line_text(sample_line(10));
  const std::string second = metrics_line_text(sample_line(20));
  write_file_atomic(file, first + "\n" + second + "\n" + metrics_line_text(sample_line(30)) + "\n");
  const std::vector<MetricsLine> kept = truncate_metrics_file(file, 20);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[1].step, 20);
  EXPECT_EQ(read_file(file), first + "\n" + second + "\n");  // the lines kept verbatim
  write_file_atomic(file, first + "\n{\"step\": 2");         // cut off by a crash
  EXPECT_EQ(truncate_metrics_file(file, 100).size(), 1u);
  EXPECT_EQ(read_file(file), first + "\n");
  // Only the last line can be cut short by a crash; a bad line before it is damage.
  write_file_atomic(file, first + "\n{bad\n" + second + "\n");
  expect_data_error([&] { truncate_metrics_file(file, 100); },
                    {file.string() + ":2", "not a metrics line"});
  EXPECT_EQ(read_file(file), first + "\n{bad\n" + second + "\n");  // left as it was
  EXPECT_TRUE(truncate_metrics_file(dir_ / "none.jsonl", 5).empty());
  EXPECT_EQ(read_file(dir_ / "none.jsonl"), "");
}

TEST_F(IoTest, TrainingSummaryRoundTrip) {
  TrainingSummary s;
  s.steps = 600;
  s.evaluations = 12;
  s.ema_accuracy = {0.57, 0.58, 10, 0.57, 0.575, 0.57, 0.57};
  s.final_ema = {0.57, 0.57, 0.6, {0.4, 0.7}, {0.5, 0.6}};
  s.model_fingerprint = "0123456789abcdef";
  s.ema_fingerprint = "fedcba9876543210";
  s.precision = "bf16";
  s.memory_format = "channels_last";
  const fs::path file = dir_ / "gen_0" / kTrainingSummaryFile;
  write_training_summary(file, s);
  const TrainingSummary back = read_training_summary(file);
  EXPECT_EQ(back.precision, "bf16");
  EXPECT_EQ(back.memory_format, "channels_last");
  EXPECT_EQ(back.steps, 600);
  EXPECT_EQ(back.evaluations, 12);
  EXPECT_EQ(back.ema_accuracy.best_index, 10);
  EXPECT_EQ(back.final_ema.per_class_recall, s.final_ema.per_class_recall);
  EXPECT_EQ(back.model_fingerprint, s.model_fingerprint);
  EXPECT_EQ(back.ema_fingerprint, s.ema_fingerprint);
  // A summary written before the step's settings were recorded reads as "" for both.
  TrainingSummary older = s;
  older.precision.clear();
  older.memory_format.clear();
  write_training_summary(file, older);
  EXPECT_EQ(read_file(file).find("memory_format"), std::string::npos);
  EXPECT_EQ(read_file(file).find("bf16"), std::string::npos);
  const TrainingSummary older_back = read_training_summary(file);
  EXPECT_EQ(older_back.precision, "");
  EXPECT_EQ(older_back.memory_format, "");
  write_file_atomic(file, R"({"steps": 600, "evaluations": "twelve"})");
  expect_data_error([&] { read_training_summary(file); }, {file.string(), "'evaluations'"});
}

// ---- the split manifest and sweep folders -------------------------------------------------------

TEST_F(IoTest, SplitManifestChecksItsFormat) {
  const nlohmann::json manifest = {
      {"format", kSplitManifestFormat}, {"version", kSplitManifestVersion},
      {"settings", {{"fold", 1}}},      {"source", {{"train_size", 10}}},
      {"classes", {"a", "b"}},          {"labeled_indices", {1, 2}},
      {"unlabeled_indices", {3}}};
  const fs::path file = dir_ / kSplitManifestFile;
  write_split_manifest(file, manifest);
  EXPECT_EQ(read_split_manifest(file), manifest);
  nlohmann::json incomplete = manifest;
  incomplete.erase("classes");
  write_split_manifest(file, incomplete);
  expect_data_error([&] { read_split_manifest(file); }, {file.string(), "lacks \"classes\""});
  write_file_atomic(file, "{}");
  expect_data_error([&] { read_split_manifest(file); }, {"not a crest split manifest"});
}

TEST_F(IoTest, SweepPlanRoundTripAndPartialRead) {
  SweepPlanFile plan;
  plan.grid = "/g/grid.yaml";
  plan.base = "/g/base.yaml";
  plan.keys = {"data.fold"};
  plan.set = {"run.device=cpu"};
  plan.points = {{0, "fold=1", {"run.device=cpu", "data.fold=1"}, "fold=1"},
                 {1, "fold=2", {"run.device=cpu", "data.fold=2"}, "fold=2"}};
  const fs::path file = dir_ / kSweepPlanFile;
  write_sweep_plan(file, plan);
  const SweepPlanFile back = read_sweep_plan(file);
  EXPECT_EQ(back.grid, plan.grid);
  EXPECT_EQ(back.base, plan.base);
  EXPECT_EQ(back.keys, plan.keys);
  EXPECT_EQ(back.set, plan.set);
  ASSERT_EQ(back.points.size(), 2u);
  EXPECT_EQ(back.points[1].name, "fold=2");
  EXPECT_EQ(back.points[1].overrides, plan.points[1].overrides);
  EXPECT_EQ(back.points[1].folder, "fold=2");

  write_file_atomic(file, R"({"points": [{"folder": "a"}, {"folder": "b"}]})");
  EXPECT_EQ(read_sweep_plan(file, /*complete=*/false).points[1].folder, "b");
  expect_data_error([&] { read_sweep_plan(file); }, {file.string(), "not a sweep plan"});
}

TEST_F(IoTest, InspectRunReadsTheSummaryThroughIo) {
  EXPECT_EQ(inspect_run(dir_ / "none").problem, "not started (no config.yaml)");
  write_file_atomic(dir_ / "r" / kConfigFile, "crest: {generations: 2}\n");
  EXPECT_NE(inspect_run(dir_ / "r").problem.find("unfinished: no summary.json"), std::string::npos);
  write_file_atomic(dir_ / "r" / kRunSummaryFile, R"({"generations": [{"generation": 0}]})");
  EXPECT_EQ(inspect_run(dir_ / "r").problem, "unfinished: summary.json has 1 of 2 generations");
  EXPECT_TRUE(inspect_run(dir_ / "r", 1).complete);
  write_file_atomic(dir_ / "r" / kRunSummaryFile, R"({"best_generation": 0})");
  EXPECT_NE(inspect_run(dir_ / "r", 1).problem.find("damaged summary.json"), std::string::npos);
}

}  // namespace
}  // namespace crest
