// sweep.json read back (src/io/sweep_files.cpp): every field through the checked accessors, so
// a field of the wrong type is a DataError naming the file and the key.
#include "crest/io/sweep_files.h"

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

using SweepFilesTest = TempDirTest;

TEST_F(SweepFilesTest, SweepPlanFieldsOfTheWrongTypeNameTheKey) {
  SweepPlanFile plan;
  plan.grid = "/g/grid.yaml";
  plan.keys = {"data.fold"};
  plan.points = {{0, "fold=1", {"data.fold=1"}, "fold=1"}};
  const fs::path file = dir_ / "sweep.json";
  write_sweep_plan(file, plan);
  const nlohmann::json valid = nlohmann::json::parse(read_file(file));
  EXPECT_EQ(read_sweep_plan(file).points.size(), 1u);
  const auto read = [&] { read_sweep_plan(file); };
  using J = nlohmann::json;
  expect_refused(
      file, valid, [](J& j) { j["version"] = "1"; }, read, "'version'");
  expect_refused(
      file, valid, [](J& j) { j["grid"] = 3; }, read, "'grid'");
  expect_refused(
      file, valid, [](J& j) { j["keys"] = {1}; }, read, "'keys' must hold strings");
  expect_refused(
      file, valid, [](J& j) { j["points"] = 1; }, read, "'points'");
  expect_refused(
      file, valid, [](J& j) { j["points"][0]["folder"] = true; }, read, "'folder'");
  expect_refused(
      file, valid, [](J& j) { j["points"][0]["index"] = "0"; }, read, "'index'");
  expect_refused(
      file, valid, [](J& j) { j["points"][0]["overrides"] = "x"; }, read, "'overrides'");
  expect_refused(
      file, valid, [](J& j) { j = J::array(); }, read, "expected a JSON object");
}

}  // namespace
}  // namespace crest
