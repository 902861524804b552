// Private to the config (src/config/config*.cpp and method_keys.cpp): how a key table entry is
// made. The rules of what a key accepts, make_field, which reads and writes a Config member of
// any key type, the bounds shared by several keys, and the CREST_KEY macro the tables use.
#pragma once

#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

#include "config_keys.h"
#include "crest/config/choices.h"

namespace crest::config_detail {

inline Rule any() { return {}; }
inline Rule at_least(double lo) {
  Rule r;
  r.lo = lo;
  return r;
}
inline Rule between(double lo, double hi) {
  Rule r;
  r.lo = lo;
  r.hi = hi;
  return r;
}
// (lo, hi].
inline Rule above_at_most(double lo, double hi) {
  Rule r = between(lo, hi);
  r.lo_open = true;
  return r;
}
// [lo, hi).
inline Rule at_least_below(double lo, double hi) {
  Rule r = between(lo, hi);
  r.hi_open = true;
  return r;
}
// A string that `check` accepts (it returns the problem, or "").
inline Rule checked(std::function<std::string(const std::string&)> check) {
  Rule r;
  r.check = std::move(check);
  return r;
}
inline Rule not_empty() {
  return checked([](const std::string& s) {
    return s.empty() ? std::string("must not be empty") : std::string();
  });
}
// A choice key: one of its enum's names (make_field fills them in from choices.h).
inline Rule choice() { return {}; }

template <typename Accessor>
Field make_field(std::string path, Accessor accessor, std::string doc, Rule rule) {
  using T = std::remove_reference_t<decltype(accessor(std::declval<Config&>()))>;
  Field field;
  field.path = std::move(path);
  field.doc = std::move(doc);
  field.rule = std::move(rule);
  if constexpr (std::is_same_v<T, bool>) {
    field.kind = Kind::kBool;
  } else if constexpr (std::is_integral_v<T>) {
    field.kind = Kind::kInt;
    // Integers never leave the range of their C++ type.
    const double lo = static_cast<double>(std::numeric_limits<T>::min());
    const double hi = static_cast<double>(std::numeric_limits<T>::max());
    if (!field.rule.lo || *field.rule.lo < lo) field.rule.lo = lo;
    if (!field.rule.hi || *field.rule.hi > hi) field.rule.hi = hi;
  } else if constexpr (std::is_floating_point_v<T>) {
    field.kind = Kind::kFloat;
  } else if constexpr (std::is_enum_v<T>) {
    // A choice key: a string in YAML, one of the enum's names.
    field.kind = Kind::kString;
    field.rule.choices = choice_names<T>();
  } else {
    static_assert(std::is_same_v<T, std::string>,
                  "config fields are bool, integer, double, string or a choice enum");
    field.kind = Kind::kString;
  }
  field.assign = [accessor, path = field.path](Config& config, const Value& value) {
    if constexpr (std::is_same_v<T, bool>) {
      accessor(config) = std::get<bool>(value);
    } else if constexpr (std::is_integral_v<T>) {
      accessor(config) = static_cast<T>(std::get<std::int64_t>(value));
    } else if constexpr (std::is_floating_point_v<T>) {
      accessor(config) = std::get<double>(value);
    } else if constexpr (std::is_enum_v<T>) {
      accessor(config) = parse_choice<T>(std::get<std::string>(value), path);
    } else {
      accessor(config) = std::get<std::string>(value);
    }
  };
  field.read = [accessor](const Config& config) -> Value {
    const T& v = accessor(const_cast<Config&>(config));
    if constexpr (std::is_same_v<T, bool>) {
      return v;
    } else if constexpr (std::is_integral_v<T>) {
      return static_cast<std::int64_t>(v);
    } else if constexpr (std::is_floating_point_v<T>) {
      return static_cast<double>(v);
    } else if constexpr (std::is_enum_v<T>) {
      return to_string(v);
    } else {
      return v;
    }
  };
  return field;
}

// Bounds that keep the arithmetic finite and meaningful (docs/reliability.md, #28 kind 5): a
// rate below 1e-12 is 0 in effect (below 1.2e-38 exactly 0 in float32), one above 100 diverges
// at the first step (beyond 3.4e38 it is inf in float32); the papers' loss weights are 1 to 150,
// and a weight beyond float32's range is inf, which times a zero loss is NaN.
constexpr double kMinRate = 1e-12;
constexpr double kMaxRate = 100;
constexpr double kMaxLossWeight = 1e4;

#define CREST_KEY(path, member, doc, rule) \
  make_field(                              \
      path, [](Config & c) -> auto& { return c.member; }, doc, rule)

}  // namespace crest::config_detail
