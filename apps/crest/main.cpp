// The `crest` command line: parses arguments, resolves the config, sets up logging and calls
// the library. Exit codes: 0 success, 2 bad usage / config / data, 1 anything else.
#include <c10/util/Exception.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <exception>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crest/app/bench.h"
#include "crest/app/commands.h"
#include "crest/app/pretrain.h"
#include "crest/app/summarize.h"
#include "crest/app/sweep.h"
#include "crest/app/use_model.h"
#include "crest/config/config.h"
#include "crest/config/protocol_default.h"
#include "crest/dist/launch.h"
#include "crest/io/json_text.h"
#include "crest/io/run_files.h"
#include "crest/report/report.h"
#include "crest/selftrain/loop.h"
#include "crest/util/error.h"
#include "crest/util/logging.h"
#include "crest/util/threads.h"
#include "help_examples.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitInterrupted = 130;

// The command line as main received it, and the exit code of a command that ends as a launcher
// of other processes (`crest train --nproc N`), when it did.
char** g_argv = nullptr;
std::optional<int> g_launcher_exit;

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

// One subcommand: the CLI11 app that parses it and what it runs once parsed (its options live
// in the closure).
struct Command {
  CLI::App* app = nullptr;
  std::function<void()> run;
};

Command add_print_config(CLI::App& app) {
  struct Args {
    ConfigArgs config;
    bool defaults = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* command =
      app.add_subcommand("print-config", "Print the resolved, validated config as YAML");
  add_config_options(command, args->config);
  command->add_flag("--defaults", args->defaults,
                    "Print every key with its default and documentation instead");
  return {command, [args] {
            if (args->defaults) {
              std::cout << crest::documented_defaults_yaml();
            } else {
              const crest::Config config =
                  crest::resolve_config(args->config.path, args->config.overrides);
              const std::string note = crest::protocol_note(config.data);
              if (!note.empty()) spdlog::info("{}", note);
              std::cout << crest::config_to_yaml(config);
            }
          }};
}

Command add_train(CLI::App& app) {
  struct Args {
    ConfigArgs config;
    std::string out;
    std::string device;
    std::optional<int> nproc;
    std::optional<int> generations;
    crest::TrainOptions options;
  };
  auto args = std::make_shared<Args>();
  CLI::App* command = app.add_subcommand(
      "train", "Train: FixMatch generation 0, then the CReST/CReST+ generations as configured");
  add_config_options(command, args->config);
  command->add_option("--out", args->out, "Run folder (overrides run.out_dir)");
  command->add_option("--device", args->device, "auto, cpu, cuda or cuda:N (overrides run.device)");
  command->add_flag("--resume", args->options.resume,
                    "Continue the run in the run folder at its exact generation and step (its "
                    "own config.yaml when --config is not given; exit 2 when the folder holds no "
                    "run)");
  command->add_option("--nproc", args->nproc,
                      "Data-parallel training on N local ranks (one per GPU, or CPU ranks "
                      "through Gloo); see docs/distributed.md");
  command->add_option("--generations", args->generations,
                      "Sets crest.generations; with --resume, gives a run (finished or not) "
                      "more generations than it planned");
  return {command, [args] {
            if (args->generations) {
              args->config.overrides.push_back("crest.generations=" +
                                               std::to_string(*args->generations));
            }
            const crest::Config config =
                crest::resolve_train_config(args->config.path, args->config.overrides, args->out,
                                            args->device, args->options.resume);
            g_launcher_exit = crest::dist::launch_if_asked(args->nproc, config, g_argv);
            if (g_launcher_exit) return;
            crest::run_training(config, args->options, std::cout);
          }};
}

Command add_pretrain(CLI::App& app) {
  struct Args {
    ConfigArgs config;
    std::string out;
    std::string device;
    std::optional<int> nproc;
    crest::PretrainOptions options;
  };
  auto args = std::make_shared<Args>();
  CLI::App* command = app.add_subcommand(
      "pretrain",
      "Self-supervised rotation pre-training of the backbone on every training image (labels "
      "unused); writes DIR/backbone.pt for model.init_from");
  add_config_options(command, args->config);
  command->add_option("--out", args->out, "Pre-training folder DIR (overrides run.out_dir)")
      ->required();
  command->add_option("--device", args->device, "auto, cpu, cuda or cuda:N (overrides run.device)");
  command->add_flag("--resume", args->options.resume,
                    "Continue the pre-training in DIR from its last checkpoint (its own "
                    "config.yaml when --config is not given)");
  command->add_option("--nproc", args->nproc,
                      "Data-parallel pre-training on N local ranks (pretrain.batch_size split "
                      "over them); see docs/distributed.md");
  return {command, [args] {
            const crest::Config config =
                crest::resolve_train_config(args->config.path, args->config.overrides, args->out,
                                            args->device, args->options.resume);
            g_launcher_exit = crest::dist::launch_if_asked(args->nproc, config, g_argv,
                                                           crest::dist::Workload::kPretraining);
            if (g_launcher_exit) return;
            crest::run_pretraining(config, args->options, std::cout);
          }};
}

Command add_bench(CLI::App& app) {
  struct Args {
    ConfigArgs config;
    std::string device;
    crest::BenchOptions options;
  };
  auto args = std::make_shared<Args>();
  crest::BenchOptions& o = args->options;
  CLI::App* command = app.add_subcommand(
      "bench", "Measure the training step, the full step, pseudo-labelling and peak memory");
  add_config_options(command, args->config);
  command->add_option("--steps", o.steps, "Timed steps")->capture_default_str();
  command->add_option("--warmup", o.warmup, "Untimed warm-up steps")->capture_default_str();
  command->add_option("--windows", o.windows, "Timed windows (the median is reported)")
      ->capture_default_str();
  command->add_option("--device", args->device, "auto, cpu, cuda or cuda:N (overrides run.device)");
  command->add_flag("--json", o.json, "Print one JSON object instead of the table");
  return {command, [args] {
            std::vector<std::string> overrides = args->config.overrides;
            if (!args->device.empty()) {
              overrides.push_back(crest::literal_override("run.device", args->device));
            }
            const crest::Config config = crest::resolve_config(args->config.path, overrides);
            const nlohmann::json result = crest::run_bench(config, args->options);
            std::cout << (args->options.json ? crest::json_text(result) + "\n"
                                             : crest::bench_table(result));
          }};
}

Command add_data_prepare(CLI::App* data) {
  struct Args {
    ConfigArgs config;
    std::string out;
    crest::DataPrepareOptions options;
  };
  auto args = std::make_shared<Args>();
  CLI::App* command = data->add_subcommand(
      "prepare",
      "Build the long-tailed set and the labeled/unlabeled split of the configured "
      "fold; print the per-class table and write the split manifest");
  add_config_options(command, args->config);
  command->add_option("--out", args->out,
                      "Folder of the outputs: manifest, log, cache (overrides run.out_dir)");
  command->add_flag("--json", args->options.json,
                    "Print one JSON object {classes, lt_counts, labeled, unlabeled, test}");
  command->add_option("--manifest", args->options.manifest_path,
                      std::string("Where to write the split manifest (default: RUN.OUT_DIR/") +
                          crest::kSplitManifestFile + "); alone, it is the only file written");
  command->add_flag("--force", args->options.force,
                    "Replace a manifest of a different split at that path");
  return {command, [args] {
            const crest::Config config = crest::resolve_train_config(
                args->config.path, args->config.overrides, args->out, "", false);
            args->options.folder_given = !args->out.empty();
            crest::data_prepare(config, args->options, std::cout);
          }};
}

Command add_data_synth(CLI::App* data) {
  auto o = std::make_shared<crest::DataSynthOptions>();
  CLI::App* command = data->add_subcommand(
      "synth", "Write a procedurally generated dataset (CIFAR-10 binary layout or image folders)");
  command->add_option("--out", o->out_dir, "Output folder")->required();
  command->add_option("--classes", o->classes, "Number of classes (2-256)")->capture_default_str();
  command->add_option("--train-per-class", o->train_per_class, "Training images per class")
      ->capture_default_str();
  command->add_option("--test-per-class", o->test_per_class, "Test images per class")
      ->capture_default_str();
  command->add_option("--seed", o->seed, "Generator seed")->capture_default_str();
  command->add_flag("--force", o->force, "Overwrite a dataset already in --out");
  command
      ->add_option("--format", o->format,
                   "cifar (the CIFAR-10 binary layout) or folder (PNG files: train/<class>/, "
                   "test/<class>/, and unlabeled/ with --unlabeled-per-class)")
      ->capture_default_str();
  command->add_option("--image-size", o->image_size, "folder: image side in pixels")
      ->capture_default_str();
  command
      ->add_option("--imbalance-ratio", o->imbalance_ratio,
                   "folder: class c keeps int(N * ratio^(-c/(L-1))) training images")
      ->capture_default_str();
  command
      ->add_option("--unlabeled-per-class", o->unlabeled_per_class,
                   "folder: unlabeled images per class before the ratio, written without labels")
      ->capture_default_str();
  return {command, [o] { crest::data_synth(*o, std::cout); }};
}

// RUN, --generation, --model, --device of the commands that use a trained model.
void add_model_choice(CLI::App* command, crest::ModelChoice& choice) {
  command->add_option("RUN", choice.run_dir, "Run folder (written by crest train)")->required();
  command->add_option("--generation,-g", choice.generation,
                      "Generation: a number, selected (chosen on the validation split; runs "
                      "with crest.select_on val) or last (last finished). Default: selected when "
                      "the run has a validation split, else last");
  command->add_option("--model", choice.model, "ema (the EMA weights) or raw")
      ->capture_default_str();
  command->add_option("--device", choice.device, "auto, cpu, cuda or cuda:N")
      ->capture_default_str();
}

Command add_evaluate(CLI::App& app) {
  struct Args {
    ConfigArgs config;
    crest::EvaluateOptions options;
  };
  auto args = std::make_shared<Args>();
  crest::EvaluateOptions& o = args->options;
  CLI::App* command = app.add_subcommand(
      "evaluate", "Evaluate a trained generation on the run's test set or another labeled set");
  add_model_choice(command, o.choice);
  command->add_option("--config,-c", args->config.path,
                      "Another dataset's config: its test set is evaluated");
  command
      ->add_option("--set,-s", args->config.overrides,
                   "Override a key of that config (or of the run's), e.g. --set data.root=DIR")
      ->allow_extra_args(false);
  command->add_option("--folder", o.folder, "A labeled folder DIR/<class>/* to evaluate on");
  command->add_flag("--logit-adjust", o.logit_adjust,
                    "Post-hoc logit adjustment with the generation's training class prior");
  command->add_option("--name", o.name, "Name of RUN/eval/<name>/ (default from the data)");
  command->add_flag("--json", o.json, "Print one JSON object instead of the table");
  return {command, [args] {
            args->options.config_path = args->config.path;
            args->options.overrides = args->config.overrides;
            crest::evaluate_run(args->options, std::cout);
          }};
}

Command add_predict(CLI::App& app) {
  auto o = std::make_shared<crest::PredictOptions>();
  CLI::App* command =
      app.add_subcommand("predict", "Top-k classes with probabilities for new images");
  add_model_choice(command, o->choice);
  command->add_option("--image,-i", o->images, "Image file (repeatable)");
  command->add_option("--folder", o->folder, "Every image under a folder (any nesting)");
  command->add_option("--top-k,-k", o->top_k, "Classes per image")->capture_default_str();
  command->add_option("--out,-o", o->out, "FILE.csv or FILE.jsonl (default: CSV on stdout)");
  command->add_flag("--logits", o->logits, "JSONL: add every class's logit");
  command->add_flag("--logit-adjust", o->logit_adjust,
                    "Post-hoc logit adjustment with the generation's training class prior (tau "
                    "1, as evaluate --logit-adjust); probabilities and --logits are adjusted");
  return {command, [o] { crest::predict_images(*o, std::cout); }};
}

Command add_export(CLI::App& app) {
  auto o = std::make_shared<crest::ExportOptions>();
  CLI::App* command = app.add_subcommand(
      "export", "Export a trained generation's weights for PyTorch (.pt or .safetensors)");
  add_model_choice(command, o->choice);
  command->add_option("--format", o->format, "pt or safetensors")->capture_default_str();
  command->add_option("--out,-o", o->out,
                      "Output file (default RUN/export/gen_K-MODEL.FORMAT); FILE.json beside it");
  return {command, [o] { crest::export_model(*o, std::cout); }};
}

// The sweep's Slurm options (--partition ... --sbatch-arg).
void add_slurm_options(CLI::App* command, crest::SweepOptions& o) {
  command->add_option("--partition", o.partition, "slurm: partition");
  command->add_option("--account", o.account, "slurm: account");
  command->add_option("--time", o.time, "slurm: time limit per task, e.g. 24:00:00");
  command->add_option("--mem", o.mem, "slurm: memory per node, e.g. 32G");
  command->add_option("--job-name", o.job_name, "slurm: job name (default crest-OUT)");
  command->add_option("--gpus-per-task", o.gpus_per_task, "slurm: GPUs per task");
  command->add_option("--cpus-per-task", o.cpus_per_task, "slurm: CPUs per task");
  command->add_option("--tasks-per-point", o.tasks_per_point,
                      "slurm: ranks per point, one srun task each (data-parallel training, "
                      "docs/distributed.md; with --gpus-per-task 1 one GPU per rank)");
  command->add_option("--max-parallel", o.max_parallel,
                      "slurm: array tasks running at once (--array=...%N)");
  command
      ->add_option("--sbatch-arg", o.sbatch_args,
                   "slurm: another sbatch option for the script, e.g. --sbatch-arg=--qos=high")
      ->allow_extra_args(false);
}

Command add_sweep(CLI::App& app) {
  auto o = std::make_shared<crest::SweepOptions>();
  CLI::App* command = app.add_subcommand(
      "sweep", "Run every point of a grid of configs, locally or as a Slurm job array");
  command->add_option("--grid", o->grid, "Grid file (base config, out_dir, grid, set)");
  command->add_option("--points", o->points,
                      std::string("A ") + crest::kSweepPlanFile +
                          " written earlier, or its folder (instead of --grid)");
  command->add_option("--out", o->out, "Sweep folder (overrides the grid's out_dir)");
  command->add_option("--launcher", o->launcher, "local or slurm");
  command->add_flag("--dry-run", o->dry_run,
                    "local: print what would run; slurm: write the job script, do not submit");
  command->add_option("--only", o->only, "Only this point, by name or index (repeatable)")
      ->allow_extra_args(false);
  command->add_option("--array-indices", o->array_indices,
                      "Only these point indices, e.g. 3,7 or 0-4,9");
  command->add_flag("--unfinished", o->unfinished, "Only points not finished yet");
  command->add_option("--run-index", o->run_index,
                      "Run this one point (what each Slurm array task does)");
  command->add_option("--gpus", o->gpus, "local: GPUs to use, one process each, e.g. 0,1");
  command->add_option(
      "--slots", o->slots,
      "local: CPU processes at a time (default 1; run.threads is divided among them)");
  add_slurm_options(command, *o);
  return {command, [o] { crest::run_sweep(*o, std::cout); }};
}

Command add_summarize(CLI::App& app) {
  auto o = std::make_shared<crest::SummarizeOptions>();
  CLI::App* command = app.add_subcommand(
      "summarize",
      "Mean (std) over folds of accuracy and minority recall per dataset, method, "
      "gamma and beta, as the paper's Table 1");
  command
      ->add_option("runs", o->paths, "Run folders, or folders holding them (e.g. a sweep's folder)")
      ->required();
  command->add_option("--format", o->format, "md (Markdown) or csv")
      ->check(CLI::IsMember({"md", "csv"}))
      ->capture_default_str();
  return {command, [o] { crest::summarize(*o, std::cout); }};
}

Command add_report(CLI::App& app) {
  struct Args {
    std::string run;
    std::string out;
  };
  auto args = std::make_shared<Args>();
  CLI::App* command = app.add_subcommand(
      "report", "Write one self-contained HTML page with the figures of a run folder");
  command->add_option("RUN_DIR", args->run, "Run folder written by `crest train`")->required();
  command->add_option(
      "--out", args->out,
      std::string("HTML file to write (default: RUN_DIR/") + crest::kReportFile + ")");
  return {command,
          [args] { std::cout << crest::write_report(args->run, args->out).string() << "\n"; }};
}

// Every subcommand, in the order --help lists them ("data" holds the dataset tools).
std::vector<Command> add_commands(CLI::App& app) {
  std::vector<Command> commands;
  commands.push_back(add_print_config(app));
  commands.push_back(add_train(app));
  commands.push_back(add_pretrain(app));
  commands.push_back(add_bench(app));
  CLI::App* data = app.add_subcommand("data", "Dataset tools");
  data->require_subcommand(1);
  commands.push_back(add_data_prepare(data));
  commands.push_back(add_data_synth(data));
  commands.push_back(add_sweep(app));
  commands.push_back(add_summarize(app));
  commands.push_back(add_report(app));
  commands.push_back(add_evaluate(app));
  commands.push_back(add_predict(app));
  commands.push_back(add_export(app));
  return commands;
}

// Runs the subcommand that was parsed and turns what it throws into a message and an exit code.
int run_parsed(const std::vector<Command>& commands) {
  try {
    for (const Command& command : commands) {
      if (command.app->parsed()) {
        command.run();
        break;
      }
    }
  } catch (const crest::Interrupted& e) {
    spdlog::warn("{}", e.what());
    return kExitInterrupted;
  } catch (const crest::InputError& e) {
    spdlog::error("{}", e.what());
    return kExitBadInput;
  } catch (const crest::WriteError& e) {
    spdlog::error("{}", e.what());
    spdlog::error(
        "nothing written before is lost (earlier files and checkpoints are intact); free some "
        "space or fix the folder, then rerun (a training run continues from its last checkpoint "
        "with --resume)");
    return kExitFailure;
  } catch (const c10::Error& e) {
    // LibTorch's own message, without the C++ stack trace its what() carries.
    spdlog::error("{}", e.what_without_backtrace());
    return kExitFailure;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return kExitFailure;
  }
  return g_launcher_exit.value_or(kExitOk);
}

}  // namespace

// Whether the subcommand computes with LibTorch's CPU thread pool (the others are not worth the
// re-exec that makes its waiting threads passive).
bool runs_tensor_work(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.empty() || word[0] == '-') continue;
    return word == "train" || word == "pretrain" || word == "bench" || word == "evaluate" ||
           word == "predict";
  }
  return false;
}

int main(int argc, char** argv) {
  if (runs_tensor_work(argc, argv)) crest::make_waiting_threads_passive(argv);  // before any pool
  g_argv = argv;
  CLI::App app{
      "crest: class-rebalancing self-training (CReST, CReST+) for class-imbalanced "
      "semi-supervised learning, on LibTorch"};
  app.require_subcommand(1);
  // The global flags also count after the subcommand (`crest train ... -q`): every subcommand
  // (set before they are added, which inherit it) hands the options it does not know up.
  app.fallthrough();
  bool quiet = false;
  bool verbose = false;
  app.add_flag("--quiet,-q", quiet, "Only warnings and errors on the console");
  app.add_flag("--verbose,-v", verbose, "Debug messages on the console");
  app.set_version_flag("--version", crest::version_text());
  const std::vector<Command> commands = add_commands(app);
  crest_cli::add_help_examples(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message and a pointer to --help
    return kExitBadInput;
  }

  // A test hook: tests/cli/test_cli_polish.sh checks that every --help example parses.
  if (std::getenv("CREST_TEST_PARSE_ONLY") != nullptr) return kExitOk;
  crest::setup_logging(quiet     ? crest::Verbosity::kQuiet
                       : verbose ? crest::Verbosity::kVerbose
                                 : crest::Verbosity::kNormal);
  return run_parsed(commands);
}
