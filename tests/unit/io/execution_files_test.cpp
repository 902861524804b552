// gen_K/execution.json read back (src/io/execution_files.cpp): a "format" or "version" of the
// wrong type is a DataError naming the file and the key, never nlohmann's raw type_error.
#include "crest/io/execution_files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "crest/io/file.h"
#include "crest/util/error.h"
#include "test_util.h"

namespace crest {
namespace {

namespace fs = std::filesystem;

using ExecutionFilesTest = TempDirTest;

// Writes `j` with `edit` applied to `file`, and expects `read` to throw a DataError naming the
// file and `needle` and no json.exception.
void expect_refused(const fs::path& file, nlohmann::json j,
                    const std::function<void(nlohmann::json&)>& edit,
                    const std::function<void()>& read, const std::string& needle) {
  edit(j);
  write_file_atomic(file, j.dump());
  expect_data_error(read, {file.string(), needle});
  try {
    read();
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()).find("json.exception"), std::string::npos) << e.what();
  }
}

TEST_F(ExecutionFilesTest, ExecutionRecordFormatAndVersionOfTheWrongType) {
  const fs::path file = dir_ / "execution.json";
  write_execution_record(file, ExecutionRecord{});
  const nlohmann::json valid = nlohmann::json::parse(read_file(file));
  EXPECT_NO_THROW(read_execution_record(file));
  const auto read = [&] { read_execution_record(file); };
  using J = nlohmann::json;
  expect_refused(
      file, valid, [](J& j) { j["format"] = 5; }, read, "not a crest execution record");
  expect_refused(
      file, valid, [](J& j) { j.erase("format"); }, read, "\"format\"");
  expect_refused(
      file, valid, [](J& j) { j["version"] = "1"; }, read, "'version' \"1\"");
  expect_refused(
      file, valid, [](J& j) { j["version"] = 3; }, read, "'version' 3");
  expect_refused(
      file, valid, [](J& j) { j.erase("version"); }, read, "'version' absent");
}

}  // namespace
}  // namespace crest
