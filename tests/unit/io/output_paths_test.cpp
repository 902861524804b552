// Where commands may write (#28 kind 1): names read from files stay inside their folder, outputs
// never replace a crest folder's own files nor go through links planted in one, and a folder or a
// file in the way of an output is the user's error (exit 2), not a failed write.
#include "crest/io/output_paths.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "crest/io/file.h"
#include "crest/io/sweep_files.h"
#include "test_util.h"

namespace crest {
namespace {

namespace fs = std::filesystem;

class OutputPathsTest : public TempDirTest {
 protected:
  // A run folder as crest leaves it: config.yaml, split_manifest.json, gen_1/checkpoint.pt.
  fs::path make_run(const std::string& name) {
    const fs::path run = dir_ / name;
    fs::create_directories(run / "gen_1");
    write_file_atomic(run / "config.yaml", "data: {}\n");
    write_file_atomic(run / "split_manifest.json", "{}\n");
    write_file_atomic(run / "gen_1" / "checkpoint.pt", "weights");
    return run;
  }
};

TEST_F(OutputPathsTest, PlainNamesAreAcceptedAndEverythingElseRefused) {
  for (const std::string name : {"gamma=100", "point_3", "a.b", "...", "-x"}) {
    EXPECT_NO_THROW(check_plain_name(name, "sweep.json: point 0's folder")) << name;
  }
  for (const std::string& name :
       std::vector<std::string>{"", ".", "..", "../escaped", "../../escaped_point", "/tmp/abs",
                                "a/b", "a\\b", "x/", std::string("nul\0byte", 8)}) {
    expect_input_error([&] { check_plain_name(name, "sweep.json: point 0's folder"); },
                       {"sweep.json: point 0's folder", "not a plain folder name"});
  }
}

TEST_F(OutputPathsTest, SweepPlanWithAnEscapingFolderIsRefused) {
  for (const std::string folder : {"../../escaped_point", "/tmp/abs_point", "..", "a/../b", ""}) {
    const nlohmann::json plan = {{"version", kSweepPlanVersion},
                                 {"grid", "g.yaml"},
                                 {"base", "b.yaml"},
                                 {"keys", nlohmann::json::array()},
                                 {"set", nlohmann::json::array()},
                                 {"points",
                                  {{{"index", 0},
                                    {"name", "p"},
                                    {"overrides", nlohmann::json::array()},
                                    {"folder", folder}}}}};
    write_file_atomic(dir_ / "sweep.json", plan.dump());
    for (const bool complete : {true, false}) {
      expect_input_error([&] { read_sweep_plan(dir_ / "sweep.json", complete); },
                         {"sweep.json", "point 0's folder", "not a plain folder name"});
    }
  }
}

TEST_F(OutputPathsTest, OutputsNeverReplaceARunsOwnFiles) {
  const fs::path run = make_run("run");
  for (const fs::path& target :
       {run / "gen_1" / "checkpoint.pt", run / "config.yaml", run / "new_file.pt",
        run / "gen_1" / "x.pt", run / "export" / ".." / "config.yaml"}) {
    expect_input_error([&] { check_output_file(target, "--out", {"export"}); },
                       {"--out", "inside the crest folder", run.string()});
  }
  EXPECT_EQ(read_file(run / "gen_1" / "checkpoint.pt"), "weights");
  EXPECT_NO_THROW(check_output_file(run / "export" / "m.pt", "--out", {"export"}));
  EXPECT_TRUE(fs::is_directory(run / "export"));  // its parent is created
  EXPECT_NO_THROW(check_output_file(run / "report.html", "--out", {"report.html"}));
  EXPECT_NO_THROW(check_output_file(dir_ / "elsewhere" / "m.pt", "--out", {"export"}));
  // Pre-training and sweep folders are crest's too.
  fs::create_directories(dir_ / "pre");
  write_file_atomic(dir_ / "pre" / "pretrain.json", "{}");
  fs::create_directories(dir_ / "sweep");
  write_file_atomic(dir_ / "sweep" / "sweep.json", "{}");
  for (const fs::path& target : {dir_ / "pre" / "backbone.pt", dir_ / "sweep" / "sweep.json.x"}) {
    expect_input_error([&] { check_output_file(target, "--out", {}); },
                       {"inside the crest folder"});
  }
}

TEST_F(OutputPathsTest, LinksIntoOrInsideACrestFolderAreRefused) {
  const fs::path run = make_run("run");
  const fs::path other = dir_ / "other";
  fs::create_directories(other);
  // RUN/export planted as a link to another folder: written as RUN/export/..., it leads there.
  fs::create_directory_symlink(other, run / "export");
  expect_input_error([&] { check_output_file(run / "export" / "m.pt", "--out", {"export"}); },
                     {"symbolic link", (run / "export").string()});
  expect_input_error([&] { make_output_folder(run, "export"); }, {"symbolic link"});
  // A link outside that leads into the run's own files.
  fs::create_directory_symlink(run / "gen_1", dir_ / "into_gen_1");
  expect_input_error(
      [&] { check_output_file(dir_ / "into_gen_1" / "checkpoint.pt", "--out", {"export"}); },
      {"leads into the crest folder"});
  fs::create_symlink(run / "config.yaml", dir_ / "config_link.yaml");
  expect_input_error([&] { check_output_file(dir_ / "config_link.yaml", "--out", {"export"}); },
                     {"leads into the crest folder"});
  // eval/NAME with eval a link, and eval/NAME a file.
  fs::create_directory_symlink(other, run / "eval");
  expect_input_error([&] { make_output_folder(run, fs::path("eval") / "test"); },
                     {"symbolic link", "eval"});
  fs::remove(run / "eval");
  fs::create_directories(run / "eval");
  write_file_atomic(run / "eval" / "test", "x");
  expect_input_error([&] { make_output_folder(run, fs::path("eval") / "test"); }, {"not a folder"});
  EXPECT_EQ(make_output_folder(run, fs::path("eval") / "fresh"), run / "eval" / "fresh");
  EXPECT_TRUE(fs::is_directory(run / "eval" / "fresh"));
}

TEST_F(OutputPathsTest, AFolderOrAFileInTheWayIsTheUsersError) {
  fs::create_directories(dir_ / "a_folder");
  write_file_atomic(dir_ / "a_file", "x");
  expect_input_error([&] { check_output_file(dir_ / "a_folder", "--out", {}); },
                     {"is a folder", "give the name of a file"});
  expect_input_error([&] { check_output_file(dir_ / "a_file" / "m.pt", "--out", {}); },
                     {"a_file is a file, not a folder"});
  expect_input_error([&] { check_output_file(dir_ / "a_file" / "x" / "m.pt", "--out", {}); },
                     {"a_file is a file, not a folder"});
}

TEST_F(OutputPathsTest, DatasetFoldersStayOutsideCrestFolders) {
  const fs::path run = make_run("run");
  for (const fs::path& dir : {run, run / "data", run / "gen_1"}) {
    expect_input_error([&] { check_output_folder_outside_crest(dir, "--out"); },
                       {"--out", "crest folder", run.string()});
  }
  fs::create_directory_symlink(run, dir_ / "run_link");
  expect_input_error([&] { check_output_folder_outside_crest(dir_ / "run_link" / "d", "--out"); },
                     {"the crest folder"});
  EXPECT_NO_THROW(check_output_folder_outside_crest(dir_ / "data", "--out"));
}

}  // namespace
}  // namespace crest
