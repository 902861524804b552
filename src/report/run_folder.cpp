// `crest report`, reading: a run folder read back through io into a RunFolder, with what an
// unfinished run lacks and notes on damaged or missing files.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <optional>
#include <system_error>

#include "crest/config/choices.h"
#include "crest/io/class_tables.h"
#include "crest/io/file.h"
#include "crest/io/generation_files.h"
#include "crest/io/run_files.h"
#include "crest/io/selection_files.h"
#include "crest/io/training_files.h"
#include "crest/report/report.h"
#include "crest/report/svg.h"
#include "crest/ssl/losses.h"
#include "crest/util/error.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

// crest.log's warnings and errors shown under "Environment" (the first and last half when there
// are more).
constexpr std::size_t kMaxLogLines = 60;

// The name of `file` relative to the run folder, for messages people read next to the folder.
std::string relative_name(const fs::path& dir, const fs::path& file) {
  std::error_code ec;
  const fs::path rel = fs::relative(file, dir, ec);
  return ec || rel.empty() ? file.string() : rel.generic_string();
}

// Checks that a per-class file lists the same number of classes as the files before it.
struct ClassCheck {
  std::string first_file;
  std::size_t count = 0;

  void operator()(std::size_t classes, const fs::path& file, const fs::path& dir) {
    if (first_file.empty()) {
      first_file = relative_name(dir, file);
      count = classes;
    } else if (classes != count) {
      throw DataError(file.string() + ": " + std::to_string(classes) + " classes, but " +
                      first_file + " has " + std::to_string(count) +
                      "; the files come from different runs");
    }
  }
};

// logits_already_adjusted of a config's train.labeled_loss, train.la_tau, train.algorithm and
// acr.tau2, read leniently: a name or number this version does not know counts as not adjusted
// (an absent key as its default).
bool logits_adjusted_by(const std::optional<YAML::Node>& loss, const std::optional<YAML::Node>& tau,
                        const std::optional<YAML::Node>& algorithm,
                        const std::optional<YAML::Node>& tau2) {
  TrainConfig train;
  AcrConfig acr;
  try {
    if (loss) train.labeled_loss = parse_choice<LabeledLoss>(loss->Scalar(), "train.labeled_loss");
    if (tau) train.la_tau = tau->as<double>();
    if (algorithm) {
      train.algorithm = parse_choice<TrainAlgorithm>(algorithm->Scalar(), "train.algorithm");
    }
    if (tau2) acr.tau2 = tau2->as<double>();
  } catch (const std::exception&) {
    return false;
  }
  return logits_already_adjusted(train, acr);
}

// The config keys the report needs, read leniently: a run written by another crest version
// may have keys this one does not know, and the report should still be drawn.
void read_config(const fs::path& file, RunFolder& run) {
  run.config_yaml = read_file(file);
  YAML::Node root;
  try {
    root = YAML::Load(run.config_yaml);
  } catch (const YAML::Exception& e) {
    throw DataError(file.string() + ":" + std::to_string(e.mark.line + 1) +
                    ": not valid YAML: " + e.msg);
  }
  if (!root.IsMap()) throw DataError(file.string() + ":1: expected a YAML mapping of sections");
  // A default YAML::Node is a valid null node, so absence is an empty optional instead.
  const YAML::Node& sections = root;
  auto scalar = [&](const char* section, const char* key) -> std::optional<YAML::Node> {
    const YAML::Node s = sections[section];
    if (!s.IsDefined() || !s.IsMap()) return std::nullopt;
    const YAML::Node v = s[key];
    if (!v.IsDefined() || !v.IsScalar()) return std::nullopt;
    return v;
  };
  auto integer = [&](const char* section, const char* key) -> std::int64_t {
    const std::optional<YAML::Node> v = scalar(section, key);
    if (!v) return -1;
    try {
      return v->as<std::int64_t>();
    } catch (const YAML::Exception&) {
      throw DataError(file.string() + ":" + std::to_string(v->Mark().line + 1) + ": " + section +
                      "." + key + " is '" + v->Scalar() + "', not a whole number");
    }
  };
  if (const auto v = scalar("crest", "mode")) run.mode = v->Scalar();
  if (const auto v = scalar("crest", "select_on")) run.select_on = v->Scalar();
  if (const auto v = scalar("data", "dataset")) run.dataset = v->Scalar();
  run.planned_generations = static_cast<int>(integer("crest", "generations"));
  run.logits_adjusted_in_training =
      logits_adjusted_by(scalar("train", "labeled_loss"), scalar("train", "la_tau"),
                         scalar("train", "algorithm"), scalar("acr", "tau2"));
  const std::int64_t epochs = integer("train", "epochs");
  const std::int64_t steps = integer("train", "steps_per_epoch");
  if (epochs > 0 && steps > 0) run.steps_per_generation = epochs * steps;
}

// The crest.log lines of level warning and above (what ran where comes from each generation's
// execution.json, not from the log's wording).
std::vector<std::string> read_log_lines(const fs::path& file) {
  std::vector<std::string> kept;
  for (const std::string& line : read_lines(file)) {
    for (const char* level : {"[warning]", "[error]", "[critical]"}) {
      if (line.find(level) != std::string::npos) {
        kept.push_back(line);
        break;
      }
    }
  }
  if (kept.size() > kMaxLogLines) {
    const std::size_t half = kMaxLogLines / 2;
    std::vector<std::string> cut(kept.begin(), kept.begin() + static_cast<std::ptrdiff_t>(half));
    cut.push_back("\u2026 " + std::to_string(kept.size() - 2 * half) + " lines left out \u2026");
    cut.insert(cut.end(), kept.end() - static_cast<std::ptrdiff_t>(half), kept.end());
    kept = std::move(cut);
  }
  return kept;
}

// One generation folder: the files it holds, and notes on those a finished generation lacks.
GenerationFiles read_generation(int index, const fs::path& gen_dir, RunFolder& run,
                                ClassCheck& classes) {
  const fs::path& dir = run.dir;
  GenerationFiles g;
  g.generation = index;
  g.finished = fs::exists(gen_dir / kGenerationDoneFile);
  if (fs::exists(gen_dir / kLabeledDistributionFile)) {
    g.distribution = read_labeled_distribution_csv(gen_dir / kLabeledDistributionFile);
    classes(g.distribution->names.size(), gen_dir / kLabeledDistributionFile, dir);
  }
  if (fs::exists(gen_dir / kPerClassFile)) {
    g.per_class = read_per_class_csv(gen_dir / kPerClassFile);
    classes(g.per_class->names.size(), gen_dir / kPerClassFile, dir);
  }
  if (fs::exists(gen_dir / kConfusionFile)) {
    g.confusion = read_confusion_csv(gen_dir / kConfusionFile);
    classes(g.confusion->names.size(), gen_dir / kConfusionFile, dir);
  }
  if (fs::exists(gen_dir / kSelectionFile)) {
    g.selection = read_selection_json(gen_dir / kSelectionFile);
    if (!g.selection->truth_known) run.pool_truth_known = false;
    classes(g.selection->names.size(), gen_dir / kSelectionFile, dir);
  }
  if (fs::exists(gen_dir / kMetricsFile)) {
    MetricsLog log = read_metrics_file(gen_dir / kMetricsFile);
    if (log.cut_line) {
      run.notes.push_back(relative_name(dir, gen_dir / kMetricsFile) + ": line " +
                          std::to_string(*log.cut_line) +
                          " is cut off (the run stopped while writing it) and is left out");
    }
    g.curve = std::move(log.lines);
  }
  if (fs::exists(gen_dir / kExecutionFile)) {
    // A record of how the generation ran, not of what it computed: a damaged one is a note.
    try {
      g.execution = read_execution_record(gen_dir / kExecutionFile);
    } catch (const DataError& e) {
      run.notes.push_back(std::string(e.what()) + " (how the generation ran is not shown)");
    }
  } else if (g.finished) {
    run.notes.push_back(generation_folder_name(index) + "/" + kExecutionFile +
                        " is missing (written by crest since #27): how the generation ran is "
                        "not known");
  }
  // A finished generation has all of its files; say which one is gone.
  if (g.finished) {
    const std::string name = generation_folder_name(index) + "/";
    for (const char* file :
         {kLabeledDistributionFile, kPerClassFile, kConfusionFile, kMetricsFile}) {
      if (!fs::exists(gen_dir / file)) {
        run.notes.push_back(name + file + " is missing: its figure leaves this generation out");
      }
    }
    if (run.mode != to_string(CrestMode::kFixMatch) && !g.selection) {
      run.notes.push_back(name + kSelectionFile + " is missing: no selection is shown for it");
    }
  }
  return g;
}

// What an unfinished run lacks, one sentence each.
std::vector<std::string> missing_parts(const RunFolder& run) {
  std::vector<std::string> missing;
  int planned = run.planned_generations;
  if (planned < 0) {
    planned = run.generations.empty() ? 0 : run.generations.back().generation + 1;
  }
  for (int k = 0; k < planned; ++k) {
    const auto it = std::find_if(run.generations.begin(), run.generations.end(),
                                 [k](const GenerationFiles& g) { return g.generation == k; });
    const std::string name = generation_folder_name(k);
    if (it == run.generations.end()) {
      missing.push_back(name + ": not started");
      continue;
    }
    if (it->finished) continue;
    std::string text = name + ": did not finish (no " + kGenerationDoneFile;
    for (const char* file : {kPerClassFile, kConfusionFile}) {
      if (!fs::exists(run.dir / name / file)) text += std::string(", no ") + file;
    }
    text += ")";
    if (it->curve && !it->curve->empty()) {
      text += "; training reached step " +
              display_number(static_cast<double>(it->curve->back().step), 12);
      if (run.steps_per_generation > 0) {
        text += " of " + std::to_string(run.steps_per_generation);
      }
    } else {
      text += "; no evaluation recorded yet";
    }
    missing.push_back(text);
  }
  if (!run.rows) {
    missing.push_back(std::string(kGenerationsFile) +
                      ": not written yet (it gets a row when a generation finishes)");
  } else if (planned > 0 && static_cast<int>(run.rows->size()) < planned) {
    missing.push_back(std::string(kGenerationsFile) + ": " + std::to_string(run.rows->size()) +
                      " of " + std::to_string(planned) + " generations");
  }
  if (!run.best_generation && run.failure.empty()) {
    missing.push_back(std::string(kRunSummaryFile) +
                      ": not written yet (it names the chosen generation when the run finishes)");
  }
  return missing;
}

}  // namespace

RunFolder load_run(const fs::path& dir) {
  const std::string layout =
      std::string(kConfigFile) + ", " + kGenerationsFile + ", " + kGenerationFolderPattern + "/";
  if (!fs::is_directory(dir)) {
    throw InputError(dir.string() +
                     " is not a folder; expected a run folder written by "
                     "`crest train` (holding " +
                     kConfigFile + ", " + kGenerationsFile + " and " + kGenerationFolderPattern +
                     "/)");
  }
  if (!fs::is_regular_file(dir / kConfigFile)) {
    throw InputError(dir.string() + " is not a run folder: it has no " + kConfigFile +
                     "; expected a folder written by `crest train` (" + layout + ")");
  }
  RunFolder run;
  run.dir = dir;
  read_config(dir / kConfigFile, run);

  if (fs::exists(dir / kGenerationsFile)) run.rows = read_generations_csv(dir / kGenerationsFile);
  if (fs::exists(dir / kRunSummaryFile)) {
    const RunSummary summary = read_run_summary(dir / kRunSummaryFile);
    if (summary.status == kRunDiverged) {
      run.failure = "training diverged in generation " +
                    std::to_string(summary.failed_generation.value_or(-1)) + ": " + summary.error;
    } else if (!summary.best_generation) {
      throw DataError((dir / kRunSummaryFile).string() +
                      ": expected an integer 'selected_generation' or 'last_generation'");
    }
    run.best_generation = summary.best_generation;
    if (summary.minority_classes) run.minority_classes = *summary.minority_classes;
    run.pool_truth_known = summary.pool_truth_known;
  }
  if (fs::exists(dir / kLogFile)) {
    run.log_lines = read_log_lines(dir / kLogFile);
  } else {
    run.notes.push_back(std::string(kLogFile) + " is missing: the environment is not known");
  }

  ClassCheck classes;
  for (const auto& [index, gen_dir] : generation_dirs(dir)) {
    run.generations.push_back(read_generation(index, gen_dir, run, classes));
  }
  run.missing = missing_parts(run);
  return run;
}

}  // namespace crest
