// TEMPORARY: replaced by the images branch (parallel decoding, resize modes, cache).
#include "crest/data/images.h"

#include <algorithm>
#include <cctype>

#include "crest/util/error.h"

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
  for (const auto& e : image_extensions()) out += (out.empty() ? "" : " ") + e;
  return out;
}

bool has_image_extension(const fs::path& file) {
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto& all = image_extensions();
  return std::find(all.begin(), all.end(), ext) != all.end();
}

#ifdef CREST_WITH_OPENCV
namespace {
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

// Decodes `file` into `out` as RGB, channels first (3 x size x size bytes).
void decode_into(const fs::path& file, int size, std::uint8_t* out) {  // NOLINT
  const std::string bytes = read_file(file);
  if (bytes.empty()) {
    throw DataError("cannot decode " + file.string() + ": the file is empty (0 bytes)");
  }
  check_complete(file, bytes);
  cv::Mat image;
  try {
    const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
    image = cv::imdecode(buffer, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    throw DataError("cannot decode " + file.string() + ": " + e.what());
  }
  if (image.empty()) {
    throw DataError("cannot decode " + file.string() +
                    ": it is damaged or not in the format its extension says");
  }
  if (image.cols != size || image.rows != size) {
    throw DataError(file.string() + " is " + std::to_string(image.cols) + "x" +
                    std::to_string(image.rows) + " pixels, expected " + std::to_string(size) + "x" +
                    std::to_string(size) + ": resize the images to " + std::to_string(size) + "x" +
                    std::to_string(size) + " beforehand");
  }
  if (image.depth() != CV_8U) {
    throw DataError(file.string() + " does not have 8-bit samples: " +
                    "convert it to 8 bits per channel beforehand");
  }
  cv::Mat rgb;
  switch (image.channels()) {
    case 1:
      cv::cvtColor(image, rgb, cv::COLOR_GRAY2RGB);
      break;
    case 3:
      cv::cvtColor(image, rgb, cv::COLOR_BGR2RGB);  // OpenCV decodes to BGR
      break;
    default:
      throw DataError(file.string() + " has " + std::to_string(image.channels()) +
                      " channels, expected 1 (grey) or 3 (colour): remove the alpha channel "
                      "beforehand");
  }
  // Interleaved HWC to planar CHW, the layout of Dataset::images.
  const std::int64_t plane = static_cast<std::int64_t>(size) * size;
  for (int y = 0; y < size; ++y) {
    const std::uint8_t* row = rgb.ptr<std::uint8_t>(y);
    for (int x = 0; x < size; ++x) {
      for (int c = 0; c < 3; ++c) out[c * plane + y * size + x] = row[x * 3 + c];
    }
  }
}

}  // namespace

void decode_image(const fs::path& file, int size, ResizeMode, std::uint8_t* out) {
  decode_into(file, size, out);
}
#else
void decode_image(const fs::path& file, int, ResizeMode, std::uint8_t*) {
  throw DataError("cannot decode " + file.string() + ": built without OpenCV");
}
#endif

at::Tensor decode_images(const std::vector<fs::path>& files, const DecodeOptions& options) {
  const int s = options.image_size;
  at::Tensor out = at::empty({static_cast<std::int64_t>(files.size()), 3, s, s}, at::kByte);
  auto* data = out.data_ptr<std::uint8_t>();
  for (std::size_t i = 0; i < files.size(); ++i) {
    decode_image(files[i], s, options.resize, data + i * 3 * s * s);
  }
  return out;
}

at::Tensor decode_images_cached(const std::vector<fs::path>& files, const fs::path&,
                                const DecodeOptions& options, const fs::path&, const std::string&) {
  return decode_images(files, options);
}

}  // namespace crest
