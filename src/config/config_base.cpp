#include "crest/config/config_base.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config_keys.h"
#include "crest/config/config.h"
#include "crest/util/error.h"
#include "crest/util/text_escape.h"

namespace crest {

namespace fs = std::filesystem;
using namespace config_detail;  // NOLINT(build/namespaces): the key table's helpers

namespace {

constexpr const char* kBaseKey = "base";

std::string read_config_text(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    // An ifstream opens a folder and reads nothing, which would parse as an empty config.
    throw ConfigError("cannot read config file '" + path +
                      "': it is a folder, not a file (give the YAML file in it, e.g. "
                      "configs/quickstart.yaml)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError("cannot read config file '" + path + "': " + std::strerror(errno) +
                      " (the presets live in configs/; run `crest print-config` with no "
                      "--config to see the embedded quickstart)");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// "a.yaml -> b.yaml -> c.yaml": a chain of files for messages.
std::string chain_text(const std::vector<std::string>& chain) {
  std::string text;
  for (const auto& file : chain) text += (text.empty() ? "" : " -> ") + visible_text(file);
  return text;
}

// `base` merged under `child`: the child's keys win, mappings merge key by key, anything else
// (a scalar, a list) is replaced as a whole; an empty (null) section keeps the base's.
YAML::Node merge(const YAML::Node& base, const YAML::Node& child) {
  if (!base.IsMap() || !child.IsMap()) return YAML::Clone(child);
  YAML::Node merged = YAML::Clone(base);
  const YAML::Node& lookup = merged;  // const: reading a missing key must not add it
  for (const auto& item : child) {
    const std::string key = item.first.Scalar();
    const YAML::Node existing = lookup[key];
    if (existing.IsDefined() && existing.IsMap() && item.second.IsNull()) continue;
    merged[key] = existing.IsDefined() ? merge(existing, item.second) : YAML::Clone(item.second);
  }
  return merged;
}

// The path a file's `base` names: relative to the folder of the file that names it.
std::string base_path(const std::string& file, const YAML::Node& base,
                      const std::vector<std::string>& chain) {
  const std::string where = chain_text(chain) + ": base";
  if (!base.IsScalar()) {
    throw ConfigError(where + " must be the path of a config file (a string), got " +
                      node_kind(base));
  }
  const std::string value = base.Scalar();
  if (value.empty()) throw ConfigError(where + " is empty; give the path of a config file");
  const fs::path named(value);
  return (named.is_absolute() ? named : fs::path(file).parent_path() / named)
      .lexically_normal()
      .string();
}

// The merged document of `file` and its bases; `chain` holds the files that led to it
// (outermost first) and `seen` their canonical paths, for cycle messages.
YAML::Node load_chain(const std::string& file, std::vector<std::string> chain,
                      std::vector<fs::path> seen) {
  std::error_code ec;
  const fs::path canonical = fs::weakly_canonical(file, ec);
  chain.push_back(file);
  for (const auto& earlier : seen) {
    if (!canonical.empty() && earlier == canonical) {
      throw ConfigError("the config bases form a cycle: " + chain_text(chain) +
                        "; remove the base key that leads back");
    }
  }
  if (static_cast<int>(chain.size()) > kMaxConfigBases) {
    throw ConfigError("the config base chain " + chain_text(chain) + " holds more than " +
                      std::to_string(kMaxConfigBases) + " files; flatten it");
  }
  seen.push_back(canonical);
  YAML::Node own;
  YAML::Node base;
  bool has_base = false;
  try {
    own = load_yaml_document(read_config_text(file), file);
    if (own.IsNull()) return own;
    const YAML::Node found = static_cast<const YAML::Node&>(own)[kBaseKey];
    if (found.IsDefined()) {
      has_base = true;
      base = YAML::Clone(found);
      own.remove(kBaseKey);
    }
    Config scratch;
    apply_document(scratch, own, file);  // the file's own keys, errors naming it
  } catch (const ConfigError& e) {
    if (chain.size() == 1) throw;
    throw ConfigError(std::string(e.what()) + " (the base named in " +
                      visible_text(chain[chain.size() - 2]) + "; chain " + chain_text(chain) + ")");
  }
  if (!has_base) return own;
  const std::string parent = base_path(file, base, chain);
  return merge(load_chain(parent, chain, seen), own);
}

}  // namespace

Config load_config_file(const std::string& path) {
  Config config;
  apply_document(config, load_chain(path, {}, {}), path);
  return config;
}

bool config_file_gives(const std::string& path, const std::string& key) {
  YAML::Node node = load_chain(path, {}, {});
  std::stringstream parts(key);
  for (std::string part; std::getline(parts, part, '.');) {
    if (!node.IsMap()) return false;
    const YAML::Node& lookup = node;
    const YAML::Node next = lookup[part];
    if (!next.IsDefined()) return false;
    node = YAML::Clone(next);
  }
  return !node.IsNull();
}

}  // namespace crest
