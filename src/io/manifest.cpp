#include "crest/io/manifest.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "crest/io/file.h"
#include "crest/io/json_text.h"
#include "crest/util/error.h"
#include "json_fields.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

// Parts a crest of an earlier version did not write: absent from a stored manifest, they are not
// compared (present, they are).
constexpr const char* kLaterParts[] = {"duplicates"};

// What to do about a manifest that is not what crest wrote.
constexpr const char* kEdited =
    "; the manifest was edited or damaged: put back the original (or run crest data prepare "
    "again into a new folder)";

[[noreturn]] void bad_part(const fs::path& path, const std::string& key, const nlohmann::json& v,
                           const std::string& expected) {
  std::string shown = json_text(v);
  if (shown.size() > 60) shown = shown.substr(0, 57) + "...";
  throw DataError(path.string() + ": '" + key + "' is " + shown + ", not " + expected + kEdited);
}

// "format" and "version": a manifest of this crest.
void check_format(const fs::path& path, const nlohmann::json& manifest) {
  const auto format = manifest.find("format");
  if (format == manifest.end() || !format->is_string() || *format != kSplitManifestFormat) {
    throw DataError(path.string() + " is not a crest split manifest ('format' is " +
                    (format == manifest.end() ? std::string("absent") : json_text(*format)) +
                    ", expected \"" + kSplitManifestFormat + "\")" + kEdited);
  }
  const auto version = manifest.find("version");
  if (version == manifest.end() || !version->is_number_integer() ||
      version->get<std::int64_t>() != kSplitManifestVersion) {
    throw DataError(path.string() + " has manifest 'version' " +
                    (version == manifest.end() ? std::string("absent") : json_text(*version)) +
                    "; this crest reads version " + std::to_string(kSplitManifestVersion) +
                    " (the number 1)" + kEdited);
  }
}

// A list of whole numbers >= 0 (indices, counts).
void check_counts(const fs::path& path, const nlohmann::json& manifest, const char* key) {
  for (std::int64_t n : io_detail::json_list<std::int64_t>(manifest, key, path)) {
    if (n < 0) bad_part(path, key, n, "a list of whole numbers >= 0");
  }
}

// The parts every manifest has, and the optional ones where present, by type.
void check_parts(const fs::path& path, const nlohmann::json& manifest) {
  for (const char* key :
       {"settings", "source", "classes", "labeled_indices", "unlabeled_indices"}) {
    if (!manifest.contains(key)) {
      throw DataError(path.string() + " lacks \"" + key + "\"; the manifest is incomplete" +
                      kEdited);
    }
  }
  for (const char* key : {"settings", "source", "duplicates"}) {
    if (manifest.contains(key) && !manifest[key].is_object()) {
      bad_part(path, key, manifest[key], "an object");
    }
  }
  for (const char* key : {"classes", "labeled_files", "unlabeled_files"}) {
    if (manifest.contains(key)) io_detail::json_list<std::string>(manifest, key, path);
  }
  for (const char* key : {"labeled_indices", "unlabeled_indices", "lt_counts", "labeled_counts",
                          "unlabeled_counts", "test_counts", "val_counts"}) {
    if (manifest.contains(key)) check_counts(path, manifest, key);
  }
  const nlohmann::json& source = manifest["source"];
  for (const char* key : {"train_size", "test_size", "val_size"}) {
    if (source.contains(key) && io_detail::json_field<std::int64_t>(source, key, path) < 0) {
      bad_part(path, std::string("source.") + key, source[key], "a whole number >= 0");
    }
  }
  for (const char* key : {"train_fingerprint", "test_fingerprint", "val_fingerprint"}) {
    if (source.contains(key)) io_detail::json_field<std::string>(source, key, path);
  }
  for (const char* key : {"crest_version", "unlabeled_truth"}) {
    if (manifest.contains(key)) io_detail::json_field<std::string>(manifest, key, path);
  }
  if (manifest.contains("unlabeled_unknown")) {
    io_detail::json_field<std::int64_t>(manifest, "unlabeled_unknown", path);
  }
}

// Each image file named once per index.
void check_lengths(const fs::path& path, const nlohmann::json& manifest) {
  for (const auto& [files, indices] : {std::pair{"labeled_files", "labeled_indices"},
                                       std::pair{"unlabeled_files", "unlabeled_indices"}}) {
    if (manifest.contains(files) && manifest[files].size() != manifest[indices].size()) {
      throw DataError(path.string() + ": '" + files + "' names " +
                      std::to_string(manifest[files].size()) + " files for " +
                      std::to_string(manifest[indices].size()) + " '" + indices + "'" + kEdited);
    }
  }
}

std::string shown(const nlohmann::json& v) {
  std::string text = v.is_null() ? "absent" : json_text(v);
  return text.size() > 60 ? text.substr(0, 57) + "..." : text;
}

// How two lists differ: their lengths, or how many entries and the first.
std::string list_difference(const nlohmann::json& stored, const nlohmann::json& now) {
  if (stored.size() != now.size()) {
    return std::to_string(stored.size()) + " entries stored, " + std::to_string(now.size()) +
           " now";
  }
  std::size_t count = 0, first = 0;
  for (std::size_t i = stored.size(); i-- > 0;) {
    if (stored[i] != now[i]) {
      ++count;
      first = i;
    }
  }
  return std::to_string(count) + " of " + std::to_string(stored.size()) +
         " entries differ, the first at position " + std::to_string(first) + " (stored " +
         shown(stored[first]) + ", now " + shown(now[first]) + ")";
}

void add_difference(std::vector<std::string>& out, const std::string& key,
                    const nlohmann::json& stored, const nlohmann::json& now) {
  if (stored == now) return;
  if (stored.is_object() && now.is_object()) {
    nlohmann::json keys = stored;
    keys.update(now);
    for (const auto& item : keys.items()) {
      const auto a = stored.find(item.key()), b = now.find(item.key());
      add_difference(out, key + "." + item.key(), a == stored.end() ? nlohmann::json() : *a,
                     b == now.end() ? nlohmann::json() : *b);
    }
    return;
  }
  if (stored.is_array() && now.is_array()) {
    out.push_back(key + ": " + list_difference(stored, now));
    return;
  }
  out.push_back(key + ": stored " + shown(stored) + ", now " + shown(now));
}

}  // namespace

void write_split_manifest(const fs::path& path, const nlohmann::json& manifest) {
  write_file_atomic(path, json_text(manifest, 1) + "\n");
}

nlohmann::json read_split_manifest(const fs::path& path) {
  nlohmann::json manifest = io_detail::read_json_file(path);
  if (!manifest.is_object()) {
    throw DataError(path.string() + " is not a crest split manifest (not a JSON object)" + kEdited);
  }
  check_format(path, manifest);
  check_parts(path, manifest);
  check_lengths(path, manifest);
  return manifest;
}

std::string manifest_differences(const nlohmann::json& stored, const nlohmann::json& now,
                                 const std::vector<std::string>& parts) {
  std::vector<std::string> keys = parts;
  if (keys.empty()) {
    for (const auto* j : {&stored, &now}) {
      for (const auto& item : j->items()) keys.push_back(item.key());
    }
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  }
  std::vector<std::string> lines;
  for (const std::string& key : keys) {
    if (key == "crest_version") continue;
    const bool later =
        std::find(std::begin(kLaterParts), std::end(kLaterParts), key) != std::end(kLaterParts);
    if (later && !stored.contains(key)) continue;
    add_difference(lines, key, stored.contains(key) ? stored[key] : nlohmann::json(),
                   now.contains(key) ? now[key] : nlohmann::json());
  }
  std::string text;
  for (const std::string& line : lines) text += "\n  " + line;
  return text;
}

}  // namespace crest
