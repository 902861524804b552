#include "crest/data/prepare.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "crest/data/cifar.h"
#include "crest/data/folder.h"
#include "crest/data/synthetic.h"
#include "crest/io/manifest.h"
#include "crest/util/error.h"
#include "crest/util/hash.h"

namespace crest {

DatasetPair load_source(const DataConfig& data) {
  DatasetPair pair;
  switch (data.dataset) {
    case DatasetKind::kCifar10:
      pair = read_cifar10(data.root);
      break;
    case DatasetKind::kCifar100:
      pair = read_cifar100(data.root);
      break;
    case DatasetKind::kFolder:
      pair = read_image_folder(data.root, data.image_size);
      break;
    case DatasetKind::kSynthetic: {
      SyntheticOptions options;
      options.num_classes = data.synthetic.classes;
      options.train_per_class = data.synthetic.train_per_class;
      options.test_per_class = data.synthetic.test_per_class;
      options.seed = static_cast<std::uint64_t>(data.synthetic.seed);
      options.image_size = data.image_size;
      pair = make_synthetic(options);
      break;
    }
  }
  const std::string name = to_string(data.dataset);
  check_dataset(pair.train, name + " training set");
  check_dataset(pair.test, name + " test set");
  const std::string where = reads_files(data.dataset) ? " in data.root " + data.root : "";
  if (pair.train.size() == 0) {
    throw DataError("the " + name + " training set" + where + " holds no images");
  }
  if (pair.test.size() == 0) {
    throw DataError("the " + name + " test set" + where +
                    " holds no images: every generation is evaluated on it; add test images");
  }
  return pair;
}

namespace {

std::string class_label(const std::vector<std::string>& names, std::size_t c) {
  return "class " + std::to_string(c) + " '" + names[c] + "'";
}

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", value);
  return text;
}

// A split that leaves a class without images (or without labels), or nothing unlabeled, would
// train and select pseudo-labels on nothing: refused here, naming the class and the settings.
void check_split(const DataConfig& data, const PreparedData& prepared) {
  const auto& names = prepared.source.train.class_names;
  const Split& split = prepared.split;
  const std::size_t last = names.size() - 1;
  for (std::size_t c = 0; c < names.size(); ++c) {
    if (data.protocol == SplitProtocol::kCrest && split.lt_counts[c] == 0) {
      const std::int64_t n_max = split.lt_counts[0];
      throw DataError(class_label(names, c) +
                      " gets 0 images in the long-tailed set: N_max = " + std::to_string(n_max) +
                      " and data.imbalance_ratio = " + number(data.imbalance_ratio) + " give N_" +
                      std::to_string(c) + " = int(" + std::to_string(n_max) + " * (1/" +
                      number(data.imbalance_ratio) + ")^(" + std::to_string(c) + "/" +
                      std::to_string(last) + ")) = 0; set data.imbalance_ratio to at most N_max (" +
                      std::to_string(n_max) + ") or use more images per class");
    }
    if (split.labeled_counts[c] == 0) {
      const std::string settings =
          data.protocol == SplitProtocol::kCrest
              ? "data.label_fraction = " + number(data.label_fraction)
              : "data.num_labeled_head = " + std::to_string(data.num_labeled_head) +
                    " and data.imbalance_ratio_labeled = " + number(data.imbalance_ratio_labeled);
      throw DataError(class_label(names, c) + " gets 0 labeled images: " + settings +
                      " leave it none; raise " +
                      (data.protocol == SplitProtocol::kCrest ? "data.label_fraction"
                                                              : "data.num_labeled_head or lower "
                                                                "data.imbalance_ratio_labeled"));
    }
    if (prepared.test_counts[c] == 0) {
      throw DataError("the test set" +
                      (reads_files(data.dataset) ? " in data.root " + data.root : std::string()) +
                      " has no image of " + class_label(names, c) +
                      ", so its recall cannot be measured; add test images of that class");
    }
  }
  if (split.unlabeled.empty()) {
    throw DataError(
        "the split leaves no unlabeled images (" +
        (data.protocol == SplitProtocol::kCrest
             ? "data.label_fraction = " + number(data.label_fraction) + " labels every image"
             : "data.num_unlabeled_head = " + std::to_string(data.num_unlabeled_head)) +
        "), and FixMatch and the pseudo-label selection need some; " +
        (data.protocol == SplitProtocol::kCrest ? "lower data.label_fraction"
                                                : "raise data.num_unlabeled_head"));
  }
}

}  // namespace

PreparedData prepare_data(const DataConfig& data) {
  PreparedData prepared;
  prepared.source = load_source(data);
  prepared.split =
      build_split(prepared.source.train.labels, prepared.source.train.num_classes(), data);
  prepared.test_counts = prepared.source.test.class_counts();
  check_split(data, prepared);
  return prepared;
}

nlohmann::json split_counts_json(const PreparedData& prepared) {
  return {{"classes", prepared.source.train.class_names},
          {"lt_counts", prepared.split.lt_counts},
          {"labeled", prepared.split.labeled_counts},
          {"unlabeled", prepared.split.unlabeled_counts},
          {"test", prepared.test_counts}};
}

std::string split_counts_table(const PreparedData& prepared) {
  const auto& names = prepared.source.train.class_names;
  std::size_t name_width = 5;
  for (const auto& name : names) name_width = std::max(name_width, name.size());
  std::ostringstream out;
  char line[256];
  auto row = [&](const std::string& c, const std::string& a, const std::string& b,
                 const std::string& d, const std::string& e, const std::string& f) {
    std::snprintf(line, sizeof(line), "%-*s  %-*s  %8s  %8s  %9s  %7s\n", 5, c.c_str(),
                  static_cast<int>(name_width), a.c_str(), b.c_str(), d.c_str(), e.c_str(),
                  f.c_str());
    out << line;
  };
  row("class", "name", "LT", "labeled", "unlabeled", "test");
  std::int64_t totals[4] = {0, 0, 0, 0};
  for (std::size_t c = 0; c < names.size(); ++c) {
    const std::int64_t values[4] = {prepared.split.lt_counts[c], prepared.split.labeled_counts[c],
                                    prepared.split.unlabeled_counts[c], prepared.test_counts[c]};
    for (int k = 0; k < 4; ++k) totals[k] += values[k];
    row(std::to_string(c), names[c], std::to_string(values[0]), std::to_string(values[1]),
        std::to_string(values[2]), std::to_string(values[3]));
  }
  row("total", "", std::to_string(totals[0]), std::to_string(totals[1]), std::to_string(totals[2]),
      std::to_string(totals[3]));
  return out.str();
}

std::string dataset_fingerprint(const Dataset& dataset) {
  const at::Tensor images = dataset.images.contiguous();
  const at::Tensor labels = dataset.labels.contiguous();
  std::uint64_t hash = fnv1a64(images.data_ptr(), static_cast<std::size_t>(images.nbytes()));
  hash = fnv1a64(labels.data_ptr(), static_cast<std::size_t>(labels.nbytes()), hash);
  return hex64(hash);
}

nlohmann::json split_manifest(const DataConfig& data, const PreparedData& prepared) {
  nlohmann::json settings = {{"dataset", to_string(data.dataset)},
                             {"protocol", to_string(data.protocol)},
                             {"fold", data.fold}};
  // The settings that decide the data: the root of files read, the size of images not fixed
  // by the format, the generator of synthetic ones.
  switch (data.dataset) {
    case DatasetKind::kCifar10:
    case DatasetKind::kCifar100:
      settings["root"] = data.root;
      break;
    case DatasetKind::kFolder:
      settings["root"] = data.root;
      settings["image_size"] = data.image_size;
      break;
    case DatasetKind::kSynthetic:
      settings["synthetic"] = {{"classes", data.synthetic.classes},
                               {"train_per_class", data.synthetic.train_per_class},
                               {"test_per_class", data.synthetic.test_per_class},
                               {"seed", data.synthetic.seed}};
      settings["image_size"] = data.image_size;
      break;
  }
  switch (data.protocol) {
    case SplitProtocol::kCrest:
      settings["imbalance_ratio"] = data.imbalance_ratio;
      settings["label_fraction"] = data.label_fraction;
      settings["lt_seed"] = data.lt_seed;
      settings["max_per_class"] = data.max_per_class;
      break;
    case SplitProtocol::kDarp:
      settings["num_labeled_head"] = data.num_labeled_head;
      settings["num_unlabeled_head"] = data.num_unlabeled_head;
      settings["imbalance_ratio_labeled"] = data.imbalance_ratio_labeled;
      settings["imbalance_ratio_unlabeled"] = data.imbalance_ratio_unlabeled;
      break;
    case SplitProtocol::kAsIs:
      break;
  }
  const DatasetPair& source = prepared.source;
  return {{"format", kSplitManifestFormat},
          {"version", kSplitManifestVersion},
          {"crest_version", CREST_VERSION},
          {"settings", settings},
          {"source",
           {{"train_size", source.train.size()},
            {"test_size", source.test.size()},
            {"image_shape", std::vector<std::int64_t>(source.train.images.sizes().begin() + 1,
                                                      source.train.images.sizes().end())},
            {"train_fingerprint", dataset_fingerprint(source.train)},
            {"test_fingerprint", dataset_fingerprint(source.test)}}},
          {"classes", source.train.class_names},
          {"lt_counts", prepared.split.lt_counts},
          {"labeled_counts", prepared.split.labeled_counts},
          {"unlabeled_counts", prepared.split.unlabeled_counts},
          {"test_counts", prepared.test_counts},
          {"labeled_indices", prepared.split.labeled},
          {"unlabeled_indices", prepared.split.unlabeled}};
}

}  // namespace crest
