// RUN/split_manifest.json: the settings that produced a run's split, fingerprints of the source
// data, the per-class counts and the labeled and unlabeled indices into the source training set
// (built by split_manifest() in data/prepare.h). Kept as JSON: its parts mirror the data
// config, and readers compare them part by part.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace crest {

// "format" and "version" of a manifest this crest writes and reads.
inline constexpr char kSplitManifestFormat[] = "crest-split-manifest";
inline constexpr int kSplitManifestVersion = 1;

// Writes the manifest atomically (JSON indented by 1).
void write_split_manifest(const std::filesystem::path& path, const nlohmann::json& manifest);

// Reads a manifest back, every part checked for its type before anyone reads it. DataError
// naming the file (and the key) for: a missing or malformed file; "format" not the string
// kSplitManifestFormat or "version" not the number kSplitManifestVersion (a string "1" too); a
// missing part ("settings", "source", "classes", "labeled_indices", "unlabeled_indices"); a part
// of the wrong type (settings, source, duplicates objects; classes and file lists of strings;
// indices and counts lists of whole numbers >= 0; the sizes and fingerprints in source); file
// lists of another length than their indices.
nlohmann::json read_split_manifest(const std::filesystem::path& path);

// What differs between a stored manifest and the one the config and data give now, one line per
// difference, each starting "\n  " ("\n  unlabeled_indices: 2 of 40 entries differ, the first at
// position 3 (stored 17, now 18)", "\n  settings.fold: stored 1, now 2"); "" when they describe
// the same split. Compares the top-level `parts` (empty: every part of either), never
// "crest_version"; a part this crest adds that an older crest did not write ("duplicates") is
// compared only when the stored manifest has it.
std::string manifest_differences(const nlohmann::json& stored, const nlohmann::json& now,
                                 const std::vector<std::string>& parts = {});

}  // namespace crest
