#include "crest/selftrain/loop.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crest/data/numpy_random.h"
#include "crest/data/prepare.h"
#include "crest/data/split.h"
#include "crest/dist/launch.h"
#include "crest/dist/rank_state.h"
#include "crest/dist/world.h"
#include "crest/io/class_tables.h"
#include "crest/io/csv.h"
#include "crest/io/file.h"
#include "crest/io/generation_files.h"
#include "crest/io/manifest.h"
#include "crest/io/run_dir.h"
#include "crest/io/run_files.h"
#include "crest/io/run_session.h"
#include "crest/io/selection_files.h"
#include "crest/io/sink.h"
#include "crest/io/tensorboard.h"
#include "crest/io/world_file.h"
#include "crest/metrics/metrics.h"
#include "crest/models/wrn_weights.h"
#include "crest/selftrain/plan.h"
#include "crest/selftrain/run_data.h"
#include "crest/selftrain/selection.h"
#include "crest/ssl/alignment.h"
#include "crest/ssl/predict.h"
#include "crest/ssl/trainer.h"
#include "crest/util/device.h"
#include "crest/util/error.h"
#include "crest/util/logging.h"
#include "crest/util/signals.h"
#include "crest/util/text_escape.h"
#include "knn_round.h"
#include "run_opening.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

// ---- one generation ----------------------------------------------------------------------------

// CReST+ aligns the pseudo-labels toward normalise(p_data^t_g); the other modes do not align.
DistributionAligner make_alignment(const CrestConfig& cc, const std::vector<double>& p_data,
                                   double t_g, at::Device device) {
  if (!aligns_distribution(cc.mode)) return nullptr;
  return DistributionAligner(tempered_target(p_data, t_g), cc.p_model, cc.p_model_buffer,
                             cc.p_model_momentum, device);
}

// model.init_from read once, and checked against a WRN of the configured depth and width before
// any data is loaded; on resume also against the backbone the run's generations started from
// (gen_K/summary.json), so that a file replaced in the meantime is not mixed in. Empty when the
// key is empty.
NamedTensors read_init_weights(const ModelConfig& model, const fs::path& run_dir, bool resume) {
  if (model.init_from.empty()) return {};
  NamedTensors tensors;
  try {
    tensors = read_weight_file(model.init_from);
  } catch (const InputError& e) {  // also DataError: a file that is not a weight file
    throw InputError(std::string("model.init_from: ") + e.what() +
                     "; give crest pretrain's DIR/backbone.pt or a crest export file");
  }
  WideResNetOptions options;
  options.depth = model.depth;
  options.width = model.width;
  WideResNet probe(options);
  load_wrn_backbone(*probe, tensors, model.init_from);
  const std::string fingerprint = backbone_fingerprint(*probe);
  std::error_code ec;
  for (fs::directory_iterator it(run_dir, ec), end; resume && !ec && it != end; it.increment(ec)) {
    const fs::path summary = it->path() / kTrainingSummaryFile;
    if (it->path().filename().string().rfind("gen_", 0) != 0 || !fs::exists(summary)) continue;
    const std::string used = read_training_summary(summary).init_backbone_fingerprint;
    if (!used.empty() && used != fingerprint) {
      throw InputError("model.init_from: " + model.init_from +
                       " holds another backbone (fingerprint " + fingerprint + ") than the one " +
                       summary.string() + " started from (" + used +
                       "); put the original file back to resume, or start a new run");
    }
  }
  spdlog::info(
      "model.init_from: every generation starts from the backbone in {} ({} tensors, "
      "fingerprint {}); the classifier head is initialised afresh",
      model.init_from, tensors.size(), backbone_fingerprint(*probe));
  return tensors;
}

// crest.warm_start: generation g > 0 starts from generation g - 1's final EMA weights, and
// model.init_from then only applies to generation 0 (the warm start wins).
TrainerSettings trainer_settings(const Config& config, int g, RunSink& sink,
                                 const NamedTensors& init_weights, const fs::path& run_dir) {
  TrainerSettings settings;
  settings.model = config.model;
  settings.train = config.train;
  settings.acr = config.acr;
  settings.semi = config.semi;
  settings.daso = config.daso;
  settings.dmlpl = config.dmlpl;
  settings.seed = config.run.seed;
  settings.generation = g;
  settings.checkpoint_every = config.run.checkpoint_every;
  settings.label = "gen " + std::to_string(g) + "/" + std::to_string(config.crest.generations);
  settings.later_steps = static_cast<std::int64_t>(config.crest.generations - g - 1) *
                         config.train.epochs * config.train.steps_per_epoch;
  settings.sink = &sink;
  const bool warm = config.crest.warm_start && g > 0;
  if (warm) settings.warm_start_from = generation_dir(run_dir, g - 1);
  if (!config.model.init_from.empty() && !warm) {
    settings.init_weights = &init_weights;
    settings.init_source = config.model.init_from;
  }
  return settings;
}

// The generation's row from its final EMA evaluation on the test set.
GenerationRow test_row(int g, double t_g, const LabeledSet& labeled, std::int64_t pseudo_labeled,
                       const Evaluation& ema, const RunPlan& plan) {
  GenerationRow row;
  row.generation = g;
  row.t = t_g;
  row.labeled = static_cast<std::int64_t>(labeled.positions.size());
  row.pseudo_labeled = pseudo_labeled;
  row.accuracy = ema.accuracy;
  row.mean_recall = ema.mean_recall;
  row.mean_precision = ema.mean_precision;
  row.minority_recall = mean_over(ema.per_class.recall, plan.minority);
  row.majority_recall = mean_over(ema.per_class.recall, plan.majority);
  row.minority_precision = mean_over(ema.per_class.precision, plan.minority);
  return row;
}

// The warning before generation g+1 trains on a poor selection.
void warn_poor_selection(const SelectionEstimate& e, const std::vector<std::string>& names, int g) {
  std::string classes;
  for (int c : e.poor_classes) {
    char p[32];
    std::snprintf(p, sizeof(p), "%.2f", e.precision[static_cast<std::size_t>(c)]);
    classes +=
        (classes.empty() ? "" : ", ") + visible_text(names[static_cast<std::size_t>(c)]) + " " + p;
  }
  spdlog::warn(
      "generation {}'s pseudo-labels look poor: estimated precision {:.2f} over the selection{}"
      ", below crest.min_pseudo_precision {:.2f} (estimated on {} of {}); generation {} trains "
      "on them. Watch whether it does better than generation {} (crest evaluate "
      "--generation K); more labeled images per class raise the precision",
      g, e.weighted, classes.empty() ? "" : " (classes " + classes + ")", e.threshold, e.images,
      e.source, g + 1, g);
}

// The EMA model's evaluation on labeled images, sharded over the ranks.
Evaluation evaluate_on(WideResNet& ema, const at::Tensor& images, const at::Tensor& labels,
                       int num_classes, int eval_batch_size) {
  const at::Tensor logits =
      dist::map_sharded(dist::world(), images.size(0), [&](std::int64_t b, std::int64_t e) {
        return predict_logits(ema, images.narrow(0, b, e - b), eval_batch_size);
      });
  return evaluate_predictions(logits.argmax(1), labels, num_classes);
}

// The labeled images of `positions` in the run's images, and their labels.
std::pair<at::Tensor, at::Tensor> labeled_images(const RunData& run,
                                                 const std::vector<std::int64_t>& positions) {
  const at::Tensor index = long_tensor(positions, run.images.device());
  return {run.images.index_select(0, index), run.labels.index_select(0, index)};
}

// Mean recall of the EMA model on the validation slice (crest.select_on: val).
double validation_mean_recall(WideResNet& ema, const RunData& run, const RunPlan& plan,
                              int eval_batch_size) {
  auto [images, labels] = run.val_images.defined() ? std::make_pair(run.val_images, run.val_labels)
                                                   : labeled_images(run, plan.val_positions);
  return evaluate_on(ema, images, labels, run.num_classes(), eval_batch_size).mean_recall;
}

// Where the pool's labels are unknown: the selection's precision estimated per class by the EMA
// model's precision on held-out labeled images: the validation split when there is one (files
// in ROOT/val, else crest.select_on val's slice; never trained on), else the run's own labeled
// images (trained on, so the estimate flatters the model). Warns when it is poor and the next
// generation trains on the selection.
SelectionEstimate estimate_precision(WideResNet& ema, const RunData& run, const RunPlan& plan,
                                     const Config& config, const Selection& selection, int g) {
  SelectionEstimate e;
  std::pair<at::Tensor, at::Tensor> held;
  if (run.val_images.defined()) {
    held = {run.val_images, run.val_labels};
    e.source = "the validation images (DATA_ROOT/val, not trained on)";
  } else if (!plan.val_positions.empty()) {
    held = labeled_images(run, plan.val_positions);
    e.source = "the validation split (crest.val_fraction of the labeled images, not trained on)";
  } else {
    held = labeled_images(run, plan.labeled_positions);
    e.trained_on = true;
    e.source =
        "the labeled training images (trained on, so the estimate is optimistic; a validation "
        "split gives a fair one)";
  }
  e.images = held.first.size(0);
  const Evaluation eval =
      evaluate_on(ema, held.first, held.second, run.num_classes(), config.train.eval_batch_size);
  const PrecisionEstimate estimate =
      estimate_selection_precision(eval.per_class.precision, eval.per_class.predicted,
                                   selection.selected, config.crest.min_pseudo_precision);
  e.precision = estimate.precision;
  e.predicted = estimate.predicted;
  e.weighted = estimate.weighted;
  e.threshold = config.crest.min_pseudo_precision;
  e.poor_classes = estimate.poor_classes;
  e.poor = estimate.poor;
  if (e.poor && g + 1 < config.crest.generations) warn_poor_selection(e, run.class_names, g);
  return e;
}

// Step 3: the EMA model predicts every unlabeled-only image (no augmentation); per predicted
// class the most confident floor(n_l * mu_l) are kept for generation g+1. Writes
// pseudo_labels.csv and selection.json (the record also into `written`, for TensorBoard; left
// empty when nothing is selected) and fills the row's selection figures.
CarriedSelection select_next(WideResNet& ema, const RunData& run, const RunPlan& plan,
                             const Config& config, RunSink& sink, const fs::path& gen_dir,
                             GenerationRow& row, std::optional<SelectionRecord>& written) {
  CarriedSelection next;
  if (!plan.selecting || run.unlabeled_only.empty()) return next;
  const at::Tensor pool = long_tensor(run.unlabeled_only, run.images.device());
  // Pseudo-labelling is sharded over the ranks and gathered before the selection, which every
  // rank then makes alike (the whole pool in a world of one rank).
  const at::Tensor probs =
      at::softmax(dist::map_sharded(dist::world(), pool.size(0),
                                    [&](std::int64_t b, std::int64_t e) {
                                      return predict_logits(
                                          ema, run.images.index_select(0, pool.narrow(0, b, e - b)),
                                          config.train.eval_batch_size);
                                    }),
                  1);
  const Selection selection = select_pseudo_labels(probs, plan.rates);
  std::vector<std::int64_t> pool_truth;
  for (std::int64_t p : run.unlabeled_only) {
    pool_truth.push_back(run.lt_labels[static_cast<std::size_t>(p)]);
  }
  // Scored against the hidden labels only where every one is known.
  const bool truth_known = plan.truth_known;
  const SelectionAccounting account =
      truth_known ? account_selection(selection, pool_truth, run.num_classes())
                  : SelectionAccounting{};
  std::vector<PseudoLabelRow> rows;
  for (std::size_t k = 0; k < selection.rows.size(); ++k) {
    const std::int64_t row_in_pool = selection.rows[k];
    const auto position =
        static_cast<std::size_t>(run.unlabeled_only[static_cast<std::size_t>(row_in_pool)]);
    rows.push_back({run.lt[position], selection.labels[k], selection.confidences[k],
                    pool_truth[static_cast<std::size_t>(row_in_pool)],
                    run.files.empty() ? std::string() : run.files[position]});
    next.positions.push_back(static_cast<std::int64_t>(position));
    next.labels.push_back(selection.labels[k]);
  }
  row.selected = static_cast<std::int64_t>(selection.rows.size());
  row.selection_precision =
      truth_known ? account.precision_total : std::numeric_limits<double>::quiet_NaN();
  SelectionRecord record;
  record.generation = row.generation;
  record.pool = static_cast<std::int64_t>(run.unlabeled_only.size());
  record.alpha = config.crest.alpha;
  record.rate_profile = to_string(plan.rate_profile);
  record.truth_known = truth_known;
  record.names = run.class_names;
  record.rates = selection.rates;
  record.predicted = selection.predicted;
  record.selected = selection.selected;
  record.correct = account.correct;
  record.pool_true_counts = account.pool_true_counts;
  record.precision = account.precision;
  record.recall = account.recall;
  record.selected_total = row.selected;
  record.precision_total = row.selection_precision;
  if (!truth_known && !selection.rows.empty()) {
    record.estimate = estimate_precision(ema, run, plan, config, selection, row.generation);
  }
  sink.selection(gen_dir, rows, record);
  written = std::move(record);
  return next;
}

// generation.json of finished generation g, checked against this run.
GenerationRecord read_finished_generation(const fs::path& gen_dir, int g, int num_classes) {
  const fs::path file = gen_dir / kGenerationDoneFile;
  GenerationRecord record = read_generation_record(file);
  if (record.row.generation != g ||
      record.labeled_counts.size() != static_cast<std::size_t>(num_classes)) {
    throw DataError(file.string() + " records generation " + std::to_string(record.row.generation) +
                    " with " + std::to_string(record.labeled_counts.size()) +
                    " classes; this is generation " + std::to_string(g) + " of a run with " +
                    std::to_string(num_classes) +
                    " classes. The file was edited or copied from another run: start a new "
                    "run folder");
  }
  return record;
}

bool generation_finished(const fs::path& run_dir, int g) {
  return fs::exists(generation_dir(run_dir, g) / kGenerationDoneFile);
}

// ---- the end of the run ------------------------------------------------------------------------

// The row crest.select_on picks: the last, or the best validation mean recall (first on ties).
std::size_t best_row(const std::vector<GenerationRow>& rows, SelectOn select_on) {
  std::size_t best = rows.size() - 1;
  if (uses_validation(select_on)) {
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (rows[i].val_mean_recall > rows[best].val_mean_recall ||
          (rows[i].val_mean_recall == rows[best].val_mean_recall && i < best)) {
        best = i;
      }
    }
  }
  return best;
}

// RUN/summary.json of a run that diverged in generation g: the generations before it, marked
// so that summarize leaves the run out and report calls it failed.
void record_divergence(RunSink& sink, const fs::path& run_dir, const Config& config,
                       const RunPlan& plan, const std::vector<GenerationRow>& rows, int g,
                       const std::string& error) {
  RunSummary summary;
  summary.status = kRunDiverged;
  summary.failed_generation = g;
  summary.error = error;
  summary.mode = to_string(config.crest.mode);
  summary.select_on = to_string(config.crest.select_on);
  summary.pool_truth_known = plan.truth_known;
  summary.minority_classes = plan.minority;
  summary.majority_classes = plan.majority;
  summary.generations = rows;
  if (!rows.empty()) summary.final_row = rows.back();
  sink.run_finished(run_dir, summary);
}

// RUN/generations.csv and RUN/summary.json naming the best generation under crest.select_on.
void finish_run(RunSink& sink, const fs::path& run_dir, const Config& config, const RunPlan& plan,
                const std::vector<GenerationRow>& rows) {
  const CrestConfig& cc = config.crest;
  const GenerationRow& best = rows[best_row(rows, cc.select_on)];
  RunSummary summary;
  summary.mode = to_string(cc.mode);
  summary.select_on = to_string(cc.select_on);
  summary.pool_truth_known = plan.truth_known;
  summary.best_generation = best.generation;
  summary.best = best;
  summary.final_row = rows.back();
  summary.minority_classes = plan.minority;
  summary.majority_classes = plan.majority;
  summary.generations = rows;
  // Logged first: the console's last lines are the chosen generation and what to do next.
  spdlog::info("done: writing {}", (run_dir / kRunSummaryFile).string());
  sink.run_finished(run_dir, summary);
}

// TensorBoard's event files and the console table beside the run folder's files.
void add_run_writers(RunSession& session, const Config& config, const RunData& run,
                     const RunPlan& plan, std::ostream& out) {
  session.add_writer([&]() -> std::unique_ptr<RunSink> {
    if (!config.run.tensorboard) return nullptr;
    if (!tensorboard_supported()) {
      spdlog::warn(
          "run.tensorboard is on but this build of crest has no TensorBoard support (built "
          "without Protobuf): no event files are written. Install libprotobuf-dev and "
          "protobuf-compiler and rebuild, or set run.tensorboard: false");
      return nullptr;
    }
    return std::make_unique<TensorBoardSink>(session.dir(), run.class_names);
  });
  session.add_writer([&]() -> std::unique_ptr<RunSink> {
    return std::make_unique<ConsoleSink>(out, plan.selecting, plan.truth_known);
  });
}

// ---- the generations ---------------------------------------------------------------------------

// What carries from one generation to the next: the table so far and the selection of the
// previous generation (crest.selection knn: of every earlier generation).
struct RunProgress {
  std::vector<GenerationRow> rows;
  CarriedSelection carried;
};

// A finished generation: its figures and its selection come from disk, never recomputed.
void read_generation(RunSession& session, const Config& config, const RunData& run,
                     const RunPlan& plan, int g, RunProgress& progress) {
  const fs::path gen_dir = generation_dir(session.dir(), g);
  const GenerationRecord record = read_finished_generation(gen_dir, g, run.num_classes());
  progress.rows.push_back(record.row);
  const bool last = g + 1 == config.crest.generations;
  if (config.crest.selection == SelectionPolicy::kKnn) {
    // Every round's selection is read back (the last generation selects none, nor does a round
    // that found the pool already labeled).
    if (plan.selecting && !last && record.row.selected > 0) {
      progress.carried = accumulate_selection(progress.carried,
                                              read_carried_selection(gen_dir, run), run, gen_dir);
    }
  } else {
    progress.carried =
        plan.selecting && !last ? read_carried_selection(gen_dir, run) : CarriedSelection{};
  }
  // After the checks of what the files hold (which name the line): a file that still reads well
  // but changed since the generation finished is refused too.
  check_generation_files(gen_dir, record);
  if (last || !generation_finished(session.dir(), g + 1)) {
    session.sink().generations_read(progress.rows);
  }
}

// Steps 1-3 of Algorithm 1 for generation g, its records through the sink.
void train_generation(RunSession& session, const Config& config, const RunData& run,
                      const RunPlan& plan, const NamedTensors& init_weights, int g, bool resume,
                      RunProgress& progress) {
  const CrestConfig& cc = config.crest;
  RunSink& sink = session.sink();
  const fs::path gen_dir = generation_dir(session.dir(), g);
  const double t_g = aligns_distribution(cc.mode)
                         ? alignment_temperature(g, cc.generations, cc.t_min, cc.t_schedule)
                         : 1.0;
  // 1. This generation's labeled set.
  const LabeledSet labeled = labeled_set(plan, progress.carried, run.num_classes());
  sink.generation_started(
      g, gen_dir, {run.class_names, plan.labeled_counts, labeled.pseudo_counts, labeled.counts});
  // 2. Train from scratch (CReST+: aligned toward normalise(p_data^t_g)).
  GenerationTrainer trainer(trainer_settings(config, g, sink, init_weights, session.dir()),
                            session.device(),
                            generation_data(run, labeled.positions, labeled.targets), gen_dir,
                            make_alignment(cc, plan.p_data, t_g, session.device()));
  GenerationOutcome outcome;
  try {
    outcome = trainer.run(resume);
  } catch (const TrainingDiverged& e) {
    record_divergence(sink, session.dir(), config, plan, progress.rows, g, e.what());
    throw;
  }
  GenerationRow row =
      test_row(g, t_g, labeled, static_cast<std::int64_t>(progress.carried.labels.size()),
               outcome.final_ema, plan);
  row.accuracy_median_last_20 = outcome.ema_summary.median_last_20;
  if (uses_validation(cc.select_on)) {
    row.val_mean_recall =
        validation_mean_recall(trainer.ema_model(), run, plan, config.train.eval_batch_size);
  }
  // 3. Select pseudo-labels for the next generation.
  std::optional<SelectionRecord> selection;
  const bool knn = cc.selection == SelectionPolicy::kKnn;
  CarriedSelection next =
      knn ? select_knn_round(trainer.ema_model(), run, plan, config, progress.carried, sink,
                             gen_dir, row, selection)
          : select_next(trainer.ema_model(), run, plan, config, sink, gen_dir, row, selection);
  // Recorded last (generation.json): a crash before it redoes the selection from the same final
  // checkpoint, which gives the same result.
  progress.rows.push_back(row);
  sink.generation_finished(
      gen_dir, {row, evaluation_figures(outcome.final_ema), labeled.counts, outcome.ema_summary},
      selection ? &*selection : nullptr, outcome.steps, progress.rows);
  progress.carried =
      knn ? accumulate_selection(progress.carried, next, run, gen_dir) : std::move(next);
}

}  // namespace

void run_training(const Config& config, const TrainOptions& options, std::ostream& out) {
  RunSession session(config, training_session(config, options.resume));
  const NamedTensors init_weights = read_init_weights(config.model, session.dir(), options.resume);
  const RunData run = load_run_data(session, config);
  const RunPlan plan = plan_run(config, run);
  log_plan(config, run, plan, session.device());
  // Written once the data is loaded and on the device: a run that failed before leaves no run.
  session.record_start(config);
  session.barrier("data_loaded");
  add_run_writers(session, config, run, plan, out);
  RunProgress progress;
  for (int g = 0; g < config.crest.generations; ++g) {
    if (options.resume && generation_finished(session.dir(), g)) {
      read_generation(session, config, run, plan, g, progress);
    } else {
      train_generation(session, config, run, plan, init_weights, g, options.resume, progress);
    }
  }
  finish_run(session.sink(), session.dir(), config, plan, progress.rows);
}

}  // namespace crest
