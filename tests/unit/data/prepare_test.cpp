#include "crest/data/prepare.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "crest/data/cifar.h"
#include "crest/io/file.h"
#include "crest/util/error.h"
#include "test_util.h"

namespace crest {
namespace {

namespace fs = std::filesystem;

DataConfig synthetic(int classes, int train_per_class, int test_per_class) {
  DataConfig data;
  data.dataset = DatasetKind::kSynthetic;
  data.synthetic.classes = classes;
  data.synthetic.train_per_class = train_per_class;
  data.synthetic.test_per_class = test_per_class;
  data.image_size = 8;
  return data;
}

// CIFAR-100 records (coarse, fine, 3072 pixels), `per_class` of every fine label 0..99; the
// first pixels spell `set` and the record number, so that no two images are the same (exact
// duplicates across the sets are refused: data/duplicates.h).
std::string cifar100_records(int per_class, char set) {
  std::string bytes;
  for (int r = 0; r < 100 * per_class; ++r) {
    const int fine = r % 100;
    bytes += static_cast<char>(fine / 5);
    bytes += static_cast<char>(fine);
    std::string pixels(kCifarImageBytes, static_cast<char>(r * 7));
    pixels[0] = set;
    pixels[1] = static_cast<char>(r & 0xff);
    pixels[2] = static_cast<char>(r >> 8);
    bytes += pixels;
  }
  return bytes;
}

using PrepareTest = TempDirTest;

// gamma larger than N_max allows leaves the tail classes with no image: 100 per class and
// gamma 1000 gave counts ... 1 0 0 0 and then pseudo-labels were selected for empty classes.
TEST(Prepare, ClassWithoutImagesInTheLongTailedSetIsRefused) {
  DataConfig data = synthetic(10, 100, 10);
  data.imbalance_ratio = 1000;
  expect_data_error([&] { prepare_data(data); },
                    {"class 7", "0 images in the long-tailed set", "N_max = 100",
                     "data.imbalance_ratio = 1000", "at most N_max (100)"});
  data.imbalance_ratio = 100;  // the tail gets int(100 / 100) = 1 image
  const PreparedData prepared = prepare_data(data);
  EXPECT_EQ(prepared.split.lt_counts.back(), 1);
}

// as_is keeps the source whole: every labeled image is labeled, nothing is cut, and without an
// unlabeled source the pool is empty (allowed here; the CReST modes refuse it when planning).
TEST(Prepare, AsIsUsesTheSourceWhole) {
  DataConfig data = synthetic(3, 20, 5);
  data.protocol = SplitProtocol::kAsIs;
  data.imbalance_ratio = 100;  // ignored by as_is
  data.label_fraction = 0.1;   // ignored by as_is
  const PreparedData prepared = prepare_data(data);
  EXPECT_EQ(prepared.split.labeled.size(), 60u);
  EXPECT_TRUE(prepared.split.unlabeled.empty());
  EXPECT_EQ(prepared.split.labeled_counts, (std::vector<std::int64_t>{20, 20, 20}));
  EXPECT_DOUBLE_EQ(prepared.measured_imbalance_ratio(), 1.0);
  const std::string table = split_counts_table(prepared);
  EXPECT_EQ(table.find("LT"), std::string::npos) << table;
  EXPECT_NE(table.find("(measured, largest / smallest class): 1.00"), std::string::npos) << table;
  const nlohmann::json json = split_counts_json(prepared);
  EXPECT_EQ(json["imbalance_ratio_measured"], 1.0);
  EXPECT_EQ(json["unlabeled_unknown"], 0);
  const nlohmann::json manifest = split_manifest(data, prepared);
  EXPECT_EQ(manifest["settings"]["protocol"], "as_is");
  EXPECT_EQ(manifest["settings"]["imbalance_ratio_measured"], 1.0);
  EXPECT_FALSE(manifest.contains("labeled_files"));  // synthetic images have no files
}

TEST(Prepare, ClassWithoutLabeledImagesIsRefused) {
  DataConfig data = synthetic(10, 100, 10);
  data.protocol = SplitProtocol::kDarp;
  data.num_labeled_head = 3;
  data.imbalance_ratio_labeled = 10;
  data.num_unlabeled_head = 50;
  data.imbalance_ratio_unlabeled = 10;
  expect_data_error([&] { prepare_data(data); },
                    {"class 5", "0 labeled images", "data.num_labeled_head = 3",
                     "data.imbalance_ratio_labeled = 10"});
}

TEST(Prepare, SplitWithoutUnlabeledImagesIsRefused) {
  DataConfig data = synthetic(4, 20, 5);
  data.imbalance_ratio = 2;
  data.label_fraction = 1.0;
  expect_data_error([&] { prepare_data(data); }, {"no unlabeled images", "data.label_fraction = 1",
                                                  "lower data.label_fraction"});
}

TEST_F(PrepareTest, TestSetWithoutAClassIsRefused) {
  const fs::path root = dir_ / "c10";
  Dataset train;
  train.images = at::zeros({40, 3, 32, 32}, at::TensorOptions().dtype(at::kByte));
  train.labels = at::arange(40, at::TensorOptions().dtype(at::kLong)).remainder(4);
  train.class_names = {"a", "b", "c", "d"};
  Dataset test = train.subset({0, 1, 2, 4, 5, 6});  // no image of class 3
  write_cifar10_folder(root, DatasetPair{train, test});
  DataConfig data;
  data.dataset = DatasetKind::kCifar10;
  data.root = root.string();
  data.imbalance_ratio = 2;
  data.label_fraction = 0.5;
  expect_data_error([&] { prepare_data(data); }, {root.string(), "no image of class 3 'd'"});
}

// Valid CIFAR-100 (fine labels 0..99) goes through the whole preparation.
TEST_F(PrepareTest, Cifar100WithEveryFineLabelIsPrepared) {
  const fs::path root = dir_ / "c100";
  fs::create_directories(root);
  write_file_atomic(root / "train.bin", cifar100_records(5, 'r'));
  write_file_atomic(root / "test.bin", cifar100_records(1, 't'));
  DataConfig data;
  data.dataset = DatasetKind::kCifar100;
  data.root = root.string();
  data.imbalance_ratio = 5;
  data.label_fraction = 0.5;
  const PreparedData prepared = prepare_data(data);
  ASSERT_EQ(prepared.split.lt_counts.size(), 100u);
  EXPECT_EQ(prepared.split.lt_counts.front(), 5);
  EXPECT_EQ(prepared.split.lt_counts.back(), 1);
  EXPECT_EQ(prepared.test_counts, std::vector<std::int64_t>(100, 1));
  EXPECT_EQ(prepared.source.train.class_names[99], "worm");
}

}  // namespace
}  // namespace crest
