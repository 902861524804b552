// Exact duplicate images across sets (src/data/duplicates.cpp), and prepare_data refusing or
// dropping them (data.duplicates).
#include "crest/data/duplicates.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "crest/data/cifar.h"
#include "crest/data/prepare.h"
#include "crest/util/error.h"
#include "test_util.h"

namespace crest {
namespace {

namespace fs = std::filesystem;

// `n` images of 3x4x4 whose pixels are all `first + i` (distinct for n <= 256 - first).
Dataset images(int n, int first, std::vector<std::string> files = {}) {
  Dataset d;
  d.images = (at::arange(n, at::kLong) + first)
                 .to(at::kByte)
                 .view({n, 1, 1, 1})
                 .expand({n, 3, 4, 4})
                 .contiguous();
  d.labels = at::zeros({n}, at::kLong);
  d.class_names = {"a"};
  d.files = std::move(files);
  return d;
}

std::vector<std::int64_t> rows(std::int64_t n) {
  std::vector<std::int64_t> out;
  for (std::int64_t i = 0; i < n; ++i) out.push_back(i);
  return out;
}

TEST(Duplicates, EachLaterCopyIsPairedWithTheFirstEarlierImage) {
  const Dataset test = images(
      5, 10, {"test/a/0.png", "test/a/1.png", "test/a/2.png", "test/a/3.png", "test/a/4.png"});
  const Dataset val = images(3, 30);
  Dataset train = images(8, 50);
  // Train rows: 1 = test row 2, 3 = val row 0, 6 = train row 5 (labeled vs unlabeled), 7 = test
  // row 2 again, 4 = train row 0 (both labeled: one set, not compared).
  train.images[1].copy_(test.images[2]);
  train.images[3].copy_(val.images[0]);
  train.images[6].copy_(train.images[5]);
  train.images[7].copy_(test.images[2]);
  train.images[4].copy_(train.images[0]);
  const std::vector<ImageSet> sets = {{"test", &test, rows(5), "test index"},
                                      {"val", &val, rows(3), "val index"},
                                      {"labeled", &train, {0, 1, 3, 4, 5}, "train index"},
                                      {"unlabeled", &train, {2, 6, 7}, "train index"}};
  const std::vector<Duplicate> found = find_duplicates(sets);
  ASSERT_EQ(found.size(), 4u);
  // labeled row 1 = test row 2; labeled row 3 = val row 0; unlabeled 6 = labeled 5; 7 = test 2.
  const std::vector<std::vector<std::int64_t>> expected = {
      {0, 2, 2, 1}, {1, 0, 2, 3}, {2, 5, 3, 6}, {0, 2, 3, 7}};
  for (std::size_t k = 0; k < found.size(); ++k) {
    EXPECT_EQ(static_cast<std::int64_t>(found[k].earlier_set), expected[k][0]) << k;
    EXPECT_EQ(found[k].earlier_row, expected[k][1]) << k;
    EXPECT_EQ(static_cast<std::int64_t>(found[k].set), expected[k][2]) << k;
    EXPECT_EQ(found[k].row, expected[k][3]) << k;
  }
  const std::string text = describe_duplicates(sets, found, 1);
  EXPECT_NE(text.find("test and labeled: 1 image(s) in both: test/a/2.png = train index 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("val and labeled: 1 image(s) in both: val index 0 = train index 3"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("test and unlabeled: 1 image(s) in both: test/a/2.png = train index 7"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("labeled and unlabeled: 1 image(s)"), std::string::npos) << text;
}

TEST(Duplicates, ImagesDifferingInOneByteAreNotDuplicates) {
  const Dataset test = images(4, 0);
  Dataset train = images(4, 100);
  for (std::int64_t i = 0; i < 4; ++i) train.images[i].copy_(test.images[i]);
  train.images[0][2][3][3] = 255;  // the last byte
  train.images[1][0][0][0] = 7;    // the first byte
  const std::vector<ImageSet> sets = {{"test", &test, rows(4), "test index"},
                                      {"unlabeled", &train, rows(4), "train index"}};
  const std::vector<Duplicate> found = find_duplicates(sets);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].row, 2);
  EXPECT_EQ(found[1].row, 3);
  const std::string text = describe_duplicates(sets, found, 5);
  EXPECT_NE(text.find("test index 2 = train index 2, test index 3 = train index 3"),
            std::string::npos)
      << text;
  EXPECT_TRUE(find_duplicates({}).empty());
}

// Many images, few duplicates: the hash groups them, the byte comparison confirms them.
TEST(Duplicates, ScalesToManyImages) {
  const std::int64_t n = 20000;
  Dataset train;
  train.images = at::randint(0, 256, {n, 3, 8, 8}, at::kByte);
  train.labels = at::zeros({n}, at::kLong);
  train.class_names = {"a"};
  Dataset test = train.subset({17, 4242, 19999});
  const std::vector<ImageSet> sets = {{"test", &test, rows(3), "test index"},
                                      {"labeled", &train, rows(n), "train index"}};
  const std::vector<Duplicate> found = find_duplicates(sets);
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0].row, 17);
  EXPECT_EQ(found[1].row, 4242);
  EXPECT_EQ(found[2].row, 19999);
}

DataConfig cifar_config(const fs::path& root) {
  DataConfig data;
  data.dataset = DatasetKind::kCifar10;
  data.root = root.string();
  data.protocol = SplitProtocol::kCrest;
  data.imbalance_ratio = 2;
  data.label_fraction = 0.5;
  return data;
}

// CIFAR binaries with test images copied into the training set: refused, naming the indices, the
// count and the key; dropped (and recorded) under data.duplicates: drop.
using PrepareDuplicates = TempDirTest;

TEST_F(PrepareDuplicates, RefusedOrDroppedAsDataDuplicatesSays) {
  Dataset train;
  const std::int64_t n = 40;
  train.images = at::randint(0, 256, {n, 3, 32, 32}, at::kByte);
  train.labels = at::arange(n, at::kLong).remainder(2);
  train.class_names = {"a", "b"};
  Dataset test;
  test.images = at::randint(0, 256, {6, 3, 32, 32}, at::kByte);
  test.labels = at::arange(6, at::kLong).remainder(2);
  test.class_names = train.class_names;
  const fs::path clean = dir_ / "clean";
  write_cifar10_folder(clean, DatasetPair{train, test});
  const PreparedData ok = prepare_data(cifar_config(clean));
  EXPECT_EQ(ok.duplicates["found"], 0);
  EXPECT_EQ(ok.duplicates["policy"], "refuse");
  EXPECT_EQ(ok.duplicates["images"], 6 + static_cast<std::int64_t>(ok.split.lt_indices.size()));
  EXPECT_EQ(ok.duplicates["sets"], nlohmann::json({"test", "labeled", "unlabeled"}));

  for (int copies : {1, 3, 6}) {
    Dataset leaked = train;
    leaked.images = train.images.clone();
    for (int k = 0; k < copies; ++k) leaked.images[k * 6].copy_(test.images[k]);
    const fs::path root = dir_ / ("leak" + std::to_string(copies));
    write_cifar10_folder(root, DatasetPair{leaked, test});
    DataConfig data = cifar_config(root);
    data.protocol = SplitProtocol::kAsIs;
    expect_data_error([&] { prepare_data(data); },
                      {std::to_string(copies) + " image(s) repeat an image of another set",
                       "test and labeled: " + std::to_string(copies) + " image(s) in both",
                       "test index 0 = train index 0", "data.duplicates: drop"});
    data.duplicates = DuplicatePolicy::kDrop;
    const PreparedData dropped = prepare_data(data);
    EXPECT_EQ(dropped.split.labeled.size(), static_cast<std::size_t>(n - copies));
    EXPECT_EQ(dropped.duplicates["dropped"]["labeled"], copies);
    EXPECT_EQ(dropped.duplicates["dropped_images"]["labeled"][0], "train index 0");
    EXPECT_EQ(split_manifest(data, dropped)["duplicates"]["found"], copies);
  }
}

}  // namespace
}  // namespace crest
