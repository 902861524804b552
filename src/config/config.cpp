#include "crest/config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <variant>

#include "config_keys.h"
#include "crest/config/embedded.h"
#include "crest/config/protocol_default.h"
#include "crest/util/error.h"
#include "crest/util/text_escape.h"

namespace crest {

using namespace config_detail;  // NOLINT(build/namespaces): the key table's types

namespace config_detail {

// Shortest decimal text that reads back as the same double, always recognisable as a float.
std::string format_double(double value) {
  char buffer[64];
  if (std::floor(value) == value && std::fabs(value) < 1e15) {
    std::snprintf(buffer, sizeof(buffer), "%.1f", value);
    return buffer;
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  std::string text = buffer;
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
  return text;
}

std::string node_kind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return "a scalar";
  }
}

}  // namespace config_detail

namespace {

const Field* find_field(const std::string& path) {
  for (const Field& field : fields()) {
    if (field.path == path) return &field;
  }
  return nullptr;
}

bool is_section(const std::string& path) {
  const std::string prefix = path + ".";
  return std::any_of(fields().begin(), fields().end(),
                     [&](const Field& f) { return f.path.compare(0, prefix.size(), prefix) == 0; });
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string unknown_key_message(const std::string& path) {
  std::string best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (const Field& field : fields()) {
    // A key that is the start of a real key ("data.imbalance") counts as a near miss.
    const bool prefix = field.path.compare(0, path.size(), path) == 0;
    const std::size_t d = prefix ? 1 : edit_distance(path, field.path);
    if (d < best_distance) {
      best_distance = d;
      best = field.path;
    }
  }
  std::string message = "unknown key '" + path + "'";
  if (best_distance <= std::max<std::size_t>(3, path.size() / 4)) {
    message += " (did you mean '" + best + "'?)";
  }
  return message + "; configs/defaults.yaml lists every key";
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string format_number(double value) {
  if (std::floor(value) == value && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<long long>(value));
  }
  return format_double(value);
}

std::string format_value(const Value& value) {
  if (const auto* b = std::get_if<bool>(&value)) return *b ? "true" : "false";
  if (const auto* i = std::get_if<std::int64_t>(&value)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&value)) return format_double(*d);
  return std::get<std::string>(value);
}

// A string as a YAML scalar, quoted when a plain scalar would read back differently.
std::string yaml_string(const std::string& s) {
  static const std::set<std::string> kReserved = {"true", "false", "yes", "no", "on",
                                                  "off",  "null",  "~",   "y",  "n"};
  bool quote = s.empty() || kReserved.count(lower(s)) > 0 ||
               s.find_first_of(":#{}[],&*!|>'\"%@`\\\t\n") != std::string::npos ||
               std::isspace(static_cast<unsigned char>(s.front())) ||
               std::isspace(static_cast<unsigned char>(s.back())) || s.front() == '-' ||
               s.front() == '?';
  if (!quote) {
    char* end = nullptr;
    errno = 0;
    std::strtod(s.c_str(), &end);
    quote = end != s.c_str() && *end == '\0';  // looks like a number
  }
  if (!quote) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string yaml_value(const Field& field, const Value& value) {
  if (field.kind == Kind::kString) return yaml_string(std::get<std::string>(value));
  return format_value(value);
}

// The scalar text of a key as a value of the field's kind, or the problem ("must be ...").
std::optional<Value> parse_scalar(const Field& field, const std::string& text,
                                  std::string& problem) {
  Value value;
  switch (field.kind) {
    case Kind::kBool: {
      const std::string t = lower(text);
      if (t == "true" || t == "yes" || t == "on") {
        value = true;
      } else if (t == "false" || t == "no" || t == "off") {
        value = false;
      } else {
        problem = "must be true or false";
        return std::nullopt;
      }
      break;
    }
    case Kind::kInt: {
      char* end = nullptr;
      errno = 0;
      const long long parsed = std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || std::isspace(static_cast<unsigned char>(text[0]))) {
        problem = "must be an integer";
        return std::nullopt;
      }
      if (errno == ERANGE) {
        problem = "is out of range";
        return std::nullopt;
      }
      value = static_cast<std::int64_t>(parsed);
      break;
    }
    case Kind::kFloat: {
      char* end = nullptr;
      const double parsed = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || std::isspace(static_cast<unsigned char>(text[0]))) {
        problem = "must be a number";
        return std::nullopt;
      }
      if (!std::isfinite(parsed)) {
        problem = "must be a finite number";
        return std::nullopt;
      }
      value = parsed;
      break;
    }
    case Kind::kString:
      // Configs are YAML and land in JSON (config.json, sweep plans): UTF-8 text only.
      if (!is_valid_utf8(text)) {
        problem = "must be UTF-8 text";
        return std::nullopt;
      }
      value = text;
      break;
  }
  return value;
}

// Checks a parsed value against the field's rule: its range, its choices, its check. Returns the
// problem ("must be ...") or "".
std::string rule_problem(const Field& field, const Value& value) {
  const Rule& rule = field.rule;
  std::string problem;
  if (field.kind == Kind::kInt || field.kind == Kind::kFloat) {
    const double v = field.kind == Kind::kInt ? static_cast<double>(std::get<std::int64_t>(value))
                                              : std::get<double>(value);
    const bool low = rule.lo && (rule.lo_open ? v <= *rule.lo : v < *rule.lo);
    const bool high = rule.hi && (rule.hi_open ? v >= *rule.hi : v > *rule.hi);
    if (low || high) {
      if (rule.lo && rule.hi) {
        problem = std::string("must be in ") + (rule.lo_open ? "(" : "[") +
                  format_number(*rule.lo) + ", " + format_number(*rule.hi) +
                  (rule.hi_open ? ")" : "]");
      } else if (rule.lo) {
        problem = std::string("must be ") + (rule.lo_open ? "> " : ">= ") + format_number(*rule.lo);
      } else {
        problem = std::string("must be ") + (rule.hi_open ? "< " : "<= ") + format_number(*rule.hi);
      }
      return problem;
    }
  }
  if (field.kind == Kind::kString) {
    const std::string& s = std::get<std::string>(value);
    if (!rule.choices.empty() &&
        std::find(rule.choices.begin(), rule.choices.end(), s) == rule.choices.end()) {
      return one_of_problem(rule.choices);
    }
    if (rule.check) return rule.check(s);
  }
  return problem;
}

// Converts the scalar text of a key to the field's type, then checks its rule. Returns the
// problem ("must be ...") in `problem` when it fails.
std::optional<Value> convert(const Field& field, const std::string& text, std::string& problem) {
  std::optional<Value> value = parse_scalar(field, text, problem);
  if (!value) return std::nullopt;
  problem = rule_problem(field, *value);
  if (!problem.empty()) return std::nullopt;
  return value;
}

// The value as given, on one line with control characters and invalid bytes made visible.
std::string quoted_got(const std::string& text) { return "got '" + visible_text(text) + "'"; }

void set_field(Config& config, const Field& field, const std::string& text,
               const std::string& where) {
  std::string problem;
  const std::optional<Value> value = convert(field, text, problem);
  if (!value) {
    throw ConfigError(where + field.path + " " + problem + ", " + quoted_got(text));
  }
  field.assign(config, *value);
}

std::string location(const std::string& source, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return source + ": ";
  return source + ":" + std::to_string(mark.line + 1) + ": ";
}

void apply_node(Config& config, const YAML::Node& map, const std::string& prefix,
                const std::string& source) {
  std::set<std::string> seen;
  for (const auto& item : map) {
    const YAML::Node& key_node = item.first;
    const YAML::Node& value = item.second;
    const std::string where = location(source, key_node);
    if (!key_node.IsScalar()) throw ConfigError(where + "keys must be plain names");
    const std::string key = key_node.Scalar();
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    if (!seen.insert(key).second) throw ConfigError(where + "key '" + path + "' is given twice");

    if (const Field* field = find_field(path)) {
      if (value.IsNull()) {
        throw ConfigError(where + path + " has no value; give " + kind_name(field->kind) +
                          " or remove the line to keep the default");
      }
      if (!value.IsScalar()) {
        throw ConfigError(where + path + " must be " + kind_name(field->kind) + ", got " +
                          node_kind(value));
      }
      set_field(config, *field, value.Scalar(), where);
    } else if (is_section(path)) {
      if (value.IsNull()) continue;  // an empty section keeps its defaults
      if (!value.IsMap()) {
        throw ConfigError(where + "'" + path + "' is a section and must hold keys, got " +
                          node_kind(value));
      }
      apply_node(config, value, path, source);
    } else {
      throw ConfigError(where + unknown_key_message(path));
    }
  }
}

std::string emit(const Config& config, bool with_comments) {
  std::ostringstream out;
  std::vector<std::string> open;  // the sections currently open, outermost first
  const auto& docs = section_docs();
  for (const Field& field : fields()) {
    std::vector<std::string> parts;
    std::stringstream split(field.path);
    for (std::string part; std::getline(split, part, '.');) parts.push_back(part);
    const std::vector<std::string> sections(parts.begin(), parts.end() - 1);

    std::size_t common = 0;
    while (common < open.size() && common < sections.size() && open[common] == sections[common]) {
      ++common;
    }
    open.resize(common);
    for (std::size_t depth = common; depth < sections.size(); ++depth) {
      std::string section_path;
      for (std::size_t k = 0; k <= depth; ++k) section_path += (k ? "." : "") + sections[k];
      const std::string indent(2 * depth, ' ');
      if (with_comments) {
        if (depth == 0 && out.tellp() > 0) out << "\n";
        const auto doc = docs.find(section_path);
        if (doc != docs.end()) out << indent << "# " << doc->second << "\n";
      }
      out << indent << sections[depth] << ":\n";
      open.push_back(sections[depth]);
    }
    const std::string indent(2 * sections.size(), ' ');
    if (with_comments) {
      // Wrap the documentation at about 96 columns.
      std::istringstream words(field.doc);
      std::string line;
      for (std::string word; words >> word;) {
        if (!line.empty() && indent.size() + 2 + line.size() + 1 + word.size() > 96) {
          out << indent << "# " << line << "\n";
          line.clear();
        }
        line += (line.empty() ? "" : " ") + word;
      }
      if (!line.empty()) out << indent << "# " << line << "\n";
    }
    out << indent << parts.back() << ": " << yaml_value(field, field.read(config)) << "\n";
  }
  return out.str();
}

}  // namespace

namespace config_detail {

YAML::Node load_yaml_document(const std::string& yaml_text, const std::string& source) {
  YAML::Node root;
  try {
    const std::vector<YAML::Node> documents = YAML::LoadAll(yaml_text);
    if (documents.size() > 1) {  // "---" between two documents: which one is meant is a guess
      throw ConfigError(location(source, documents[1]) + "the file holds " +
                        std::to_string(documents.size()) +
                        " YAML documents (separated by '---'); a config is one document: merge "
                        "them into one mapping or keep one");
    }
    if (!documents.empty()) root = documents.front();
  } catch (const YAML::Exception& e) {
    throw ConfigError(source + ":" + std::to_string(e.mark.line + 1) + ":" +
                      std::to_string(e.mark.column + 1) + ": YAML syntax error: " + e.msg);
  }
  if (!root.IsNull() && !root.IsMap()) {
    throw ConfigError(location(source, root) +
                      "a config must be a mapping of sections (data, model, train, crest, run), "
                      "got " +
                      node_kind(root));
  }
  return root;
}

void apply_document(Config& config, const YAML::Node& root, const std::string& source) {
  if (root.IsNull()) return;  // an empty file keeps every default
  apply_node(config, root, "", source);
}

}  // namespace config_detail

Config parse_config(const std::string& yaml_text, const std::string& source) {
  Config config;
  apply_document(config, load_yaml_document(yaml_text, source), source);
  return config;
}

void apply_override(Config& config, const std::string& assignment) {
  const std::string where = "--set " + assignment + ": ";
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError(where + "expected KEY=VALUE, e.g. --set data.fold=2");
  }
  const std::string path = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  const Field* field = find_field(path);
  if (field == nullptr) {
    if (is_section(path)) {
      throw ConfigError(where + "'" + path + "' is a section; set one of its keys, e.g. " + [&] {
        for (const Field& f : fields()) {
          if (f.path.compare(0, path.size() + 1, path + ".") == 0) return f.path;
        }
        return std::string();
      }());
    }
    throw ConfigError(where + unknown_key_message(path));
  }
  // The value is read as YAML so that quoting works as in a file ("--set run.out_dir='a b'").
  YAML::Node node;
  try {
    node = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(where + "the value is not valid YAML: " + e.msg);
  }
  if (node.IsNull() && field->kind != Kind::kString) {
    throw ConfigError(where + path + " has no value; give " + kind_name(field->kind));
  }
  if (!node.IsNull() && !node.IsScalar()) {
    throw ConfigError(where + path + " must be " + kind_name(field->kind) + ", got " +
                      node_kind(node));
  }
  set_field(config, *field, node.IsNull() ? std::string() : node.Scalar(), where);
}

Config resolve_config(const std::string& path, const std::vector<std::string>& overrides) {
  Config config = path.empty() ? parse_config(embedded_quickstart_yaml(), "<embedded quickstart>")
                               : load_config_file(path);
  for (const std::string& assignment : overrides) apply_override(config, assignment);
  apply_dataset_defaults(config, protocol_given(path, overrides));
  // The built-in quickstart's 16-pixel images belong to its synthetic task: other data on it
  // (no --config) gets the image size of every other config, 32, unless --set gives one.
  if (path.empty() && config.data.dataset != DatasetKind::kSynthetic &&
      std::none_of(overrides.begin(), overrides.end(), [](const std::string& assignment) {
        return assignment.rfind("data.image_size=", 0) == 0;
      })) {
    config.data.image_size = DataConfig{}.image_size;
  }
  try {
    validate_config(config);
  } catch (const ConfigError& e) {
    if (!path.empty() || config.data.dataset == DatasetKind::kSynthetic) throw;
    throw ConfigError(std::string(e.what()) +
                      " (no --config was given, so the built-in quickstart config applies: a "
                      "synthetic 16-pixel task; give a config made for this data, e.g. --config "
                      "configs/cifar10lt.yaml or configs/own-data-cpu.yaml)");
  }
  return config;
}

std::string literal_override(const std::string& key, const std::string& value) {
  std::string quoted = "\"";  // a YAML double-quoted scalar reads back as exactly `value`
  for (const char c : value) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", static_cast<unsigned char>(c));
      quoted += escaped;
    } else {
      quoted += c;
    }
  }
  return key + "=" + quoted + "\"";
}

std::string config_to_yaml(const Config& config) { return emit(config, false); }

std::string documented_defaults_yaml() {
  return "# crest: every config key with its default value and what it accepts.\n"
         "# Generated by `crest print-config --defaults`; a test keeps this file in step with\n"
         "# the code. A config file only needs the keys it changes; unknown keys are errors.\n"
         "# `base: OTHER.yaml` (relative to the file) builds a file on another: its keys override\n"
         "# the base's, sections merge key by key.\n"
         "# Override any key on the command line with --set KEY=VALUE.\n\n" +
         emit(Config{}, true);
}

std::vector<std::string> config_differences(const Config& a, const Config& b) {
  std::vector<std::string> keys;
  for (const Field& field : fields()) {
    if (field.read(a) != field.read(b)) keys.push_back(field.path);
  }
  return keys;
}

Config load_stored_config(const std::string& path) {
  try {
    return load_config_file(path);
  } catch (const ConfigError& e) {
    throw InputError(std::string("cannot resume: ") + e.what());
  }
}

std::string config_differences_text(const Config& stored, const Config& now,
                                    const std::string& stored_name) {
  const std::vector<std::string> keys = config_differences(stored, now);
  if (keys.empty()) return "";
  std::string text = std::to_string(keys.size()) + " key(s) differ):";
  for (const auto& key : keys) {
    text += "\n  " + key + ": " + stored_name + " has " + config_value(stored, key) + ", now " +
            config_value(now, key);
  }
  return text;
}

std::string config_value(const Config& config, const std::string& key) {
  const Field* field = find_field(key);
  if (field == nullptr) throw ConfigError(unknown_key_message(key));
  return yaml_value(*field, field->read(config));
}

std::vector<std::string> config_keys() {
  std::vector<std::string> keys;
  for (const Field& field : fields()) keys.push_back(field.path);
  return keys;
}

}  // namespace crest
