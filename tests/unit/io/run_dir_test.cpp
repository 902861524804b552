#include "crest/io/run_dir.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "crest/io/file.h"
#include "crest/io/run_files.h"
#include "crest/util/error.h"
#include "test_util.h"

namespace crest {
namespace {

namespace fs = std::filesystem;

using RunDirTest = TempDirTest;

// A crest run is config.yaml plus split_manifest.json: what `crest train` has once its data is
// loaded. Either alone is not a run.
TEST_F(RunDirTest, HoldsRunNeedsConfigAndManifest) {
  EXPECT_FALSE(holds_run(dir_ / "absent"));
  EXPECT_FALSE(holds_run(dir_));
  write_file_atomic(dir_ / kSplitManifestFile, "{}");
  EXPECT_FALSE(holds_run(dir_));  // `crest data prepare` only
  write_file_atomic(dir_ / kConfigFile, "run: {}\n");
  EXPECT_TRUE(holds_run(dir_));
  fs::remove(dir_ / kSplitManifestFile);
  EXPECT_FALSE(holds_run(dir_));  // a first run that failed before loading its data (crest 0.1)
}

TEST_F(RunDirTest, NewEmptyAndCrestFoldersAreOurs) {
  check_run_folder_is_ours(dir_ / "new", "--out");
  check_run_folder_is_ours(dir_, "--out");
  // What a run that never started, `crest data prepare` or a sweep's launcher leave.
  for (const char* name :
       {kConfigFile, kSplitManifestFile, kLogFile, kLockFile, kStdoutLogFile, kStderrLogFile}) {
    write_file_atomic(dir_ / name, "x");
  }
  write_file_atomic(dir_ / (std::string(kConfigFile) + ".tmp.1234"), "x");
  check_run_folder_is_ours(dir_, "--out");
  // A run folder holds everything a run writes.
  fs::create_directories(dir_ / "gen_0");
  write_file_atomic(dir_ / kRunSummaryFile, "{}");
  check_run_folder_is_ours(dir_, "--out");
}

// `--out /` wrote config.yaml and gen_0/ into /; a folder with its own summary.json was
// overwritten silently.
TEST_F(RunDirTest, SomeoneElsesFolderIsRefused) {
  write_file_atomic(dir_ / kRunSummaryFile, "{\"mine\": true}");
  expect_input_error([&] { check_run_folder_is_ours(dir_, "--out / run.out_dir"); },
                     {dir_.string(), "not empty and holds no crest run", "'summary.json'",
                      "choose another --out / run.out_dir"});
  write_file_atomic(dir_ / "notes.txt", "x");
  fs::create_directories(dir_ / "gen_0");
  expect_input_error([&] { check_run_folder_is_ours(dir_, "--out"); }, {"'gen_0' and 2 more"});
  expect_input_error([&] { check_run_folder_is_ours("/", "--out"); },
                     {"the run folder / is not empty"});
  write_file_atomic(dir_ / "file", "x");
  expect_input_error([&] { check_run_folder_is_ours(dir_ / "file", "--out"); },
                     {(dir_ / "file").string(), "not a folder"});
}

}  // namespace
}  // namespace crest
