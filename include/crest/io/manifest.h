// RUN/split_manifest.json: the settings that produced a run's split, fingerprints of the source
// data, the per-class counts and the labeled and unlabeled indices into the source training set
// (built by split_manifest() in data/prepare.h). Kept as JSON: its parts mirror the data
// config, and readers compare them part by part.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>

namespace crest {

// "format" and "version" of a manifest this crest writes and reads.
inline constexpr char kSplitManifestFormat[] = "crest-split-manifest";
inline constexpr int kSplitManifestVersion = 1;

// Writes the manifest atomically (JSON indented by 1).
void write_split_manifest(const std::filesystem::path& path, const nlohmann::json& manifest);

// Reads a manifest back; a missing or malformed file, another format or version, or a missing
// part ("settings", "source", "classes", "labeled_indices", "unlabeled_indices") is a DataError
// naming it.
nlohmann::json read_split_manifest(const std::filesystem::path& path);

}  // namespace crest
