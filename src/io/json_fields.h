// Private helpers of the io readers: JSON files and fields with errors that name the file.
#pragma once

#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

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

// The list j[key] of numbers or strings; DataError naming the file and key when it is absent
// or holds something else.
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
    } else {
      if (!v.is_number()) throw DataError(file.string() + ": '" + key + "' must hold numbers");
      out.push_back(v.get<T>());
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

// j[key] as T; DataError naming the file and key when it is absent or of another type.
template <typename T>
T json_field(const nlohmann::json& j, const char* key, const std::filesystem::path& file) {
  const auto it = j.find(key);
  if (it == j.end()) throw DataError(file.string() + ": expected '" + key + "'");
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw DataError(file.string() + ": '" + key + "' is " + it->dump() + ", of the wrong type");
  }
}

}  // namespace crest::io_detail
