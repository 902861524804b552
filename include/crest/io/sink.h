// The run's sink: everything a training run or a pre-training writes goes through one RunSink,
// as records (io/*_files.h), never as files the producer opens itself. The sinks:
//   FolderSink       the run folder's files (io/run_files.h names them), atomically
//   TensorBoardSink  the scalars of each evaluation and generation (io/tensorboard.h)
//   ConsoleSink      the per-generation table and the best generation on standard output
//   FanOutSink       several sinks, in order
//   RunSink itself   takes everything and writes nothing: what ranks above 0 get
// make_run_sink() is the one place that decides that only rank 0 of a multi-rank run writes.
#pragma once

#include <torch/nn/module.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include "crest/io/checkpoint.h"
#include "crest/io/class_tables.h"
#include "crest/io/execution_files.h"
#include "crest/io/generation_files.h"
#include "crest/io/pretrain_files.h"
#include "crest/io/selection_files.h"
#include "crest/io/training_files.h"
#include "crest/io/weight_files.h"

namespace crest {

namespace dist {
class World;
}

// One evaluation record of metrics.jsonl: a generation's (MetricsLine) or a pre-training's
// (PretrainLine).
using EpochLine = std::variant<MetricsLine, PretrainLine>;
enum class EpochKind { kGeneration, kPretrain };

// A generation's per_class.csv, confusion.csv and summary.json.
struct TrainingOutcomeFiles {
  PerClassTable per_class;
  ConfusionTable confusion;
  TrainingSummary summary;
};

// Every method takes a record and may write it; the base class writes nothing. Writes that fail
// throw WriteError (io/file.h) from FolderSink; TensorBoardSink logs one warning and stops.
class RunSink {
 public:
  RunSink() = default;
  virtual ~RunSink() = default;
  RunSink(const RunSink&) = delete;
  RunSink& operator=(const RunSink&) = delete;

  // ---- one training's folder `dir` (a generation's gen_g/, or the pre-training folder)
  // A training from its first step: `dir` created, metrics.jsonl empty.
  virtual void start_metrics(const std::filesystem::path& dir, EpochKind kind);
  // A training (re)started at segment.from_step: how this stretch of it runs (execution.json).
  virtual void training_started(const std::filesystem::path& dir, const ExecutionSegment& segment);
  // A training resumed at `step`: metrics.jsonl keeps the lines up to it, which are returned
  // (none from a sink that does not keep the file).
  virtual std::vector<EpochLine> resume_metrics(const std::filesystem::path& dir, EpochKind kind,
                                                std::int64_t step);
  virtual void epoch(const std::filesystem::path& dir, const EpochLine& line);
  virtual void checkpoint(const std::filesystem::path& file, torch::nn::Module& state,
                          const CheckpointHeader& header);
  virtual void training_outcome(const std::filesystem::path& dir,
                                const TrainingOutcomeFiles& files);

  // ---- the generations of a run (selftrain/loop.cpp)
  // Generation `generation` starts in `dir` on the labeled set `labeled`.
  virtual void generation_started(int generation, const std::filesystem::path& dir,
                                  const LabeledDistribution& labeled);
  virtual void selection(const std::filesystem::path& dir, const std::vector<PseudoLabelRow>& rows,
                         const SelectionRecord& record);
  // The generation is done (generation.json, written last); `rows`: the table so far, this
  // generation's row last; `selection` may be null; `steps`: the generation's last step.
  virtual void generation_finished(const std::filesystem::path& dir, const GenerationRecord& record,
                                   const SelectionRecord* selection, std::int64_t steps,
                                   const std::vector<GenerationRow>& rows);
  // A resume read the finished generations `rows` back from disk.
  virtual void generations_read(const std::vector<GenerationRow>& rows);
  // The run ended: `summary` names the best generation (status done), or the generation that
  // diverged (status diverged).
  virtual void run_finished(const std::filesystem::path& run_dir, const RunSummary& summary);

  // ---- other files of a run or pre-training folder
  virtual void text_file(const std::filesystem::path& file, const std::string& contents);
  virtual void weight_file(const std::filesystem::path& file, const NamedTensors& tensors,
                           const std::string& format);
  virtual void pretrain_record(const std::filesystem::path& file, const PretrainRecord& record);
  virtual void split_manifest(const std::filesystem::path& file, const nlohmann::json& manifest);
  // RUN/world.json: the number of ranks a multi-rank run trains with.
  virtual void world_size(const std::filesystem::path& run_dir, int world_size);
  // A line of the command's result for standard output (e.g. the path of what it wrote).
  virtual void result_line(const std::string& line);
};

class FolderSink final : public RunSink {
 public:
  // `run_dir`: where generations.csv and summary.json go.
  explicit FolderSink(std::filesystem::path run_dir) : run_dir_(std::move(run_dir)) {}
  void start_metrics(const std::filesystem::path& dir, EpochKind kind) override;
  void training_started(const std::filesystem::path& dir, const ExecutionSegment& segment) override;
  std::vector<EpochLine> resume_metrics(const std::filesystem::path& dir, EpochKind kind,
                                        std::int64_t step) override;
  void epoch(const std::filesystem::path& dir, const EpochLine& line) override;
  void checkpoint(const std::filesystem::path& file, torch::nn::Module& state,
                  const CheckpointHeader& header) override;
  void training_outcome(const std::filesystem::path& dir,
                        const TrainingOutcomeFiles& files) override;
  void generation_started(int generation, const std::filesystem::path& dir,
                          const LabeledDistribution& labeled) override;
  void selection(const std::filesystem::path& dir, const std::vector<PseudoLabelRow>& rows,
                 const SelectionRecord& record) override;
  void generation_finished(const std::filesystem::path& dir, const GenerationRecord& record,
                           const SelectionRecord* selection, std::int64_t steps,
                           const std::vector<GenerationRow>& rows) override;
  void run_finished(const std::filesystem::path& run_dir, const RunSummary& summary) override;
  void text_file(const std::filesystem::path& file, const std::string& contents) override;
  void weight_file(const std::filesystem::path& file, const NamedTensors& tensors,
                   const std::string& format) override;
  void pretrain_record(const std::filesystem::path& file, const PretrainRecord& record) override;
  void split_manifest(const std::filesystem::path& file, const nlohmann::json& manifest) override;
  void world_size(const std::filesystem::path& run_dir, int world_size) override;

 private:
  std::filesystem::path run_dir_;
};

// RUN/tensorboard/gen_g/ event files: a new file per generation (also on resume), the scalars of
// every generation's evaluation and of its end. Once a write fails, warns once and writes no
// more for the rest of the run (the files are derived; the run goes on).
class TensorBoardSink final : public RunSink {
 public:
  TensorBoardSink(std::filesystem::path run_dir, std::vector<std::string> class_names);
  ~TensorBoardSink() override;
  void generation_started(int generation, const std::filesystem::path& dir,
                          const LabeledDistribution& labeled) override;
  void epoch(const std::filesystem::path& dir, const EpochLine& line) override;
  void generation_finished(const std::filesystem::path& dir, const GenerationRecord& record,
                           const SelectionRecord* selection, std::int64_t steps,
                           const std::vector<GenerationRow>& rows) override;

 private:
  struct Writer;
  std::filesystem::path run_dir_;
  std::vector<std::string> class_names_;
  std::unique_ptr<Writer> writer_;
  bool failed_ = false;
};

// "next:" and the `crest report`, `crest evaluate` and `crest predict` commands for `run_dir`
// (shell-quoted), one a line: what a finished run points to.
std::string next_steps_text(const std::filesystem::path& run_dir);

// The table of generations on `out` after each generation (and once after a resume read the
// finished ones), and at the end the generation crest.select_on chose (selected on validation,
// or the last one with how to make a validation split) and next_steps_text. `selecting`: the run
// selects pseudo-labels; `truth_known`: their precision can be scored ("unknown" in the table if
// not).
class ConsoleSink final : public RunSink {
 public:
  explicit ConsoleSink(std::ostream& out, bool selecting = false, bool truth_known = true)
      : out_(out), selecting_(selecting), truth_known_(truth_known) {}
  void result_line(const std::string& line) override;
  void generation_finished(const std::filesystem::path& dir, const GenerationRecord& record,
                           const SelectionRecord* selection, std::int64_t steps,
                           const std::vector<GenerationRow>& rows) override;
  void generations_read(const std::vector<GenerationRow>& rows) override;
  void run_finished(const std::filesystem::path& run_dir, const RunSummary& summary) override;

 private:
  void print_table(const std::vector<GenerationRow>& rows);
  std::ostream& out_;
  bool selecting_;
  bool truth_known_;
};

// Each record to every sink, in order; resume_metrics returns the first sink's lines.
class FanOutSink final : public RunSink {
 public:
  explicit FanOutSink(std::vector<std::unique_ptr<RunSink>> sinks) : sinks_(std::move(sinks)) {}
  void add(std::unique_ptr<RunSink> sink) { sinks_.push_back(std::move(sink)); }
  void start_metrics(const std::filesystem::path& dir, EpochKind kind) override;
  void training_started(const std::filesystem::path& dir, const ExecutionSegment& segment) override;
  std::vector<EpochLine> resume_metrics(const std::filesystem::path& dir, EpochKind kind,
                                        std::int64_t step) override;
  void epoch(const std::filesystem::path& dir, const EpochLine& line) override;
  void checkpoint(const std::filesystem::path& file, torch::nn::Module& state,
                  const CheckpointHeader& header) override;
  void training_outcome(const std::filesystem::path& dir,
                        const TrainingOutcomeFiles& files) override;
  void generation_started(int generation, const std::filesystem::path& dir,
                          const LabeledDistribution& labeled) override;
  void selection(const std::filesystem::path& dir, const std::vector<PseudoLabelRow>& rows,
                 const SelectionRecord& record) override;
  void generation_finished(const std::filesystem::path& dir, const GenerationRecord& record,
                           const SelectionRecord* selection, std::int64_t steps,
                           const std::vector<GenerationRow>& rows) override;
  void generations_read(const std::vector<GenerationRow>& rows) override;
  void run_finished(const std::filesystem::path& run_dir, const RunSummary& summary) override;
  void text_file(const std::filesystem::path& file, const std::string& contents) override;
  void weight_file(const std::filesystem::path& file, const NamedTensors& tensors,
                   const std::string& format) override;
  void pretrain_record(const std::filesystem::path& file, const PretrainRecord& record) override;
  void split_manifest(const std::filesystem::path& file, const nlohmann::json& manifest) override;
  void world_size(const std::filesystem::path& run_dir, int world_size) override;
  void result_line(const std::string& line) override;

 private:
  std::vector<std::unique_ptr<RunSink>> sinks_;
};

// The sink of this process: `writers` fanned out on rank 0 (the only rank that writes the run
// folder, the console table and TensorBoard), a sink that writes nothing on the other ranks.
// `fan_out`, when not null, gets rank 0's FanOutSink (to add writers later) or null.
std::unique_ptr<RunSink> make_run_sink(const dist::World& world,
                                       std::vector<std::unique_ptr<RunSink>> writers,
                                       FanOutSink** fan_out = nullptr);

// make_run_sink of this process (dist::world()) with a FolderSink of `dir` alone: what a
// training given no sink writes through.
std::unique_ptr<RunSink> make_folder_sink(const std::filesystem::path& dir);

}  // namespace crest
