// Private to the config (src/config/config*.cpp): the key table. One Field per config key, with
// its type, what it accepts beyond its type, its documentation and how to read and write it in
// a Config; config.cpp parses, validates, prints and documents configs with it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "crest/config/config.h"

namespace YAML {
class Node;
}

namespace crest::config_detail {

// A key's value once parsed.
using Value = std::variant<bool, std::int64_t, double, std::string>;

// A key's type (choice keys are strings).
enum class Kind { kBool, kInt, kFloat, kString };

// "true or false", "an integer", "a number" or "a string": a kind in error messages.
const char* kind_name(Kind kind);

// What a key accepts beyond its type.
struct Rule {
  std::optional<double> lo, hi;
  bool lo_open = false;
  bool hi_open = false;
  std::vector<std::string> choices;  // filled from the enum for choice keys
  // Extra check for strings: returns a problem ("must be ...") or "".
  std::function<std::string(const std::string&)> check;
};

// One config key.
struct Field {
  std::string path;  // "train.lr"
  std::string doc;   // one paragraph, printed by `crest print-config --defaults`
  Kind kind;
  Rule rule;
  std::function<void(Config&, const Value&)> assign;  // the value has the field's kind
  std::function<Value(const Config&)> read;
};

// Every key, in documentation order (the keys of a section stay together).
// Shortest decimal text that reads back as the same double, always recognisable as a float.
std::string format_double(double value);

const std::vector<Field>& fields();

// The keys of the learners' own sections (acr.*), in documentation order (method_keys.cpp).
std::vector<Field> method_keys();

// The documentation of each section ("data", "data.synthetic", "model", ...).
const std::map<std::string, std::string>& section_docs();

// "a list", "a mapping", "nothing" or "a scalar": a YAML node's kind in error messages.
std::string node_kind(const YAML::Node& node);

// The one YAML document of a config text: a mapping, or a Null node for an empty text.
// ConfigError naming `source` (and line) on a syntax error, several documents, or a document that
// is not a mapping (config.cpp).
YAML::Node load_yaml_document(const std::string& yaml_text, const std::string& source);

// Sets the keys of a config document (load_yaml_document's result) in `config`. ConfigError
// naming `source`, line and key on an unknown key or a bad value (config.cpp).
void apply_document(Config& config, const YAML::Node& root, const std::string& source);

}  // namespace crest::config_detail
