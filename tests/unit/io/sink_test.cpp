// The run's sink: the folder's files through FolderSink, the fan-out in order, the console table,
// execution.json's segments across a resume, and the one decision that only rank 0 writes
// (make_run_sink, with two ranks as two threads over one c10d::HashStore).
#include "crest/io/sink.h"

#include <gtest/gtest.h>

#include <exception>
#include <sstream>
#include <thread>
#include <vector>

#include "crest/dist/world.h"
#include "crest/io/execution_files.h"
#include "crest/io/file.h"
#include "crest/io/pretrain_files.h"
#include "test_util.h"

#if CREST_WITH_C10D
#include <torch/csrc/distributed/c10d/HashStore.hpp>
#endif

namespace crest {
namespace {

namespace fs = std::filesystem;

// Records the calls it gets, tagged with its name.
class NamedSink final : public RunSink {
 public:
  NamedSink(std::string name, std::vector<std::string>& log) : name_(std::move(name)), log_(log) {}
  void start_metrics(const fs::path&, EpochKind) override { log_.push_back(name_ + " start"); }
  std::vector<EpochLine> resume_metrics(const fs::path&, EpochKind, std::int64_t step) override {
    log_.push_back(name_ + " resume");
    PretrainLine line;
    line.step = step;
    line.lr = name_ == "a" ? 1.0 : 2.0;
    return {line};
  }
  void epoch(const fs::path&, const EpochLine&) override { log_.push_back(name_ + " epoch"); }

 private:
  std::string name_;
  std::vector<std::string>& log_;
};

class SinkTest : public TempDirTest {};

TEST_F(SinkTest, FanOutCallsEverySinkInOrderAndResumesFromTheFirst) {
  std::vector<std::string> log;
  std::vector<std::unique_ptr<RunSink>> sinks;
  sinks.push_back(std::make_unique<NamedSink>("a", log));
  sinks.push_back(std::make_unique<NamedSink>("b", log));
  FanOutSink fan(std::move(sinks));
  fan.start_metrics(dir_, EpochKind::kPretrain);
  fan.epoch(dir_, PretrainLine{});
  const std::vector<EpochLine> lines = fan.resume_metrics(dir_, EpochKind::kPretrain, 4);
  EXPECT_EQ(log, (std::vector<std::string>{"a start", "b start", "a epoch", "b epoch", "a resume",
                                           "b resume"}));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(std::get<PretrainLine>(lines[0]).lr, 1.0);  // the first sink's records
}

TEST_F(SinkTest, TheBaseSinkWritesNothing) {
  RunSink nothing;
  nothing.start_metrics(dir_ / "gen_0", EpochKind::kGeneration);
  nothing.text_file(dir_ / "config.yaml", "x: 1\n");
  nothing.training_started(dir_ / "gen_0", ExecutionSegment{});
  EXPECT_TRUE(nothing.resume_metrics(dir_, EpochKind::kGeneration, 3).empty());
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(SinkTest, ExecutionRecordKeepsTheSegmentsBeforeTheResumedCheckpoint) {
  FolderSink folder(dir_);
  ExecutionSegment first;
  first.device = "cpu (2 threads)";
  first.threads = 2;
  folder.training_started(dir_, first);
  ExecutionSegment second = first;
  second.from_step = 40;
  second.threads = 1;
  folder.training_started(dir_, second);
  ExecutionSegment third = first;  // a second resume from the same checkpoint replaces the second
  third.from_step = 40;
  third.precision = "bf16";
  folder.training_started(dir_, third);
  ExecutionRecord record = read_execution_record(dir_ / "execution.json");
  ASSERT_EQ(record.segments.size(), 2u);
  EXPECT_EQ(record.segments[0].threads, 2);
  EXPECT_EQ(record.segments[1].from_step, 40);
  EXPECT_EQ(record.segments[1].precision, "bf16");
  // A training that starts over from step 0 starts the record afresh.
  folder.training_started(dir_, first);
  EXPECT_EQ(read_execution_record(dir_ / "execution.json").segments.size(), 1u);
}

TEST_F(SinkTest, ADamagedExecutionRecordIsNamed) {
  const fs::path file = dir_ / "execution.json";
  write_file_atomic(file, "{\"format\": \"crest-execution\", \"segments\": [{\"from_step\": -3}]}");
  expect_data_error([&] { read_execution_record(file); }, {"execution.json"});
  write_file_atomic(file, "not json");
  expect_data_error([&] { read_execution_record(file); }, {"execution.json", "JSON"});
  write_file_atomic(file, "{\"segments\": []}");
  expect_data_error([&] { read_execution_record(file); }, {"not a crest execution record"});
  ExecutionRecord record;
  record.segments.emplace_back();
  record.segments.back().threads = 0;
  write_execution_record(file, record);
  expect_data_error([&] { read_execution_record(file); }, {"'threads'", "at least 1"});
  // A resume that finds it damaged says so before writing anything.
  FolderSink folder(dir_);
  ExecutionSegment resumed;
  resumed.from_step = 8;
  expect_data_error([&] { folder.training_started(dir_, resumed); }, {"execution.json"});
}

TEST_F(SinkTest, TheConsoleShowsTheTableAndTheChosenGeneration) {
  std::ostringstream out;
  ConsoleSink console(out, /*selecting=*/true, /*truth_known=*/false);
  GenerationRow row;
  row.generation = 0;
  row.accuracy = 0.5;
  console.generations_read({row});
  EXPECT_NE(out.str().find("unknown"), std::string::npos) << out.str();
  RunSummary summary;
  summary.select_on = "last";
  summary.best = row;
  console.run_finished(dir_, summary);
  EXPECT_NE(out.str().find("last generation 0 (crest.select_on last: no validation split)"),
            std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("--set crest.select_on=val"), std::string::npos) << out.str();
  EXPECT_EQ(out.str().find("best"), std::string::npos) << out.str();
  // Under select_on val: the selected generation, on which figure, and no hint.
  for (int g : {0, 3}) {
    std::ostringstream val_out;
    RunSummary val = summary;
    val.select_on = "val";
    val.best->generation = g;
    ConsoleSink(val_out).run_finished(dir_ / "r un", val);
    const std::string text = val_out.str();
    EXPECT_NE(text.find("selected generation " + std::to_string(g) +
                        " (highest val_mean_recall, crest.select_on val)"),
              std::string::npos)
        << text;
    EXPECT_EQ(text.find("no validation split"), std::string::npos) << text;
    // The run folder shell-quoted in the next commands.
    EXPECT_NE(text.find("crest evaluate '" + (dir_ / "r un").string() + "'"), std::string::npos)
        << text;
  }
  summary.status = kRunDiverged;
  std::ostringstream quiet;
  ConsoleSink(quiet).run_finished(dir_, summary);
  EXPECT_TRUE(quiet.str().empty());  // a diverged run names no chosen generation
}

TEST_F(SinkTest, OneRankWritesTheFolder) {
  const dist::World alone;
  std::vector<std::unique_ptr<RunSink>> writers;
  writers.push_back(std::make_unique<FolderSink>(dir_));
  FanOutSink* fan = nullptr;
  std::unique_ptr<RunSink> sink = make_run_sink(alone, std::move(writers), &fan);
  EXPECT_NE(fan, nullptr);
  sink->text_file(dir_ / "config.yaml", "x: 1\n");
  EXPECT_EQ(read_file(dir_ / "config.yaml"), "x: 1\n");
}

TEST_F(SinkTest, OnlyRankZeroOfTwoWrites) {
#if CREST_WITH_C10D
  c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::HashStore>();
  std::vector<std::exception_ptr> errors(2);
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      try {
        dist::World world;
        world.join_with_store(&store, r, 2);
        const fs::path mine = dir_ / ("rank" + std::to_string(r));
        std::vector<std::unique_ptr<RunSink>> writers;
        writers.push_back(std::make_unique<FolderSink>(mine));
        FanOutSink* fan = nullptr;
        std::unique_ptr<RunSink> sink = make_run_sink(world, std::move(writers), &fan);
        EXPECT_EQ(fan != nullptr, r == 0);
        sink->start_metrics(mine, EpochKind::kPretrain);
        sink->text_file(mine / "config.yaml", "x: 1\n");
      } catch (...) {
        errors[static_cast<std::size_t>(r)] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  EXPECT_TRUE(fs::exists(dir_ / "rank0" / "metrics.jsonl"));
  EXPECT_TRUE(fs::exists(dir_ / "rank0" / "config.yaml"));
  EXPECT_FALSE(fs::exists(dir_ / "rank1"));
#else
  GTEST_SKIP() << "built without c10d";
#endif
}

}  // namespace
}  // namespace crest
