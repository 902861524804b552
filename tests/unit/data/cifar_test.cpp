#include "crest/data/cifar.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

#include "crest/io/file.h"
#include "crest/util/error.h"
#include "test_util.h"

namespace crest {
namespace {

namespace fs = std::filesystem;

// A deterministic dataset with `count` 3x32x32 images whose pixels differ per image.
Dataset make_dataset(std::int64_t count, int num_classes, std::int64_t seed = 0) {
  const auto int64 = at::TensorOptions().dtype(at::kLong);
  const at::Tensor index = at::arange(count * kCifarImageBytes, int64);
  Dataset dataset;
  dataset.images = (index * 7 + (index * index).remainder(251) + seed)
                       .remainder(256)
                       .to(at::kByte)
                       .view({count, 3, 32, 32});
  dataset.labels = (at::arange(count, int64) * 7 + seed).remainder(num_classes);
  for (int c = 0; c < num_classes; ++c) dataset.class_names.push_back("name_" + std::to_string(c));
  return dataset;
}

void expect_same(const Dataset& actual, const Dataset& expected) {
  ASSERT_EQ(actual.images.sizes(), expected.images.sizes());
  EXPECT_EQ(actual.images.scalar_type(), at::kByte);
  EXPECT_EQ(actual.labels.scalar_type(), at::kLong);
  EXPECT_TRUE(actual.images.is_contiguous());
  EXPECT_TRUE(actual.images.equal(expected.images));
  EXPECT_TRUE(actual.labels.equal(expected.labels));
}

std::uint64_t size_of(const fs::path& file) { return fs::file_size(file); }

class CifarTest : public TempDirTest {
 protected:
  // A CIFAR-10 folder with 23 training images (not a multiple of 5) and 7 test images.
  DatasetPair write_cifar10_sample(const fs::path& root) {
    DatasetPair data{make_dataset(23, 10, 1), make_dataset(7, 10, 2)};
    write_cifar10_folder(root, data);
    return data;
  }
};

TEST_F(CifarTest, Cifar10FolderRoundTrip) {
  const fs::path root = dir_ / "cifar10";
  const DatasetPair data = write_cifar10_sample(root);
  // 23 records spread in order: 5, 5, 5, 4, 4.
  const std::vector<std::uint64_t> counts = {5, 5, 5, 4, 4};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(size_of(root / ("data_batch_" + std::to_string(i + 1) + ".bin")),
              counts[static_cast<std::size_t>(i)] * 3073);
  }
  EXPECT_EQ(size_of(root / "test_batch.bin"), 7u * 3073);

  const DatasetPair read = read_cifar10(root);
  expect_same(read.train, data.train);
  expect_same(read.test, data.test);
  EXPECT_EQ(read.train.class_names, data.train.class_names);
  EXPECT_EQ(read.test.class_names, data.train.class_names);
}

TEST_F(CifarTest, Cifar10FileRoundTripKeepsRecordLayout) {
  const Dataset data = make_dataset(4, 10, 3);
  const fs::path file = dir_ / "one.bin";
  write_cifar10_file(file, data);
  // Record 2: label byte, then the CHW pixels unchanged (first red byte of the image).
  const std::string bytes = read_file(file);
  ASSERT_EQ(bytes.size(), 4u * 3073);
  EXPECT_EQ(static_cast<std::uint8_t>(bytes[2 * 3073]), data.labels[2].item<std::int64_t>());
  EXPECT_EQ(static_cast<std::uint8_t>(bytes[2 * 3073 + 1 + 1024 + 5]),
            data.images[2][1][0][5].item<std::int64_t>());

  const Dataset read = read_cifar10_file(file);
  expect_same(read, data);
  EXPECT_EQ(read.class_names, cifar10_class_names());
}

TEST_F(CifarTest, Cifar10FileWithFewerClasses) {
  const Dataset data = make_dataset(6, 3);
  write_cifar10_file(dir_ / "three.bin", data);
  const Dataset read = read_cifar10_file(dir_ / "three.bin", 3);
  expect_same(read, data);
  EXPECT_EQ(read.num_classes(), 3);
  expect_data_error([&] { read_cifar10_file(dir_ / "three.bin", 2); },
                    {"three.bin", "record 2", "label 2"});
}

TEST_F(CifarTest, Cifar10DefaultNamesWithoutMetaFile) {
  const fs::path root = dir_ / "cifar10";
  write_cifar10_sample(root);
  fs::remove(root / "batches.meta.txt");
  EXPECT_EQ(read_cifar10(root).train.class_names, cifar10_class_names());
}

TEST_F(CifarTest, Cifar10NamesFromMetaFile) {
  const fs::path root = dir_ / "cifar10";
  write_cifar10_sample(root);
  // As in the official archive: trailing blank lines; also Windows line ends.
  std::string meta;
  std::vector<std::string> names;
  for (int c = 0; c < 10; ++c) {
    names.push_back("kind" + std::to_string(c));
    meta += names.back() + "\r\n";
  }
  write_file_atomic(root / "batches.meta.txt", meta + "\n\n");
  const DatasetPair read = read_cifar10(root);
  EXPECT_EQ(read.train.class_names, names);
  EXPECT_EQ(read.test.class_names, names);
}

TEST_F(CifarTest, Cifar10WrongNameCountInMetaFile) {
  const fs::path root = dir_ / "cifar10";
  write_cifar10_sample(root);
  write_file_atomic(root / "batches.meta.txt", "only\n");
  expect_data_error([&] { read_cifar10(root); }, {"batches.meta.txt", "1", "expected 2 to 256"});
  // Nine names but labels up to 9: the label that does not fit is named.
  write_file_atomic(root / "batches.meta.txt", "a\nb\nc\nd\ne\nf\ng\nh\ni\n");
  expect_data_error([&] { read_cifar10(root); }, {"data_batch_", "label 9"});
}

TEST_F(CifarTest, Cifar10LayoutWithOtherClassCountRoundTrips) {
  // `crest data synth --classes 5` writes such folders; the meta file gives the class count.
  const fs::path root = dir_ / "five";
  const DatasetPair data{make_dataset(12, 5, 3), make_dataset(6, 5, 4)};
  write_cifar10_folder(root, data);
  const DatasetPair read = read_cifar10(root);
  EXPECT_EQ(read.train.num_classes(), 5);
  EXPECT_TRUE(read.train.images.equal(data.train.images));
  EXPECT_TRUE(read.test.labels.equal(data.test.labels));
}

TEST_F(CifarTest, Cifar10MissingFolderPointsToDownloadScript) {
  const fs::path root = dir_ / "nowhere";
  expect_data_error(
      [&] { read_cifar10(root); },
      {root.string(), "does not exist", "scripts/download_cifar.sh cifar10 DIR", "data.root"});
}

TEST_F(CifarTest, Cifar10MissingFile) {
  const fs::path root = dir_ / "cifar10";
  write_cifar10_sample(root);
  fs::remove(root / "data_batch_3.bin");
  expect_data_error([&] { read_cifar10(root); },
                    {(root / "data_batch_3.bin").string(), "download_cifar.sh cifar10"});
}

TEST_F(CifarTest, Cifar10TruncatedFile) {
  const fs::path root = dir_ / "cifar10";
  write_cifar10_sample(root);
  const fs::path file = root / "data_batch_2.bin";
  fs::resize_file(file, 5 * 3073 - 100);
  expect_data_error([&] { read_cifar10(root); }, {file.string(), std::to_string(5 * 3073 - 100),
                                                  "3073", "truncated", "CIFAR-10 binary layout"});
}

TEST_F(CifarTest, Cifar10LabelOutOfRangeNamesRecord) {
  const fs::path file = dir_ / "bad.bin";
  write_cifar10_file(file, make_dataset(5, 10));
  std::string bytes = read_file(file);
  bytes[3 * 3073] = static_cast<char>(12);
  write_file_atomic(file, bytes);
  expect_data_error([&] { read_cifar10_file(file); }, {file.string(), "record 3", "label 12"});
}

TEST_F(CifarTest, Cifar100RoundTrip) {
  const fs::path root = dir_ / "cifar100";
  Dataset train = make_dataset(12, 100, 5);
  train.labels[0] = 99;  // the largest fine label must survive
  const Dataset test = make_dataset(5, 100, 6);
  write_cifar100_file(root / "train.bin", train);
  write_cifar100_file(root / "test.bin", test);

  // Record layout: coarse (fine / 5), fine, pixels.
  const std::string bytes = read_file(root / "train.bin");
  ASSERT_EQ(bytes.size(), 12u * 3074);
  EXPECT_EQ(static_cast<std::uint8_t>(bytes[0]), 99 / 5);
  EXPECT_EQ(static_cast<std::uint8_t>(bytes[1]), 99);
  EXPECT_EQ(static_cast<std::uint8_t>(bytes[2]), train.images[0][0][0][0].item<std::int64_t>());

  DatasetPair read = read_cifar100(root);
  expect_same(read.train, train);
  expect_same(read.test, test);
  EXPECT_EQ(read.train.class_names, cifar100_class_names());

  std::vector<std::string> names;
  std::string text;
  for (int c = 0; c < 100; ++c) {
    names.push_back("fine" + std::to_string(c));
    text += names.back() + "\n";
  }
  write_file_atomic(root / "fine_label_names.txt", text);
  read = read_cifar100(root);
  EXPECT_EQ(read.train.class_names, names);
  EXPECT_EQ(read.test.class_names, names);

  expect_same(read_cifar100_file(root / "test.bin"), test);
}

TEST_F(CifarTest, Cifar100WrongNameCount) {
  const fs::path root = dir_ / "cifar100";
  write_cifar100_file(root / "train.bin", make_dataset(2, 100));
  write_cifar100_file(root / "test.bin", make_dataset(2, 100));
  write_file_atomic(root / "fine_label_names.txt", "apple\npear\n");
  expect_data_error([&] { read_cifar100(root); }, {"fine_label_names.txt", "2", "expected 100"});
}

TEST_F(CifarTest, Cifar100MissingFolderAndFile) {
  const fs::path root = dir_ / "cifar100";
  expect_data_error([&] { read_cifar100(root); },
                    {root.string(), "scripts/download_cifar.sh cifar100 DIR", "data.root"});
  write_cifar100_file(root / "train.bin", make_dataset(2, 100));
  expect_data_error([&] { read_cifar100(root); },
                    {(root / "test.bin").string(), "download_cifar.sh cifar100"});
}

TEST_F(CifarTest, Cifar100TruncatedFile) {
  const fs::path file = dir_ / "train.bin";
  write_cifar100_file(file, make_dataset(3, 100));
  fs::resize_file(file, 3 * 3074 + 1);
  expect_data_error([&] { read_cifar100_file(file); },
                    {file.string(), std::to_string(3 * 3074 + 1), "3074", "truncated",
                     "CIFAR-100 binary layout"});
}

TEST_F(CifarTest, Cifar100FineLabelOutOfRange) {
  const fs::path file = dir_ / "train.bin";
  write_cifar100_file(file, make_dataset(3, 100));
  std::string bytes = read_file(file);
  bytes[1 * 3074 + 1] = static_cast<char>(100);
  write_file_atomic(file, bytes);
  expect_data_error([&] { read_cifar100_file(file); },
                    {file.string(), "record 1", "fine label 100"});
}

TEST_F(CifarTest, CifarFileLayoutMismatchIsCaught) {
  // Only multiples of 3073 * 3074 bytes fit both layouts; four CIFAR-10 records do not.
  const fs::path file = dir_ / "data.bin";
  write_cifar10_file(file, make_dataset(4, 10));
  expect_data_error([&] { read_cifar100_file(file); }, {file.string(), "3074"});
}

// A 0-byte file is an unfinished download or copy, never a dataset with no images.
TEST_F(CifarTest, EmptyFileIsRefused) {
  const fs::path file = dir_ / "empty.bin";
  write_file_atomic(file, "");
  expect_data_error([&] { read_cifar10_file(file); },
                    {file.string(), "empty (0 bytes)", "download_cifar.sh cifar10"});
  expect_data_error([&] { read_cifar100_file(file); },
                    {file.string(), "empty (0 bytes)", "download_cifar.sh cifar100"});
  const fs::path root = dir_ / "c10";
  write_cifar10_folder(root, DatasetPair{make_dataset(10, 10), make_dataset(10, 10)});
  write_file_atomic(root / "test_batch.bin", "");
  expect_data_error([&] { read_cifar10(root); },
                    {(root / "test_batch.bin").string(), "empty (0 bytes)"});
}

// ---- the built-in tables, pinned to their official sources --------------------------------------

// CIFAR-10: batches.meta.txt of the official binary version, in label order.
TEST(CifarTables, Cifar10ClassNamesAreTheOfficialOnes) {
  const std::vector<std::string> official = {"airplane", "automobile", "bird",  "cat",  "deer",
                                             "dog",      "frog",       "horse", "ship", "truck"};
  EXPECT_EQ(official.size(), 10u);
  EXPECT_EQ(cifar10_class_names(), official);
}

// CIFAR-100: fine_label_names of the official meta file, in label order (100 names; the table
// once lacked "trout", so valid data was refused with "label 99 is out of range for 99 classes").
TEST(CifarTables, Cifar100ClassNamesAreTheOfficialOnes) {
  const std::vector<std::string> official = {
      "apple",       "aquarium_fish", "baby",      "bear",       "beaver",       "bed",
      "bee",         "beetle",        "bicycle",   "bottle",     "bowl",         "boy",
      "bridge",      "bus",           "butterfly", "camel",      "can",          "castle",
      "caterpillar", "cattle",        "chair",     "chimpanzee", "clock",        "cloud",
      "cockroach",   "couch",         "crab",      "crocodile",  "cup",          "dinosaur",
      "dolphin",     "elephant",      "flatfish",  "forest",     "fox",          "girl",
      "hamster",     "house",         "kangaroo",  "keyboard",   "lamp",         "lawn_mower",
      "leopard",     "lion",          "lizard",    "lobster",    "man",          "maple_tree",
      "motorcycle",  "mountain",      "mouse",     "mushroom",   "oak_tree",     "orange",
      "orchid",      "otter",         "palm_tree", "pear",       "pickup_truck", "pine_tree",
      "plain",       "plate",         "poppy",     "porcupine",  "possum",       "rabbit",
      "raccoon",     "ray",           "road",      "rocket",     "rose",         "sea",
      "seal",        "shark",         "shrew",     "skunk",      "skyscraper",   "snail",
      "snake",       "spider",        "squirrel",  "streetcar",  "sunflower",    "sweet_pepper",
      "table",       "tank",          "telephone", "television", "tiger",        "tractor",
      "train",       "trout",         "tulip",     "turtle",     "wardrobe",     "whale",
      "willow_tree", "wolf",          "woman",     "worm"};
  ASSERT_EQ(official.size(), 100u);
  ASSERT_EQ(cifar100_class_names().size(), 100u);
  for (std::size_t c = 0; c < official.size(); ++c) {
    EXPECT_EQ(cifar100_class_names()[c], official[c]) << "fine label " << c;
  }
  // The official list is sorted and has no repeats.
  EXPECT_TRUE(std::is_sorted(official.begin(), official.end()));
  EXPECT_EQ(std::adjacent_find(official.begin(), official.end()), official.end());
}

// https://www.cs.toronto.edu/~kriz/cifar.html: 50,000 training and 10,000 test images each;
// 5,000 / 1,000 per class for CIFAR-10, 500 / 100 for CIFAR-100.
TEST(CifarTables, OfficialCountsAreTheOfficialOnes) {
  const OfficialCounts& c10 = cifar10_official_counts();
  EXPECT_EQ(c10.classes, 10);
  EXPECT_EQ(c10.train_images, 50000);
  EXPECT_EQ(c10.test_images, 10000);
  EXPECT_EQ(c10.train_per_class, 5000);
  EXPECT_EQ(c10.test_per_class, 1000);
  const OfficialCounts& c100 = cifar100_official_counts();
  EXPECT_EQ(c100.classes, 100);
  EXPECT_EQ(c100.train_images, 50000);
  EXPECT_EQ(c100.test_images, 10000);
  EXPECT_EQ(c100.train_per_class, 500);
  EXPECT_EQ(c100.test_per_class, 100);
  for (const OfficialCounts* c : {&c10, &c100}) {
    EXPECT_EQ(c->train_per_class * c->classes, c->train_images);
    EXPECT_EQ(c->test_per_class * c->classes, c->test_images);
  }
  EXPECT_EQ(static_cast<int>(cifar10_class_names().size()), c10.classes);
  EXPECT_EQ(static_cast<int>(cifar100_class_names().size()), c100.classes);
}

// Synthetic files in the official CIFAR-100 record layout (1 coarse byte, 1 fine byte, 3072
// pixel bytes) with every fine label 0..99 are accepted, named by the built-in table.
TEST_F(CifarTest, Cifar100EveryFineLabelIsAccepted) {
  const fs::path root = dir_ / "cifar100";
  fs::create_directories(root);
  for (const char* name : {"train.bin", "test.bin"}) {
    std::string bytes;
    for (int r = 0; r < 200; ++r) {
      const int fine = r % 100;
      bytes += static_cast<char>(fine / 5);
      bytes += static_cast<char>(fine);
      bytes += std::string(kCifarImageBytes, static_cast<char>(r));
    }
    write_file_atomic(root / name, bytes);
  }
  const DatasetPair read = read_cifar100(root);
  ASSERT_EQ(read.train.size(), 200);
  EXPECT_EQ(read.train.num_classes(), 100);
  EXPECT_EQ(read.train.labels.max().item<std::int64_t>(), 99);
  EXPECT_EQ(read.train.class_names.back(), "worm");
  EXPECT_EQ(read.train.class_counts(), std::vector<std::int64_t>(100, 2));
  check_dataset(read.train, "train");
  check_dataset(read.test, "test");
}

TEST_F(CifarTest, WritersRejectBadDatasets) {
  const fs::path file = dir_ / "out.bin";
  Dataset small = make_dataset(2, 10);
  small.images = at::zeros({2, 3, 16, 16}, at::TensorOptions().dtype(at::kByte));
  expect_data_error([&] { write_cifar10_file(file, small); }, {"out.bin", "3x32x32"});

  Dataset floats = make_dataset(2, 10);
  floats.images = floats.images.to(at::kFloat);
  expect_data_error([&] { write_cifar10_file(file, floats); }, {"out.bin", "uint8"});

  Dataset many = make_dataset(3, 200);
  many.labels[1] = 150;
  expect_data_error([&] { write_cifar100_file(file, many); }, {"out.bin", "label 150"});

  DatasetPair one{make_dataset(5, 1), make_dataset(5, 1)};
  expect_data_error([&] { write_cifar10_folder(dir_ / "one", one); }, {"2 to 256 classes"});

  DatasetPair spaced{make_dataset(5, 10), make_dataset(5, 10)};
  spaced.train.class_names[3] = "two\nlines";
  spaced.test.class_names = spaced.train.class_names;
  expect_data_error([&] { write_cifar10_folder(dir_ / "spaced", spaced); },
                    {"batches.meta.txt", "one line"});
  EXPECT_FALSE(fs::exists(file));
}

}  // namespace
}  // namespace crest
