#include "json_fields.h"

#include "crest/io/file.h"

namespace crest::io_detail {

nlohmann::json read_json_file(const std::filesystem::path& file) {
  try {
    return nlohmann::json::parse(read_file(file));
  } catch (const nlohmann::json::parse_error& e) {
    throw DataError(file.string() + ": not valid JSON: " + e.what());
  }
}

void write_json_file(const std::filesystem::path& file, const nlohmann::json& j, int indent) {
  write_file_atomic(file, j.dump(indent) + "\n");
}

nlohmann::json read_json_object(const std::filesystem::path& file) {
  nlohmann::json j = read_json_file(file);
  if (!j.is_object()) throw DataError(file.string() + ": expected a JSON object");
  return j;
}

}  // namespace crest::io_detail
