// The names of the files a run folder and a sweep folder hold (docs/run-folder.md, docs/sweeps.md).
// Nobody else spells them: code that reads or writes one of these files takes the name from
// here, and the record type and the reader/writer pair from the io header of that file kind:
//
//   RUN/config.yaml                     the resolved config            config/config.h
//   RUN/split_manifest.json             the split                      io/manifest.h
//   RUN/crest.log                       the log (spdlog's file sink)   util/logging.h
//   RUN/generations.csv                 GenerationRow per generation   io/generation_files.h
//   RUN/summary.json                    RunSummary                     io/generation_files.h
//   RUN/report.html                     `crest report`                 report/report.h
//   RUN/.lock                           RunLock                        io/run_dir.h
//   RUN/world.json                      the ranks of a multi-rank run  io/world_file.h
//   RUN/threads.json                    run.threads 0's choice         io/world_file.h
//   RUN/stdout.log, RUN/stderr.log      a sweep point's output         app/sweep.cpp
//   RUN/gen_K/generation.json           GenerationRecord (written last: the done marker)
//   RUN/gen_K/labeled_distribution.csv  LabeledDistribution            io/class_tables.h
//   RUN/gen_K/per_class.csv             PerClassTable                  io/class_tables.h
//   RUN/gen_K/confusion.csv             ConfusionTable                 io/class_tables.h
//   RUN/gen_K/metrics.jsonl             MetricsLine per evaluation     io/training_files.h
//   RUN/gen_K/summary.json              TrainingSummary                io/training_files.h
//   RUN/gen_K/checkpoint.pt             the trainer's state module   io/checkpoint.h
//   RUN/gen_K/pseudo_labels.csv         PseudoLabelRow per selection   io/selection_files.h
//   RUN/gen_K/selection.json            SelectionRecord                io/selection_files.h
//   RUN/tb/gen_K/events.out.tfevents.*  TensorBoard scalars (derived)  io/tensorboard.h
//   DIR/pretrain.json                   PretrainRecord (crest pretrain)  io/pretrain_files.h
//   DIR/metrics.jsonl                   PretrainLine per epoch         io/pretrain_files.h
//   DIR/backbone.pt, backbone.pt.json   the pre-trained backbone       models/wrn_weights.h
//   SWEEP/sweep.json                    SweepPlanFile                  io/sweep_files.h
//   SWEEP/sweep.log                     the local launcher's log
//   SWEEP/slurm/sweep.sbatch            the job array script           app/sweep.cpp
//   SWEEP/slurm/submissions.jsonl       SlurmSubmission per sbatch     io/sweep_files.h
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace crest {

// ---- RUN/ ------------------------------------------------------------------------------------
inline constexpr char kConfigFile[] = "config.yaml";
inline constexpr char kSplitManifestFile[] = "split_manifest.json";
inline constexpr char kLogFile[] = "crest.log";
inline constexpr char kGenerationsFile[] = "generations.csv";
inline constexpr char kRunSummaryFile[] = "summary.json";
inline constexpr char kReportFile[] = "report.html";
inline constexpr char kLockFile[] = ".lock";
inline constexpr char kWorldFile[] = "world.json";      // written by multi-rank runs only
inline constexpr char kThreadsFile[] = "threads.json";  // written when run.threads is 0
inline constexpr char kStdoutLogFile[] = "stdout.log";
inline constexpr char kStderrLogFile[] = "stderr.log";
inline constexpr char kCacheDir[] = "cache";  // decoded images of image folders (data.cache: run)
inline constexpr char kTensorBoardDir[] =
    "tb";  // TensorBoard event files, tb/gen_K/ (run.tensorboard)

// ---- DIR/ of `crest pretrain` (besides config.yaml, split_manifest.json, crest.log, .lock,
// metrics.jsonl and checkpoint.pt, named as in a run) ------------------------------------------
inline constexpr char kPretrainRecordFile[] = "pretrain.json";  // io/pretrain_files.h
inline constexpr char kBackboneFile[] = "backbone.pt";  // models/wrn_weights.h, io/weight_files.h
inline constexpr char kBackboneSidecarFile[] = "backbone.pt.json";

// ---- RUN/gen_K/ --------------------------------------------------------------------------------
inline constexpr char kGenerationDoneFile[] = "generation.json";
inline constexpr char kLabeledDistributionFile[] = "labeled_distribution.csv";
inline constexpr char kPerClassFile[] = "per_class.csv";
inline constexpr char kConfusionFile[] = "confusion.csv";
inline constexpr char kMetricsFile[] = "metrics.jsonl";
inline constexpr char kTrainingSummaryFile[] = "summary.json";
inline constexpr char kCheckpointFile[] = "checkpoint.pt";
inline constexpr char kExecutionFile[] = "execution.json";  // io/execution_files.h
inline constexpr char kPseudoLabelsFile[] = "pseudo_labels.csv";
inline constexpr char kSelectionFile[] = "selection.json";

// ---- SWEEP/ ------------------------------------------------------------------------------------
inline constexpr char kSweepPlanFile[] = "sweep.json";
inline constexpr char kSweepLogFile[] = "sweep.log";
inline constexpr char kSlurmFolder[] = "slurm";
inline constexpr char kSlurmScriptFile[] = "sweep.sbatch";
inline constexpr char kSlurmSubmissionsFile[] = "submissions.jsonl";
inline constexpr char kSlurmTaskOutputPattern[] = "%A_%a.out";  // sbatch --output, per task
inline constexpr char kSbatchAnswerFile[] = ".sbatch-output";   // sbatch's answer, removed after

// "gen_K": how messages and captions name any generation's folder.
inline constexpr char kGenerationFolderPattern[] = "gen_K";

// "gen_K" for K = `generation`: the folder of that generation inside a run folder.
std::string generation_folder_name(int generation);

// RUN/gen_K.
std::filesystem::path generation_dir(const std::filesystem::path& run_dir, int generation);

// RUN/tb/gen_K: that generation's TensorBoard event files.
std::filesystem::path tensorboard_dir(const std::filesystem::path& run_dir, int generation);

// K when `name` is a generation folder's name ("gen_K", K of 1 to 6 digits), else nullopt.
std::optional<int> parse_generation_folder_name(const std::string& name);

// The generation folders that exist in `run_dir`, as (K, path), ascending by K.
std::vector<std::pair<int, std::filesystem::path>> generation_dirs(
    const std::filesystem::path& run_dir);

// True when `run_dir` holds a run (its config.yaml exists).
bool is_run_folder(const std::filesystem::path& run_dir);

}  // namespace crest
