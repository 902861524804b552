#include "crest/selftrain/loop.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>

#include "crest/data/numpy_random.h"
#include "crest/data/prepare.h"
#include "crest/io/run_dir.h"
#include "crest/metrics/metrics.h"
#include "crest/selftrain/run_data.h"
#include "crest/selftrain/selection.h"
#include "crest/ssl/alignment.h"
#include "crest/ssl/trainer.h"
#include "crest/util/device.h"
#include "crest/util/error.h"
#include "crest/util/fs.h"
#include "crest/util/logging.h"
#include "crest/util/signals.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

constexpr double kMinorityFraction = 0.3;  // the 30% rarest / most frequent classes

// One line of generations.csv: the figures people compare across generations.
struct GenerationRow {
  int generation = 0;
  double t = 1.0;                   // alignment temperature t_g (1 when not aligning)
  std::int64_t labeled = 0;         // images in this generation's labeled set
  std::int64_t pseudo_labeled = 0;  // of which pseudo-labeled (selected at g-1)
  double accuracy = 0.0;            // EMA model, test set
  double mean_recall = 0.0;
  double mean_precision = 0.0;
  double minority_recall = 0.0;
  double majority_recall = 0.0;
  double minority_precision = 0.0;
  std::int64_t selected = 0;  // selected at the end of this generation
  double selection_precision = std::numeric_limits<double>::quiet_NaN();
  double val_mean_recall = std::numeric_limits<double>::quiet_NaN();

  nlohmann::json to_json() const {
    auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
    return {{"generation", generation},
            {"t", t},
            {"labeled", labeled},
            {"pseudo_labeled", pseudo_labeled},
            {"accuracy", accuracy},
            {"mean_recall", mean_recall},
            {"mean_precision", mean_precision},
            {"minority_recall", minority_recall},
            {"majority_recall", majority_recall},
            {"minority_precision", minority_precision},
            {"selected", selected},
            {"selection_precision", number(selection_precision)},
            {"val_mean_recall", number(val_mean_recall)}};
  }

  static GenerationRow from_json(const nlohmann::json& j) {
    auto number = [](const nlohmann::json& v) {
      return v.is_number() ? v.get<double>() : std::numeric_limits<double>::quiet_NaN();
    };
    GenerationRow row;
    row.generation = j.at("generation").get<int>();
    row.t = j.at("t").get<double>();
    row.labeled = j.at("labeled").get<std::int64_t>();
    row.pseudo_labeled = j.at("pseudo_labeled").get<std::int64_t>();
    row.accuracy = j.at("accuracy").get<double>();
    row.mean_recall = j.at("mean_recall").get<double>();
    row.mean_precision = j.at("mean_precision").get<double>();
    row.minority_recall = j.at("minority_recall").get<double>();
    row.majority_recall = j.at("majority_recall").get<double>();
    row.minority_precision = j.at("minority_precision").get<double>();
    row.selected = j.at("selected").get<std::int64_t>();
    row.selection_precision = number(j.at("selection_precision"));
    row.val_mean_recall = number(j.at("val_mean_recall"));
    return row;
  }
};

std::string csv_number(double v) {
  if (!std::isfinite(v)) return "";
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.6f", v);
  return buffer;
}

void write_generations_csv(const fs::path& file, const std::vector<GenerationRow>& rows) {
  std::ostringstream out;
  out << "generation,t,labeled,pseudo_labeled,accuracy,mean_recall,mean_precision,"
         "minority_recall,majority_recall,minority_precision,selected,selection_precision,"
         "val_mean_recall\n";
  for (const auto& r : rows) {
    out << r.generation << "," << csv_number(r.t) << "," << r.labeled << "," << r.pseudo_labeled
        << "," << csv_number(r.accuracy) << "," << csv_number(r.mean_recall) << ","
        << csv_number(r.mean_precision) << "," << csv_number(r.minority_recall) << ","
        << csv_number(r.majority_recall) << "," << csv_number(r.minority_precision) << ","
        << r.selected << "," << csv_number(r.selection_precision) << ","
        << csv_number(r.val_mean_recall) << "\n";
  }
  write_file_atomic(file, out.str());
}

std::string table_header() {
  return "gen      t  labeled     acc  mean-rec  min-rec  maj-rec  selected  sel-prec\n";
}

std::string table_row(const GenerationRow& r) {
  char line[160];
  std::snprintf(line, sizeof(line), "%3d  %5.2f  %7lld  %6.4f  %8.4f  %7.4f  %7.4f  %8lld  %8s\n",
                r.generation, r.t, static_cast<long long>(r.labeled), r.accuracy, r.mean_recall,
                r.minority_recall, r.majority_recall, static_cast<long long>(r.selected),
                std::isfinite(r.selection_precision)
                    ? csv_number(r.selection_precision).substr(0, 6).c_str()
                    : "-");
  return line;
}

// A selection carried from one generation to the next: LT positions and their pseudo-labels.
struct CarriedSelection {
  std::vector<std::int64_t> positions;
  std::vector<std::int64_t> labels;
};

// Guards the run folder: a folder holding another run is never reused silently, and a resume
// must use the run's own config (the device and folder may change).
void check_existing_run(const fs::path& run_dir, const Config& config, bool resume) {
  const fs::path stored_path = run_dir / "config.yaml";
  if (!fs::exists(stored_path)) {
    if (resume) spdlog::info("nothing to resume in {}: starting a new run", run_dir.string());
    return;
  }
  if (!resume) {
    throw InputError("the run folder " + run_dir.string() +
                     " already holds a run (config.yaml); pass --resume to continue it, or "
                     "choose another run.out_dir (--out DIR)");
  }
  Config stored;
  try {
    stored = load_config_file(stored_path.string());
  } catch (const ConfigError& e) {
    throw InputError(std::string("cannot resume: ") + e.what());
  }
  // Where and how fast a run computes may change on resume; what it computes may not. (A
  // different thread count still gives a valid run, though not a bit-identical one.)
  Config mine = config;
  mine.run.device = stored.run.device;
  mine.run.out_dir = stored.run.out_dir;
  mine.run.threads = stored.run.threads;
  const auto differences = config_differences(stored, mine);
  if (!differences.empty()) {
    std::string list;
    for (const auto& key : differences) {
      list += "\n  " + key + ": run has " + config_value(stored, key) + ", now " +
              config_value(mine, key);
    }
    throw InputError("cannot resume " + run_dir.string() + ": it belongs to another config (" +
                     std::to_string(differences.size()) + " key(s) differ):" + list +
                     "\nresume with the run's own config (" + stored_path.string() +
                     ") or choose another run.out_dir");
  }
}

// Holds out a validation slice of the labeled positions, per class (see crest.val_fraction).
std::vector<std::int64_t> carve_validation(std::vector<std::int64_t>& labeled_positions,
                                           const std::vector<std::int64_t>& lt_labels,
                                           int num_classes, double fraction, std::int64_t fold) {
  std::vector<std::vector<std::int64_t>> by_class(static_cast<std::size_t>(num_classes));
  for (std::int64_t p : labeled_positions) {
    by_class[static_cast<std::size_t>(lt_labels[static_cast<std::size_t>(p)])].push_back(p);
  }
  NumpyRandomState rng(static_cast<std::uint32_t>(fold + 1000));
  std::vector<std::int64_t> val, train;
  for (auto& positions : by_class) {
    rng.shuffle(positions);
    const auto n = static_cast<std::int64_t>(positions.size());
    std::int64_t take = static_cast<std::int64_t>(std::floor(fraction * static_cast<double>(n)));
    if (take == 0 && n >= 2) take = 1;
    val.insert(val.end(), positions.begin(), positions.begin() + take);
    train.insert(train.end(), positions.begin() + take, positions.end());
  }
  std::sort(val.begin(), val.end());
  std::sort(train.begin(), train.end());
  labeled_positions = train;
  return val;
}

CarriedSelection read_pseudo_labels(const fs::path& file,
                                    const std::vector<std::int64_t>& lt_indices) {
  std::ifstream in(file);
  if (!in) {
    throw DataError("cannot resume: " + file.string() +
                    " is missing, so the selection of that "
                    "generation is lost; start a new run folder");
  }
  CarriedSelection carried;
  std::string line;
  std::getline(in, line);  // header
  for (int number = 2; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    std::string index, predicted;
    std::getline(fields, index, ',');
    std::getline(fields, predicted, ',');
    try {
      const std::int64_t source = std::stoll(index);
      const auto it = std::lower_bound(lt_indices.begin(), lt_indices.end(), source);
      if (it == lt_indices.end() || *it != source) throw std::out_of_range("index");
      carried.positions.push_back(it - lt_indices.begin());
      carried.labels.push_back(std::stoll(predicted));
    } catch (const std::exception&) {
      throw DataError(file.string() + ":" + std::to_string(number) +
                      ": not a pseudo-label row of "
                      "this run ('" +
                      line + "'); the file was edited or damaged");
    }
  }
  return carried;
}

}  // namespace

void run_training(const Config& config, const TrainOptions& options, std::ostream& out) {
  const fs::path run_dir = config.run.out_dir;
  const at::Device device = resolve_device(config.run.device);
  set_cpu_threads(config.run.threads);
  RunLock lock(run_dir);
  check_existing_run(run_dir, config, options.resume);
  add_log_file(run_dir / "crest.log");
  install_stop_handlers();
  spdlog::info("run folder {} ({})", run_dir.string(), current_command_line());
  spdlog::info("crest {} | LibTorch {} | device {}", CREST_VERSION, CREST_TORCH_VERSION,
               describe_device(device));
  write_file_atomic(run_dir / "config.yaml", config_to_yaml(config));

  // ---- data ------------------------------------------------------------------------------
  const PreparedData prepared = prepare_data(config.data);
  const nlohmann::json manifest = split_manifest(config.data, prepared);
  const fs::path manifest_path = run_dir / "split_manifest.json";
  if (fs::exists(manifest_path)) {
    const nlohmann::json existing = read_split_manifest(manifest_path);
    if (existing["labeled_indices"] != manifest["labeled_indices"] ||
        existing["source"] != manifest["source"]) {
      throw InputError("cannot resume " + run_dir.string() +
                       ": its split manifest describes "
                       "other data (the dataset files changed since the run started)");
    }
  }
  write_split_manifest(manifest_path, manifest);

  const Split& split = prepared.split;
  const RunData run = make_run_data(prepared, device);
  const int num_classes = run.num_classes();
  const std::vector<std::int64_t>& lt = run.lt;
  const std::vector<std::int64_t>& lt_labels = run.lt_labels;
  const std::vector<std::int64_t>& unlabeled_only = run.unlabeled_only;
  std::vector<std::int64_t> labeled_positions = run.labeled_positions;
  const CrestConfig& cc = config.crest;
  std::vector<std::int64_t> val_positions;
  if (uses_validation(cc.select_on)) {
    val_positions = carve_validation(labeled_positions, lt_labels, num_classes, cc.val_fraction,
                                     config.data.fold);
  }
  std::vector<std::int64_t> labeled_truth;
  for (std::int64_t p : labeled_positions)
    labeled_truth.push_back(lt_labels[static_cast<std::size_t>(p)]);
  const std::vector<std::int64_t> labeled_counts = count_by_class(labeled_truth, num_classes);

  // The class profile behind mu_c and p_data: ideal from gamma where the data was built from
  // one, else the labeled counts.
  std::vector<double> profile;
  switch (cc.rate_profile) {
    case RateProfile::kIdeal:
      profile = ideal_profile(num_classes, labeled_imbalance_ratio(config.data));
      break;
    case RateProfile::kLabeled:
      profile.assign(labeled_counts.begin(), labeled_counts.end());
      break;
  }
  const bool selecting = selects_pseudo_labels(cc.mode);
  const std::vector<double> rates =
      selecting ? crest_rates(profile, cc.alpha) : std::vector<double>();
  double profile_sum = 0.0;
  for (double v : profile) profile_sum += v;
  std::vector<double> p_data;
  for (double v : profile) p_data.push_back(v / profile_sum);
  const std::vector<int> minority = minority_classes(split.lt_counts, kMinorityFraction);
  const std::vector<int> majority = majority_classes(split.lt_counts, kMinorityFraction);
  const bool bf16 = use_bf16_autocast(config.train.amp, device);

  spdlog::info("device {} | {} {} classes | LT set {} | labeled {}{} | unlabeled-only {} | test {}",
               describe_device(device), to_string(config.data.dataset), num_classes, lt.size(),
               labeled_positions.size(),
               val_positions.empty() ? "" : " (+" + std::to_string(val_positions.size()) + " val)",
               unlabeled_only.size(), run.test_labels.size(0));
  spdlog::info("WRN-{}-{} | {} x {} steps x {} generation(s) | mode {} | batch {} + {} x {}",
               config.model.depth, config.model.width, config.train.epochs,
               config.train.steps_per_epoch, cc.generations, to_string(cc.mode),
               config.train.batch_size, config.train.unlabeled_ratio, config.train.batch_size);

  // ---- generations -------------------------------------------------------------------------
  std::vector<GenerationRow> rows;
  CarriedSelection carried;  // selection of the previous generation
  // After each generation the whole table so far is printed again, so it reads as one table
  // even with progress output in between.
  auto print_table = [&]() {
    out << table_header();
    for (const auto& r : rows) out << table_row(r);
    out.flush();
  };
  for (int g = 0; g < cc.generations; ++g) {
    const fs::path gen_dir = run_dir / ("gen_" + std::to_string(g));
    const fs::path done_path = gen_dir / "generation.json";
    const double t_g = aligns_distribution(cc.mode)
                           ? alignment_temperature(g, cc.generations, cc.t_min, cc.t_schedule)
                           : 1.0;

    if (options.resume && fs::exists(done_path)) {
      // A finished generation: its figures and its selection come from disk, never recomputed.
      const nlohmann::json done = nlohmann::json::parse(read_file(done_path));
      rows.push_back(GenerationRow::from_json(done.at("row")));
      carried = selecting && g + 1 < cc.generations
                    ? read_pseudo_labels(gen_dir / "pseudo_labels.csv", lt)
                    : CarriedSelection{};
      if (g + 1 == cc.generations ||
          !fs::exists(run_dir / ("gen_" + std::to_string(g + 1)) / "generation.json")) {
        print_table();
      }
      continue;
    }
    fs::create_directories(gen_dir);

    // 1. This generation's labeled set: the original labeled set plus the carried selection.
    std::vector<std::int64_t> positions = labeled_positions;
    std::vector<std::int64_t> targets = labeled_truth;
    positions.insert(positions.end(), carried.positions.begin(), carried.positions.end());
    targets.insert(targets.end(), carried.labels.begin(), carried.labels.end());
    const std::vector<std::int64_t> target_counts = count_by_class(targets, num_classes);
    const std::vector<std::int64_t> pseudo_counts = count_by_class(carried.labels, num_classes);
    {
      std::ostringstream csv;
      csv << "class,name,labeled,pseudo_labeled,total\n";
      for (int c = 0; c < num_classes; ++c) {
        csv << c << "," << csv_field(run.class_names[static_cast<std::size_t>(c)]) << ","
            << labeled_counts[static_cast<std::size_t>(c)] << ","
            << pseudo_counts[static_cast<std::size_t>(c)] << ","
            << target_counts[static_cast<std::size_t>(c)] << "\n";
      }
      write_file_atomic(gen_dir / "labeled_distribution.csv", csv.str());
    }

    const TrainingData data = generation_data(run, positions, targets);

    // 2. Train, with alignment toward normalise(p_data^t_g) for CReST+.
    std::shared_ptr<PseudoLabelAlignment> alignment;
    if (aligns_distribution(cc.mode)) {
      auto aligner = std::make_shared<DistributionAligner>(
          tempered_target(p_data, t_g), cc.p_model, cc.p_model_buffer, cc.p_model_momentum, device);
      alignment = std::make_shared<PseudoLabelAlignment>();
      alignment->align = [aligner](const at::Tensor& p) { return aligner->align(p); };
      alignment->observe = [aligner](const at::Tensor& p) { aligner->observe(p); };
      alignment->state = [aligner]() { return aligner->state(); };
      alignment->restore = [aligner](const at::Tensor& s) { aligner->restore(s); };
    }
    TrainerSettings settings;
    settings.model = config.model;
    settings.train = config.train;
    settings.seed = config.run.seed;
    settings.generation = g;
    settings.checkpoint_every = config.run.checkpoint_every;
    settings.label = "gen " + std::to_string(g) + "/" + std::to_string(cc.generations);
    FixMatchTrainer trainer(settings, device, data, gen_dir, alignment);
    const GenerationOutcome outcome = trainer.run(options.resume);

    GenerationRow row;
    row.generation = g;
    row.t = t_g;
    row.labeled = static_cast<std::int64_t>(positions.size());
    row.pseudo_labeled = static_cast<std::int64_t>(carried.positions.size());
    row.accuracy = outcome.final_ema.accuracy;
    row.mean_recall = outcome.final_ema.mean_recall;
    row.mean_precision = outcome.final_ema.mean_precision;
    row.minority_recall = mean_over(outcome.final_ema.per_class.recall, minority);
    row.majority_recall = mean_over(outcome.final_ema.per_class.recall, majority);
    row.minority_precision = mean_over(outcome.final_ema.per_class.precision, minority);

    if (!val_positions.empty()) {
      const at::Tensor val_index = long_tensor(val_positions, device);
      const at::Tensor logits =
          predict_logits(trainer.ema_model(), run.images.index_select(0, val_index),
                         config.train.eval_batch_size, bf16);
      row.val_mean_recall =
          evaluate_predictions(logits.argmax(1), run.labels.index_select(0, val_index), num_classes)
              .mean_recall;
    }

    // 3. Select pseudo-labels for the next generation with the EMA model, no augmentation.
    nlohmann::json selection_json;
    CarriedSelection next;
    if (selecting && !unlabeled_only.empty()) {
      const at::Tensor pool = long_tensor(unlabeled_only, device);
      const at::Tensor probs =
          at::softmax(predict_logits(trainer.ema_model(), run.images.index_select(0, pool),
                                     config.train.eval_batch_size, bf16),
                      1);
      const Selection selection = select_pseudo_labels(probs, rates);
      std::ostringstream csv;
      csv << "index,predicted,confidence,true_label\n";
      std::vector<std::int64_t> correct(static_cast<std::size_t>(num_classes), 0);
      std::vector<std::int64_t> pool_truth_counts(static_cast<std::size_t>(num_classes), 0);
      for (std::int64_t p : unlabeled_only)
        ++pool_truth_counts[static_cast<std::size_t>(lt_labels[static_cast<std::size_t>(p)])];
      std::int64_t correct_total = 0;
      for (std::size_t k = 0; k < selection.rows.size(); ++k) {
        const std::int64_t position = unlabeled_only[static_cast<std::size_t>(selection.rows[k])];
        const std::int64_t truth = lt_labels[static_cast<std::size_t>(position)];
        char confidence[32];
        std::snprintf(confidence, sizeof(confidence), "%.6f", selection.confidences[k]);
        csv << lt[static_cast<std::size_t>(position)] << "," << selection.labels[k] << ","
            << confidence << "," << truth << "\n";
        if (truth == selection.labels[k]) {
          ++correct[static_cast<std::size_t>(truth)];
          ++correct_total;
        }
        next.positions.push_back(position);
        next.labels.push_back(selection.labels[k]);
      }
      write_file_atomic(gen_dir / "pseudo_labels.csv", csv.str());
      std::vector<double> precision, recall;
      for (int c = 0; c < num_classes; ++c) {
        const auto i = static_cast<std::size_t>(c);
        precision.push_back(selection.selected[i] > 0
                                ? static_cast<double>(correct[i]) /
                                      static_cast<double>(selection.selected[i])
                                : 0.0);
        recall.push_back(pool_truth_counts[i] > 0 ? static_cast<double>(correct[i]) /
                                                        static_cast<double>(pool_truth_counts[i])
                                                  : 0.0);
      }
      row.selected = static_cast<std::int64_t>(selection.rows.size());
      row.selection_precision =
          selection.rows.empty()
              ? 0.0
              : static_cast<double>(correct_total) / static_cast<double>(selection.rows.size());
      selection_json = {{"generation", g},
                        {"pool", unlabeled_only.size()},
                        {"alpha", cc.alpha},
                        {"rate_profile", to_string(cc.rate_profile)},
                        {"classes", run.class_names},
                        {"rates", selection.rates},
                        {"predicted", selection.predicted},
                        {"selected", selection.selected},
                        {"correct", correct},
                        {"pool_true_counts", pool_truth_counts},
                        {"precision", precision},
                        {"recall", recall},
                        {"selected_total", row.selected},
                        {"precision_total", row.selection_precision}};
      write_file_atomic(gen_dir / "selection.json", selection_json.dump(2) + "\n");
    }

    // The done marker is written last: a crash before it redoes the selection from the same
    // final checkpoint, which gives the same result.
    const nlohmann::json done = {{"row", row.to_json()},
                                 {"test", evaluation_json(outcome.final_ema)},
                                 {"labeled_counts", target_counts},
                                 {"ema_accuracy", accuracy_summary_json(outcome.ema_summary)}};
    write_file_atomic(done_path, done.dump(2) + "\n");
    rows.push_back(row);
    write_generations_csv(run_dir / "generations.csv", rows);
    print_table();
    carried = std::move(next);
  }
  write_generations_csv(run_dir / "generations.csv", rows);

  // ---- the run's summary ---------------------------------------------------------------------
  std::size_t best = rows.size() - 1;
  if (uses_validation(cc.select_on)) {
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (rows[i].val_mean_recall > rows[best].val_mean_recall ||
          (rows[i].val_mean_recall == rows[best].val_mean_recall && i < best)) {
        best = i;
      }
    }
  }
  nlohmann::json generations = nlohmann::json::array();
  for (const auto& r : rows) generations.push_back(r.to_json());
  const nlohmann::json summary = {{"mode", to_string(cc.mode)},
                                  {"select_on", to_string(cc.select_on)},
                                  {"best_generation", rows[best].generation},
                                  {"best", rows[best].to_json()},
                                  {"final", rows.back().to_json()},
                                  {"minority_classes", minority},
                                  {"majority_classes", majority},
                                  {"generations", generations}};
  write_file_atomic(run_dir / "summary.json", summary.dump(2) + "\n");
  out << "best generation " << rows[best].generation << " (select_on " << to_string(cc.select_on)
      << "): accuracy " << csv_number(rows[best].accuracy) << ", mean recall "
      << csv_number(rows[best].mean_recall) << "\n";
  out.flush();
  spdlog::info("done: {}", (run_dir / "summary.json").string());
}

}  // namespace crest
