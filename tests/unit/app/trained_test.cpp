// Which generation evaluate, predict and export use (#30): the one selected on validation by
// default when the run has a validation split, else the last finished one; "best" read from old
// run folders; and the errors that name what exists.
#include "crest/app/trained.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "crest/config/config.h"
#include "crest/io/file.h"
#include "crest/io/run_files.h"
#include "crest/util/error.h"
#include "test_util.h"

namespace crest {
namespace {

namespace fs = std::filesystem;

class GenerationChoiceTest : public TempDirTest {
 protected:
  // A run folder with config.yaml and `finished` generations (gen_K/generation.json only).
  fs::path run_with(int finished, const std::string& summary = "") {
    const fs::path run = dir_ / "run";
    fs::create_directories(run);
    write_file_atomic(run / kConfigFile, config_to_yaml(resolve_config("", {})));
    for (int g = 0; g < finished; ++g) {
      fs::create_directories(generation_dir(run, g));
      write_file_atomic(generation_dir(run, g) / kGenerationDoneFile, "{}");
    }
    if (!summary.empty()) write_file_atomic(run / kRunSummaryFile, summary);
    return run;
  }

  static void expect_choice(const fs::path& run, const std::string& choice, int generation,
                            const std::string& how) {
    const GenerationChoice chosen = resolve_generation(run, choice);
    EXPECT_EQ(chosen.generation, generation) << "--generation '" << choice << "'";
    EXPECT_EQ(chosen.how, how) << "--generation '" << choice << "'";
  }

  static void expect_refused(const fs::path& run, const std::string& choice,
                             const std::vector<std::string>& parts) {
    try {
      resolve_generation(run, choice);
      FAIL() << "--generation '" << choice << "' was accepted";
    } catch (const InputError& e) {
      for (const auto& part : parts) {
        EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
      }
    }
  }
};

TEST_F(GenerationChoiceTest, WithoutValidationTheDefaultIsTheLast) {
  for (int finished : {1, 2, 4}) {
    const int last = finished - 1;
    const fs::path run = run_with(
        finished, R"({"select_on": "last", "last_generation": )" + std::to_string(last) + "}");
    expect_choice(run, "", last, kChoiceLast);
    expect_choice(run, "last", last, kChoiceLast);
    expect_choice(run, "best", last, kChoiceLast);  // the old name
    expect_choice(run, "0", 0, kChoiceNumber);
    expect_refused(run, "selected",
                   {"has no validation split (crest.select_on last)", "--set crest.select_on=val",
                    "DATA_ROOT/val/<class>/", "finished: 0"});
    fs::remove_all(run);
  }
}

TEST_F(GenerationChoiceTest, WithValidationTheDefaultIsTheSelected) {
  for (int selected : {0, 1, 2}) {
    // The new form and the old one ("best_generation") read alike.
    for (const std::string key : {"selected_generation", "best_generation"}) {
      const fs::path run =
          run_with(3, R"({"select_on": "val", ")" + key + "\": " + std::to_string(selected) + "}");
      expect_choice(run, "", selected, kChoiceSelected);
      expect_choice(run, "selected", selected, kChoiceSelected);
      expect_choice(run, "best", selected, kChoiceSelected);
      expect_choice(run, "last", 2, kChoiceLast);
      fs::remove_all(run);
    }
  }
}

TEST_F(GenerationChoiceTest, UnfinishedRunsAndBadChoices) {
  // Not finished: the default is the last finished generation; selected names what exists.
  const fs::path run = run_with(2);
  expect_choice(run, "", 1, kChoiceLast);
  for (const std::string choice : {"selected", "best"}) {
    expect_refused(run, choice, {"has no summary.json yet", "finished: 0, 1"});
  }
  for (const std::string bad : {"Selected", "-1", "best2", "1.0", "1234567"}) {
    expect_refused(run, bad, {"must be a generation number, selected or last", bad});
  }
  expect_refused(run, "5", {"not a finished generation", "finished: 0, 1"});
  // A diverged run names no chosen generation.
  write_file_atomic(run / kRunSummaryFile, R"({"status": "diverged", "select_on": "val"})");
  expect_choice(run, "", 1, kChoiceLast);
  expect_refused(run, "selected", {"diverged", "finished: 0, 1"});
  // No generation at all.
  fs::remove_all(run);
  expect_refused(run_with(0), "", {"no finished generation yet"});
  expect_refused(dir_ / "nothing", "", {"is not a crest run folder"});
}

}  // namespace
}  // namespace crest
