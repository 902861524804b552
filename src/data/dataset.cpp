#include "crest/data/dataset.h"

#include <string>

#include "crest/util/error.h"

namespace crest {

std::vector<std::int64_t> Dataset::class_counts() const {
  std::vector<std::int64_t> counts(class_names.size(), 0);
  if (size() == 0) return counts;
  const at::Tensor known = labels.masked_select(labels.ne(kUnknownLabel));
  if (known.numel() == 0) return counts;
  const at::Tensor bins = at::bincount(known, {}, num_classes());
  const auto* data = bins.data_ptr<std::int64_t>();
  for (std::size_t c = 0; c < counts.size(); ++c) counts[c] = data[c];
  return counts;
}

std::int64_t Dataset::unknown_count() const {
  return size() == 0 ? 0 : labels.eq(kUnknownLabel).sum().item<std::int64_t>();
}

Dataset Dataset::subset(const std::vector<std::int64_t>& indices) const {
  const at::Tensor index =
      at::tensor(at::ArrayRef<std::int64_t>(indices), at::TensorOptions().dtype(at::kLong));
  Dataset out{
      images.index_select(0, index).contiguous(), labels.index_select(0, index), class_names, {}};
  if (!files.empty()) {
    for (std::int64_t i : indices) out.files.push_back(files[static_cast<std::size_t>(i)]);
  }
  return out;
}

Dataset concatenate(const Dataset& a, const Dataset& b) {
  if (b.size() == 0) return a;
  if (a.size() == 0) return b;
  Dataset out{at::cat({a.images, b.images}), at::cat({a.labels, b.labels}), a.class_names, {}};
  if (!a.files.empty() || !b.files.empty()) {
    out.files = a.files;
    out.files.resize(static_cast<std::size_t>(a.size()));
    out.files.insert(out.files.end(), b.files.begin(), b.files.end());
    out.files.resize(static_cast<std::size_t>(out.size()));
  }
  return out;
}

void check_dataset(const Dataset& dataset, const std::string& what, bool unknown_allowed) {
  if (!dataset.images.defined() || !dataset.labels.defined()) {
    throw DataError(what + ": no images or labels were loaded");
  }
  if (dataset.images.scalar_type() != at::kByte || dataset.images.dim() != 4) {
    throw DataError(what + ": images must be uint8 [N, C, H, W], got " +
                    std::string(at::toString(dataset.images.scalar_type())) + " with " +
                    std::to_string(dataset.images.dim()) + " dimensions");
  }
  if (dataset.labels.scalar_type() != at::kLong || dataset.labels.dim() != 1) {
    throw DataError(what + ": labels must be int64 [N]");
  }
  if (dataset.images.size(0) != dataset.labels.size(0)) {
    throw DataError(what + ": " + std::to_string(dataset.images.size(0)) + " images but " +
                    std::to_string(dataset.labels.size(0)) + " labels");
  }
  if (dataset.class_names.empty()) throw DataError(what + ": no class names");
  if (!dataset.files.empty() && static_cast<std::int64_t>(dataset.files.size()) != dataset.size()) {
    throw DataError(what + ": " + std::to_string(dataset.size()) + " images but " +
                    std::to_string(dataset.files.size()) + " file names");
  }
  if (dataset.size() > 0) {
    const std::int64_t lo = dataset.labels.min().item<std::int64_t>();
    const std::int64_t hi = dataset.labels.max().item<std::int64_t>();
    const std::int64_t lowest = unknown_allowed ? kUnknownLabel : 0;
    if (lo < lowest || hi >= dataset.num_classes()) {
      throw DataError(what + ": label " + std::to_string(lo < 0 ? lo : hi) +
                      " is out of range for " + std::to_string(dataset.num_classes()) + " classes");
    }
  }
}

const std::vector<std::string>& cifar10_class_names() {
  static const std::vector<std::string> kNames = {
      "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
  return kNames;
}

const std::vector<std::string>& cifar100_class_names() {
  static const std::vector<std::string> kNames = {
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
  return kNames;
}

const OfficialCounts& cifar10_official_counts() {
  static const OfficialCounts kCounts{10, 50000, 10000, 5000, 1000};
  return kCounts;
}

const OfficialCounts& cifar100_official_counts() {
  static const OfficialCounts kCounts{100, 50000, 10000, 500, 100};
  return kCounts;
}

}  // namespace crest
