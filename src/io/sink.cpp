#include "crest/io/sink.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>

#include "crest/dist/world.h"
#include "crest/io/csv.h"
#include "crest/io/file.h"
#include "crest/io/manifest.h"
#include "crest/io/run_files.h"
#include "crest/io/tensorboard.h"
#include "crest/io/world_file.h"
#include "crest/util/text_escape.h"

namespace crest {

namespace fs = std::filesystem;

// ---- RunSink: takes every record, writes nothing ---------------------------------------------

void RunSink::start_metrics(const fs::path&, EpochKind) {}
void RunSink::training_started(const fs::path&, const ExecutionSegment&) {}
std::vector<EpochLine> RunSink::resume_metrics(const fs::path&, EpochKind, std::int64_t) {
  return {};
}
void RunSink::epoch(const fs::path&, const EpochLine&) {}
void RunSink::checkpoint(const fs::path&, torch::nn::Module&, const CheckpointHeader&) {}
void RunSink::training_outcome(const fs::path&, const TrainingOutcomeFiles&) {}
void RunSink::generation_started(int, const fs::path&, const LabeledDistribution&) {}
void RunSink::selection(const fs::path&, const std::vector<PseudoLabelRow>&,
                        const SelectionRecord&) {}
void RunSink::generation_finished(const fs::path&, const GenerationRecord&, const SelectionRecord*,
                                  std::int64_t, const std::vector<GenerationRow>&) {}
void RunSink::generations_read(const std::vector<GenerationRow>&) {}
void RunSink::run_finished(const fs::path&, const RunSummary&) {}
void RunSink::text_file(const fs::path&, const std::string&) {}
void RunSink::weight_file(const fs::path&, const NamedTensors&, const std::string&) {}
void RunSink::pretrain_record(const fs::path&, const PretrainRecord&) {}
void RunSink::split_manifest(const fs::path&, const nlohmann::json&) {}
void RunSink::world_size(const fs::path&, int) {}
void RunSink::result_line(const std::string&) {}

// ---- FolderSink --------------------------------------------------------------------------------

void FolderSink::start_metrics(const fs::path& dir, EpochKind kind) {
  fs::create_directories(dir);
  if (kind == EpochKind::kGeneration) {
    start_metrics_file(dir / kMetricsFile);
  } else {
    write_file_atomic(dir / kMetricsFile, "");
  }
}

void FolderSink::training_started(const fs::path& dir, const ExecutionSegment& segment) {
  // A resume keeps the segments that ran the steps before its checkpoint; a training that starts
  // at step 0 starts the record afresh.
  const fs::path file = dir / kExecutionFile;
  ExecutionRecord record;
  if (segment.from_step > 0 && fs::exists(file)) record = read_execution_record(file);
  write_execution_record(file, with_segment(std::move(record), segment));
}

std::vector<EpochLine> FolderSink::resume_metrics(const fs::path& dir, EpochKind kind,
                                                  std::int64_t step) {
  fs::create_directories(dir);
  std::vector<EpochLine> lines;
  if (kind == EpochKind::kGeneration) {
    for (MetricsLine& line : truncate_metrics_file(dir / kMetricsFile, step)) {
      lines.emplace_back(std::move(line));
    }
  } else {
    for (PretrainLine& line : truncate_pretrain_metrics(dir / kMetricsFile, step)) {
      lines.emplace_back(line);
    }
  }
  return lines;
}

void FolderSink::epoch(const fs::path& dir, const EpochLine& line) {
  if (const auto* metrics = std::get_if<MetricsLine>(&line)) {
    append_metrics_line(dir / kMetricsFile, *metrics);
  } else {
    append_pretrain_line(dir / kMetricsFile, std::get<PretrainLine>(line));
  }
}

void FolderSink::checkpoint(const fs::path& file, torch::nn::Module& state,
                            const CheckpointHeader& header) {
  write_checkpoint(file, state, header);
}

void FolderSink::training_outcome(const fs::path& dir, const TrainingOutcomeFiles& files) {
  write_per_class_csv(dir / kPerClassFile, files.per_class);
  write_confusion_csv(dir / kConfusionFile, files.confusion);
  write_training_summary(dir / kTrainingSummaryFile, files.summary);
}

void FolderSink::generation_started(int, const fs::path& dir, const LabeledDistribution& labeled) {
  fs::create_directories(dir);
  write_labeled_distribution_csv(dir / kLabeledDistributionFile, labeled);
}

void FolderSink::selection(const fs::path& dir, const std::vector<PseudoLabelRow>& rows,
                           const SelectionRecord& record) {
  write_pseudo_labels_csv(dir / kPseudoLabelsFile, rows);
  write_selection_json(dir / kSelectionFile, record);
}

void FolderSink::generation_finished(const fs::path& dir, const GenerationRecord& record,
                                     const SelectionRecord*, std::int64_t,
                                     const std::vector<GenerationRow>& rows) {
  // The files a resume reads back, fingerprinted in the done marker written after them.
  GenerationRecord done = record;
  done.files = read_back_fingerprints(dir);
  write_generation_record(dir / kGenerationDoneFile, done);
  write_generations_csv(run_dir_ / kGenerationsFile, rows);
}

void FolderSink::run_finished(const fs::path& run_dir, const RunSummary& summary) {
  // A finished run's table is written again in full; a diverged one keeps the generations
  // that finished (their rows are already in generations.csv).
  if (summary.status != kRunDiverged && summary.generations) {
    write_generations_csv(run_dir / kGenerationsFile, *summary.generations);
  }
  write_run_summary(run_dir / kRunSummaryFile, summary);
}

void FolderSink::text_file(const fs::path& file, const std::string& contents) {
  write_file_atomic(file, contents);
}

void FolderSink::weight_file(const fs::path& file, const NamedTensors& tensors,
                             const std::string& format) {
  write_weight_file(file, tensors, format);
}

void FolderSink::pretrain_record(const fs::path& file, const PretrainRecord& record) {
  write_pretrain_record(file, record);
}

void FolderSink::split_manifest(const fs::path& file, const nlohmann::json& manifest) {
  write_split_manifest(file, manifest);
}

void FolderSink::world_size(const fs::path& run_dir, int world_size) {
  write_world_size(run_dir, world_size);
}

// ---- TensorBoardSink ---------------------------------------------------------------------------

struct TensorBoardSink::Writer {
  EventWriter events;
};

TensorBoardSink::TensorBoardSink(fs::path run_dir, std::vector<std::string> class_names)
    : run_dir_(std::move(run_dir)), class_names_(std::move(class_names)) {}

TensorBoardSink::~TensorBoardSink() = default;

void TensorBoardSink::generation_started(int generation, const fs::path&,
                                         const LabeledDistribution&) {
  writer_.reset();  // flushes the previous generation's file
  if (failed_) return;
  writer_ = std::make_unique<Writer>();
  // A new events file, also on resume (never appends to a torn one).
  writer_->events.open(tensorboard_dir(run_dir_, generation));
}

void TensorBoardSink::epoch(const fs::path&, const EpochLine& line) {
  const auto* metrics = std::get_if<MetricsLine>(&line);
  if (writer_ && metrics != nullptr) add_metrics_scalars(writer_->events, *metrics, class_names_);
}

void TensorBoardSink::generation_finished(const fs::path&, const GenerationRecord& record,
                                          const SelectionRecord* selection, std::int64_t steps,
                                          const std::vector<GenerationRow>&) {
  if (!writer_) return;
  add_generation_scalars(writer_->events, record.row, selection, steps);
  failed_ = failed_ || writer_->events.failed();
}

namespace {

// `text` broken at spaces into lines of at most `width` columns (a longer word stands alone),
// continuation lines indented by two spaces; ends in a newline.
std::string wrapped(const std::string& text, std::size_t width = 80) {
  std::string out, line;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(start, end - start);
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line = "  " + word;
    } else {
      line += (line.empty() ? "" : " ") + word;
    }
    start = end + 1;
  }
  return out + line + "\n";
}

}  // namespace

std::string next_steps_text(const fs::path& run_dir) {
  const std::string run = shell_word(run_dir.string());
  return "next:\n  crest report " + run + "  # the figures as one HTML page\n  crest evaluate " +
         run + "  # the test set, per class\n  crest predict " + run +
         " --folder IMAGES  # the top-5 classes of new images\n";
}

// ---- ConsoleSink -------------------------------------------------------------------------------

void ConsoleSink::print_table(const std::vector<GenerationRow>& rows) {
  // The whole table so far, each time, so it reads as one table even with progress output in
  // between.
  // At most 80 columns, so that it never wraps on a terminal of the classic width.
  out_ << "gen     t  labeled     acc   med20  mean-rec min-rec maj-rec selected sel-prec\n";
  for (const GenerationRow& r : rows) {
    const std::string precision = std::isfinite(r.selection_precision)
                                      ? csv_number(r.selection_precision).substr(0, 6)
                                  : selecting_ && !truth_known_ ? "unknown"
                                                                : "-";
    char line[160];
    std::snprintf(line, sizeof(line),
                  "%3d  %4.2f  %7lld  %6.4f  %6.4f  %8.4f %7.4f %7.4f %8lld %8s\n", r.generation,
                  r.t, static_cast<long long>(r.labeled), r.accuracy, r.accuracy_median_last_20,
                  r.mean_recall, r.minority_recall, r.majority_recall,
                  static_cast<long long>(r.selected), precision.c_str());
    out_ << line;
  }
  out_.flush();
}

void ConsoleSink::generation_finished(const fs::path&, const GenerationRecord&,
                                      const SelectionRecord*, std::int64_t,
                                      const std::vector<GenerationRow>& rows) {
  print_table(rows);
}

void ConsoleSink::generations_read(const std::vector<GenerationRow>& rows) { print_table(rows); }

void ConsoleSink::run_finished(const fs::path& run_dir, const RunSummary& summary) {
  if (summary.status == kRunDiverged || !summary.best) return;
  // Within 80 columns, like the table above it.
  out_ << wrapped((summary.chose_on_validation() ? "selected generation " : "last generation ") +
                  std::to_string(summary.best->generation) +
                  (summary.chose_on_validation()
                       ? std::string(" (highest ") + kSelectedOnMetric + ", crest.select_on val)"
                       : std::string(" (crest.select_on last: no validation split)")) +
                  ": accuracy " + csv_number(summary.best->accuracy) + ", mean recall " +
                  csv_number(summary.best->mean_recall));
  if (!summary.chose_on_validation())
    out_ << wrapped(std::string("no validation split: ") + kValidationSplitHint);
  out_ << next_steps_text(run_dir);
  out_.flush();
}

void ConsoleSink::result_line(const std::string& line) {
  out_ << line << "\n";
  out_.flush();
}

// ---- FanOutSink --------------------------------------------------------------------------------

void FanOutSink::start_metrics(const fs::path& dir, EpochKind kind) {
  for (auto& sink : sinks_) sink->start_metrics(dir, kind);
}

void FanOutSink::training_started(const fs::path& dir, const ExecutionSegment& segment) {
  for (auto& sink : sinks_) sink->training_started(dir, segment);
}

std::vector<EpochLine> FanOutSink::resume_metrics(const fs::path& dir, EpochKind kind,
                                                  std::int64_t step) {
  std::vector<EpochLine> first;
  for (std::size_t i = 0; i < sinks_.size(); ++i) {
    std::vector<EpochLine> lines = sinks_[i]->resume_metrics(dir, kind, step);
    if (i == 0) first = std::move(lines);
  }
  return first;
}

void FanOutSink::epoch(const fs::path& dir, const EpochLine& line) {
  for (auto& sink : sinks_) sink->epoch(dir, line);
}

void FanOutSink::checkpoint(const fs::path& file, torch::nn::Module& state,
                            const CheckpointHeader& header) {
  for (auto& sink : sinks_) sink->checkpoint(file, state, header);
}

void FanOutSink::training_outcome(const fs::path& dir, const TrainingOutcomeFiles& files) {
  for (auto& sink : sinks_) sink->training_outcome(dir, files);
}

void FanOutSink::generation_started(int generation, const fs::path& dir,
                                    const LabeledDistribution& labeled) {
  for (auto& sink : sinks_) sink->generation_started(generation, dir, labeled);
}

void FanOutSink::selection(const fs::path& dir, const std::vector<PseudoLabelRow>& rows,
                           const SelectionRecord& record) {
  for (auto& sink : sinks_) sink->selection(dir, rows, record);
}

void FanOutSink::generation_finished(const fs::path& dir, const GenerationRecord& record,
                                     const SelectionRecord* selection, std::int64_t steps,
                                     const std::vector<GenerationRow>& rows) {
  for (auto& sink : sinks_) sink->generation_finished(dir, record, selection, steps, rows);
}

void FanOutSink::generations_read(const std::vector<GenerationRow>& rows) {
  for (auto& sink : sinks_) sink->generations_read(rows);
}

void FanOutSink::run_finished(const fs::path& run_dir, const RunSummary& summary) {
  for (auto& sink : sinks_) sink->run_finished(run_dir, summary);
}

void FanOutSink::text_file(const fs::path& file, const std::string& contents) {
  for (auto& sink : sinks_) sink->text_file(file, contents);
}

void FanOutSink::weight_file(const fs::path& file, const NamedTensors& tensors,
                             const std::string& format) {
  for (auto& sink : sinks_) sink->weight_file(file, tensors, format);
}

void FanOutSink::pretrain_record(const fs::path& file, const PretrainRecord& record) {
  for (auto& sink : sinks_) sink->pretrain_record(file, record);
}

void FanOutSink::split_manifest(const fs::path& file, const nlohmann::json& manifest) {
  for (auto& sink : sinks_) sink->split_manifest(file, manifest);
}

void FanOutSink::world_size(const fs::path& run_dir, int world_size) {
  for (auto& sink : sinks_) sink->world_size(run_dir, world_size);
}

void FanOutSink::result_line(const std::string& line) {
  for (auto& sink : sinks_) sink->result_line(line);
}

std::unique_ptr<RunSink> make_run_sink(const dist::World& world,
                                       std::vector<std::unique_ptr<RunSink>> writers,
                                       FanOutSink** fan_out) {
  if (fan_out != nullptr) *fan_out = nullptr;
  // Only rank 0 writes the run folder (and the console table, and TensorBoard).
  if (!world.is_main()) return std::make_unique<RunSink>();
  auto sink = std::make_unique<FanOutSink>(std::move(writers));
  if (fan_out != nullptr) *fan_out = sink.get();
  return sink;
}

std::unique_ptr<RunSink> make_folder_sink(const fs::path& dir) {
  std::vector<std::unique_ptr<RunSink>> writers;
  writers.push_back(std::make_unique<FolderSink>(dir));
  return make_run_sink(dist::world(), std::move(writers));
}

}  // namespace crest
