#include "crest/io/manifest.h"

#include <string>

#include "crest/io/file.h"
#include "crest/io/json_text.h"
#include "crest/util/error.h"

namespace crest {

void write_split_manifest(const std::filesystem::path& path, const nlohmann::json& manifest) {
  write_file_atomic(path, json_text(manifest, 1) + "\n");
}

nlohmann::json read_split_manifest(const std::filesystem::path& path) {
  const std::string text = read_file(path);
  nlohmann::json manifest;
  try {
    manifest = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(path.string() + " is not valid JSON (" + e.what() +
                    "); it is not a crest split manifest or it was damaged");
  }
  if (!manifest.is_object() || manifest.value("format", "") != kSplitManifestFormat) {
    throw DataError(path.string() + " is not a crest split manifest (no \"format\": \"" +
                    kSplitManifestFormat + "\")");
  }
  if (manifest.value("version", 0) != kSplitManifestVersion) {
    throw DataError(path.string() + " has manifest version " +
                    json_text(manifest.value("version", nlohmann::json(0))) +
                    "; this crest reads version " + std::to_string(kSplitManifestVersion));
  }
  for (const char* key :
       {"settings", "source", "classes", "labeled_indices", "unlabeled_indices"}) {
    if (!manifest.contains(key)) {
      throw DataError(path.string() + " lacks \"" + key + "\"; the manifest is incomplete");
    }
  }
  return manifest;
}

}  // namespace crest
