// Private helpers of the io readers: JSON files and fields with errors that name the file.
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "crest/io/figures.h"
#include "crest/io/json_text.h"
#include "crest/util/error.h"

namespace crest::io_detail {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Parses a JSON file; DataError "FILE: not valid JSON: ..." (nlohmann's message says where).
nlohmann::json read_json_file(const std::filesystem::path& file);

// Writes `j` atomically as pretty JSON with `indent` and a final newline.
void write_json_file(const std::filesystem::path& file, const nlohmann::json& j, int indent = 2);

// The JSON object of a file; DataError when it is another kind of value.
nlohmann::json read_json_object(const std::filesystem::path& file);

// A number, or null for NaN and infinity (JSON has no such numbers).
inline nlohmann::json number_or_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
}

// j[key] as a double; NaN when absent, null or not a number.
inline double number_or_nan(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : kNaN;
}

// `v` (the value of `key`) as the number type T. An integral T needs a whole number that T
// holds (a file edited to 1e300 or -1 where a count belongs must not reach the arithmetic);
// DataError naming the file, the key and the value otherwise.
template <typename T>
T checked_number(const nlohmann::json& v, const std::string& key,
                 const std::filesystem::path& file) {
  static_assert(std::is_arithmetic_v<T>);
  if (!v.is_number() || v.is_boolean()) {
    throw DataError(file.string() + ": '" + key + "' is " + json_text(v) + ", not a number");
  }
  if constexpr (std::is_integral_v<T>) {
    const double d = v.get<double>();
    const bool whole = v.is_number_integer() || (std::isfinite(d) && d == std::floor(d));
    const bool fits =
        v.is_number_unsigned()
            ? v.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<T>::max())
            : d >= static_cast<double>(std::numeric_limits<T>::min()) &&
                  d <= static_cast<double>(std::numeric_limits<T>::max()) &&
                  (!v.is_number_integer() ||
                   (v.get<std::int64_t>() >= std::numeric_limits<T>::min() &&
                    v.get<std::int64_t>() <= std::numeric_limits<T>::max()));
    if (!whole || !fits) {
      throw DataError(file.string() + ": '" + key + "' is " + json_text(v) +
                      ", not a whole number in range; the file was edited or damaged");
    }
    return v.is_number_float() ? static_cast<T>(d) : v.get<T>();
  } else {
    return v.get<T>();
  }
}

// The list j[key] of numbers or strings; DataError naming the file and key when it is absent
// or holds something else (numbers as checked_number; null in a list of floating-point numbers
// is an undefined figure, NaN).
template <typename T>
std::vector<T> json_list(const nlohmann::json& j, const char* key,
                         const std::filesystem::path& file) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_array()) {
    throw DataError(file.string() + ": expected a list '" + key + "'");
  }
  std::vector<T> out;
  for (const auto& v : *it) {
    if constexpr (std::is_same_v<T, std::string>) {
      if (!v.is_string()) throw DataError(file.string() + ": '" + key + "' must hold strings");
      out.push_back(v.get<std::string>());
    } else if (std::is_floating_point_v<T> && v.is_null()) {
      out.push_back(std::numeric_limits<T>::quiet_NaN());  // an undefined figure
    } else {
      if (!v.is_number()) throw DataError(file.string() + ": '" + key + "' must hold numbers");
      out.push_back(checked_number<T>(v, key, file));
    }
  }
  return out;
}

// The same, or an empty list when the key is absent.
template <typename T>
std::vector<T> optional_json_list(const nlohmann::json& j, const char* key,
                                  const std::filesystem::path& file) {
  return j.contains(key) ? json_list<T>(j, key, file) : std::vector<T>();
}

// j[key] as T; DataError naming the file and key when it is absent or of another type (numbers
// as checked_number; null for a floating-point T is an undefined figure, NaN).
template <typename T>
T json_field(const nlohmann::json& j, const char* key, const std::filesystem::path& file) {
  const auto it = j.find(key);
  if (it == j.end()) throw DataError(file.string() + ": expected '" + key + "'");
  if constexpr (std::is_floating_point_v<T>) {
    // null: an undefined figure (written from NaN).
    return it->is_null() ? std::numeric_limits<T>::quiet_NaN() : checked_number<T>(*it, key, file);
  } else if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
    return checked_number<T>(*it, key, file);
  } else {
    try {
      return it->get<T>();
    } catch (const nlohmann::json::exception&) {
      throw DataError(file.string() + ": '" + key + "' is " + it->dump() + ", of the wrong type");
    }
  }
}

// DataError naming the file and `what` unless `value` is NaN (not defined) or in [0, 1]: the
// ratios crest writes (accuracies, recalls, precisions, rates).
// A JSONL history with a numeric "step" in every line (metrics.jsonl of training and of
// pre-training), cut back to the lines up to `step`: the file is rewritten atomically with
// exactly those lines, which are returned with their line numbers. A last line cut short by a
// crash ends the usable history; any other line that is not such an object is a DataError naming
// FILE:LINE and `remedy`. A missing file keeps nothing.
std::vector<std::pair<nlohmann::json, int>> truncate_step_lines(const std::filesystem::path& file,
                                                                std::int64_t step,
                                                                const std::string& remedy);

// "step" (a whole count) and "epoch" (0 when absent or null) of a metrics line; DataError naming
// `where` (FILE:LINE) otherwise.
std::pair<std::int64_t, std::int64_t> step_and_epoch(const nlohmann::json& j,
                                                     const std::filesystem::path& where);

void check_ratio(double value, const std::string& what, const std::filesystem::path& file);
// DataError naming the file and `what` when `value` is negative: counts and steps.
void check_count(std::int64_t value, const std::string& what, const std::filesystem::path& file);
// The figures of an evaluation: ratios, per-class lists of one length.
void check_figures(const EvaluationFigures& f, const std::string& what,
                   const std::filesystem::path& file);
// Ratios in [0, 1] (NaN allowed) and a non-negative best_index.
void check_accuracy_summary(const AccuracySummary& s, const std::filesystem::path& file);

// j[key] as T, a list (std::vector: json_list) or a single value (json_field).
template <typename T>
struct IsList : std::false_type {};
template <typename T>
struct IsList<std::vector<T>> : std::true_type {};

template <typename T>
T json_value(const nlohmann::json& j, const char* key, const std::filesystem::path& file) {
  if constexpr (IsList<T>::value) {
    return json_list<typename T::value_type>(j, key, file);
  } else {
    return json_field<T>(j, key, file);
  }
}

// One member of a record as a field of its JSON object: the key and the member. A record's
// fields are a tuple of them (std::make_tuple(json_member(...), ...)), so that its writer and
// its reader share one list.
template <typename Record, typename T>
struct JsonMember {
  const char* key;
  T Record::*member;
};

template <typename Record, typename T>
constexpr JsonMember<Record, T> json_member(const char* key, T Record::*member) {
  return {key, member};
}

// Sets j[key] to each member of `record`.
template <typename Record, typename Members>
void put_members(nlohmann::json& j, const Record& record, const Members& members) {
  std::apply([&](const auto&... m) { ((j[m.key] = record.*(m.member)), ...); }, members);
}

// Reads each member of `record` from j, in order; DataError (json_value) at the first one that
// is absent or of the wrong type.
template <typename Record, typename Members>
void get_members(const nlohmann::json& j, const std::filesystem::path& file, Record& record,
                 const Members& members) {
  std::apply(
      [&](const auto&... m) {
        ((record.*(m.member) =
              json_value<std::remove_reference_t<decltype(record.*(m.member))>>(j, m.key, file)),
         ...);
      },
      members);
}

// A JSON object of the members of `record`.
template <typename Record, typename Members>
nlohmann::json members_to_json(const Record& record, const Members& members) {
  nlohmann::json j = nlohmann::json::object();
  put_members(j, record, members);
  return j;
}

// A record read from the members of j (DataError as get_members).
template <typename Record, typename Members>
Record members_from_json(const nlohmann::json& j, const std::filesystem::path& file,
                         const Members& members) {
  Record record;
  get_members(j, file, record, members);
  return record;
}

// Writes the members of `record`, with the other fields in `j`, as the JSON file `file`.
template <typename Record, typename Members>
void write_members_file(const std::filesystem::path& file, nlohmann::json j, const Record& record,
                        const Members& members) {
  put_members(j, record, members);
  write_json_file(file, j);
}

// Reads the JSON object of `file` and the members of `record` from it (DataError as
// read_json_object and get_members); returns the object, for the fields read otherwise.
template <typename Record, typename Members>
nlohmann::json read_members_file(const std::filesystem::path& file, Record& record,
                                 const Members& members) {
  nlohmann::json j = read_json_object(file);
  get_members(j, file, record, members);
  return j;
}

}  // namespace crest::io_detail
