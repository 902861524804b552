#include "crest/data/prepare.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <numeric>
#include <sstream>

#include "crest/config/protocol_default.h"
#include "crest/data/cifar.h"
#include "crest/data/duplicates.h"
#include "crest/data/folder.h"
#include "crest/data/synthetic.h"
#include "crest/io/manifest.h"
#include "crest/io/run_files.h"
#include "crest/util/error.h"
#include "crest/util/hash.h"
#include "crest/util/text_escape.h"

namespace crest {

namespace fs = std::filesystem;

fs::path decoded_cache_dir(const DataConfig& data, const fs::path& run_dir) {
  const bool decodes = data.dataset == DatasetKind::kFolder || !data.unlabeled_root.empty();
  if (data.cache == "off" || !decodes) return {};
  if (data.cache == "run") return run_dir / kCacheDir;
  return data.cache;
}

DatasetPair load_source(const DataConfig& data, const fs::path& cache_dir) {
  FolderOptions folder;
  folder.image_size = data.image_size;
  folder.resize = data.resize;
  folder.cache_dir = cache_dir;
  DatasetPair pair;
  switch (data.dataset) {
    case DatasetKind::kCifar10:
      pair = read_cifar10(data.root);
      break;
    case DatasetKind::kCifar100:
      pair = read_cifar100(data.root);
      break;
    case DatasetKind::kFolder:
      pair = read_image_folder(data.root, folder);
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
  check_dataset(pair.train, name + " training set", /*unknown_allowed=*/true);
  check_dataset(pair.test, name + " test set");
  if (pair.val.size() > 0) check_dataset(pair.val, name + " validation set");
  const std::string where = reads_files(data.dataset) ? " in data.root " + data.root : "";
  if (pair.train.size() == pair.train.unknown_count()) {
    throw DataError("the " + name + " training set" + where + " holds no labeled images");
  }
  if (pair.test.size() == 0) {
    throw DataError("the " + name + " test set" + where +
                    " holds no images: every generation is evaluated on it; add test images");
  }
  if (!data.unlabeled_root.empty()) {
    pair.train = concatenate(
        pair.train, read_unlabeled_folder(data.unlabeled_root, pair.train.class_names, folder));
  }
  return pair;
}

Dataset load_test_set(const DataConfig& data, const fs::path& cache_dir) {
  if (data.dataset != DatasetKind::kFolder) {
    DataConfig labeled = data;
    labeled.unlabeled_root.clear();
    return load_source(labeled, cache_dir).test;
  }
  FolderOptions folder;
  folder.image_size = data.image_size;
  folder.resize = data.resize;
  folder.cache_dir = cache_dir;
  Dataset test = read_image_folder_test(data.root, folder);
  check_dataset(test, "folder test set");
  if (test.size() == 0) {
    throw DataError("the folder test set in data.root " + data.root + " holds no images");
  }
  return test;
}

namespace {

std::string class_label(const std::vector<std::string>& names, std::size_t c) {
  return "class " + std::to_string(c) + " '" + visible_text(names[c]) + "'";
}

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", value);
  return text;
}

DataError no_labeled_images(const DataConfig& data, const std::string& label) {
  switch (data.protocol) {
    case SplitProtocol::kCrest:
      return DataError(
          label + " gets 0 labeled images: data.label_fraction = " + number(data.label_fraction) +
          " leaves it none; raise data.label_fraction; " + protocol_hint(data));
    case SplitProtocol::kDarp:
    case SplitProtocol::kAcr:
      return DataError(
          label + " gets 0 labeled images: data.num_labeled_head = " +
          std::to_string(data.num_labeled_head) +
          " and data.imbalance_ratio_labeled = " + number(data.imbalance_ratio_labeled) +
          " leave it none; raise data.num_labeled_head or lower "
          "data.imbalance_ratio_labeled; " +
          protocol_hint(data));
    case SplitProtocol::kAsIs:
      break;
  }
  return DataError(label + " has no labeled image" +
                   (reads_files(data.dataset) ? " in data.root " + data.root : std::string()) +
                   "; add labeled images of that class (" + protocol_hint(data) + ")");
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
                      std::to_string(n_max) + ") or use more images per class; " +
                      protocol_hint(data));
    }
    if (split.labeled_counts[c] == 0) throw no_labeled_images(data, class_label(names, c));
    if (prepared.test_counts[c] == 0) {
      throw DataError("the test set" +
                      (reads_files(data.dataset) ? " in data.root " + data.root : std::string()) +
                      " has no image of " + class_label(names, c) +
                      ", so its recall cannot be measured; add test images of that class");
    }
  }
  // as_is may have no unlabeled images (plain FixMatch on the labeled set); the selection
  // modes refuse that when the run is planned (selftrain/loop.cpp).
  if (split.unlabeled.empty() && data.protocol != SplitProtocol::kAsIs) {
    throw DataError(
        "the split leaves no unlabeled images (" +
        (data.protocol == SplitProtocol::kCrest
             ? "data.label_fraction = " + number(data.label_fraction) + " labels every image"
             : "data.num_unlabeled_head = " + std::to_string(data.num_unlabeled_head)) +
        "), and FixMatch and the pseudo-label selection need some; " +
        (data.protocol == SplitProtocol::kCrest ? "lower data.label_fraction"
                                                : "raise data.num_unlabeled_head") +
        "; " + protocol_hint(data));
  }
}

std::vector<std::int64_t> all_rows(const Dataset& dataset) {
  std::vector<std::int64_t> rows(static_cast<std::size_t>(dataset.size()));
  std::iota(rows.begin(), rows.end(), 0);
  return rows;
}

// The sets a run keeps apart, in the order that decides which copy data.duplicates: drop leaves
// out (the one in the later set).
std::vector<ImageSet> kept_apart(const PreparedData& prepared) {
  const DatasetPair& source = prepared.source;
  std::vector<ImageSet> sets = {{"test", &source.test, all_rows(source.test), "test index"}};
  if (source.val.size() > 0)
    sets.push_back({"val", &source.val, all_rows(source.val), "val index"});
  sets.push_back({"labeled", &source.train, prepared.split.labeled, "train index"});
  sets.push_back({"unlabeled", &source.train, prepared.split.unlabeled, "train index"});
  return sets;
}

// data.duplicates: drop. Leaves out each later copy (val rows from the val set, source indices
// from the split) and records what it left out.
void drop_duplicates(PreparedData& prepared, const std::vector<ImageSet>& sets,
                     const std::vector<Duplicate>& found) {
  std::map<std::string, std::vector<std::int64_t>> rows;
  for (const Duplicate& d : found) rows[sets[d.set].name].push_back(d.row);
  nlohmann::json dropped = nlohmann::json::object(), images = nlohmann::json::object();
  for (const auto& [name, list] : rows) {
    const ImageSet& set =
        *std::find_if(sets.begin(), sets.end(), [&](const ImageSet& s) { return s.name == name; });
    dropped[name] = list.size();
    for (std::int64_t row : list) images[name].push_back(image_name(set, row));
  }
  prepared.duplicates["dropped"] = dropped;
  prepared.duplicates["dropped_images"] = images;
  std::vector<std::int64_t> train_rows = rows["labeled"];
  train_rows.insert(train_rows.end(), rows["unlabeled"].begin(), rows["unlabeled"].end());
  Dataset& train = prepared.source.train;
  remove_from_split(prepared.split, train_rows, train.labels, train.num_classes());
  if (!rows["val"].empty()) {
    std::vector<std::int64_t> keep;
    const std::vector<std::int64_t>& gone = rows["val"];
    for (std::int64_t i = 0; i < prepared.source.val.size(); ++i) {
      if (std::find(gone.begin(), gone.end(), i) == gone.end()) keep.push_back(i);
    }
    prepared.source.val = prepared.source.val.subset(keep);
  }
  spdlog::warn(
      "data.duplicates drop: left out {} image(s) that repeat an image of an earlier set "
      "({}); split_manifest.json lists them under \"duplicates\"",
      found.size(), dropped.dump());
}

// Exact duplicates across test, val, labeled and unlabeled: refused, or dropped from the later
// set (data.duplicates); whether any were dropped.
bool check_duplicates(const DataConfig& data, PreparedData& prepared) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<ImageSet> sets = kept_apart(prepared);
  const std::vector<Duplicate> found = find_duplicates(sets);
  std::int64_t images = 0;
  nlohmann::json names = nlohmann::json::array();
  for (const ImageSet& set : sets) {
    images += static_cast<std::int64_t>(set.rows.size());
    names.push_back(set.name);
  }
  spdlog::debug("exact duplicates across {}: {} among {} images ({:.3f} s)", names.dump(),
                found.size(), images,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  prepared.duplicates = {{"policy", to_string(data.duplicates)},
                         {"sets", names},
                         {"images", images},
                         {"found", found.size()}};
  if (found.empty()) return false;
  if (data.duplicates == DuplicatePolicy::kDrop) {
    drop_duplicates(prepared, sets, found);
    return true;
  }
  throw DataError(
      std::to_string(found.size()) +
      " image(s) repeat an image of another set (the same pixels after decoding and fitting to "
      "data.image_size), so what the run measures on one set it has seen in another:" +
      describe_duplicates(sets, found, 5) + "\nremove the copies from the data (data.root" +
      (data.unlabeled_root.empty() ? std::string() : ", data.unlabeled_root") +
      "), or set data.duplicates: drop to leave out the copy in the later set (order test, val, "
      "labeled, unlabeled; logged and listed in split_manifest.json)");
}

// Which protocol the run uses and why; for a folder dataset cut by crest, darp or acr, how many
// of its labeled images stay labeled, become unlabeled or are left out.
void log_protocol(const DataConfig& data, const PreparedData& prepared) {
  const std::string note = protocol_note(data);
  if (!note.empty()) spdlog::info("{}", note);
  if (data.dataset != DatasetKind::kFolder || data.protocol == SplitProtocol::kAsIs) return;
  const Split& split = prepared.split;
  const std::int64_t given = prepared.source.train.size() - prepared.source.train.unknown_count();
  const auto labeled = static_cast<std::int64_t>(split.labeled.size());
  const auto unlabeled =
      static_cast<std::int64_t>(split.unlabeled.size()) - split.unlabeled_unknown;
  spdlog::warn(
      "data.protocol {}: of the {} labeled images in {}, {} stay labeled, {} are used as "
      "unlabeled and {} are left out; data.protocol: as_is keeps all {} labeled",
      to_string(data.protocol), given, data.root, labeled, unlabeled, given - labeled - unlabeled,
      given);
}

}  // namespace

PreparedData prepare_data(const DataConfig& data, const fs::path& cache_dir) {
  PreparedData prepared;
  prepared.source = load_source(data, cache_dir);
  prepared.protocol = data.protocol;
  prepared.split =
      build_split(prepared.source.train.labels, prepared.source.train.num_classes(), data);
  const auto count_and_check = [&] {
    prepared.test_counts = prepared.source.test.class_counts();
    prepared.val_counts.clear();
    if (prepared.source.val.size() > 0) prepared.val_counts = prepared.source.val.class_counts();
    check_split(data, prepared);
  };
  count_and_check();
  // After the split's own checks, which say more about data that is wrong anyway; a drop can
  // leave a class without labeled images, which the checks then name.
  if (check_duplicates(data, prepared)) count_and_check();
  log_protocol(data, prepared);
  return prepared;
}

double PreparedData::measured_imbalance_ratio() const {
  return crest::measured_imbalance_ratio(split.labeled_counts);
}

nlohmann::json split_counts_json(const PreparedData& prepared) {
  const Split& split = prepared.split;
  nlohmann::json json = {{"classes", prepared.source.train.class_names},
                         {"lt_counts", split.lt_counts},
                         {"labeled", split.labeled_counts},
                         {"unlabeled", split.unlabeled_counts},
                         {"unlabeled_unknown", split.unlabeled_unknown},
                         {"test", prepared.test_counts},
                         {"imbalance_ratio_measured", prepared.measured_imbalance_ratio()}};
  if (!split.unlabeled_truth_known()) {
    // Per-class counts of the unlabeled pool are not known when some of it has no label.
    json["unlabeled"] = nullptr;
    json["unlabeled_known"] = split.unlabeled_counts;
  }
  if (!prepared.val_counts.empty()) json["val"] = prepared.val_counts;
  return json;
}

std::string acr_unlabeled_note(const Split& split) {
  const auto labeled = static_cast<std::int64_t>(split.labeled.size());
  const auto unlabeled = static_cast<std::int64_t>(split.unlabeled.size());
  return "data.protocol acr: the unlabeled set is these " + std::to_string(unlabeled) +
         " unlabeled images plus the " + std::to_string(labeled) + " labeled ones (" +
         std::to_string(labeled + unlabeled) +
         ", as ACR's train_split); ACR's estimate skips the labeled ones, and CReST never "
         "pseudo-labels them";
}

std::string split_counts_table(const PreparedData& prepared) {
  const auto& names = prepared.source.train.class_names;
  const Split& split = prepared.split;
  const bool unlabeled_known = split.unlabeled_truth_known();
  const bool has_val = !prepared.val_counts.empty();
  std::size_t name_width = 5;
  for (const auto& name : names) name_width = std::max(name_width, name.size());
  // Columns: class, name, then the counts (LT only where a long tail was cut).
  std::vector<std::string> heads;
  if (prepared.protocol != SplitProtocol::kAsIs) heads.push_back("LT");
  heads.insert(heads.end(), {"labeled", "unlabeled", "test"});
  if (has_val) heads.push_back("val");
  std::ostringstream out;
  char cell[64];
  auto row = [&](const std::string& c, const std::string& name,
                 const std::vector<std::string>& values) {
    std::snprintf(cell, sizeof(cell), "%-5s  %-*s", c.c_str(), static_cast<int>(name_width),
                  name.c_str());
    out << cell;
    for (const auto& v : values) {
      std::snprintf(cell, sizeof(cell), "  %9s", v.c_str());
      out << cell;
    }
    out << "\n";
  };
  row("class", "name", heads);
  std::vector<std::int64_t> totals(heads.size(), 0);
  for (std::size_t c = 0; c < names.size(); ++c) {
    std::vector<std::int64_t> values;
    if (prepared.protocol != SplitProtocol::kAsIs) values.push_back(split.lt_counts[c]);
    values.insert(values.end(),
                  {split.labeled_counts[c], split.unlabeled_counts[c], prepared.test_counts[c]});
    if (has_val) values.push_back(prepared.val_counts[c]);
    std::vector<std::string> text;
    for (std::size_t k = 0; k < values.size(); ++k) {
      totals[k] += values[k];
      const bool unknown = heads[k] == "unlabeled" && !unlabeled_known;
      text.push_back(
          unknown ? (split.unlabeled_counts[c] == 0 ? "unknown" : std::to_string(values[k]) + "+?")
                  : std::to_string(values[k]));
    }
    row(std::to_string(c), visible_text(names[c]), text);
  }
  std::vector<std::string> total_text;
  for (std::size_t k = 0; k < totals.size(); ++k) {
    const bool unlabeled = heads[k] == "unlabeled";
    total_text.push_back(std::to_string(totals[k] + (unlabeled ? split.unlabeled_unknown : 0)));
  }
  row("total", "", total_text);
  if (!unlabeled_known) {
    out << split.unlabeled_unknown
        << " unlabeled image(s) have no known class (their per-class counts are unknown)\n";
  }
  if (prepared.protocol == SplitProtocol::kAcr) out << acr_unlabeled_note(split) << "\n";
  std::snprintf(cell, sizeof(cell), "%.2f", prepared.measured_imbalance_ratio());
  out << "imbalance ratio of the labeled set (measured, largest / smallest class): " << cell
      << "\n";
  return out.str();
}

std::string dataset_fingerprint(const Dataset& dataset) {
  const at::Tensor images = dataset.images.contiguous();
  const at::Tensor labels = dataset.labels.contiguous();
  std::uint64_t hash = fnv1a64(images.data_ptr(), static_cast<std::size_t>(images.nbytes()));
  hash = fnv1a64(labels.data_ptr(), static_cast<std::size_t>(labels.nbytes()), hash);
  return hex64(hash);
}

std::string resize_method(ResizeMode resize) {
  switch (resize) {
    case ResizeMode::kArea:
      return "whole image resized to a square: area interpolation (cv::INTER_AREA) when "
             "shrinking, bilinear when enlarging";
    case ResizeMode::kCenterCrop:
      return "shorter side resized (area interpolation when shrinking, bilinear when "
             "enlarging), then the centre square cropped";
    case ResizeMode::kError:
      return "none: every image must have the configured size";
  }
  return "";
}

namespace {

// The settings that decide the source images: the root of files read, the size of images not
// fixed by the format, the generator of synthetic ones.
void add_source_settings(const DataConfig& data, nlohmann::json& settings) {
  switch (data.dataset) {
    case DatasetKind::kCifar10:
    case DatasetKind::kCifar100:
      settings["root"] = data.root;
      break;
    case DatasetKind::kFolder:
      settings["root"] = data.root;
      settings["image_size"] = data.image_size;
      settings["resize"] = to_string(data.resize);
      settings["resize_method"] = resize_method(data.resize);
      break;
    case DatasetKind::kSynthetic:
      settings["synthetic"] = {{"classes", data.synthetic.classes},
                               {"train_per_class", data.synthetic.train_per_class},
                               {"test_per_class", data.synthetic.test_per_class},
                               {"seed", data.synthetic.seed}};
      settings["image_size"] = data.image_size;
      break;
  }
}

// The settings of the split protocol (for as_is, the imbalance it measured).
void add_protocol_settings(const DataConfig& data, const PreparedData& prepared,
                           nlohmann::json& settings) {
  switch (data.protocol) {
    case SplitProtocol::kCrest:
      settings["imbalance_ratio"] = data.imbalance_ratio;
      settings["label_fraction"] = data.label_fraction;
      settings["lt_seed"] = data.lt_seed;
      settings["max_per_class"] = data.max_per_class;
      break;
    case SplitProtocol::kDarp:
    case SplitProtocol::kAcr:
      settings["num_labeled_head"] = data.num_labeled_head;
      settings["num_unlabeled_head"] = data.num_unlabeled_head;
      settings["imbalance_ratio_labeled"] = data.imbalance_ratio_labeled;
      settings["imbalance_ratio_unlabeled"] = data.imbalance_ratio_unlabeled;
      break;
    case SplitProtocol::kAsIs:
      settings["imbalance_ratio_measured"] = prepared.measured_imbalance_ratio();
      break;
  }
}

// The manifest's "settings": everything in the config that decides the split.
nlohmann::json split_settings(const DataConfig& data, const PreparedData& prepared) {
  nlohmann::json settings = {{"dataset", to_string(data.dataset)},
                             {"protocol", to_string(data.protocol)},
                             {"fold", data.fold}};
  add_source_settings(data, settings);
  add_protocol_settings(data, prepared, settings);
  if (!data.unlabeled_root.empty()) {
    settings["unlabeled_root"] = data.unlabeled_root;
    settings["resize"] = to_string(data.resize);
    settings["resize_method"] = resize_method(data.resize);
  }
  return settings;
}

// The manifest's "source": the sizes, the image shape and the fingerprints of the source sets.
nlohmann::json source_record(const DatasetPair& source) {
  return {{"train_size", source.train.size()},
          {"test_size", source.test.size()},
          {"image_shape", std::vector<std::int64_t>(source.train.images.sizes().begin() + 1,
                                                    source.train.images.sizes().end())},
          {"train_fingerprint", dataset_fingerprint(source.train)},
          {"test_fingerprint", dataset_fingerprint(source.test)}};
}

// The files (relative to data.root) of the images at `indices`.
std::vector<std::string> file_names(const std::vector<std::string>& files,
                                    const std::vector<std::int64_t>& indices) {
  std::vector<std::string> out;
  out.reserve(indices.size());
  for (std::int64_t i : indices) out.push_back(files[static_cast<std::size_t>(i)]);
  return out;
}

}  // namespace

nlohmann::json split_manifest(const DataConfig& data, const PreparedData& prepared) {
  const DatasetPair& source = prepared.source;
  nlohmann::json manifest = {{"format", kSplitManifestFormat},
                             {"version", kSplitManifestVersion},
                             {"crest_version", CREST_VERSION},
                             {"settings", split_settings(data, prepared)},
                             {"source", source_record(source)},
                             {"classes", source.train.class_names},
                             {"lt_counts", prepared.split.lt_counts},
                             {"labeled_counts", prepared.split.labeled_counts},
                             {"unlabeled_counts", prepared.split.unlabeled_counts},
                             {"test_counts", prepared.test_counts},
                             {"labeled_indices", prepared.split.labeled},
                             {"unlabeled_indices", prepared.split.unlabeled}};
  if (!prepared.duplicates.is_null()) manifest["duplicates"] = prepared.duplicates;
  if (!prepared.split.unlabeled_truth_known()) {
    manifest["unlabeled_unknown"] = prepared.split.unlabeled_unknown;
    manifest["unlabeled_truth"] = "unknown";
  }
  if (!prepared.val_counts.empty()) {
    manifest["val_counts"] = prepared.val_counts;
    manifest["source"]["val_size"] = source.val.size();
    manifest["source"]["val_fingerprint"] = dataset_fingerprint(source.val);
  }
  // Folder datasets name each image's file (relative to data.root), so a user can open them.
  const auto& files = source.train.files;
  if (!files.empty()) {
    manifest["labeled_files"] = file_names(files, prepared.split.labeled);
    manifest["unlabeled_files"] = file_names(files, prepared.split.unlabeled);
  }
  return manifest;
}

}  // namespace crest
