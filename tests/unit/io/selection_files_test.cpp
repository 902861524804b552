// The knn selection's records (crest.selection: knn, #31): pseudo_labels.csv with the distance
// column and selection.json with its "knn" record, written and read back; damaged files refused
// naming the file; files without them (the confidence policy, older versions) unchanged.
#include "crest/io/selection_files.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "crest/io/file.h"
#include "crest/io/run_files.h"
#include "crest/util/error.h"
#include "test_util.h"

namespace crest {
namespace {

namespace fs = std::filesystem;

class KnnSelectionFilesTest : public TempDirTest {};

SelectionRecord knn_selection() {
  SelectionRecord s;
  s.policy = "knn";
  s.generation = 1;
  s.pool = 30;
  s.names = {"a", "b", "c"};
  s.rates = {0.5, 1.0, 0.0};
  s.predicted = {20, 10, 0};
  s.selected = {10, 10, 0};
  s.correct = {8, 5, 0};
  s.pool_true_counts = {18, 12, 0};
  s.precision = {0.8, 0.5, 0.0};
  s.recall = {8.0 / 18, 5.0 / 12, 0.0};
  s.selected_total = 20;
  s.precision_total = 13.0 / 20;
  KnnSelectionRecord k;
  k.round = 1;
  k.rounds = 3;
  k.quota = 20;
  k.labeled_before = 12;
  k.left_after = 10;
  k.anchors = 40;
  k.anchor_set = "labeled";
  k.order = "balanced";
  k.clusters = 3;
  k.neighbours = 10;
  k.min_agreement = 0.6;
  k.eligible = {15, 10, 0};
  k.mean_agreement = {0.9, 0.7, std::nan("")};
  k.mean_distance = {0.125, 0.5, std::nan("")};
  s.knn = k;
  return s;
}

TEST_F(KnnSelectionFilesTest, PseudoLabelsWithDistances) {
  const fs::path file = dir_ / kPseudoLabelsFile;
  PseudoLabelRow a{1042, 3, 0.8, 3, "", 0.25};
  PseudoLabelRow b{7, 1, 1.0, 2, "u/b.png", 0.0};
  write_pseudo_labels_csv(file, {a, b});
  EXPECT_EQ(read_file(file),
            "index,predicted,confidence,true_label,distance,file\n"
            "1042,3,0.800000,3,0.250000,\n7,1,1.000000,2,0.000000,u/b.png\n");
  PseudoLabelLimits limits;
  limits.num_classes = 4;
  limits.in_pool = [](std::int64_t i) { return i == 7 || i == 1042 || i < 5; };
  const std::vector<PseudoLabelRow> rows = read_pseudo_labels_csv(file, limits);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_DOUBLE_EQ(rows[0].distance, 0.25);
  EXPECT_DOUBLE_EQ(rows[1].distance, 0.0);
  // Without distances (the confidence policy) there is no column, and none is read.
  write_pseudo_labels_csv(file, {{1, 2, 0.5, 3}});
  EXPECT_EQ(read_file(file), "index,predicted,confidence,true_label\n1,2,0.500000,3\n");
  EXPECT_TRUE(std::isnan(read_pseudo_labels_csv(file, limits)[0].distance));
  // A distance that is no cosine distance is refused, naming the file and line.
  for (const std::string bad : {"2.5", "-0.1", "nan", "x"}) {
    write_file_atomic(file, "index,predicted,confidence,true_label,distance\n1,2,0.5,3,0.1\n" +
                                std::string("2,2,0.5,3,") + bad + "\n");
    expect_data_error([&] { read_pseudo_labels_csv(file, limits); },
                      {file.string() + ":3", "distance"});
  }
}

TEST_F(KnnSelectionFilesTest, SelectionRecordRoundTrip) {
  const SelectionRecord s = knn_selection();
  const fs::path file = dir_ / kSelectionFile;
  write_selection_json(file, s);
  const std::string text = read_file(file);
  EXPECT_NE(text.find("\"policy\": \"knn\""), std::string::npos) << text;
  const SelectionRecord back = read_selection_json(file);
  EXPECT_EQ(back.policy, "knn");
  ASSERT_TRUE(back.knn.has_value());
  const KnnSelectionRecord& k = *back.knn;
  EXPECT_EQ(k.round, 1);
  EXPECT_EQ(k.rounds, 3);
  EXPECT_EQ(k.quota, 20);
  EXPECT_EQ(k.labeled_before, 12);
  EXPECT_EQ(k.left_after, 10);
  EXPECT_EQ(k.anchors, 40);
  EXPECT_EQ(k.anchor_set, "labeled");
  EXPECT_EQ(k.order, "balanced");
  EXPECT_EQ(k.clusters, 3);
  EXPECT_EQ(k.neighbours, 10);
  EXPECT_DOUBLE_EQ(k.min_agreement, 0.6);
  EXPECT_EQ(k.eligible, s.knn->eligible);
  EXPECT_DOUBLE_EQ(k.mean_agreement[0], 0.9);
  EXPECT_TRUE(std::isnan(k.mean_agreement[2]));
  EXPECT_DOUBLE_EQ(k.mean_distance[1], 0.5);
  EXPECT_TRUE(std::isnan(k.mean_distance[2]));
  // The confidence policy writes "policy": "confidence" and no knn record; a file without
  // "policy" (older versions) reads as confidence.
  SelectionRecord plain = s;
  plain.policy = "confidence";
  plain.knn.reset();
  write_selection_json(file, plain);
  EXPECT_EQ(read_selection_json(file).policy, "confidence");
  EXPECT_FALSE(read_selection_json(file).knn.has_value());
  write_file_atomic(file, R"({"classes": ["a"], "rates": [1], "predicted": [1], "selected": [1],
                              "correct": [1], "precision": [1]})");
  EXPECT_EQ(read_selection_json(file).policy, "confidence");
}

TEST_F(KnnSelectionFilesTest, DamagedKnnRecordsAreRefused) {
  const fs::path file = dir_ / kSelectionFile;
  write_selection_json(file, knn_selection());
  const std::string good = read_file(file);
  const std::vector<std::pair<std::string, std::string>> damages = {
      {"\"policy\": \"knn\"", "\"policy\": \"nearest\""},
      {"\"quota\": 20", "\"quota\": \"twenty\""},
      {"\"quota\": 20", "\"quota\": -1"},
      {"\"min_agreement\": 0.6", "\"min_agreement\": 1.6"},
      {"\"eligible\": [\n      15,", "\"eligible\": ["},
      {"\"eligible\": [\n      15,", "\"eligible\": [\n      25,"},  // more than assigned
      {"\"eligible\": [\n      15,\n      10,", "\"eligible\": [\n      15,\n      9,"},
      {"0.9,", "1.9,"},
      {"0.125", "2.125"},
      {"\"order\": \"balanced\"", "\"order\": 3"},
  };
  for (const auto& [from, to] : damages) {
    std::string text = good;
    const auto at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from << " in " << text;
    text.replace(at, from.size(), to);
    write_file_atomic(file, text);
    expect_data_error([&] { read_selection_json(file); }, {file.string()});
  }
  // policy knn without the record.
  std::string text = good;
  text.replace(text.find("\"knn\": {"), 8, "\"knn_gone\": {");
  write_file_atomic(file, text);
  expect_data_error([&] { read_selection_json(file); }, {file.string(), "'knn' record"});
}

}  // namespace
}  // namespace crest
