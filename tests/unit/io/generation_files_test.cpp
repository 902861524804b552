// generation.json's fingerprints of the files a resume reads back (src/io/generation_files.cpp):
// written, read, and checked against the files, which may have been cut, edited, replaced or
// removed since the generation finished.
#include "crest/io/generation_files.h"

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

class GenerationFilesTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    gen_ = dir_ / "gen_0";
    write_file_atomic(gen_ / kPseudoLabelsFile,
                      "index,predicted,confidence,true_label\n4,0,0.9,0\n9,1,0.8,1\n");
    write_file_atomic(gen_ / kSelectionFile, "{\"selected_total\": 2}\n");
    write_file_atomic(gen_ / kTrainingSummaryFile, "{\"steps\": 20}\n");
    write_file_atomic(gen_ / kPerClassFile, "not fingerprinted\n");
    record_.row.generation = 0;
    record_.test = {0.5, 0.5, 0.5, {0.5, 0.5}, {0.5, 0.5}};
    record_.labeled_counts = {3, 2};
    record_.ema_accuracy = {0.5, 0.5, 0, 0.5, 0.5, 0.5, 0.5};
    record_.files = read_back_fingerprints(gen_);
    write_generation_record(gen_ / kGenerationDoneFile, record_);
  }

  GenerationRecord read_back() const { return read_generation_record(gen_ / kGenerationDoneFile); }

  fs::path gen_;
  GenerationRecord record_;
};

TEST_F(GenerationFilesTest, FingerprintsRoundTripAndMatchUnchangedFiles) {
  ASSERT_EQ(record_.files.size(), 3u);
  EXPECT_EQ(record_.files.count(kPerClassFile), 0u);
  const GenerationRecord back = read_back();
  EXPECT_EQ(back.files, record_.files);
  EXPECT_EQ(back.files.at(kPseudoLabelsFile).bytes,
            static_cast<std::int64_t>(fs::file_size(gen_ / kPseudoLabelsFile)));
  EXPECT_NO_THROW(check_generation_files(gen_, back));
  // Files not fingerprinted may change; a record of an older crest (no "files") checks nothing.
  write_file_atomic(gen_ / kPerClassFile, "changed\n");
  EXPECT_NO_THROW(check_generation_files(gen_, back));
  GenerationRecord older = record_;
  older.files.clear();
  write_generation_record(gen_ / kGenerationDoneFile, older);
  EXPECT_TRUE(read_back().files.empty());
  EXPECT_EQ(read_file(gen_ / kGenerationDoneFile).find("\"files\""), std::string::npos);
}

// The outside report: pseudo_labels.csv cut to 20 of 54 rows trained generation 1 on 20.
TEST_F(GenerationFilesTest, ChangedFilesAreRefusedNamingTheFile) {
  const GenerationRecord back = read_back();
  const std::string csv = read_file(gen_ / kPseudoLabelsFile);
  const auto expect_refused = [&](const std::string& name, const std::string& needle) {
    expect_data_error([&] { check_generation_files(gen_, back); },
                      {(gen_ / name).string(), needle, "put the original file back"});
  };
  write_file_atomic(gen_ / kPseudoLabelsFile, csv.substr(0, csv.find("9,1")));  // cut
  expect_refused(kPseudoLabelsFile, "changed after generation 0 finished");
  std::string relabeled = csv;
  relabeled[relabeled.find("4,0") + 2] = '1';  // another class, the same length
  write_file_atomic(gen_ / kPseudoLabelsFile, relabeled);
  expect_refused(kPseudoLabelsFile, "FNV-1a");
  write_file_atomic(gen_ / kPseudoLabelsFile, csv);
  EXPECT_NO_THROW(check_generation_files(gen_, back));  // the original back: fine
  write_file_atomic(gen_ / kSelectionFile, "{\"selected_total\": 2} \n");
  expect_refused(kSelectionFile, "changed after generation 0 finished");
  write_file_atomic(gen_ / kSelectionFile, "{\"selected_total\": 2}\n");
  fs::remove(gen_ / kTrainingSummaryFile);
  expect_refused(kTrainingSummaryFile, "is missing");
}

TEST_F(GenerationFilesTest, FingerprintsOfTheWrongTypeNameTheKey) {
  nlohmann::json j = nlohmann::json::parse(read_file(gen_ / kGenerationDoneFile));
  const auto expect_refused = [&](const nlohmann::json& files, const std::string& needle) {
    nlohmann::json edited = j;
    edited["files"] = files;
    write_file_atomic(gen_ / kGenerationDoneFile, edited.dump());
    expect_data_error([&] { read_back(); }, {(gen_ / kGenerationDoneFile).string(), needle});
  };
  expect_refused(5, "'files' is 5");
  expect_refused({{"pseudo_labels.csv", "abc"}}, "'files.pseudo_labels.csv' is not an object");
  expect_refused({{"pseudo_labels.csv", {{"bytes", "many"}, {"fnv1a64", "ab"}}}}, "'bytes'");
  expect_refused({{"pseudo_labels.csv", {{"bytes", 3}, {"fnv1a64", 7}}}}, "'fnv1a64'");
  expect_refused({{"pseudo_labels.csv", {{"bytes", 3}}}}, "expected 'fnv1a64'");
}

}  // namespace
}  // namespace crest
