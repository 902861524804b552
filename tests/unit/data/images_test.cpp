// decode_image, decode_images and decode_images_cached (src/data/images.cpp, image_cache.cpp).
// The images are written with OpenCV (the test binary links it when crest does), except the
// PNG kinds OpenCV cannot write (palette, grey + alpha), which are encoded here.
#include "crest/data/images.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "crest/io/file.h"
#include "crest/util/error.h"
#include "crest/util/hash.h"
#include "png_encode.h"
#include "test_util.h"

#ifdef CREST_WITH_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace crest {
namespace {

namespace fs = std::filesystem;

#ifdef CREST_WITH_OPENCV

// A decoded image, [3, S, S] RGB.
std::vector<std::uint8_t> decode(const fs::path& file, int size,
                                 ResizeMode resize = ResizeMode::kError) {
  std::vector<std::uint8_t> out(static_cast<std::size_t>(3 * size * size), 0);
  decode_image(file, size, resize, out.data());
  return out;
}

std::uint8_t at(const std::vector<std::uint8_t>& image, int size, int c, int y, int x) {
  return image[static_cast<std::size_t>((c * size + y) * size + x)];
}

// The expected planar RGB of an 8-bit BGR or grey Mat of `size` x `size`.
std::vector<std::uint8_t> planar_rgb(const cv::Mat& image) {
  const int size = image.rows;
  std::vector<std::uint8_t> out(static_cast<std::size_t>(3 * size * size));
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < size; ++y) {
      for (int x = 0; x < size; ++x) {
        const std::uint8_t v =
            image.channels() == 1 ? image.at<std::uint8_t>(y, x) : image.at<cv::Vec3b>(y, x)[2 - c];
        out[static_cast<std::size_t>((c * size + y) * size + x)] = v;
      }
    }
  }
  return out;
}

// Every pixel and channel distinct-ish, so any mix-up of order shows.
cv::Mat pattern(int width, int height, int type, int seed) {
  cv::Mat image(height, width, type);
  auto* data = image.ptr<std::uint8_t>(0);
  const auto bytes = static_cast<std::size_t>(image.total() * image.elemSize());
  for (std::size_t i = 0; i < bytes; ++i) {
    data[i] = static_cast<std::uint8_t>((i * 37 + static_cast<std::size_t>(seed) * 11 + i / 3));
  }
  return image;
}

void write_image(const fs::path& file, const cv::Mat& image) {
  ASSERT_TRUE(cv::imwrite(file.string(), image)) << file;
}

std::string bytes_of(const at::Tensor& image) {
  const at::Tensor c = image.contiguous();
  return std::string(reinterpret_cast<const char*>(c.data_ptr<std::uint8_t>()),
                     static_cast<std::size_t>(c.nbytes()));
}

// --- PNG kinds OpenCV cannot write: stored (uncompressed) deflate blocks ---------------------

using test_png::encode_png;

// Captures what spdlog logs while it lives.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() const { return stream_.str(); }

 private:
  std::ostringstream stream_;
  std::shared_ptr<spdlog::logger> previous_;
};

#endif  // CREST_WITH_OPENCV

class ImagesTest : public TempDirTest {
 protected:
  void SetUp() override {
    if (!image_decoding_available()) GTEST_SKIP() << "built without OpenCV";
    TempDirTest::SetUp();
  }
};

TEST(ImageExtensions, ListsTheKnownOnes) {
  EXPECT_TRUE(has_image_extension("a/b.PNG"));
  EXPECT_TRUE(has_image_extension("b.jpeg"));
  EXPECT_FALSE(has_image_extension("b.txt"));
  EXPECT_FALSE(has_image_extension("png"));
  EXPECT_NE(image_extension_list().find(".webp"), std::string::npos);
  EXPECT_EQ(image_extensions().front(), ".png");
}

#ifdef CREST_WITH_OPENCV

TEST_F(ImagesTest, ExactSizePassesTheBytesThroughAsRgb) {
  cv::Mat image = pattern(5, 5, CV_8UC3, 1);
  image.at<cv::Vec3b>(0, 0) = cv::Vec3b(10, 20, 30);  // B, G, R
  write_image(dir_ / "a.png", image);
  const auto out = decode(dir_ / "a.png", 5);
  EXPECT_EQ(at(out, 5, 0, 0, 0), 30);
  EXPECT_EQ(at(out, 5, 1, 0, 0), 20);
  EXPECT_EQ(at(out, 5, 2, 0, 0), 10);
  EXPECT_EQ(out, planar_rgb(image));
  // Lossless formats other than PNG read the same.
  write_image(dir_ / "a.bmp", image);
  write_image(dir_ / "a.ppm", image);
  write_image(dir_ / "a.tiff", image);
  EXPECT_EQ(decode(dir_ / "a.bmp", 5), out);
  EXPECT_EQ(decode(dir_ / "a.ppm", 5), out);
  EXPECT_EQ(decode(dir_ / "a.tiff", 5), out);
}

TEST_F(ImagesTest, GreyBecomesThreeEqualChannels) {
  const cv::Mat grey = pattern(4, 4, CV_8UC1, 2);
  write_image(dir_ / "g.png", grey);
  write_image(dir_ / "g.pgm", grey);
  const auto out = decode(dir_ / "g.png", 4);
  EXPECT_EQ(out, planar_rgb(grey));
  EXPECT_EQ(decode(dir_ / "g.pgm", 4), out);
}

TEST_F(ImagesTest, GreyWithAlphaKeepsTheGrey) {
  std::vector<std::uint8_t> samples;  // grey, alpha
  for (int i = 0; i < 16; ++i) {
    samples.push_back(static_cast<std::uint8_t>(i * 13));
    samples.push_back(static_cast<std::uint8_t>(255 - i));
  }
  write_file_atomic(dir_ / "ga.png", encode_png(4, 4, 4, 2, samples));
  const auto out = decode(dir_ / "ga.png", 4);
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < 16; ++i) EXPECT_EQ(at(out, 4, c, i / 4, i % 4), i * 13) << c << " " << i;
  }
}

TEST_F(ImagesTest, ColourWithAlphaDropsTheAlpha) {
  const cv::Mat bgra = pattern(4, 4, CV_8UC4, 3);
  write_image(dir_ / "a.png", bgra);
  cv::Mat bgr;
  cv::cvtColor(bgra, bgr, cv::COLOR_BGRA2BGR);
  EXPECT_EQ(decode(dir_ / "a.png", 4), planar_rgb(bgr));
}

TEST_F(ImagesTest, PaletteImagesReadAsTheirColours) {
  const std::string palette = std::string("\x0a\x14\x1e", 3) + std::string("\xff\x00\x80", 3);
  std::vector<std::uint8_t> indices;
  for (int i = 0; i < 16; ++i) indices.push_back(static_cast<std::uint8_t>(i % 2));
  write_file_atomic(dir_ / "p.png", encode_png(4, 4, 3, 1, indices, palette));
  const auto out = decode(dir_ / "p.png", 4);
  for (int i = 0; i < 16; ++i) {
    const bool second = i % 2 == 1;
    EXPECT_EQ(at(out, 4, 0, i / 4, i % 4), second ? 0xff : 0x0a);
    EXPECT_EQ(at(out, 4, 1, i / 4, i % 4), second ? 0x00 : 0x14);
    EXPECT_EQ(at(out, 4, 2, i / 4, i % 4), second ? 0x80 : 0x1e);
  }
}

TEST_F(ImagesTest, SixteenBitIsScaledToEightBits) {
  const cv::Mat eight = pattern(4, 4, CV_8UC3, 4);
  cv::Mat sixteen;
  eight.convertTo(sixteen, CV_16U, 257.0);  // 255 -> 65535
  write_image(dir_ / "s.png", sixteen);
  EXPECT_EQ(decode(dir_ / "s.png", 4), planar_rgb(eight));
}

TEST_F(ImagesTest, FloatingPointIsRefused) {
  cv::Mat image(4, 4, CV_32FC3, cv::Scalar(0.5, 0.5, 0.5));
  write_image(dir_ / "f.tiff", image);
  expect_data_error([&] { decode(dir_ / "f.tiff", 4); },
                    {(dir_ / "f.tiff").string(), "floating-point", "8 bits"});
}

TEST_F(ImagesTest, AreaResizesTheWholeImage) {
  const cv::Mat wide = pattern(12, 6, CV_8UC3, 5);
  write_image(dir_ / "wide.png", wide);
  cv::Mat expected;
  cv::resize(wide, expected, cv::Size(4, 4), 0, 0, cv::INTER_AREA);  // shrinking
  EXPECT_EQ(decode(dir_ / "wide.png", 4, ResizeMode::kArea), planar_rgb(expected));
  const cv::Mat small = pattern(3, 2, CV_8UC3, 6);
  write_image(dir_ / "small.png", small);
  cv::resize(small, expected, cv::Size(4, 4), 0, 0, cv::INTER_LINEAR);  // enlarging
  EXPECT_EQ(decode(dir_ / "small.png", 4, ResizeMode::kArea), planar_rgb(expected));
}

TEST_F(ImagesTest, CenterCropKeepsTheMiddle) {
  // Thirds: black, white, black, along the longer side; the crop must be all white.
  for (const bool wide : {true, false}) {
    for (const int scale : {1, 2, 3}) {
      const int longer = 12 * scale;
      const int shorter = 4 * scale;
      cv::Mat image(wide ? shorter : longer, wide ? longer : shorter, CV_8UC3, cv::Scalar(0, 0, 0));
      const cv::Rect middle = wide ? cv::Rect(longer / 3, 0, longer / 3, shorter)
                                   : cv::Rect(0, longer / 3, shorter, longer / 3);
      image(middle).setTo(cv::Scalar(255, 255, 255));
      const fs::path file =
          dir_ / ("thirds-" + std::to_string(wide) + std::to_string(scale) + ".png");
      write_image(file, image);
      const auto out = decode(file, 4, ResizeMode::kCenterCrop);
      EXPECT_EQ(out, std::vector<std::uint8_t>(out.size(), 255)) << file;
      // area squeezes the whole image instead: the black thirds show.
      const auto squeezed = decode(file, 4, ResizeMode::kArea);
      EXPECT_EQ(at(squeezed, 4, 0, 0, 0), 0) << file;
    }
  }
  // Enlarging: the shorter side becomes the size, the crop is the middle of the longer.
  cv::Mat small(2, 6, CV_8UC1, cv::Scalar(0));
  small(cv::Rect(2, 0, 2, 2)).setTo(cv::Scalar(200));
  write_image(dir_ / "small.png", small);
  cv::Mat expected;
  cv::resize(small, expected, cv::Size(12, 4), 0, 0, cv::INTER_LINEAR);
  EXPECT_EQ(decode(dir_ / "small.png", 4, ResizeMode::kCenterCrop),
            planar_rgb(expected(cv::Rect(4, 0, 4, 4)).clone()));
}

TEST_F(ImagesTest, ErrorModeRefusesAnotherSize) {
  write_image(dir_ / "big.png", pattern(6, 4, CV_8UC3, 7));
  expect_data_error(
      [&] { decode(dir_ / "big.png", 4); },
      {(dir_ / "big.png").string(), "6x4", "4x4", "data.resize: area or center_crop"});
}

TEST_F(ImagesTest, DamagedFilesAreRefusedNamingThem) {
  const cv::Mat image = pattern(8, 8, CV_8UC3, 8);
  std::vector<unsigned char> jpeg;
  std::vector<unsigned char> png;
  ASSERT_TRUE(cv::imencode(".jpg", image, jpeg));
  ASSERT_TRUE(cv::imencode(".png", image, png));
  const auto write_cut = [&](const fs::path& file, const std::vector<unsigned char>& bytes) {
    write_file_atomic(file, std::string(bytes.begin(), bytes.end() - 10));
  };
  write_cut(dir_ / "cut.jpg", jpeg);
  write_cut(dir_ / "cut.png", png);
  write_file_atomic(dir_ / "empty.png", "");
  write_file_atomic(dir_ / "text.png", "not an image at all\n");
  expect_data_error([&] { decode(dir_ / "cut.jpg", 8); },
                    {(dir_ / "cut.jpg").string(), "truncated", "FFD9"});
  expect_data_error([&] { decode(dir_ / "cut.png", 8); },
                    {(dir_ / "cut.png").string(), "truncated", "IEND"});
  expect_data_error([&] { decode(dir_ / "empty.png", 8); },
                    {(dir_ / "empty.png").string(), "empty"});
  expect_data_error([&] { decode(dir_ / "text.png", 8); },
                    {(dir_ / "text.png").string(), "damaged or not in the format"});
  expect_data_error([&] { decode(dir_ / "missing.png", 8); },
                    {(dir_ / "missing.png").string(), "cannot read"});
}

// `n` images of mixed sizes and kinds (resized with area to 8x8).
std::vector<fs::path> mixed_images(const fs::path& dir, int n) {
  std::vector<fs::path> files;
  for (int i = 0; i < n; ++i) {
    const int width = 4 + i % 9;
    const int height = 4 + (i * 7) % 11;
    const fs::path file = dir / ("img" + std::to_string(1000 + i) + (i % 3 == 0 ? ".bmp" : ".png"));
    cv::imwrite(file.string(), pattern(width, height, i % 4 == 1 ? CV_8UC1 : CV_8UC3, i));
    files.push_back(file);
  }
  return files;
}

TEST_F(ImagesTest, ParallelDecodingEqualsOneByOne) {
  const auto files = mixed_images(dir_, 150);
  DecodeOptions options;
  options.image_size = 8;
  options.threads = 4;
  const at::Tensor parallel = decode_images(files, options);
  ASSERT_EQ(parallel.sizes(), (std::vector<std::int64_t>{150, 3, 8, 8}));
  options.threads = 1;
  EXPECT_TRUE(parallel.equal(decode_images(files, options)));
  for (std::size_t i = 0; i < files.size(); i += 17) {
    const auto one = decode(files[i], 8, ResizeMode::kArea);
    EXPECT_EQ(bytes_of(parallel[static_cast<std::int64_t>(i)]),
              std::string(one.begin(), one.end()));
  }
  EXPECT_EQ(decode_images({}, options).size(0), 0);
}

TEST_F(ImagesTest, TheFirstFailingFileInListOrderIsReported) {
  auto files = mixed_images(dir_, 120);
  write_file_atomic(files[37], "broken");
  write_file_atomic(files[38], "");
  write_file_atomic(files[90], "broken");
  DecodeOptions options;
  options.image_size = 8;
  for (const int threads : {1, 3, 8}) {
    options.threads = threads;
    for (int repeat = 0; repeat < 3; ++repeat) {
      try {
        decode_images(files, options);
        ADD_FAILURE() << "nothing thrown";
      } catch (const DataError& e) {
        EXPECT_NE(std::string(e.what()).find(files[37].string()), std::string::npos) << e.what();
      }
    }
  }
  options.threads = -1;
  expect_input_error([&] { decode_images(files, options); }, {"threads"});
}

// --- the cache ----------------------------------------------------------------------------

class ImageCacheTest : public ImagesTest {
 protected:
  void SetUp() override {
    ImagesTest::SetUp();
    if (IsSkipped()) return;
    root_ = dir_ / "data";
    fs::create_directories(root_ / "a");
    for (int i = 0; i < 20; ++i) {
      const fs::path file = root_ / "a" / ("x" + std::to_string(i) + ".png");
      write_image(file, pattern(6 + i % 3, 6, CV_8UC3, i));
      files_.push_back(file);
    }
    options_.image_size = 6;
    options_.threads = 2;
    cache_ = dir_ / "cache" / "nested";
  }

  at::Tensor cached() { return decode_images_cached(files_, root_, options_, cache_, "train"); }
  at::Tensor fresh() { return decode_images(files_, options_); }

  fs::path cache_file(const std::string& ext) const {
    for (const auto& entry : fs::directory_iterator(cache_)) {
      if (entry.path().extension() == ext) return entry.path();
    }
    ADD_FAILURE() << "no " << ext << " in " << cache_;
    return {};
  }

  fs::path root_;
  fs::path cache_;
  std::vector<fs::path> files_;
  DecodeOptions options_;
};

TEST_F(ImageCacheTest, TheSecondCallReadsTheCache) {
  LogCapture log;
  const at::Tensor first = cached();
  EXPECT_TRUE(first.equal(fresh()));
  EXPECT_NE(log.text().find("20 images: 0 from the cache"), std::string::npos) << log.text();
  const fs::path data = cache_file(".u8");
  const fs::path index = cache_file(".json");
  EXPECT_EQ(data.filename().string().rfind("train-", 0), 0u);
  EXPECT_EQ(fs::file_size(data), 20u * 3 * 6 * 6);
  const nlohmann::json j = nlohmann::json::parse(read_file(index));
  EXPECT_EQ(j["format"], "crest-image-cache");
  EXPECT_EQ(j["files"][3]["path"], "a/x3.png");

  // Change the cached pixels of row 3 (and the hash to match): the next call must show them.
  std::string bytes = read_file(data);
  bytes[3 * 108] = static_cast<char>(bytes[3 * 108] ^ 0x5a);
  write_file_atomic(data, bytes);
  nlohmann::json edited = j;
  edited["data_hash"] = hex64(fnv1a64(bytes.data(), bytes.size()));
  write_file_atomic(index, edited.dump());
  const auto before = fs::last_write_time(data);
  const at::Tensor second = cached();
  EXPECT_EQ(bytes_of(second), bytes);
  EXPECT_NE(log.text().find("20 images: 20 from the cache"), std::string::npos) << log.text();
  EXPECT_EQ(fs::last_write_time(data), before) << "an unchanged cache is not rewritten";

  // Another order, a subset: rows are looked up by path.
  const std::vector<fs::path> some = {files_[5], files_[1], files_[5]};
  const at::Tensor subset = decode_images_cached(some, root_, options_, cache_, "train");
  EXPECT_TRUE(subset[0].equal(first[5]));
  EXPECT_TRUE(subset[1].equal(first[1]));
  EXPECT_TRUE(subset[2].equal(first[5]));
}

TEST_F(ImageCacheTest, AChangedFileIsDecodedAgain) {
  const at::Tensor first = cached();
  write_image(files_[7], pattern(6, 6, CV_8UC3, 99));
  fs::last_write_time(files_[7], fs::last_write_time(files_[7]) + std::chrono::seconds(5));
  LogCapture log;
  const at::Tensor second = cached();
  EXPECT_TRUE(second.equal(fresh()));
  EXPECT_FALSE(second[7].equal(first[7]));
  EXPECT_TRUE(second.narrow(0, 0, 7).equal(first.narrow(0, 0, 7)));
  EXPECT_NE(log.text().find("19 from the cache"), std::string::npos) << log.text();
  EXPECT_NE(log.text().find("1 decoded"), std::string::npos) << log.text();
  // The cache was rewritten with the new file.
  LogCapture again;
  EXPECT_TRUE(cached().equal(second));
  EXPECT_NE(again.text().find("20 from the cache"), std::string::npos) << again.text();
}

// Size and mtime can be put back by a copy (cp -p, rsync -t, touch -r): the bytes decide. BMP
// files of one size have one byte length, so the replacements below keep the size too.
TEST_F(ImageCacheTest, AFileReplacedWithItsSizeAndMtimeKeptIsDecodedAgain) {
  files_.clear();
  for (int i = 0; i < 6; ++i) {
    files_.push_back(root_ / "b" / ("y" + std::to_string(i) + ".bmp"));
    fs::create_directories(files_.back().parent_path());
    write_image(files_.back(), pattern(6, 6, CV_8UC3, 100 + i));
  }
  const at::Tensor first = cached();
  // Another picture in file 2; two files swapped (3 and 4); file 5 rewritten with its own bytes.
  std::vector<std::pair<std::uintmax_t, fs::file_time_type>> kept;
  for (const auto& f : files_) kept.emplace_back(fs::file_size(f), fs::last_write_time(f));
  write_image(files_[2], pattern(6, 6, CV_8UC3, 7));
  const std::string three = read_file(files_[3]);
  write_file_atomic(files_[3], read_file(files_[4]));
  write_file_atomic(files_[4], three);
  write_file_atomic(files_[5], read_file(files_[5]));
  for (std::size_t i = 0; i < files_.size(); ++i) {
    ASSERT_EQ(fs::file_size(files_[i]), kept[i].first);
    fs::last_write_time(files_[i], kept[i].second);
    ASSERT_EQ(fs::last_write_time(files_[i]), kept[i].second);
  }
  LogCapture log;
  const at::Tensor second = cached();
  EXPECT_TRUE(second.equal(fresh()));
  EXPECT_FALSE(second[2].equal(first[2]));
  EXPECT_TRUE(second[3].equal(first[4]));
  EXPECT_TRUE(second[4].equal(first[3]));
  EXPECT_TRUE(second[5].equal(first[5]));
  EXPECT_NE(log.text().find("6 images: 3 from the cache"), std::string::npos) << log.text();
  EXPECT_NE(log.text().find("3 decoded"), std::string::npos) << log.text();
}

TEST_F(ImageCacheTest, ADamagedCacheIsIgnoredAndRewritten) {
  const at::Tensor expected = cached();
  const fs::path data = cache_file(".u8");
  const fs::path index = cache_file(".json");
  const std::string good = read_file(data);

  std::string flipped = good;
  flipped[100] = static_cast<char>(flipped[100] ^ 1);
  write_file_atomic(data, flipped);
  {
    LogCapture log;
    EXPECT_TRUE(cached().equal(expected));
    EXPECT_NE(log.text().find("does not match the hash"), std::string::npos) << log.text();
    EXPECT_EQ(read_file(data), good) << "rewritten";
  }
  write_file_atomic(data, good.substr(0, good.size() - 5));
  {
    LogCapture log;
    EXPECT_TRUE(cached().equal(expected));
    EXPECT_NE(log.text().find("bytes"), std::string::npos) << log.text();
    EXPECT_EQ(read_file(data), good);
  }
  for (const std::string& text : {std::string("{not json"), std::string("[1, 2]"),
                                  std::string(R"({"format": "crest-image-cache"})")}) {
    write_file_atomic(index, text);
    LogCapture log;
    EXPECT_TRUE(cached().equal(expected));
    EXPECT_NE(log.text().find(index.string()), std::string::npos) << log.text();
    EXPECT_NE(log.text().find("decoding again"), std::string::npos) << log.text();
  }
  LogCapture log;
  EXPECT_TRUE(cached().equal(expected));
  EXPECT_NE(log.text().find("20 from the cache"), std::string::npos) << log.text();
}

TEST_F(ImageCacheTest, AnUnwritableCacheIsAWarning) {
  fs::create_directories(dir_ / "cache");
  write_file_atomic(dir_ / "cache" / "nested", "a file where the folder should be");
  LogCapture log;
  EXPECT_TRUE(cached().equal(fresh()));
  EXPECT_NE(log.text().find("cannot write the image cache"), std::string::npos) << log.text();
}

TEST_F(ImageCacheTest, OtherSettingsUseAnotherCache) {
  cached();
  options_.resize = ResizeMode::kCenterCrop;
  LogCapture log;
  EXPECT_TRUE(cached().equal(fresh()));
  EXPECT_NE(log.text().find("0 from the cache"), std::string::npos) << log.text();
  int data_files = 0;
  for (const auto& entry : fs::directory_iterator(cache_)) {
    data_files += entry.path().extension() == ".u8" ? 1 : 0;
  }
  EXPECT_EQ(data_files, 2);
  // No cache folder: plain decoding.
  EXPECT_TRUE(decode_images_cached(files_, root_, options_, "", "train").equal(fresh()));
}

TEST_F(ImageCacheTest, AFailingFileIsTheErrorAndNothingIsCached) {
  write_file_atomic(files_[4], "broken");
  expect_data_error([&] { cached(); }, {files_[4].string()});
  EXPECT_FALSE(fs::exists(cache_));
}

#else  // !CREST_WITH_OPENCV

TEST(ImagesWithoutOpenCv, DecodingSaysWhatToDo) {
  EXPECT_FALSE(image_decoding_available());
  std::uint8_t out[3] = {};
  expect_data_error([&] { decode_image("a.png", 1, ResizeMode::kArea, out); },
                    {"a.png", "libopencv-dev"});
  expect_data_error([&] { decode_images({"a.png"}, DecodeOptions{}); }, {"libopencv-dev"});
}

#endif  // CREST_WITH_OPENCV

}  // namespace
}  // namespace crest
