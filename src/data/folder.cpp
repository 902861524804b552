#include "crest/data/folder.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

#include "crest/util/error.h"

#ifdef CREST_WITH_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "crest/io/file.h"
#endif

namespace crest {

namespace fs = std::filesystem;

bool folder_datasets_available() {
#ifdef CREST_WITH_OPENCV
  return true;
#else
  return false;
#endif
}

#ifdef CREST_WITH_OPENCV

namespace {

constexpr const char* kLayout =
    "expected ROOT/train/<class>/<image> and ROOT/test/<class>/<image>, one folder per class "
    "and the same class folders in train and test";

constexpr const char* kExtensionList = ".png .jpg .jpeg .bmp .ppm .pgm .pnm .webp .tif .tiff";

bool is_hidden(const fs::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

bool has_image_extension(const fs::path& file) {
  static const std::vector<std::string> kExtensions = {".png", ".jpg", ".jpeg", ".bmp", ".ppm",
                                                       ".pgm", ".pnm", ".webp", ".tif", ".tiff"};
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(kExtensions.begin(), kExtensions.end(), ext) != kExtensions.end();
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// Describes why `path` is not a usable folder, for messages.
std::string not_a_folder(const fs::path& path) {
  std::error_code ec;
  return path.string() + (fs::exists(path, ec) ? " is not a folder" : " does not exist");
}

// The non-hidden entries of `folder`, sorted by name so that labels and image order do not
// depend on the file system's listing order.
std::vector<fs::path> sorted_entries(const fs::path& folder) {
  std::vector<fs::path> entries;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    if (!is_hidden(it->path())) entries.push_back(it->path());
  }
  if (ec) throw DataError("cannot list " + folder.string() + ": " + ec.message());
  std::sort(entries.begin(), entries.end(), [](const fs::path& a, const fs::path& b) {
    return a.filename().string() < b.filename().string();
  });
  return entries;
}

// One split (train or test) as listed on disk: class names in sorted order, and per class
// its image files in sorted order.
struct SplitListing {
  std::vector<std::string> classes;
  std::vector<std::vector<fs::path>> files;
};

SplitListing list_split(const fs::path& root, const std::string& split) {
  const fs::path dir = root / split;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw DataError("image folder " + not_a_folder(dir) + "; " + kLayout);
  }
  SplitListing listing;
  for (const auto& class_dir : sorted_entries(dir)) {
    if (!fs::is_directory(class_dir, ec)) {
      throw DataError(class_dir.string() + " is not a folder, but " + dir.string() +
                      " must hold only class folders (" + kLayout + ")");
    }
    std::vector<fs::path> files;
    for (const auto& file : sorted_entries(class_dir)) {
      if (fs::is_directory(file, ec)) {
        throw DataError(file.string() + " is a folder, but class folders must hold only images");
      }
      if (!has_image_extension(file)) {
        throw DataError(file.string() + " is not an image file (extension '" +
                        file.extension().string() + "'); crest reads " + kExtensionList +
                        ": move other files out of the dataset folder");
      }
      files.push_back(file);
    }
    if (files.empty()) {
      throw DataError("class folder " + class_dir.string() + " holds no images; " +
                      "every class needs at least one image in train and in test");
    }
    listing.classes.push_back(class_dir.filename().string());
    listing.files.push_back(std::move(files));
  }
  if (listing.classes.empty()) {
    throw DataError(dir.string() + " holds no class folders; " + kLayout);
  }
  return listing;
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

// Decodes `file` into `out` as RGB, channels first (3 x size x size bytes).
void decode_into(const fs::path& file, int size, std::uint8_t* out) {
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

Dataset load_split(const SplitListing& listing, int size) {
  std::int64_t total = 0;
  for (const auto& files : listing.files) total += static_cast<std::int64_t>(files.size());
  Dataset dataset;
  dataset.images = at::empty({total, 3, size, size}, at::TensorOptions().dtype(at::kByte));
  dataset.labels = at::empty({total}, at::TensorOptions().dtype(at::kLong));
  dataset.class_names = listing.classes;
  auto* images = dataset.images.data_ptr<std::uint8_t>();
  auto* labels = dataset.labels.data_ptr<std::int64_t>();
  const std::int64_t image_bytes = 3 * static_cast<std::int64_t>(size) * size;
  std::int64_t i = 0;
  for (std::size_t c = 0; c < listing.files.size(); ++c) {
    for (const auto& file : listing.files[c]) {
      decode_into(file, size, images + i * image_bytes);
      labels[i] = static_cast<std::int64_t>(c);
      ++i;
    }
  }
  return dataset;
}

}  // namespace

DatasetPair read_image_folder(const fs::path& root, int image_size) {
  if (image_size < 1) {
    throw InputError("image size must be positive, got " + std::to_string(image_size));
  }
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    throw DataError("image folder " + not_a_folder(root) + "; " + kLayout);
  }
  const SplitListing train = list_split(root, "train");
  const SplitListing test = list_split(root, "test");
  // Labels are positions in the sorted class list, so both splits must agree on it exactly.
  if (train.classes != test.classes) {
    std::vector<std::string> only_train;
    std::vector<std::string> only_test;
    std::set_difference(train.classes.begin(), train.classes.end(), test.classes.begin(),
                        test.classes.end(), std::back_inserter(only_train));
    std::set_difference(test.classes.begin(), test.classes.end(), train.classes.begin(),
                        train.classes.end(), std::back_inserter(only_test));
    throw DataError(
        "the class folders of " + (root / "train").string() + " and " + (root / "test").string() +
        " differ: only in train: " + (only_train.empty() ? "(none)" : join(only_train)) +
        "; only in test: " + (only_test.empty() ? "(none)" : join(only_test)) +
        "; both must hold the same class folders");
  }
  return DatasetPair{load_split(train, image_size), load_split(test, image_size)};
}

#else  // !CREST_WITH_OPENCV

DatasetPair read_image_folder(const fs::path& root, int /*image_size*/) {
  throw DataError("cannot read the image folder " + root.string() +
                  ": this crest was built without OpenCV (CREST_WITH_OPENCV=OFF), so image "
                  "folders cannot be read: install libopencv-dev and rebuild, or convert the "
                  "images to the CIFAR binary layout");
}

#endif  // CREST_WITH_OPENCV

}  // namespace crest
