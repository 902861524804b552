// The split manifest (src/io/manifest.cpp): every part read with its type checked, and the
// differences between a stored manifest and the one a config gives now.
#include "crest/io/manifest.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "crest/io/file.h"
#include "crest/io/run_files.h"
#include "crest/util/error.h"
#include "test_util.h"

namespace crest {
namespace {

namespace fs = std::filesystem;

nlohmann::json valid_manifest() {
  return {{"format", kSplitManifestFormat},
          {"version", kSplitManifestVersion},
          {"crest_version", "0.9"},
          {"settings", {{"fold", 1}, {"dataset", "folder"}}},
          {"source", {{"train_size", 6}, {"test_size", 2}, {"train_fingerprint", "ab"}}},
          {"classes", {"a", "b"}},
          {"labeled_counts", {1, 1}},
          {"labeled_indices", {0, 3}},
          {"unlabeled_indices", {1, 2, 4}},
          {"labeled_files", {"train/a/0.png", "train/b/3.png"}},
          {"unlabeled_files", {"unlabeled/1.png", "unlabeled/2.png", "unlabeled/4.png"}},
          {"duplicates", {{"policy", "refuse"}, {"found", 0}}}};
}

class ManifestTest : public TempDirTest {
 protected:
  fs::path file() const { return dir_ / kSplitManifestFile; }
  // Writes the valid manifest with `edit` applied and expects a DataError naming the file and
  // `needles`, with no raw nlohmann exception text.
  template <typename Edit>
  void expect_refused(Edit edit, const std::vector<std::string>& needles) {
    nlohmann::json manifest = valid_manifest();
    edit(manifest);
    write_split_manifest(file(), manifest);
    std::vector<std::string> all = needles;
    all.push_back(file().string());
    expect_data_error([&] { read_split_manifest(file()); }, all);
    try {
      read_split_manifest(file());
    } catch (const DataError& e) {
      EXPECT_EQ(std::string(e.what()).find("json.exception"), std::string::npos) << e.what();
    }
  }
};

TEST_F(ManifestTest, AValidManifestReadsBack) {
  write_split_manifest(file(), valid_manifest());
  EXPECT_EQ(read_split_manifest(file()), valid_manifest());
}

// The outside report: "format": 5 and "version": "1" ended in json.exception.type_error.302
// with no file name.
TEST_F(ManifestTest, FormatAndVersionOfTheWrongTypeNameTheFileAndKey) {
  using J = nlohmann::json;
  expect_refused([](J& m) { m["format"] = 5; }, {"'format' is 5"});
  expect_refused([](J& m) { m["format"] = J::array(); }, {"'format' is []"});
  expect_refused([](J& m) { m["format"] = "another"; }, {"'format' is \"another\""});
  expect_refused([](J& m) { m.erase("format"); }, {"'format' is absent"});
  expect_refused([](J& m) { m["version"] = "1"; }, {"'version' \"1\""});
  expect_refused([](J& m) { m["version"] = 2; }, {"'version' 2", "reads version 1"});
  expect_refused([](J& m) { m["version"] = 1.5; }, {"'version' 1.5"});
  expect_refused([](J& m) { m["version"] = nullptr; }, {"'version' null"});
  write_file_atomic(file(), "[1, 2]");
  expect_data_error([&] { read_split_manifest(file()); }, {file().string(), "not a JSON object"});
  write_file_atomic(file(), "{\"format\": ");
  expect_data_error([&] { read_split_manifest(file()); }, {file().string(), "not valid JSON"});
}

TEST_F(ManifestTest, PartsOfTheWrongTypeNameTheKey) {
  using J = nlohmann::json;
  expect_refused([](J& m) { m.erase("classes"); }, {"lacks \"classes\""});
  expect_refused([](J& m) { m.erase("unlabeled_indices"); }, {"lacks \"unlabeled_indices\""});
  expect_refused([](J& m) { m["settings"] = J::array(); }, {"'settings' is []"});
  expect_refused([](J& m) { m["source"] = 3; }, {"'source' is 3"});
  expect_refused([](J& m) { m["duplicates"] = "none"; }, {"'duplicates' is \"none\""});
  expect_refused([](J& m) { m["classes"] = {1, 2}; }, {"'classes' must hold strings"});
  expect_refused([](J& m) { m["classes"] = "a,b"; }, {"expected a list 'classes'"});
  expect_refused(
      [](J& m) {
        m["labeled_indices"] = {0, "3"};
      },
      {"'labeled_indices' must hold numbers"});
  expect_refused([](J& m) { m["labeled_indices"] = {0, 2.5}; }, {"'labeled_indices' is 2.5"});
  expect_refused(
      [](J& m) {
        m["unlabeled_indices"] = {1, -2, 4};
      },
      {"'unlabeled_indices' is -2", ">= 0"});
  expect_refused([](J& m) { m["labeled_counts"] = {1, true}; }, {"'labeled_counts'"});
  expect_refused(
      [](J& m) {
        m["unlabeled_files"] = {"a", 2, "c"};
      },
      {"'unlabeled_files' must hold strings"});
  expect_refused([](J& m) { m["source"]["train_size"] = "6"; }, {"'train_size' is \"6\""});
  expect_refused([](J& m) { m["source"]["test_size"] = -1; }, {"'source.test_size' is -1"});
  expect_refused([](J& m) { m["source"]["train_fingerprint"] = 7; }, {"'train_fingerprint'"});
  expect_refused([](J& m) { m["crest_version"] = 1; }, {"'crest_version'"});
  expect_refused([](J& m) { m["unlabeled_files"].erase(0); },
                 {"'unlabeled_files' names 2 files for 3 'unlabeled_indices'"});
}

TEST_F(ManifestTest, DifferencesNameEachChangedPart) {
  const nlohmann::json stored = valid_manifest();
  EXPECT_EQ(manifest_differences(stored, stored), "");
  nlohmann::json now = stored;
  now["crest_version"] = "1.0";  // another crest may resume the run
  EXPECT_EQ(manifest_differences(stored, now), "");

  now = stored;
  now["unlabeled_indices"][1] = 5;  // the outside report: changed indices were overwritten
  EXPECT_EQ(manifest_differences(stored, now),
            "\n  unlabeled_indices: 1 of 3 entries differ, the first at position 1 (stored 2, "
            "now 5)");
  now["unlabeled_indices"].push_back(6);
  EXPECT_EQ(manifest_differences(stored, now), "\n  unlabeled_indices: 3 entries stored, 4 now");
  now = stored;
  now["labeled_indices"] = {3, 0};
  now["settings"]["fold"] = 2;
  now["settings"]["lt_seed"] = 0;
  const std::string text = manifest_differences(stored, now);
  EXPECT_NE(text.find("labeled_indices: 2 of 2 entries differ"), std::string::npos) << text;
  EXPECT_NE(text.find("settings.fold: stored 1, now 2"), std::string::npos) << text;
  EXPECT_NE(text.find("settings.lt_seed: stored absent, now 0"), std::string::npos) << text;
  now = stored;
  now.erase("labeled_files");
  EXPECT_NE(manifest_differences(stored, now).find("labeled_files: stored [\"train/a/0.png\""),
            std::string::npos);
  now = stored;
  now["duplicates"]["found"] = 2;
  EXPECT_EQ(manifest_differences(stored, now), "\n  duplicates.found: stored 0, now 2");

  // A manifest of an older crest has no duplicates record: not compared then.
  nlohmann::json older = stored;
  older.erase("duplicates");
  EXPECT_EQ(manifest_differences(older, stored), "");
  EXPECT_NE(manifest_differences(stored, older), "");
  // Only the parts asked for.
  now = stored;
  now["unlabeled_indices"][0] = 9;
  EXPECT_EQ(manifest_differences(stored, now, {"source", "duplicates"}), "");
  now["source"]["train_size"] = 7;
  EXPECT_EQ(manifest_differences(stored, now, {"source"}),
            "\n  source.train_size: stored 6, now 7");
}

}  // namespace
}  // namespace crest
