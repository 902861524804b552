// The CReST generation loop (run_training) on a tiny synthetic set, two generations of CReST+ on
// the CPU: the records it leaves are consistent with one another when read back through io, a
// resume after the first generation ends exactly where an uninterrupted run does, and a damaged
// selection file stops a resume with its file and line.
#include "crest/selftrain/loop.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "crest/config/config.h"
#include "crest/io/class_tables.h"
#include "crest/io/file.h"
#include "crest/io/generation_files.h"
#include "crest/io/run_files.h"
#include "crest/io/run_state.h"
#include "crest/io/selection_files.h"
#include "crest/io/training_files.h"
#include "crest/report/report.h"
#include "crest/util/error.h"
#include "test_util.h"

namespace crest {
namespace {

namespace fs = std::filesystem;

// Two generations of a few steps each: seconds on one CPU thread.
constexpr char kTinyRun[] = R"(
data:
  dataset: synthetic
  imbalance_ratio: 4
  label_fraction: 0.3
  synthetic: {classes: 3, train_per_class: 40, test_per_class: 10}
model: {depth: 10, width: 1, bn_momentum: 0.1}
train:
  batch_size: 4
  unlabeled_ratio: 2
  steps_per_epoch: 3
  epochs: 2
  ema_decay: 0.9
  eval_batch_size: 16
crest: {mode: crest+, generations: 2, p_model_buffer: 4}
run: {device: cpu, threads: 1, checkpoint_every: 2}
)";

class LoopTest : public TempDirTest {
 protected:
  // Trains (or resumes) the tiny run in dir_/name; returns what it printed.
  std::string train(const std::string& name, bool resume = false, double lr = 0.0) {
    Config config = parse_config(kTinyRun, "<loop test>");
    if (lr > 0.0) config.train.lr = lr;
    config.run.out_dir = (dir_ / name).string();
    std::ostringstream out;
    TrainOptions options;
    options.resume = resume;
    run_training(config, options, out);
    return out.str();
  }
};

TEST_F(LoopTest, TwoGenerationsLeaveConsistentRecords) {
  const std::string printed = train("run");
  const fs::path run = dir_ / "run";
  EXPECT_NE(printed.find("gen     t  labeled     acc"), std::string::npos) << printed;
  EXPECT_NE(printed.find("last generation 1 (crest.select_on last: no validation split)"),
            std::string::npos)
      << printed;
  // The last lines point to what comes next, for this run folder.
  EXPECT_NE(printed.find("no validation split: to select a generation on validation"),
            std::string::npos)
      << printed;
  EXPECT_NE(printed.find("next:\n  crest report " + (dir_ / "run").string()), std::string::npos)
      << printed;
  EXPECT_NE(printed.find("crest predict " + (dir_ / "run").string() + " --folder IMAGES"),
            std::string::npos)
      << printed;

  const std::vector<GenerationRow> rows = read_generations_csv(run / kGenerationsFile);
  ASSERT_EQ(rows.size(), 2u);
  const RunSummary summary = read_run_summary(run / kRunSummaryFile);
  EXPECT_EQ(summary.mode, "crest+");
  EXPECT_EQ(summary.best_generation, 1);
  ASSERT_TRUE(summary.generations && summary.generations->size() == 2u);
  EXPECT_EQ(summary.minority_classes->size(), 1u);  // 30% of 3 classes

  for (int g = 0; g < 2; ++g) {
    const fs::path gen = generation_dir(run, g);
    const GenerationRow& row = rows[static_cast<std::size_t>(g)];
    const GenerationRecord record = read_generation_record(gen / kGenerationDoneFile);
    EXPECT_EQ(record.row.generation, g);
    EXPECT_EQ(record.row.labeled, row.labeled);
    EXPECT_NEAR(record.row.accuracy, row.accuracy, 1e-6);  // the CSV holds 6 decimals
    EXPECT_NEAR(record.test.accuracy, row.accuracy, 1e-6);
    EXPECT_EQ((*summary.generations)[static_cast<std::size_t>(g)].selected, row.selected);
    // CReST+: t_g falls linearly from 1 to t_min = 0.5.
    EXPECT_DOUBLE_EQ(row.t, g == 0 ? 1.0 : 0.5);

    // The labeled set it trained on: the original one plus the previous selection.
    const LabeledDistribution d = read_labeled_distribution_csv(gen / kLabeledDistributionFile);
    std::int64_t total = 0, pseudo = 0;
    for (std::size_t c = 0; c < d.names.size(); ++c) {
      EXPECT_EQ(d.total[c], d.labeled[c] + d.pseudo_labeled[c]);
      total += d.total[c];
      pseudo += d.pseudo_labeled[c];
    }
    EXPECT_EQ(total, row.labeled);
    EXPECT_EQ(pseudo, row.pseudo_labeled);
    EXPECT_EQ(record.labeled_counts, d.total);

    // The trainer's files.
    const TrainingSummary trained = read_training_summary(gen / kTrainingSummaryFile);
    EXPECT_EQ(trained.steps, 6);
    EXPECT_EQ(trained.evaluations, 2);
    EXPECT_EQ(read_metrics_file(gen / kMetricsFile).lines.size(), 2u);
    const PerClassTable per_class = read_per_class_csv(gen / kPerClassFile);
    EXPECT_NEAR(per_class.recall[0], record.test.per_class_recall[0], 1e-6);

    // The selection and its account agree with the pseudo-labels written.
    const std::vector<PseudoLabelRow> picked =
        read_pseudo_labels_csv(gen / kPseudoLabelsFile, {3, nullptr, nullptr});
    const SelectionRecord selection = read_selection_json(gen / kSelectionFile);
    EXPECT_EQ(static_cast<std::int64_t>(picked.size()), row.selected);
    EXPECT_EQ(selection.selected_total, row.selected);
    std::vector<std::int64_t> correct(selection.names.size(), 0), selected(correct);
    for (const PseudoLabelRow& p : picked) {
      ++selected[static_cast<std::size_t>(p.predicted)];
      if (p.predicted == p.true_label) ++correct[static_cast<std::size_t>(p.predicted)];
    }
    EXPECT_EQ(selection.selected, selected);
    EXPECT_EQ(selection.correct, correct);
    if (!picked.empty()) {
      EXPECT_NEAR(selection.precision_total, row.selection_precision, 1e-6);
    }
  }
  // Generation 1 trains on generation 0's selection.
  EXPECT_EQ(rows[1].pseudo_labeled, rows[0].selected);
}

TEST_F(LoopTest, ResumeAfterTheFirstGenerationEndsWithIdenticalResults) {
  train("whole");
  train("resumed");
  // As if the run had stopped right after generation 0: generation 1 and the run's summary
  // are gone; the resume reads generation 0's records and selection back and trains gen 1.
  const fs::path resumed = dir_ / "resumed";
  fs::remove_all(generation_dir(resumed, 1));
  fs::remove(resumed / kRunSummaryFile);
  write_generations_csv(resumed / kGenerationsFile,
                        {read_generations_csv(resumed / kGenerationsFile).front()});
  const std::string printed = train("resumed", /*resume=*/true);
  EXPECT_NE(printed.find("last generation 1"), std::string::npos) << printed;

  const fs::path whole = dir_ / "whole";
  const TrainingSummary a = read_training_summary(generation_dir(whole, 1) / kTrainingSummaryFile);
  const TrainingSummary b =
      read_training_summary(generation_dir(resumed, 1) / kTrainingSummaryFile);
  EXPECT_EQ(a.model_fingerprint, b.model_fingerprint);
  EXPECT_EQ(a.ema_fingerprint, b.ema_fingerprint);
  for (const fs::path& file :
       {fs::path(kGenerationsFile), fs::path(kRunSummaryFile),
        generation_dir("", 1) / kPseudoLabelsFile, generation_dir("", 1) / kSelectionFile,
        generation_dir("", 1) / kPerClassFile, generation_dir("", 1) / kGenerationDoneFile}) {
    EXPECT_EQ(read_file(whole / file), read_file(resumed / file)) << file;
  }
}

TEST_F(LoopTest, ResumeRefusesADamagedSelection) {
  train("run");
  const fs::path run = dir_ / "run";
  fs::remove_all(generation_dir(run, 1));
  const fs::path picked = generation_dir(run, 0) / kPseudoLabelsFile;
  std::vector<std::string> lines = read_lines(picked);
  ASSERT_GE(lines.size(), 3u) << "generation 0 selected fewer than 2 images";
  lines[2] = "x,0,0.5,0";
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  write_file_atomic(picked, text);
  expect_data_error([&] { train("run", /*resume=*/true); },
                    {picked.string() + ":3", "column 'index'"});
  fs::remove(picked);
  expect_data_error([&] { train("run", /*resume=*/true); },
                    {"cannot resume", picked.string(), "is missing"});
}

TEST_F(LoopTest, ResumeRefusesEveryDamagedValueNamingTheFile) {
  // An outside test once changed a predicted class to 77 and the resume corrupted the heap:
  // every value read back is checked against the run before it is used.
  train("run");
  const fs::path run = dir_ / "run";
  fs::remove_all(generation_dir(run, 1));
  const fs::path picked = generation_dir(run, 0) / kPseudoLabelsFile;
  const std::string original = read_file(picked);
  std::vector<std::string> lines = read_lines(picked);
  ASSERT_GE(lines.size(), 3u) << "generation 0 selected fewer than 2 images";
  auto with_row = [&](std::size_t k, const std::string& row) {
    std::vector<std::string> edited = lines;
    edited[k] = row;
    std::string text;
    for (const std::string& line : edited) text += line + "\n";
    write_file_atomic(picked, text);
  };
  const std::string index = lines[1].substr(0, lines[1].find(','));
  with_row(1, index + ",77,0.9,0");
  expect_data_error([&] { train("run", /*resume=*/true); },
                    {picked.string() + ":2", "'predicted' is 77"});
  with_row(1, index + ",4611686018427387904,0.9,0");
  expect_data_error([&] { train("run", /*resume=*/true); }, {picked.string() + ":2"});
  with_row(2, lines[1]);
  expect_data_error([&] { train("run", /*resume=*/true); },
                    {picked.string() + ":3", "selected twice"});
  // A labeled image is not in the unlabeled pool.
  const nlohmann::json manifest = nlohmann::json::parse(read_file(run / kSplitManifestFile));
  const std::int64_t labeled = manifest["labeled_indices"][0].get<std::int64_t>();
  with_row(1, std::to_string(labeled) + ",0,0.9,0");
  expect_data_error([&] { train("run", /*resume=*/true); },
                    {picked.string() + ":2", "not in this run's unlabeled pool"});
  write_file_atomic(picked, original);

  // generation.json: a number past double's range, a negative count, another generation.
  const fs::path done = generation_dir(run, 0) / kGenerationDoneFile;
  const std::string record = read_file(done);
  nlohmann::json j = nlohmann::json::parse(record);
  std::string text = j.dump();
  const std::string accuracy = "\"accuracy\":";
  text.insert(text.find(accuracy) + accuracy.size(), "1e999,\"x\":");
  write_file_atomic(done, text);
  expect_data_error([&] { train("run", /*resume=*/true); }, {done.string(), "not valid JSON"});
  j["row"]["labeled"] = -5;
  write_file_atomic(done, j.dump());
  expect_data_error([&] { train("run", /*resume=*/true); },
                    {done.string(), "'labeled'", "negative"});
  j = nlohmann::json::parse(record);
  j["row"]["accuracy"] = 3.5;
  write_file_atomic(done, j.dump());
  expect_data_error([&] { train("run", /*resume=*/true); },
                    {done.string(), "'accuracy'", "not a ratio"});
  j = nlohmann::json::parse(record);
  j["row"]["generation"] = 4;
  write_file_atomic(done, j.dump());
  expect_data_error([&] { train("run", /*resume=*/true); },
                    {done.string(), "records generation 4", "start a new run folder"});
  write_file_atomic(done, record);
  train("run", /*resume=*/true);  // intact again: the run completes
  EXPECT_TRUE(fs::exists(generation_dir(run, 1) / kGenerationDoneFile));
}

TEST_F(LoopTest, ADivergedRunSaysSoEverywhere) {
  // lr 1e30 only reaches the library through the struct (the config's range is [1e-12, 100]):
  // the sure way to diverge in a few steps.
  expect_error<TrainingDiverged>([&] { train("nan", false, 1e30); }, {"gen 0", "non-finite"});
  const fs::path run = dir_ / "nan";
  // The stored config must pass validation for the readers below; the divergence is on record.
  const std::string config_text = read_file(run / kConfigFile);
  const std::size_t at = config_text.find("lr: 1e+30");
  ASSERT_NE(at, std::string::npos) << config_text;
  write_file_atomic(run / kConfigFile,
                    config_text.substr(0, at) + "lr: 100" +
                        config_text.substr(at + std::string("lr: 1e+30").size()));
  const RunSummary summary = read_run_summary(run / kRunSummaryFile);
  EXPECT_EQ(summary.status, kRunDiverged);
  EXPECT_EQ(summary.failed_generation, 0);
  EXPECT_NE(summary.error.find("non-finite"), std::string::npos) << summary.error;
  EXPECT_FALSE(summary.best_generation.has_value());
  EXPECT_FALSE(fs::exists(generation_dir(run, 0) / kGenerationDoneFile));
  // summarize and sweep see a failed run, not an unfinished one.
  const RunState state = inspect_run(run);
  EXPECT_FALSE(state.complete);
  EXPECT_NE(state.problem.find("failed: training diverged in generation 0"), std::string::npos)
      << state.problem;
  // The report calls it failed, never "still running".
  const RunFolder folder = load_run(run);
  EXPECT_FALSE(folder.complete());
  const std::string html = report_html(folder);
  EXPECT_NE(html.find("Failed run."), std::string::npos);
  EXPECT_EQ(html.find("still running"), std::string::npos);
}

}  // namespace
}  // namespace crest
