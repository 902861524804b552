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

// Loads the configured source dataset (train and test) from disk or the generator.
DatasetPair load_source(const DataConfig& data);

struct PreparedData {
  DatasetPair source;
  Split split;
  std::vector<std::int64_t> test_counts;
};

PreparedData prepare_data(const DataConfig& data);

// The per-class table as JSON: {"classes", "lt_counts", "labeled", "unlabeled", "test"}.
nlohmann::json split_counts_json(const PreparedData& prepared);

// The per-class table for people: class, LT count, labeled, unlabeled, test, and totals.
std::string split_counts_table(const PreparedData& prepared);

// The split manifest: the settings that produced the split, fingerprints of the source data,
// the per-class counts and the labeled and unlabeled indices into the source training set.
// io/manifest.h writes and reads it.
nlohmann::json split_manifest(const DataConfig& data, const PreparedData& prepared);

// Fingerprint (FNV-1a 64, hex) of a dataset's images and labels.
std::string dataset_fingerprint(const Dataset& dataset);

}  // namespace crest
