#include "crest/util/progress.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <string>

namespace crest {
namespace {

ProgressState generation_state() {
  ProgressState state;
  state.label = "gen 1/3";
  state.step = 120;
  state.total = 200;
  state.steps_per_second = 2.345;
  state.eta_seconds = 80;
  state.run_eta_seconds = 540;
  return state;
}

// The trainer's evaluation fields, with its priorities.
ProgressFields evaluation_fields() {
  return {{"loss 0.5120", "loss 0.5120", 5},   {"mask 0.830", "mask 0.830", 2},
          {"lr 0.03000", "lr 0.03000", 0},     {"acc raw 0.4000", "raw 0.4000", 1},
          {"acc ema 0.4250", "ema 0.4250", 6}, {"acc ema logit-adj 0.2250", "logit-adj 0.2250", 3}};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(ProgressLineTest, WideTerminalShowsEverything) {
  const std::string line =
      format_progress_line(generation_state(), evaluation_fields(), 300, /*bar=*/true);
  EXPECT_EQ(line,
            "[##############..........] gen 1/3 120/200 | 2.35 steps/s | ETA gen 1m20s, run "
            "9m00s | loss 0.5120 | mask 0.830 | lr 0.03000 | acc raw 0.4000 | acc ema 0.4250 | "
            "acc ema logit-adj 0.2250");
}

// Never more than width - 1 characters, at any width; what is kept goes by priority.
TEST(ProgressLineTest, NeverWiderThanTheTerminal) {
  for (const bool bar : {true, false}) {
    for (int width = 0; width <= 300; ++width) {
      const std::string line =
          format_progress_line(generation_state(), evaluation_fields(), width, bar);
      EXPECT_LE(static_cast<int>(line.size()), std::max(0, width - 1)) << "width " << width;
    }
  }
}

TEST(ProgressLineTest, EightyColumnsDropsLowPriorityFieldsFirst) {
  const std::string line = format_progress_line(generation_state(), evaluation_fields(), 80, true);
  EXPECT_LE(line.size(), 79u);
  EXPECT_TRUE(contains(line, "120/200")) << line;
  EXPECT_TRUE(contains(line, "ETA 1m20s, run 9m00s")) << line;  // both ETAs, compacted
  EXPECT_TRUE(contains(line, "ema 0.4250")) << line;            // the highest priority
  EXPECT_FALSE(contains(line, "lr ")) << line;                  // the lowest goes first
  EXPECT_FALSE(contains(line, "raw")) << line;
  // Between evaluations (loss, mask, lr) the loss stays.
  const std::string running = format_progress_line(
      generation_state(), {{"loss 0.5120", "", 5}, {"mask 0.830", "", 2}, {"lr 0.03000", "", 0}},
      80, true);
  EXPECT_LE(running.size(), 79u);
  EXPECT_TRUE(contains(running, "[")) << running;
  EXPECT_TRUE(contains(running, "loss 0.5120")) << running;
}

// An evaluation line (no bar) keeps its fields before the rate and the ETA.
TEST(ProgressLineTest, EvaluationLineKeepsFieldsOverTheEta) {
  const std::string line = format_progress_line(generation_state(), evaluation_fields(), 80, false);
  EXPECT_EQ(line, "gen 1/3 120/200 | loss 0.5120 | mask 0.830 | ema 0.4250 | logit-adj 0.2250");
  EXPECT_EQ(format_progress_line(generation_state(), evaluation_fields(), 24, false),
            "gen 1/3 120/200");
}

TEST(ProgressLineTest, NarrowTerminalDropsTheBarThenCuts) {
  const std::string line = format_progress_line(generation_state(), evaluation_fields(), 50, true);
  EXPECT_FALSE(contains(line, "[")) << line;
  EXPECT_TRUE(contains(line, "gen 1/3 120/200")) << line;
  const std::string tiny = format_progress_line(generation_state(), evaluation_fields(), 12, true);
  EXPECT_EQ(tiny, "gen 1/3 120");
  EXPECT_EQ(format_progress_line(generation_state(), evaluation_fields(), 1, true), "");
}

// Without later generations (or on the last one) only one ETA is shown.
TEST(ProgressLineTest, OneEtaWhenTheRunEndsWithThisPart) {
  ProgressState state = generation_state();
  state.run_eta_seconds = NAN;
  const std::string line = format_progress_line(state, {}, 200, false);
  EXPECT_EQ(line, "gen 1/3 120/200 | 2.35 steps/s | ETA 1m20s");
  state.run_eta_seconds = 80.2;
  EXPECT_EQ(format_progress_line(state, {}, 200, false), line);
}

TEST(ProgressLineTest, LogLineIsFullWithoutBar) {
  EXPECT_EQ(progress_log_line(generation_state(), {{"loss 0.5", "", 1}, {"lr 0.03", "", 0}}),
            "gen 1/3 120/200 | 2.35 steps/s | ETA gen 1m20s, run 9m00s | loss 0.5 | lr 0.03");
}

// Cutting never splits a UTF-8 character (labels may hold class or folder names).
TEST(ProgressLineTest, CutKeepsUtf8Whole) {
  ProgressState state = generation_state();
  state.label =
      "d\xc3\xa9"
      "codage";                                                       // "décodage"
  EXPECT_EQ(format_progress_line(state, {}, 4, false), "d\xc3\xa9");  // 3 bytes fit
  EXPECT_EQ(format_progress_line(state, {}, 3, false), "d");          // half of it does not
}

TEST(ProgressLineTest, TerminalWidthFallsBackToColumns) {
  // Under CTest stdout is not a terminal, so COLUMNS decides (when it is one, ioctl does).
  if (isatty(1)) GTEST_SKIP() << "stdout is a terminal";
  setenv("COLUMNS", "123", 1);
  EXPECT_EQ(terminal_width(), 123);
  setenv("COLUMNS", "junk", 1);
  EXPECT_EQ(terminal_width(), 80);
  unsetenv("COLUMNS");
  EXPECT_EQ(terminal_width(), 80);
}

TEST(ProgressLineTest, Durations) {
  EXPECT_EQ(format_duration(12.4), "12s");
  EXPECT_EQ(format_duration(245), "4m05s");
  EXPECT_EQ(format_duration(3720), "1h02m");
  EXPECT_EQ(format_duration(NAN), "?");
}

}  // namespace
}  // namespace crest
