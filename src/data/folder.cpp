#include "crest/data/folder.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <string>
#include <system_error>
#include <vector>

#include "crest/data/images.h"
#include "crest/util/error.h"

#ifdef CREST_WITH_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "crest/io/file.h"
#include "crest/util/text_escape.h"
#endif

namespace crest {

namespace fs = std::filesystem;

bool folder_datasets_available() { return image_decoding_available(); }

namespace {

constexpr const char* kLayout =
    "expected ROOT/train/<class>/<image> and ROOT/test/<class>/<image> (optional "
    "ROOT/unlabeled/** and ROOT/val/<class>/<image>), one folder per class";

bool is_hidden(const fs::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

// Names or paths for a message, each on one line (visible_text).
std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + visible_text(item);
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

DataError not_an_image(const fs::path& file) {
  return DataError(file.string() + " is not an image file (extension '" +
                   file.extension().string() + "'); crest reads " + image_extension_list() +
                   ": move other files out of the dataset folder");
}

// One labeled split (train, test or val) as listed on disk: class names in sorted order, and
// per class its image files in sorted order.
struct ClassListing {
  std::vector<std::string> classes;
  std::vector<std::vector<fs::path>> files;
};

ClassListing list_classes(const fs::path& root, const std::string& split) {
  const fs::path dir = root / split;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw DataError("image folder " + not_a_folder(dir) + "; " + kLayout);
  }
  ClassListing listing;
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
      if (!has_image_extension(file)) throw not_an_image(file);
      files.push_back(file);
    }
    if (files.empty()) {
      throw DataError("class folder " + class_dir.string() + " holds no images; " +
                      "every class needs at least one image (remove the folder if the class "
                      "does not belong to the dataset)");
    }
    const std::string name = class_dir.filename().string();
    if (!is_valid_utf8(name)) {
      // Class names land in JSON, CSV, HTML and Markdown, all of them UTF-8 text.
      throw DataError("class folder " + visible_text(class_dir.string()) +
                      " has a name that is not UTF-8 text; rename it (class names are written "
                      "to the run's JSON, CSV and HTML files)");
    }
    listing.classes.push_back(name);
    listing.files.push_back(std::move(files));
  }
  if (listing.classes.empty()) {
    throw DataError(dir.string() + " holds no class folders; " + kLayout);
  }
  return listing;
}

// Labels of a test or val listing: the position of each class among the training classes.
// A class the training set does not have cannot be scored, so it is refused by path.
std::vector<std::int64_t> labels_in(const ClassListing& listing,
                                    const std::vector<std::string>& train_classes,
                                    const fs::path& root, const std::string& split) {
  std::vector<std::string> unknown;
  std::vector<std::int64_t> labels;
  for (std::size_t c = 0; c < listing.classes.size(); ++c) {
    const auto it = std::find(train_classes.begin(), train_classes.end(), listing.classes[c]);
    if (it == train_classes.end()) {
      unknown.push_back((root / split / listing.classes[c]).string());
      continue;
    }
    labels.insert(labels.end(), listing.files[c].size(), it - train_classes.begin());
  }
  if (!unknown.empty()) {
    throw DataError(
        "the class folder(s) " + join(unknown) + " have no counterpart in " +
        (root / "train").string() + " (classes: " + join(train_classes) +
        "), so the model cannot predict them; rename them to a training class or add the "
        "class to train/");
  }
  return labels;
}

// Labels of a listing in its own class order: the position of each file's class folder.
std::vector<std::int64_t> own_labels(const ClassListing& listing) {
  std::vector<std::int64_t> labels;
  for (std::size_t c = 0; c < listing.files.size(); ++c) {
    labels.insert(labels.end(), listing.files[c].size(), static_cast<std::int64_t>(c));
  }
  return labels;
}

std::string relative_name(const fs::path& file, const fs::path& root) {
  return file.lexically_relative(root).generic_string();
}

struct Part {
  std::vector<fs::path> files;
  std::vector<std::int64_t> labels;
};

// Decodes `part` (through the cache); files are named relative to `root`.
Dataset decode_part(const Part& part, const fs::path& root,
                    const std::vector<std::string>& class_names, const FolderOptions& options,
                    const std::string& name) {
  DecodeOptions decode;
  decode.image_size = options.image_size;
  decode.resize = options.resize;
  decode.label = "decode " + name;
  Dataset dataset;
  dataset.images = decode_images_cached(part.files, root, decode, options.cache_dir, name);
  dataset.labels = at::tensor(part.labels, at::TensorOptions().dtype(at::kLong));
  dataset.class_names = class_names;
  for (const auto& file : part.files) dataset.files.push_back(relative_name(file, root));
  return dataset;
}

Part labeled_part(const ClassListing& listing, const std::vector<std::int64_t>& labels) {
  Part part;
  for (const auto& files : listing.files) {
    part.files.insert(part.files.end(), files.begin(), files.end());
  }
  part.labels = labels;
  return part;
}

void require_decoding(const fs::path& root) {
  if (image_decoding_available()) return;
  throw DataError("cannot read the image folder " + root.string() +
                  ": this crest was built without OpenCV (CREST_WITH_OPENCV=OFF), so image "
                  "files cannot be decoded: install libopencv-dev and rebuild, or convert the "
                  "images to the CIFAR binary layout");
}

}  // namespace

namespace {

// Whether `entry`, a link to a folder, points at `parent` or a folder above it: following it
// would list the same files again, without end.
bool links_back(const fs::directory_entry& entry, const fs::path& parent) {
  std::error_code ec;
  if (!entry.is_symlink(ec)) return false;
  const fs::path target = fs::canonical(entry.path(), ec);
  if (ec) return false;
  const fs::path here = fs::canonical(parent, ec);
  if (ec) return false;
  const auto mismatch = std::mismatch(target.begin(), target.end(), here.begin(), here.end());
  return mismatch.first == target.end();  // target is `here` or one of its ancestors
}

bool by_path(const fs::path& a, const fs::path& b) {
  return a.generic_string() < b.generic_string();
}

}  // namespace

FolderFiles find_files_recursive(const fs::path& folder, const std::string& what) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw DataError("the " + what + " " + not_a_folder(folder));
  FolderFiles found;
  fs::recursive_directory_iterator it(folder, fs::directory_options::follow_directory_symlink, ec);
  for (const fs::recursive_directory_iterator end; !ec && it != end; it.increment(ec)) {
    const bool folder_entry = it->is_directory(ec);
    if (is_hidden(it->path()) || (folder_entry && links_back(*it, it->path().parent_path()))) {
      if (folder_entry) it.disable_recursion_pending();
      continue;
    }
    if (folder_entry) continue;
    (has_image_extension(it->path()) ? found.images : found.others).push_back(it->path());
  }
  if (ec) throw DataError("cannot list " + folder.string() + ": " + ec.message());
  std::sort(found.images.begin(), found.images.end(), by_path);
  std::sort(found.others.begin(), found.others.end(), by_path);
  return found;
}

std::vector<fs::path> list_images_recursive(const fs::path& folder, const std::string& what) {
  FolderFiles found = find_files_recursive(folder, what);
  if (!found.others.empty()) throw not_an_image(found.others.front());
  if (found.images.empty()) {
    throw DataError("the " + what + " " + folder.string() +
                    " holds no images; put the unlabeled images there (any nesting), or remove "
                    "the folder");
  }
  return std::move(found.images);
}

DatasetPair read_image_folder(const fs::path& root, const FolderOptions& options) {
  if (options.image_size < 1) {
    throw InputError("image size must be positive, got " + std::to_string(options.image_size));
  }
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    throw DataError("image folder " + not_a_folder(root) + "; " + kLayout);
  }
  require_decoding(root);
  const ClassListing train = list_classes(root, "train");
  const ClassListing test = list_classes(root, "test");
  const auto& names = train.classes;
  Part train_part = labeled_part(train, own_labels(train));
  const Part test_part = labeled_part(test, labels_in(test, names, root, "test"));
  // The unlabeled images follow the labeled ones in one tensor, so the training pool is never
  // copied to join them.
  const fs::path unlabeled_dir = root / "unlabeled";
  if (fs::exists(unlabeled_dir, ec)) {
    const auto unlabeled = list_images_recursive(unlabeled_dir, "unlabeled folder");
    train_part.files.insert(train_part.files.end(), unlabeled.begin(), unlabeled.end());
    train_part.labels.insert(train_part.labels.end(), unlabeled.size(), kUnknownLabel);
  }
  DatasetPair pair;
  pair.train = decode_part(train_part, root, names, options, "train");
  pair.test = decode_part(test_part, root, names, options, "test");
  const fs::path val_dir = root / "val";
  if (fs::exists(val_dir, ec)) {
    const ClassListing val = list_classes(root, "val");
    pair.val = decode_part(labeled_part(val, labels_in(val, names, root, "val")), root, names,
                           options, "val");
  }
  return pair;
}

Dataset read_image_folder_test(const fs::path& root, const FolderOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    throw DataError("image folder " + not_a_folder(root) + "; " + kLayout);
  }
  require_decoding(root);
  const ClassListing train = list_classes(root, "train");  // the class names: listed, not decoded
  const ClassListing test = list_classes(root, "test");
  return decode_part(labeled_part(test, labels_in(test, train.classes, root, "test")), root,
                     train.classes, options, "test");
}

Dataset read_labeled_folder(const fs::path& dir, const FolderOptions& options) {
  require_decoding(dir);
  fs::path normal = dir.lexically_normal();
  if (normal.filename().empty()) normal = normal.parent_path();  // "DIR/"
  const ClassListing listing = list_classes(normal.parent_path(), normal.filename().string());
  return decode_part(labeled_part(listing, own_labels(listing)), dir, listing.classes, options,
                     "labeled");
}

Dataset read_unlabeled_folder(const fs::path& root, const std::vector<std::string>& class_names,
                              const FolderOptions& options) {
  require_decoding(root);
  Part part;
  part.files = list_images_recursive(root, "unlabeled folder (data.unlabeled_root)");
  part.labels.assign(part.files.size(), kUnknownLabel);
  Dataset dataset = decode_part(part, root, class_names, options, "unlabeled");
  for (auto& file : dataset.files) file = (root / file).generic_string();
  return dataset;
}

void write_image_folder(const fs::path& root, const DatasetPair& data) {
  require_decoding(root);
#ifdef CREST_WITH_OPENCV
  auto write_set = [&](const Dataset& set, const std::string& split) {
    const at::Tensor hwc = set.images.permute({0, 2, 3, 1}).contiguous();  // RGB, interleaved
    const int h = static_cast<int>(hwc.size(1));
    const int w = static_cast<int>(hwc.size(2));
    const auto* labels = set.labels.data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i < set.size(); ++i) {
      char name[32];
      std::snprintf(name, sizeof(name), "%06lld.png", static_cast<long long>(i));
      const fs::path folder =
          labels[i] == kUnknownLabel
              ? root / "unlabeled" / ("part_" + std::to_string(i % 3))
              : root / split / set.class_names[static_cast<std::size_t>(labels[i])];
      std::error_code ec;
      fs::create_directories(folder, ec);
      const cv::Mat rgb(h, w, CV_8UC3, hwc[i].data_ptr<std::uint8_t>());
      cv::Mat bgr;
      cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
      std::vector<unsigned char> bytes;
      if (!cv::imencode(".png", bgr, bytes)) throw WriteError(std::string("cannot encode ") + name);
      write_file_atomic(folder / name, std::string(bytes.begin(), bytes.end()));
    }
  };
  write_set(data.train, "train");
  write_set(data.test, "test");
#endif
}

}  // namespace crest
