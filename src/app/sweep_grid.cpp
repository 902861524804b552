// `crest sweep`, planning: a grid file crossed over its base config into validated points, and
// the folder name of each point.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <sstream>

#include "crest/app/sweep.h"
#include "crest/config/config.h"
#include "crest/util/error.h"
#include "crest/util/hash.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxPoints = 10000;  // beyond this a grid is surely a typo
constexpr std::size_t kMaxNameLength = 200;

std::string where(const std::string& source, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return source + ": ";
  return source + ":" + std::to_string(mark.line + 1) + ": ";
}

// apply_override's messages start with "--set KEY=VALUE: "; in a grid the file and line say
// where the value came from instead.
std::string without_set_prefix(const std::string& message, const std::string& assignment) {
  const std::string prefix = "--set " + assignment + ": ";
  return message.compare(0, prefix.size(), prefix) == 0 ? message.substr(prefix.size()) : message;
}

// A grid scalar as the text of a --set value: as written, unless reading it back as YAML
// would change it (e.g. "a: b"), then single-quoted.
std::string override_text(const YAML::Node& node) {
  const std::string text = node.Scalar();
  try {
    const YAML::Node back = YAML::Load(text);
    if (back.IsScalar() && back.Scalar() == text) return text;
  } catch (const YAML::Exception&) {
  }
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') quoted += '\'';
    quoted += c;
  }
  return quoted + "'";
}

std::string sanitize(const std::string& text) {
  std::string safe;
  for (char c : text) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                    c == '+' || c == '=' || c == ',' || c == '-';
    safe += ok ? c : '_';
  }
  if (safe.empty() || safe[0] == '.' || safe[0] == '-') safe = "_" + safe;
  return safe;
}

std::string last_part(const std::string& key) {
  const auto dot = key.rfind('.');
  return dot == std::string::npos ? key : key.substr(dot + 1);
}

// The top level of a grid file: `base` and `out_dir` go into the plan; `grid` and `set` are
// read next, once the base config is known.
struct GridFile {
  YAML::Node grid;
  YAML::Node fixed;  // `set`
};

GridFile read_top_level(const std::string& yaml_text, const std::string& source,
                        const fs::path& grid_dir, const std::string& out_dir_override,
                        SweepPlan& plan) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(source + ":" + std::to_string(e.mark.line + 1) +
                      ": not valid YAML: " + e.msg);
  }
  if (!root.IsMap()) {
    throw ConfigError(source + ": a grid file is a mapping with base, out_dir, grid and set");
  }
  GridFile file;
  std::string out_dir;
  for (const auto& item : root) {
    const std::string key = item.first.Scalar();
    const std::string at = where(source, item.first);
    const YAML::Node& value = item.second;
    if (key == "grid") {
      file.grid = value;
    } else if (key == "set") {
      file.fixed = value;
    } else if (key == "base" || key == "out_dir") {
      if (!value.IsScalar() || value.Scalar().empty()) {
        throw ConfigError(at + key + " must be a path");
      }
      if (key == "base") {
        const fs::path base(value.Scalar());
        plan.base =
            (base.is_absolute() ? base : fs::absolute(grid_dir / base)).lexically_normal().string();
      } else {
        out_dir = value.Scalar();
      }
    } else {
      throw ConfigError(at + "unknown key '" + key +
                        "'; a grid file holds base, out_dir, grid and set");
    }
  }
  if (!out_dir_override.empty()) out_dir = out_dir_override;
  if (out_dir.empty()) out_dir = "runs/" + fs::path(source).stem().string();
  plan.out_dir = fs::absolute(out_dir).lexically_normal();
  return file;
}

// The values of one axis: per value its label (for folder names) and its overrides.
struct Axis {
  std::vector<std::string> labels;
  std::vector<std::vector<std::string>> values;
};

// Reads `set` and `grid` against the base config: every override is checked on its own, so a
// typo fails before anything runs, and every config key belongs to one place only.
class GridReader {
 public:
  GridReader(const std::string& source, const Config& base) : source_(source), base_(base) {}

  // `set`: fixed overrides, into plan.fixed.
  void read_set(const YAML::Node& fixed, SweepPlan& plan) {
    if (!fixed || fixed.IsNull()) return;
    if (!fixed.IsMap()) throw ConfigError(where(source_, fixed) + "set must map keys to values");
    for (const auto& item : fixed) {
      const std::string key = item.first.Scalar();
      const std::string at = where(source_, item.first) + "set: ";
      if (!item.second.IsScalar()) throw ConfigError(at + key + " must have one value");
      reject_out_dir(key, at);
      const std::string assignment = key + "=" + override_text(item.second);
      check(assignment, at);
      fixed_keys_.insert(key);
      plan.fixed.push_back(assignment);
    }
  }

  // `grid`: its axes in file order, their names into plan.keys; throws when the grid has more
  // than kMaxPoints points.
  std::vector<Axis> read_grid(const YAML::Node& grid, SweepPlan& plan) {
    if (!grid || !grid.IsMap() || grid.size() == 0) {
      throw ConfigError(source_ +
                        ": grid must map at least one key to its values, e.g. "
                        "'grid: {data.fold: [1, 2, 3]}'");
    }
    used_keys_ = fixed_keys_;
    std::vector<Axis> axes;
    std::size_t count = 1;
    for (const auto& item : grid) {
      const std::string name = item.first.Scalar();
      const std::string at = where(source_, item.first) + "grid: ";
      Axis axis =
          item.second.IsMap() ? named_axis(name, item.second, at) : key_axis(name, item.second, at);
      check_axis(name, axis, at, plan.keys);
      plan.keys.push_back(name);
      count *= axis.values.size();
      axes.push_back(std::move(axis));
      if (count > kMaxPoints) {
        throw ConfigError(source_ + ": the grid has more than " + std::to_string(kMaxPoints) +
                          " points; split it into several sweeps");
      }
    }
    return axes;
  }

 private:
  // Throws unless `assignment` applies to the base config; `at` starts the message.
  void check(const std::string& assignment, const std::string& at) const {
    Config probe = base_;
    try {
      apply_override(probe, assignment);
    } catch (const ConfigError& e) {
      throw ConfigError(at + without_set_prefix(e.what(), assignment));
    }
  }

  static void reject_out_dir(const std::string& key, const std::string& at) {
    if (key == "run.out_dir") {
      throw ConfigError(at + "run.out_dir is chosen by the sweep (out_dir/point name)");
    }
  }

  // Marks `key` as set by a grid axis; throws when set or another axis already sets it.
  void claim(const std::string& key, const std::string& at) {
    reject_out_dir(key, at);
    if (!used_keys_.insert(key).second) {
      throw ConfigError(at + key +
                        (fixed_keys_.count(key) != 0 ? " is both in grid and in set"
                                                     : " is set by two grid axes") +
                        "; keep one");
    }
  }

  // A named axis: each value is a label and the overrides it stands for, e.g.
  // method: {fixmatch: {crest.mode: fixmatch, crest.generations: 1}, crest: {...}}.
  Axis named_axis(const std::string& name, const YAML::Node& node, const std::string& at) {
    if (name.empty() ||
        name.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != std::string::npos) {
      throw ConfigError(at + "'" + name +
                        "' maps to named values, so it names an axis: use "
                        "letters, digits, '_' and '-' only (a config key lists its values, "
                        "e.g. data.fold: [1, 2])");
    }
    Axis axis;
    std::set<std::string> axis_keys;
    for (const auto& entry : node) {
      const std::string at_entry = where(source_, entry.first) + "grid: " + name + ": ";
      const std::string label = entry.first.Scalar();
      if (!entry.second.IsNull() && !entry.second.IsMap()) {
        throw ConfigError(at_entry + label +
                          " must map config keys to values, e.g. "
                          "{crest.mode: fixmatch}");
      }
      std::vector<std::string> assignments;
      for (const auto& kv : entry.second) {
        const std::string key = kv.first.Scalar();
        const std::string at_key = where(source_, kv.first) + "grid: " + name + ": ";
        if (!kv.second.IsScalar()) throw ConfigError(at_key + key + " must have one value");
        const std::string assignment = key + "=" + override_text(kv.second);
        check(assignment, at_key);
        if (axis_keys.insert(key).second) claim(key, at_key);
        assignments.push_back(assignment);
      }
      axis.labels.push_back(label);
      axis.values.push_back(assignments);
    }
    return axis;
  }

  // A config key with its values: a list, or one scalar.
  Axis key_axis(const std::string& key, const YAML::Node& node, const std::string& at) {
    claim(key, at);
    std::vector<YAML::Node> nodes;
    if (node.IsSequence()) {
      for (const auto& v : node) nodes.push_back(v);
    } else if (node.IsScalar()) {
      nodes.push_back(node);
    }
    if (nodes.empty()) throw ConfigError(at + key + " must list its values, e.g. [1, 2]");
    Axis axis;
    for (const YAML::Node& v : nodes) {
      const std::string at_value = where(source_, v) + "grid: ";
      if (!v.IsScalar()) throw ConfigError(at_value + key + ": each value must be a scalar");
      const std::string assignment = key + "=" + override_text(v);
      check(assignment, at_value);
      axis.labels.push_back(v.Scalar());
      axis.values.push_back({assignment});
    }
    return axis;
  }

  // Throws when the axis has no values, lists a label twice or is given twice.
  static void check_axis(const std::string& name, const Axis& axis, const std::string& at,
                         const std::vector<std::string>& keys) {
    const auto& labels = axis.labels;
    if (labels.empty()) throw ConfigError(at + name + " has no values");
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (std::find(labels.begin(), labels.begin() + static_cast<std::ptrdiff_t>(i), labels[i]) !=
          labels.begin() + static_cast<std::ptrdiff_t>(i)) {
        throw ConfigError(at + name + " lists '" + labels[i] + "' twice");
      }
    }
    if (std::find(keys.begin(), keys.end(), name) != keys.end()) {
      throw ConfigError(at + name + " is given twice");
    }
  }

  const std::string& source_;
  const Config& base_;
  std::set<std::string> fixed_keys_;
  std::set<std::string> used_keys_;  // a config key belongs to one place only
};

// Point `index` of the cross product (the first axis varying slowest), validated as a whole.
SweepPoint grid_point(const SweepPlan& plan, const std::vector<Axis>& axes, std::size_t index,
                      const Config& base, const std::string& source) {
  SweepPoint point;
  point.index = index;
  point.overrides = plan.fixed;
  std::vector<std::string> point_labels;
  std::size_t rest = index;
  std::vector<std::size_t> digits(axes.size());
  for (std::size_t k = axes.size(); k-- > 0;) {
    digits[k] = rest % axes[k].values.size();
    rest /= axes[k].values.size();
  }
  for (std::size_t k = 0; k < axes.size(); ++k) {
    const auto& assignments = axes[k].values[digits[k]];
    point.overrides.insert(point.overrides.end(), assignments.begin(), assignments.end());
    point_labels.push_back(axes[k].labels[digits[k]]);
  }
  point.name = point_name(plan.keys, point_labels);
  point.folder = plan.out_dir / point.name;
  Config config = base;
  try {
    for (const std::string& o : point.overrides) apply_override(config, o);
    validate_config(config);
  } catch (const ConfigError& e) {
    throw ConfigError(source + ": point " + std::to_string(index) + " '" + point.name +
                      "': " + e.what());
  }
  return point;
}

}  // namespace

std::string point_name(const std::vector<std::string>& keys,
                       const std::vector<std::string>& values) {
  std::map<std::string, int> label_count;
  for (const std::string& k : keys) ++label_count[last_part(k)];
  std::string name;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const std::string label = label_count[last_part(keys[i])] > 1 ? keys[i] : last_part(keys[i]);
    if (!name.empty()) name += ",";
    name += label + "=" + values[i];
  }
  std::string safe = sanitize(name);
  if (safe.size() > kMaxNameLength) {
    const std::string hash = hex64(fnv1a64(name.data(), name.size()));
    safe = safe.substr(0, kMaxNameLength - hash.size() - 1) + "-" + hash;
  }
  return safe;
}

SweepPlan parse_grid(const std::string& yaml_text, const std::string& source,
                     const fs::path& grid_dir, const std::string& out_dir_override) {
  SweepPlan plan;
  plan.grid_file = source;
  const GridFile file = read_top_level(yaml_text, source, grid_dir, out_dir_override, plan);
  Config base;
  try {
    base = resolve_config(plan.base, {});
  } catch (const ConfigError& e) {
    throw ConfigError(source + ": base: " + e.what());
  }
  GridReader reader(source, base);
  reader.read_set(file.fixed, plan);
  const std::vector<Axis> axes = reader.read_grid(file.grid, plan);
  std::size_t count = 1;
  for (const Axis& axis : axes) count *= axis.values.size();

  std::map<std::string, std::size_t> names;
  for (std::size_t index = 0; index < count; ++index) {
    SweepPoint point = grid_point(plan, axes, index, base, source);
    const auto [it, inserted] = names.emplace(point.name, index);
    if (!inserted) {
      throw ConfigError(source + ": points " + std::to_string(it->second) + " and " +
                        std::to_string(index) + " get the same folder name '" + point.name +
                        "' (their values differ only in characters replaced by '_')");
    }
    plan.points.push_back(std::move(point));
  }
  return plan;
}

SweepPlan load_grid(const std::string& grid_path, const std::string& out_dir_override) {
  std::error_code ec;
  if (fs::is_directory(grid_path, ec)) {
    throw ConfigError(grid_path + ": cannot read the grid file: it is a folder, not a file");
  }
  std::ifstream in(grid_path);
  if (!in) throw ConfigError(grid_path + ": cannot read the grid file");
  std::stringstream text;
  text << in.rdbuf();
  SweepPlan plan =
      parse_grid(text.str(), grid_path, fs::path(grid_path).parent_path(), out_dir_override);
  plan.grid_file = fs::absolute(grid_path).lexically_normal().string();
  return plan;
}

}  // namespace crest
