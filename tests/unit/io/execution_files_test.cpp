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
