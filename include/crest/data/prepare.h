// From a data config to the data a run uses: load the source dataset, build the long-tailed
// set and its labeled/unlabeled split, and describe it all in a manifest.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "crest/config/config.h"
#include "crest/data/dataset.h"
#include "crest/data/split.h"

namespace crest {

// Where decoded image files are cached (data.cache): RUN/cache for "run", none for "off" or
// data that decodes no image files, else the named folder.
std::filesystem::path decoded_cache_dir(const DataConfig& data,
                                        const std::filesystem::path& run_dir);

// Loads the configured source dataset (train, test and any val) from disk or the generator,
// with the unlabeled images of data.unlabeled_root (and a folder dataset's ROOT/unlabeled) at
// the end of the training set as kUnknownLabel. Image files are decoded through the cache in
// `cache_dir` (empty = no cache; images.h).
DatasetPair load_source(const DataConfig& data, const std::filesystem::path& cache_dir = {});

// The test set of load_source alone. A folder dataset decodes only ROOT/test (through the cache
// in `cache_dir`, the same files load_source uses), listing ROOT/train for its class names; the
// other datasets load as load_source does, without data.unlabeled_root. DataError as there.
Dataset load_test_set(const DataConfig& data, const std::filesystem::path& cache_dir = {});

struct PreparedData {
  DatasetPair source;
  Split split;
  SplitProtocol protocol = SplitProtocol::kCrest;
  std::vector<std::int64_t> test_counts;
  std::vector<std::int64_t> val_counts;  // empty when there is no val set
  // The check for exact duplicates across the sets (data/duplicates.h), for the manifest:
  // {"policy", "sets", "images", "found", and under data.duplicates: drop "dropped" (per set
  // the count) and "dropped_images" (per set the source indices, or files, left out)}.
  nlohmann::json duplicates;

  // max / min of the labeled counts per class (data.protocol as_is reports it).
  double measured_imbalance_ratio() const;
};

// Loads the source, builds the split and checks it for exact duplicate images across test, val,
// labeled and unlabeled (data.duplicates: refuse is a DataError naming the images, the count per
// pair of sets and the key; drop leaves out the copy in the later set and logs how many);
// DataError when a class ends up without labeled or test images, or (crest, darp, acr) nothing is
// left unlabeled.
PreparedData prepare_data(const DataConfig& data, const std::filesystem::path& cache_dir = {});

// The per-class table as JSON: {"classes", "lt_counts", "labeled", "unlabeled" (null when some
// unlabeled images have no known class; then "unlabeled_known"), "unlabeled_unknown", "test",
// "val" (when there is a val set), "imbalance_ratio_measured"}.
nlohmann::json split_counts_json(const PreparedData& prepared);

// data.protocol acr's note beside the counts: the reference's unlabeled set is the unlabeled
// images plus the labeled ones (their total), which ACR's estimate and CReST's selection leave.
std::string acr_unlabeled_note(const Split& split);

// The per-class table for people: class, name, LT count (not for as_is), labeled, unlabeled,
// test, val, the totals and the measured imbalance ratio of the labeled set.
std::string split_counts_table(const PreparedData& prepared);

// The split manifest: the settings that produced the split, fingerprints of the source data,
// the per-class counts and the labeled and unlabeled indices into the source training set.
// io/manifest.h writes and reads it.
nlohmann::json split_manifest(const DataConfig& data, const PreparedData& prepared);

// How data.resize fits images, in words, for the manifest.
std::string resize_method(ResizeMode resize);

// Fingerprint (FNV-1a 64, hex) of a dataset's images and labels.
std::string dataset_fingerprint(const Dataset& dataset);

}  // namespace crest
