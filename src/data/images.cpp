#include "crest/data/images.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "crest/util/error.h"
#include "crest/util/progress.h"
#include "crest/util/threads.h"
#include "images_detail.h"

#ifdef CREST_WITH_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "crest/io/file.h"
#endif

namespace crest {

namespace fs = std::filesystem;

bool image_decoding_available() {
#ifdef CREST_WITH_OPENCV
  return true;
#else
  return false;
#endif
}

const std::vector<std::string>& image_extensions() {
  static const std::vector<std::string> kExtensions = {".png", ".jpg", ".jpeg", ".bmp", ".ppm",
                                                       ".pgm", ".pnm", ".webp", ".tif", ".tiff"};
  return kExtensions;
}

std::string image_extension_list() {
  std::string out;
  for (const auto& ext : image_extensions()) out += (out.empty() ? "" : " ") + ext;
  return out;
}

bool has_image_extension(const fs::path& file) {
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto& known = image_extensions();
  return std::find(known.begin(), known.end(), ext) != known.end();
}

namespace {

// Images per claim of a worker: small enough to balance the cores at the end of a list, large
// enough that the shared counter is not contended.
constexpr std::int64_t kChunk = 16;

// Lists at least this long show a progress bar.
constexpr std::int64_t kProgressFrom = 2000;

#ifdef CREST_WITH_OPENCV

std::string pixels(int width, int height) {
  return std::to_string(width) + "x" + std::to_string(height);
}

// OpenCV decodes a truncated JPEG or PNG with only a warning, filling the missing rows, so
// the end of the file is checked first: a JPEG ends with its end-of-image marker FFD9 (zero
// padding after it is tolerated), a PNG with its IEND chunk, a BMP is as long as its header says.
void check_complete(const fs::path& file, const std::string& bytes) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
  const std::size_t n = bytes.size();
  const auto truncated = [&](const std::string& what) {
    return DataError(file.string() + " is truncated (" + what + ", " + std::to_string(n) +
                     " bytes): copy the image again or remove it from the dataset");
  };
  if (n >= 3 && byte(0) == 0xFF && byte(1) == 0xD8 && byte(2) == 0xFF) {
    std::size_t end = n;
    while (end > 2 && byte(end - 1) == 0x00) --end;
    if (end < 4 || byte(end - 2) != 0xFF || byte(end - 1) != 0xD9) {
      throw truncated("a JPEG without its end-of-image marker FFD9");
    }
  } else if (n >= 8 && bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0) {
    if (n < 20 || bytes.compare(n - 8, 4, "IEND") != 0) {
      throw truncated("a PNG that does not end with its IEND chunk");
    }
  } else if (n >= 6 && byte(0) == 'B' && byte(1) == 'M') {
    const std::size_t declared =
        byte(2) | (byte(3) << 8) | (byte(4) << 16) | (static_cast<std::size_t>(byte(5)) << 24);
    if (declared > n) {
      throw truncated("a BMP whose header says " + std::to_string(declared) + " bytes");
    }
  }
}

// `image` with 8-bit samples: 16-bit scaled (65535 -> 255), floating point refused.
cv::Mat to_8bit(const cv::Mat& image, const fs::path& file) {
  switch (image.depth()) {
    case CV_8U:
      return image;
    case CV_16U: {
      cv::Mat out;
      image.convertTo(out, CV_8U, 1.0 / 257.0);
      return out;
    }
    case CV_32F:
    case CV_64F:
      throw DataError(file.string() + " has floating-point samples (" +
                      (image.depth() == CV_32F ? "32" : "64") +
                      "-bit): crest reads images with 8- or 16-bit integer samples; convert it "
                      "to 8 bits per channel beforehand");
    default:
      throw DataError(file.string() +
                      " has signed integer samples: crest reads images with 8- or 16-bit "
                      "unsigned samples; convert it to 8 bits per channel beforehand");
  }
}

// `image` as grey (1 channel) or BGR (3): alpha dropped, grey + alpha reduced to its grey.
// (OpenCV decodes palette images to BGR or BGRA already.)
cv::Mat to_grey_or_bgr(const cv::Mat& image, const fs::path& file) {
  switch (image.channels()) {
    case 1:
    case 3:
      return image;
    case 2: {
      cv::Mat grey;
      cv::extractChannel(image, grey, 0);
      return grey;
    }
    case 4: {
      cv::Mat bgr;
      cv::cvtColor(image, bgr, cv::COLOR_BGRA2BGR);
      return bgr;
    }
    default:
      throw DataError(file.string() + " has " + std::to_string(image.channels()) +
                      " channels; crest reads grey, grey + alpha, colour and colour + alpha "
                      "images: convert it to RGB beforehand");
  }
}

// cv::INTER_AREA when shrinking (no side below `size`), cv::INTER_LINEAR when enlarging.
int interpolation(const cv::Mat& image, int size) {
  return image.cols >= size && image.rows >= size ? cv::INTER_AREA : cv::INTER_LINEAR;
}

// `image` fitted to size x size as `resize` says (a view into a resized copy for center_crop).
cv::Mat fit(const cv::Mat& image, const fs::path& file, int size, ResizeMode resize) {
  const int width = image.cols;
  const int height = image.rows;
  if (width == size && height == size) return image;
  switch (resize) {
    case ResizeMode::kError:
      throw DataError(file.string() + " is " + pixels(width, height) + " pixels, expected " +
                      pixels(size, size) + " (data.image_size): set data.resize: area or " +
                      "center_crop to fit other sizes, or resize the images to " +
                      pixels(size, size) + " beforehand");
    case ResizeMode::kArea: {
      cv::Mat out;
      cv::resize(image, out, cv::Size(size, size), 0, 0, interpolation(image, size));
      return out;
    }
    case ResizeMode::kCenterCrop: {
      // The shorter side becomes `size`, the longer keeps the aspect ratio (at least `size`).
      const auto scaled = [&](int longer, int shorter) {
        const double exact = static_cast<double>(longer) * size / shorter;
        return std::max(size, static_cast<int>(exact + 0.5));
      };
      const int new_width = width >= height ? scaled(width, height) : size;
      const int new_height = width >= height ? size : scaled(height, width);
      cv::Mat resized = image;
      if (new_width != width || new_height != height) {
        cv::resize(image, resized, cv::Size(new_width, new_height), 0, 0,
                   interpolation(image, size));
      }
      return resized(cv::Rect((new_width - size) / 2, (new_height - size) / 2, size, size));
    }
  }
  throw DataError("unknown data.resize value");  // unreachable: the switch names every mode
}

// Interleaved HWC grey or BGR to planar CHW RGB, the layout of Dataset::images.
void write_planar_rgb(const cv::Mat& image, int size, std::uint8_t* out) {
  const std::int64_t plane = static_cast<std::int64_t>(size) * size;
  std::uint8_t* red = out;
  std::uint8_t* green = out + plane;
  std::uint8_t* blue = out + 2 * plane;
  for (int y = 0; y < size; ++y) {
    const std::uint8_t* row = image.ptr<std::uint8_t>(y);
    const std::int64_t at = static_cast<std::int64_t>(y) * size;
    if (image.channels() == 1) {
      std::copy(row, row + size, red + at);
      std::copy(row, row + size, green + at);
      std::copy(row, row + size, blue + at);
    } else {
      for (int x = 0; x < size; ++x) {
        blue[at + x] = row[3 * x];
        green[at + x] = row[3 * x + 1];
        red[at + x] = row[3 * x + 2];
      }
    }
  }
}

#else  // !CREST_WITH_OPENCV

DataError no_opencv(const std::string& what) {
  return DataError("cannot decode " + what +
                   ": this crest was built without OpenCV (CREST_WITH_OPENCV=OFF), so image "
                   "files cannot be read: install libopencv-dev and rebuild, or convert the "
                   "images to the CIFAR binary layout");
}

#endif  // CREST_WITH_OPENCV

}  // namespace

void decode_image(const fs::path& file, int size, ResizeMode resize, std::uint8_t* out) {
#ifdef CREST_WITH_OPENCV
  const std::string bytes = read_file(file);
  if (bytes.empty()) {
    throw DataError("cannot decode " + file.string() +
                    ": the file is empty (0 bytes): copy the image again or remove it from the "
                    "dataset");
  }
  check_complete(file, bytes);
  try {
    const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
    const cv::Mat image = cv::imdecode(buffer, cv::IMREAD_UNCHANGED);
    if (image.empty()) {
      throw DataError("cannot decode " + file.string() +
                      ": it is damaged or not in the format its extension says; crest reads " +
                      image_extension_list());
    }
    write_planar_rgb(fit(to_grey_or_bgr(to_8bit(image, file), file), file, size, resize), size,
                     out);
  } catch (const cv::Exception& e) {
    throw DataError("cannot decode " + file.string() + ": " + e.what());
  }
#else
  (void)size;
  (void)resize;
  (void)out;
  throw no_opencv(file.string());
#endif
}

namespace images_detail {

void check_options(const DecodeOptions& options) {
  if (options.image_size < 1) {
    throw InputError("image size must be positive, got " + std::to_string(options.image_size));
  }
  if (options.threads < 0) {
    throw InputError("decoding threads must be >= 0 (0 = every core), got " +
                     std::to_string(options.threads));
  }
}

int decode_threads(int threads) { return threads > 0 ? threads : available_cores(); }

namespace {

// The shared state of decode_rows' workers. Chunks are claimed in list order, so when a file
// fails, every earlier file is in a chunk already claimed; workers finish those (stopping only at
// their own failure) and claim no more, so the failure with the smallest row is found on every
// run.
struct RowDecoder {
  RowDecoder(const std::vector<fs::path>& f, const std::vector<std::int64_t>& r, std::uint8_t* o,
             const DecodeOptions& d)
      : files(f), rows(r), out(o), options(d) {}

  const std::vector<fs::path>& files;
  const std::vector<std::int64_t>& rows;
  std::uint8_t* out;
  const DecodeOptions& options;
  std::int64_t image_bytes = 0;
  std::int64_t total = 0;
  std::atomic<std::int64_t> next{0};
  std::atomic<std::int64_t> done{0};
  std::atomic<bool> stop{false};
  std::mutex failure_mutex;
  std::int64_t failed_row = std::numeric_limits<std::int64_t>::max();
  std::exception_ptr failure;
  std::unique_ptr<Progress> progress;
  std::vector<std::uint8_t>* skipped = nullptr;  // per row, 1 when its file did not decode

  // Decodes row k of the list; on failure keeps the smallest failing row's error and stops (or,
  // with `skipped`, marks a file that does not decode and goes on).
  bool decode(std::int64_t k) {
    const std::int64_t row = rows[static_cast<std::size_t>(k)];
    try {
      decode_image(files[static_cast<std::size_t>(row)], options.image_size, options.resize,
                   out + row * image_bytes);
      return true;
    } catch (const DataError&) {
      if (skipped == nullptr) return keep_failure(row);
      (*skipped)[static_cast<std::size_t>(row)] = 1;  // each row has its own byte
      return true;
    } catch (...) {
      return keep_failure(row);
    }
  }

  // Called inside a catch block: keeps the error being handled if its row is the smallest yet.
  bool keep_failure(std::int64_t row) {
    const std::lock_guard<std::mutex> lock(failure_mutex);
    if (row < failed_row) {
      failed_row = row;
      failure = std::current_exception();
    }
    stop.store(true);
    return false;
  }

  // A worker: claims chunks until none is left or a file failed. The calling thread is a worker
  // too, and the one that draws the progress bar.
  void work(bool draws) {
    while (!stop.load(std::memory_order_relaxed)) {
      const std::int64_t begin = next.fetch_add(kChunk);
      if (begin >= total) return;
      const std::int64_t end = std::min(begin + kChunk, total);
      for (std::int64_t k = begin; k < end; ++k) {
        if (!decode(k)) return;
      }
      const std::int64_t finished = done.fetch_add(end - begin) + (end - begin);
      if (draws && progress && progress->due()) progress->update(finished, "images");
    }
  }
};

}  // namespace

void decode_rows(const std::vector<fs::path>& files, const std::vector<std::int64_t>& rows,
                 std::uint8_t* out, const DecodeOptions& options,
                 std::vector<std::uint8_t>* skipped) {
  check_options(options);
  if (rows.empty()) return;
#ifndef CREST_WITH_OPENCV
  throw no_opencv(files[static_cast<std::size_t>(rows.front())].string());
#endif
  const int size = options.image_size;
  RowDecoder decoder(files, rows, out, options);
  decoder.skipped = skipped;
  decoder.image_bytes = 3 * static_cast<std::int64_t>(size) * size;
  decoder.total = static_cast<std::int64_t>(rows.size());
  const auto chunks = (decoder.total + kChunk - 1) / kChunk;
  const int threads =
      static_cast<int>(std::min<std::int64_t>(decode_threads(options.threads), chunks));
  if (decoder.total >= kProgressFrom) {
    decoder.progress = std::make_unique<Progress>(options.label, decoder.total, 0);
  }
  std::vector<std::thread> workers;
  try {
    for (int t = 1; t < threads; ++t) workers.emplace_back([&decoder] { decoder.work(false); });
  } catch (const std::system_error&) {
    // No more threads to be had: those started and this one do the work.
  }
  decoder.work(true);
  for (auto& worker : workers) worker.join();
  if (decoder.progress) {
    decoder.progress->update(decoder.done.load(), "images");
    decoder.progress->finish();
  }
  if (decoder.failure) std::rethrow_exception(decoder.failure);
}

}  // namespace images_detail

at::Tensor decode_images(const std::vector<fs::path>& files, const DecodeOptions& options) {
  images_detail::check_options(options);
  const auto n = static_cast<std::int64_t>(files.size());
  const int size = options.image_size;
#ifndef CREST_WITH_OPENCV
  throw no_opencv(std::to_string(n) + " images");
#endif
  at::Tensor images = at::empty({n, 3, size, size}, at::TensorOptions().dtype(at::kByte));
  std::vector<std::int64_t> rows(files.size());
  for (std::int64_t i = 0; i < n; ++i) rows[static_cast<std::size_t>(i)] = i;
  images_detail::decode_rows(files, rows, images.data_ptr<std::uint8_t>(), options);
  return images;
}

DecodedFiles decode_images_skipping(const std::vector<fs::path>& files,
                                    const DecodeOptions& options) {
  images_detail::check_options(options);
  const auto n = static_cast<std::int64_t>(files.size());
  const int size = options.image_size;
#ifndef CREST_WITH_OPENCV
  throw no_opencv(std::to_string(n) + " images");
#endif
  at::Tensor images = at::empty({n, 3, size, size}, at::TensorOptions().dtype(at::kByte));
  std::vector<std::int64_t> rows(files.size());
  for (std::int64_t i = 0; i < n; ++i) rows[static_cast<std::size_t>(i)] = i;
  std::vector<std::uint8_t> skipped(files.size(), 0);
  images_detail::decode_rows(files, rows, images.data_ptr<std::uint8_t>(), options, &skipped);
  DecodedFiles decoded;
  std::vector<std::int64_t> kept;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (skipped[i] != 0) {
      decoded.failed.push_back(files[i]);
    } else {
      kept.push_back(static_cast<std::int64_t>(i));
      decoded.files.push_back(files[i]);
    }
  }
  decoded.images = kept.size() == files.size()
                       ? images
                       : images.index_select(0, at::tensor(kept, at::kLong)).contiguous();
  return decoded;
}

}  // namespace crest
