#include "crest/data/folder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

#include "crest/data/images.h"
#include "crest/io/file.h"
#include "crest/util/error.h"
#include "png_encode.h"
#include "test_util.h"

// The test binary does not get OpenCV's include folder (crest_core links it privately), so the
// images are encoded here: PNG with uncompressed deflate blocks, and binary PPM/PGM. Both are
// lossless, so decoded pixels must match exactly.

namespace crest {
namespace {

namespace fs = std::filesystem;

// An 8-bit image in memory, interleaved rows (RGB or grey), as it is stored in a file.
struct Pixels {
  int width = 0;
  int height = 0;
  int channels = 3;
  std::vector<std::uint8_t> data;  // height * width * channels

  std::uint8_t at(int y, int x, int c) const {
    return data[static_cast<std::size_t>((y * width + x) * channels + c)];
  }
};

// Every pixel and channel distinct (mod 256), so any mix-up of order shows.
Pixels pattern(int size, int channels, int seed) {
  Pixels p{size, size, channels, {}};
  for (int i = 0; i < size * size * channels; ++i) {
    p.data.push_back(static_cast<std::uint8_t>((i * 37 + seed * 11 + i / 3) % 256));
  }
  return p;
}

std::string encode_png(const Pixels& p) {
  return test_png::encode_png(p.width, p.height, p.channels == 1 ? 0 : 2, p.channels, p.data);
}

// Binary PPM (RGB) or PGM (grey).
std::string encode_pnm(const Pixels& p) {
  std::string out = (p.channels == 1 ? "P5\n" : "P6\n") + std::to_string(p.width) + " " +
                    std::to_string(p.height) + "\n255\n";
  out.append(p.data.begin(), p.data.end());
  return out;
}

void write_png(const fs::path& file, const Pixels& p) { write_file_atomic(file, encode_png(p)); }

// Checks image `index` of `images` (uint8 [N, 3, H, W], RGB) against `expected`; grey
// images must appear in all three channels.
void expect_image(const at::Tensor& images, std::int64_t index, const Pixels& expected) {
  const at::Tensor image = images[index].contiguous();
  ASSERT_EQ(image.size(1), expected.height);
  ASSERT_EQ(image.size(2), expected.width);
  const auto* data = image.data_ptr<std::uint8_t>();
  const std::int64_t plane = expected.height * expected.width;
  int mismatches = 0;
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < expected.height; ++y) {
      for (int x = 0; x < expected.width; ++x) {
        const int want = expected.at(y, x, expected.channels == 1 ? 0 : c);
        const int got = data[c * plane + y * expected.width + x];
        if (want != got && ++mismatches <= 5) {
          ADD_FAILURE() << "image " << index << " channel " << c << " at (" << y << ", " << x
                        << "): expected " << want << ", got " << got;
        }
      }
    }
  }
}

class FolderTest : public TempDirTest {
 protected:
  // train/ and test/ with one 4x4 PNG per class.
  void write_minimal(const std::vector<std::string>& classes) {
    int seed = 0;
    for (const char* split : {"train", "test"}) {
      for (const auto& name : classes) {
        write_png(dir_ / split / name / "a.png", pattern(4, 3, seed++));
      }
    }
  }
};

// Options for `size` pixels that refuse other sizes (the reader's behaviour these tests pin).
FolderOptions sized(int size) {
  FolderOptions options;
  options.image_size = size;
  options.resize = ResizeMode::kError;
  return options;
}

#define SKIP_WITHOUT_OPENCV()                                                \
  if (!folder_datasets_available()) {                                        \
    GTEST_SKIP() << "built without OpenCV: image folders cannot be decoded"; \
  }

TEST_F(FolderTest, AvailabilityMatchesBuild) {
#ifdef CREST_WITH_OPENCV
  EXPECT_TRUE(folder_datasets_available());
#else
  EXPECT_FALSE(folder_datasets_available());
#endif
}

TEST_F(FolderTest, WithoutOpenCvSaysSo) {
  if (folder_datasets_available()) GTEST_SKIP() << "this build has OpenCV";
  write_minimal({"cat", "dog"});
  expect_data_error(
      [&] { read_image_folder(dir_, sized(4)); },
      {"built without OpenCV", "CREST_WITH_OPENCV=OFF", "libopencv-dev", "CIFAR binary layout"});
}

TEST_F(FolderTest, PngRoundTripKeepsRgbOrder) {
  SKIP_WITHOUT_OPENCV();
  const Pixels train0 = pattern(5, 3, 1);
  const Pixels train1 = pattern(5, 3, 2);
  const Pixels test0 = pattern(5, 3, 3);
  write_png(dir_ / "train" / "only" / "0.png", train0);
  write_png(dir_ / "train" / "only" / "1.png", train1);
  write_png(dir_ / "test" / "only" / "0.png", test0);
  const DatasetPair data = read_image_folder(dir_, sized(5));
  ASSERT_EQ(data.train.images.sizes().vec(), (std::vector<std::int64_t>{2, 3, 5, 5}));
  EXPECT_EQ(data.train.images.scalar_type(), at::kByte);
  EXPECT_EQ(data.train.labels.scalar_type(), at::kLong);
  EXPECT_EQ(data.train.class_names, std::vector<std::string>{"only"});
  expect_image(data.train.images, 0, train0);
  expect_image(data.train.images, 1, train1);
  expect_image(data.test.images, 0, test0);

  // A pure red pixel must land in channel 0.
  Pixels red{1, 1, 3, {255, 0, 0}};
  Pixels blue{1, 1, 3, {0, 0, 255}};
  write_png(dir_ / "train" / "only" / "0.png", red);
  write_png(dir_ / "train" / "only" / "1.png", blue);
  write_png(dir_ / "test" / "only" / "0.png", red);
  const DatasetPair tiny = read_image_folder(dir_, sized(1));
  EXPECT_EQ(tiny.train.images.flatten().to(at::kLong).sum().item<std::int64_t>(), 510);
  EXPECT_EQ(tiny.train.images[0][0][0][0].item<std::int64_t>(), 255);  // red in R
  EXPECT_EQ(tiny.train.images[1][2][0][0].item<std::int64_t>(), 255);  // blue in B
}

TEST_F(FolderTest, PpmAndUpperCaseExtension) {
  SKIP_WITHOUT_OPENCV();
  const Pixels colour = pattern(6, 3, 4);
  write_file_atomic(dir_ / "train" / "x" / "a.PPM", encode_pnm(colour));
  write_file_atomic(dir_ / "test" / "x" / "a.Png", encode_png(colour));
  const DatasetPair data = read_image_folder(dir_, sized(6));
  expect_image(data.train.images, 0, colour);
  expect_image(data.test.images, 0, colour);
}

TEST_F(FolderTest, SortedClassesAndFilesHiddenSkipped) {
  SKIP_WITHOUT_OPENCV();
  // Created out of order; std::sort puts upper case first.
  const std::vector<std::string> classes = {"zebra", "apple", "Mango"};
  std::vector<Pixels> images;
  for (int i = 0; i < 6; ++i) images.push_back(pattern(4, 3, 10 + i));
  for (const char* split : {"train", "test"}) {
    write_png(dir_ / split / "zebra" / "b.png", images[0]);
    write_png(dir_ / split / "zebra" / "a.png", images[1]);
    write_png(dir_ / split / "apple" / "img10.png", images[2]);
    write_png(dir_ / split / "apple" / "img02.png", images[3]);
    write_png(dir_ / split / "Mango" / "only.png", images[4]);
    write_file_atomic(dir_ / split / "apple" / ".DS_Store", "not an image");
    write_file_atomic(dir_ / split / ".cache" / "junk.txt", "not a class");
  }
  const DatasetPair data = read_image_folder(dir_, sized(4));
  const std::vector<std::string> expected_names = {"Mango", "apple", "zebra"};
  EXPECT_EQ(data.train.class_names, expected_names);
  EXPECT_EQ(data.test.class_names, expected_names);
  ASSERT_EQ(data.train.size(), 5);
  EXPECT_TRUE(data.train.labels.equal(at::tensor({0, 1, 1, 2, 2}, at::kLong)));
  expect_image(data.train.images, 0, images[4]);  // Mango/only.png
  expect_image(data.train.images, 1, images[3]);  // apple/img02.png
  expect_image(data.train.images, 2, images[2]);  // apple/img10.png
  expect_image(data.train.images, 3, images[1]);  // zebra/a.png
  expect_image(data.train.images, 4, images[0]);  // zebra/b.png
  EXPECT_TRUE(data.test.labels.equal(data.train.labels));
}

// unlabeled/ at any depth follows the labeled images with kUnknownLabel, sorted by path,
// hidden entries skipped; val/ and test/ may hold a subset of the classes; files are named
// relative to the root.
TEST_F(FolderTest, UnlabeledValAndFileNames) {
  SKIP_WITHOUT_OPENCV();
  std::vector<Pixels> images;
  for (int i = 0; i < 8; ++i) images.push_back(pattern(4, 3, 20 + i));
  write_png(dir_ / "train" / "a" / "1.png", images[0]);
  write_png(dir_ / "train" / "b" / "1.png", images[1]);
  write_png(dir_ / "test" / "b" / "1.png", images[2]);
  write_png(dir_ / "val" / "b" / "x.png", images[3]);
  write_png(dir_ / "unlabeled" / "z.png", images[4]);
  write_png(dir_ / "unlabeled" / "deep" / "er" / "y.png", images[5]);
  write_png(dir_ / "unlabeled" / "deep" / "a.png", images[6]);
  write_png(dir_ / "unlabeled" / ".hidden" / "skip.png", images[7]);
  write_file_atomic(dir_ / "unlabeled" / ".DS_Store", "x");
  const DatasetPair data = read_image_folder(dir_, sized(4));
  ASSERT_EQ(data.train.size(), 5);
  EXPECT_TRUE(data.train.labels.equal(at::tensor({0, 1, -1, -1, -1}, at::kLong)));
  EXPECT_EQ(data.train.unknown_count(), 3);
  const std::vector<std::string> files = {"train/a/1.png", "train/b/1.png", "unlabeled/deep/a.png",
                                          "unlabeled/deep/er/y.png", "unlabeled/z.png"};
  EXPECT_EQ(data.train.files, files);
  expect_image(data.train.images, 2, images[6]);
  expect_image(data.train.images, 4, images[4]);
  EXPECT_TRUE(data.test.labels.equal(at::tensor({1}, at::kLong)));
  ASSERT_EQ(data.val.size(), 1);
  EXPECT_TRUE(data.val.labels.equal(at::tensor({1}, at::kLong)));
  EXPECT_EQ(data.val.files, std::vector<std::string>{"val/b/x.png"});
  expect_image(data.val.images, 0, images[3]);

  fs::remove_all(dir_ / "unlabeled");
  fs::create_directories(dir_ / "unlabeled" / "empty");
  expect_data_error([&] { read_image_folder(dir_, sized(4)); },
                    {(dir_ / "unlabeled").string(), "holds no images"});
  write_file_atomic(dir_ / "unlabeled" / "notes.txt", "x");
  expect_data_error([&] { read_image_folder(dir_, sized(4)); },
                    {(dir_ / "unlabeled" / "notes.txt").string(), "not an image"});
  fs::remove_all(dir_ / "unlabeled");
  write_png(dir_ / "val" / "c" / "x.png", images[3]);
  expect_data_error([&] { read_image_folder(dir_, sized(4)); },
                    {(dir_ / "val" / "c").string(), "no counterpart"});
}

TEST_F(FolderTest, GreyExpandedToRgb) {
  SKIP_WITHOUT_OPENCV();
  const Pixels grey_png = pattern(4, 1, 5);
  const Pixels grey_pgm = pattern(4, 1, 6);
  write_png(dir_ / "train" / "g" / "a.png", grey_png);
  write_file_atomic(dir_ / "train" / "g" / "b.pgm", encode_pnm(grey_pgm));
  write_png(dir_ / "test" / "g" / "a.png", pattern(4, 3, 7));
  const DatasetPair data = read_image_folder(dir_, sized(4));
  ASSERT_EQ(data.train.images.size(1), 3);
  expect_image(data.train.images, 0, grey_png);
  expect_image(data.train.images, 1, grey_pgm);
}

TEST_F(FolderTest, MissingRootAndSplits) {
  SKIP_WITHOUT_OPENCV();
  const fs::path missing = dir_ / "nowhere";
  expect_data_error([&] { read_image_folder(missing, sized(32)); },
                    {missing.string(), "does not exist", "ROOT/train/<class>/<image>"});
  fs::create_directories(dir_ / "train" / "a");
  write_png(dir_ / "train" / "a" / "x.png", pattern(32, 3, 0));
  expect_data_error([&] { read_image_folder(dir_, sized(32)); },
                    {(dir_ / "test").string(), "does not exist", "ROOT/test/<class>/<image>"});
  fs::create_directories(dir_ / "test");
  expect_data_error([&] { read_image_folder(dir_, sized(32)); },
                    {(dir_ / "test").string(), "no class folders"});
}

TEST_F(FolderTest, EmptyClassFolder) {
  SKIP_WITHOUT_OPENCV();
  write_minimal({"cat", "dog"});
  fs::remove(dir_ / "test" / "dog" / "a.png");
  write_file_atomic(dir_ / "test" / "dog" / ".hidden.png", "hidden files do not count");
  expect_data_error([&] { read_image_folder(dir_, sized(4)); },
                    {(dir_ / "test" / "dog").string(), "holds no images"});
}

TEST_F(FolderTest, UndecodableFile) {
  SKIP_WITHOUT_OPENCV();
  write_minimal({"cat", "dog"});
  const fs::path bad = dir_ / "train" / "dog" / "broken.png";
  write_file_atomic(bad, "this is not a PNG at all");
  expect_data_error([&] { read_image_folder(dir_, sized(4)); }, {bad.string(), "cannot decode"});
  write_file_atomic(bad, "");
  expect_data_error([&] { read_image_folder(dir_, sized(4)); }, {bad.string(), "empty"});
}

// A 16x16 colour JPEG (543 bytes; CPython's Lib/test/imghdrdata/python.jpg), as hex.
std::string small_jpeg() {
  const std::string hex =
      "ffd8ffe000104a46494600010101000100010000ffdb004300030202020202030202020303030304060404040404"
      "080606050609080a0a090809090a0c0f0c0a0b0e0b09090d110d0e0f101011100a0c12131210130f101010ffdb00"
      "430103030304030408040408100b090b101010101010101010101010101010101010101010101010101010101010"
      "1010101010101010101010101010101010101010ffc00011080010001003012200021101031101ffc40016000101"
      "0100000000000000000000000000070405ffc4002410000104010402020300000000000000000102030406050708"
      "121311220014093132ffc4001501010100000000000000000000000000000006ffc4002311000102050305000000"
      "00000000000000010211030405062100123115166181e1ffda000c03010002110311003f0014a6d26a1b73c1e613"
      "12d4951cf31163e42565beba5aec694540b1e520b254a51fd2cab8faf220ab963d976c9335e69b77d7e66da71781"
      "a5571c7f1cea71e24b39d7e32253f21a69ded4714a38b482e84b892a71691ecd2d213bf1efb91a74aceea15a758e"
      "d548ac655b858b81857b21299867a96b94b949654fb9c88529114b812af07ad9f23c807e55be0df662a140cce8e6"
      "9a3d5cb743b3d77a6558b1d9512188bf64b8d3f1c3680429c0d0febb3c02e03c5407b4bdd97b54e627fb6edf9460"
      "148262138db8529828370589727960e432896fc3828ea7528cea208dbe78191f07ad7fffd9";
  std::string bytes;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return bytes;
}

// OpenCV decodes a truncated JPEG or PNG with only a warning (the missing rows filled in), so
// crest checks that the file is complete first, and names it.
TEST_F(FolderTest, TruncatedImagesAreRefused) {
  SKIP_WITHOUT_OPENCV();
  const std::string jpeg = small_jpeg();
  ASSERT_EQ(jpeg.size(), 543u);
  for (const char* split : {"train", "test"}) {
    write_file_atomic(dir_ / split / "cat" / "a.jpg", jpeg);
    write_file_atomic(dir_ / split / "dog" / "a.jpg", jpeg + std::string(3, '\0'));  // padded
  }
  const DatasetPair read = read_image_folder(dir_, sized(16));  // complete files are read
  EXPECT_EQ(read.train.size(), 2);

  const fs::path cut_jpeg = dir_ / "train" / "cat" / "b.jpg";
  write_file_atomic(cut_jpeg, jpeg.substr(0, 400));
  expect_data_error([&] { read_image_folder(dir_, sized(16)); },
                    {cut_jpeg.string(), "truncated", "FFD9"});
  fs::remove(cut_jpeg);

  const fs::path cut_png = dir_ / "test" / "dog" / "b.png";
  const std::string png = encode_png(pattern(16, 3, 3));
  write_file_atomic(cut_png, png);
  EXPECT_EQ(read_image_folder(dir_, sized(16)).test.size(), 3);
  write_file_atomic(cut_png, png.substr(0, png.size() - 12));  // without its IEND chunk
  expect_data_error([&] { read_image_folder(dir_, sized(16)); },
                    {cut_png.string(), "truncated", "IEND"});
  write_file_atomic(cut_png, png.substr(0, png.size() / 2));
  expect_data_error([&] { read_image_folder(dir_, sized(16)); }, {cut_png.string(), "truncated"});
}

TEST_F(FolderTest, WrongImageSize) {
  SKIP_WITHOUT_OPENCV();
  write_minimal({"cat", "dog"});
  const fs::path big = dir_ / "test" / "cat" / "big.png";
  write_png(big, Pixels{8, 6, 3, std::vector<std::uint8_t>(8 * 6 * 3, 9)});
  expect_data_error([&] { read_image_folder(dir_, sized(4)); },
                    {big.string(), "8x6", "expected 4x4", "resize"});
  // The default size is 32, which the 4x4 images do not have either.
  fs::remove(big);
  expect_data_error([&] { read_image_folder(dir_, sized(32)); },
                    {"a.png", "4x4", "expected 32x32"});
}

TEST_F(FolderTest, NonImageExtension) {
  SKIP_WITHOUT_OPENCV();
  write_minimal({"cat", "dog"});
  const fs::path notes = dir_ / "train" / "cat" / "notes.txt";
  write_file_atomic(notes, "labels were checked by hand");
  expect_data_error([&] { read_image_folder(dir_, sized(4)); }, {notes.string(), "not an image"});
}

TEST_F(FolderTest, MismatchedTrainAndTestClasses) {
  SKIP_WITHOUT_OPENCV();
  write_minimal({"cat", "dog"});
  write_png(dir_ / "train" / "bird" / "a.png", pattern(4, 3, 1));
  write_png(dir_ / "test" / "fish" / "a.png", pattern(4, 3, 2));
  // A test class that train lacks cannot be predicted: refused by path. (A train class without
  // test images is refused when the split is checked: prepare_test.)
  expect_data_error([&] { read_image_folder(dir_, sized(4)); },
                    {(dir_ / "test" / "fish").string(), "no counterpart", "cat, dog"});
}

TEST_F(FolderTest, FindFilesSortsImagesFromOthersAndEntersALinkLoopOnce) {
  write_png(dir_ / "b.png", pattern(4, 3, 1));
  write_png(dir_ / "deep" / "er" / "a.png", pattern(4, 3, 2));
  write_file_atomic(dir_ / "readme.txt", "notes");
  write_file_atomic(dir_ / ".DS_Store", "x");
  write_file_atomic(dir_ / ".hidden" / "c.png", "x");
  fs::create_directories(dir_ / "x.png");  // a folder, whatever its name
  fs::create_directory_symlink("..", dir_ / "deep" / "loop");
  fs::create_directory_symlink(dir_ / "deep" / "er", dir_ / "other");  // not a loop: listed
  const FolderFiles found = find_files_recursive(dir_, "image folder");
  const std::vector<fs::path> images = {dir_ / "b.png", dir_ / "deep" / "er" / "a.png",
                                        dir_ / "other" / "a.png"};
  EXPECT_EQ(found.images, images);
  EXPECT_EQ(found.others, std::vector<fs::path>{dir_ / "readme.txt"});
  expect_data_error([&] { find_files_recursive(dir_ / "missing", "image folder"); },
                    {(dir_ / "missing").string(), "does not exist"});
  expect_data_error([&] { list_images_recursive(dir_, "unlabeled folder"); },
                    {(dir_ / "readme.txt").string(), "not an image"});
}

TEST_F(FolderTest, DecodeSkippingLeavesOutFilesThatDoNotDecode) {
  SKIP_WITHOUT_OPENCV();
  std::vector<fs::path> files;
  for (int i = 0; i < 40; ++i) {
    files.push_back(dir_ / ("img" + std::to_string(100 + i) + ".png"));
    write_png(files.back(), pattern(4, 3, i));
  }
  write_file_atomic(files[3], "broken");
  write_file_atomic(files[4], "");
  write_file_atomic(files[39], "\x89PNG");
  DecodeOptions options;
  options.image_size = 4;
  options.resize = ResizeMode::kError;
  for (const int threads : {1, 3}) {
    options.threads = threads;
    const DecodedFiles decoded = decode_images_skipping(files, options);
    EXPECT_EQ(decoded.failed, (std::vector<fs::path>{files[3], files[4], files[39]}));
    ASSERT_EQ(decoded.files.size(), 37u);
    ASSERT_EQ(decoded.images.size(0), 37);
    EXPECT_EQ(decoded.files[3], files[5]);
    expect_image(decoded.images, 0, pattern(4, 3, 0));
    expect_image(decoded.images, 3, pattern(4, 3, 5));
    expect_image(decoded.images, 36, pattern(4, 3, 38));
  }
  // Another size under resize: error is not a damaged file, but it does not decode either.
  write_png(files[0], pattern(5, 3, 0));
  EXPECT_EQ(decode_images_skipping(files, options).failed.front(), files[0]);
  options.threads = -1;
  EXPECT_THROW(decode_images_skipping(files, options), InputError);
}

}  // namespace
}  // namespace crest
