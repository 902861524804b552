// The `crest` command line: parses arguments, resolves the config, sets up logging and calls
// the library. Exit codes: 0 success, 2 bad usage / config / data, 1 anything else.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "crest/app/bench.h"
#include "crest/app/commands.h"
#include "crest/app/summarize.h"
#include "crest/app/sweep.h"
#include "crest/config/config.h"
#include "crest/io/run_files.h"
#include "crest/report/report.h"
#include "crest/selftrain/loop.h"
#include "crest/util/error.h"
#include "crest/util/logging.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitInterrupted = 130;

struct ConfigArgs {
  std::string path;
  std::vector<std::string> overrides;
};

void add_config_options(CLI::App* command, ConfigArgs& args) {
  command->add_option(
      "--config,-c", args.path,
      "YAML config file (default: the embedded quickstart, configs/quickstart.yaml)");
  command
      ->add_option("--set,-s", args.overrides,
                   "Override one key, KEY=VALUE (repeatable), e.g. --set data.fold=2")
      ->allow_extra_args(false);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "crest: class-rebalancing self-training (CReST, CReST+) for class-imbalanced "
      "semi-supervised learning, on LibTorch"};
  app.require_subcommand(1);
  bool quiet = false;
  bool verbose = false;
  app.add_flag("--quiet,-q", quiet, "Only warnings and errors on the console");
  app.add_flag("--verbose,-v", verbose, "Debug messages on the console");
  app.set_version_flag("--version", crest::version_text());

  // crest print-config
  ConfigArgs print_args;
  bool print_defaults = false;
  CLI::App* print_config =
      app.add_subcommand("print-config", "Print the resolved, validated config as YAML");
  add_config_options(print_config, print_args);
  print_config->add_flag("--defaults", print_defaults,
                         "Print every key with its default and documentation instead");

  // crest train
  ConfigArgs train_args;
  std::string train_out;
  std::string train_device;
  crest::TrainOptions train_options;
  CLI::App* train = app.add_subcommand(
      "train", "Train: FixMatch generation 0, then the CReST/CReST+ generations as configured");
  add_config_options(train, train_args);
  train->add_option("--out", train_out, "Run folder (overrides run.out_dir)");
  train->add_option("--device", train_device, "auto, cpu, cuda or cuda:N (overrides run.device)");
  train->add_flag("--resume", train_options.resume,
                  "Continue the run in the run folder at its exact generation and step (its own "
                  "config.yaml when --config is not given; exit 2 when the folder holds no run)");

  // crest bench
  ConfigArgs bench_args;
  std::string bench_device;
  crest::BenchOptions bench_options;
  CLI::App* bench = app.add_subcommand(
      "bench", "Measure the training step, the full step, pseudo-labelling and peak memory");
  add_config_options(bench, bench_args);
  bench->add_option("--steps", bench_options.steps, "Timed steps")->capture_default_str();
  bench->add_option("--warmup", bench_options.warmup, "Untimed warm-up steps")
      ->capture_default_str();
  bench->add_option("--windows", bench_options.windows, "Timed windows (the median is reported)")
      ->capture_default_str();
  bench->add_option("--device", bench_device, "auto, cpu, cuda or cuda:N (overrides run.device)");
  bench->add_flag("--json", bench_options.json, "Print one JSON object instead of the table");

  // crest data prepare | synth
  CLI::App* data = app.add_subcommand("data", "Dataset tools");
  data->require_subcommand(1);
  ConfigArgs prepare_args;
  crest::DataPrepareOptions prepare_options;
  CLI::App* prepare = data->add_subcommand(
      "prepare",
      "Build the long-tailed set and the labeled/unlabeled split of the configured "
      "fold; print the per-class table and write the split manifest");
  add_config_options(prepare, prepare_args);
  prepare->add_flag("--json", prepare_options.json,
                    "Print one JSON object {classes, lt_counts, labeled, unlabeled, test}");
  prepare->add_option("--manifest", prepare_options.manifest_path,
                      std::string("Where to write the split manifest (default: RUN.OUT_DIR/") +
                          crest::kSplitManifestFile + ")");
  prepare->add_flag("--force", prepare_options.force,
                    "Replace a manifest of a different split at that path");

  crest::DataSynthOptions synth_options;
  CLI::App* synth = data->add_subcommand(
      "synth", "Write a procedurally generated dataset in the CIFAR-10 binary layout");
  synth->add_option("--out", synth_options.out_dir, "Output folder")->required();
  synth->add_option("--classes", synth_options.classes, "Number of classes (2-256)")
      ->capture_default_str();
  synth->add_option("--train-per-class", synth_options.train_per_class, "Training images per class")
      ->capture_default_str();
  synth->add_option("--test-per-class", synth_options.test_per_class, "Test images per class")
      ->capture_default_str();
  synth->add_option("--seed", synth_options.seed, "Generator seed")->capture_default_str();
  synth->add_flag("--force", synth_options.force, "Overwrite a dataset already in --out");

  // crest sweep
  crest::SweepOptions sweep_options;
  CLI::App* sweep = app.add_subcommand(
      "sweep", "Run every point of a grid of configs, locally or as a Slurm job array");
  sweep->add_option("--grid", sweep_options.grid, "Grid file (base config, out_dir, grid, set)");
  sweep->add_option(
      "--points", sweep_options.points,
      std::string("A ") + crest::kSweepPlanFile + " written earlier (instead of --grid)");
  sweep->add_option("--out", sweep_options.out, "Sweep folder (overrides the grid's out_dir)");
  sweep->add_option("--launcher", sweep_options.launcher, "local or slurm");
  sweep->add_flag("--dry-run", sweep_options.dry_run,
                  "local: print what would run; slurm: write the job script, do not submit");
  sweep->add_option("--only", sweep_options.only, "Only this point, by name or index (repeatable)")
      ->allow_extra_args(false);
  sweep->add_option("--array-indices", sweep_options.array_indices,
                    "Only these point indices, e.g. 3,7 or 0-4,9");
  sweep->add_flag("--unfinished", sweep_options.unfinished, "Only points not finished yet");
  sweep->add_option("--run-index", sweep_options.run_index,
                    "Run this one point (what each Slurm array task does)");
  sweep->add_option("--gpus", sweep_options.gpus, "local: GPUs to use, one process each, e.g. 0,1");
  sweep->add_option(
      "--slots", sweep_options.slots,
      "local: CPU processes at a time (default 1; run.threads is divided among them)");
  sweep->add_option("--partition", sweep_options.partition, "slurm: partition");
  sweep->add_option("--account", sweep_options.account, "slurm: account");
  sweep->add_option("--time", sweep_options.time, "slurm: time limit per task, e.g. 24:00:00");
  sweep->add_option("--mem", sweep_options.mem, "slurm: memory per node, e.g. 32G");
  sweep->add_option("--job-name", sweep_options.job_name, "slurm: job name (default crest-OUT)");
  sweep->add_option("--gpus-per-task", sweep_options.gpus_per_task, "slurm: GPUs per task");
  sweep->add_option("--cpus-per-task", sweep_options.cpus_per_task, "slurm: CPUs per task");
  sweep->add_option("--max-parallel", sweep_options.max_parallel,
                    "slurm: array tasks running at once (--array=...%N)");
  sweep
      ->add_option("--sbatch-arg", sweep_options.sbatch_args,
                   "slurm: another sbatch option for the script, e.g. --sbatch-arg=--qos=high")
      ->allow_extra_args(false);

  // crest summarize
  crest::SummarizeOptions summarize_options;
  CLI::App* summarize = app.add_subcommand(
      "summarize",
      "Mean (std) over folds of accuracy and minority recall per dataset, method, "
      "gamma and beta, as the paper's Table 1");
  summarize
      ->add_option("runs", summarize_options.paths,
                   "Run folders, or folders holding them (e.g. a sweep's folder)")
      ->required();
  summarize->add_option("--format", summarize_options.format, "md (Markdown) or csv")
      ->check(CLI::IsMember({"md", "csv"}))
      ->capture_default_str();

  // crest report
  std::string report_run;
  std::string report_out;
  CLI::App* report = app.add_subcommand(
      "report", "Write one self-contained HTML page with the figures of a run folder");
  report->add_option("RUN_DIR", report_run, "Run folder written by `crest train`")->required();
  report->add_option(
      "--out", report_out,
      std::string("HTML file to write (default: RUN_DIR/") + crest::kReportFile + ")");

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message and a pointer to --help
    return kExitBadInput;
  }

  crest::setup_logging(quiet     ? crest::Verbosity::kQuiet
                       : verbose ? crest::Verbosity::kVerbose
                                 : crest::Verbosity::kNormal);
  try {
    if (print_config->parsed()) {
      if (print_defaults) {
        std::cout << crest::documented_defaults_yaml();
      } else {
        std::cout << crest::config_to_yaml(
            crest::resolve_config(print_args.path, print_args.overrides));
      }
    } else if (train->parsed()) {
      const crest::Config config = crest::resolve_train_config(
          train_args.path, train_args.overrides, train_out, train_device, train_options.resume);
      crest::run_training(config, train_options, std::cout);
    } else if (bench->parsed()) {
      std::vector<std::string> overrides = bench_args.overrides;
      if (!bench_device.empty()) {
        overrides.push_back(crest::literal_override("run.device", bench_device));
      }
      const crest::Config config = crest::resolve_config(bench_args.path, overrides);
      const nlohmann::json result = crest::run_bench(config, bench_options);
      std::cout << (bench_options.json ? result.dump() + "\n" : crest::bench_table(result));
    } else if (prepare->parsed()) {
      const crest::Config config = crest::resolve_config(prepare_args.path, prepare_args.overrides);
      crest::data_prepare(config, prepare_options, std::cout);
    } else if (synth->parsed()) {
      crest::data_synth(synth_options, std::cout);
    } else if (sweep->parsed()) {
      crest::run_sweep(sweep_options, std::cout);
    } else if (summarize->parsed()) {
      crest::summarize(summarize_options, std::cout);
    } else if (report->parsed()) {
      std::cout << crest::write_report(report_run, report_out).string() << "\n";
    }
  } catch (const crest::Interrupted& e) {
    spdlog::warn("{}", e.what());
    return kExitInterrupted;
  } catch (const crest::InputError& e) {
    spdlog::error("{}", e.what());
    return kExitBadInput;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return kExitFailure;
  }
  return kExitOk;
}
