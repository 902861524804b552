#include "crest/app/commands.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "crest/config/config.h"
#include "crest/io/file.h"
#include "crest/io/run_files.h"
#include "test_util.h"

namespace crest {
namespace {

namespace fs = std::filesystem;

using CommandsTest = TempDirTest;

// `--out "runs/exp #3"` wrote to runs/exp: the values of --out and --device are not YAML.
TEST(TrainConfig, OutAndDeviceAreLiteral) {
  const Config config = resolve_train_config("", {}, "runs/exp #3", "cpu", false);
  EXPECT_EQ(config.run.out_dir, "runs/exp #3");
  EXPECT_EQ(config.run.device, "cpu");
  EXPECT_EQ(resolve_train_config("", {}, "a: b", "", false).run.out_dir, "a: b");
  EXPECT_EQ(resolve_train_config("", {}, "'x'", "", false).run.out_dir, "'x'");
  // --out wins over --set run.out_dir, as before.
  EXPECT_EQ(resolve_train_config("", {"run.out_dir=elsewhere"}, "here", "", false).run.out_dir,
            "here");
}

// `crest train --out RUN --resume` reads RUN/config.yaml: no need to repeat --config.
TEST_F(CommandsTest, ResumeWithoutConfigUsesTheRunsOwn) {
  Config stored = resolve_config("", {"data.fold=4", "crest.generations=2"});
  stored.run.out_dir = "where it was started";
  const fs::path run = dir_ / "run #1";
  fs::create_directories(run);
  write_file_atomic(run / kConfigFile, config_to_yaml(stored));
  const Config config = resolve_train_config("", {}, run.string(), "", true);
  EXPECT_EQ(config.data.fold, 4);
  EXPECT_EQ(config.crest.generations, 2);
  EXPECT_EQ(config.run.out_dir, run.string());  // the folder it was found in
  // Without --resume, or with --config, the run's file is not read.
  EXPECT_EQ(resolve_train_config("", {}, run.string(), "", false).data.fold, 1);
  // No run there: the quickstart, and `crest train` then refuses the resume.
  EXPECT_EQ(resolve_train_config("", {}, (dir_ / "none").string(), "", true).data.fold, 1);
}

}  // namespace
}  // namespace crest
