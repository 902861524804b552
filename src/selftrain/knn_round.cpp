#include "knn_round.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "crest/dist/rank_state.h"
#include "crest/dist/world.h"
#include "crest/io/run_files.h"
#include "crest/selftrain/knn_selection.h"
#include "crest/selftrain/selection.h"
#include "crest/ssl/predict.h"
#include "crest/util/error.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

// The EMA model's unit-length embeddings of the images at `positions`, sharded over the ranks
// and gathered (every rank gets them all).
at::Tensor embeddings_of(WideResNet& ema, const RunData& run,
                         const std::vector<std::int64_t>& positions, int batch_size) {
  const at::Tensor index = long_tensor(positions, run.images.device());
  return dist::map_sharded(dist::world(), index.size(0), [&](std::int64_t b, std::int64_t e) {
    return predict_embeddings(ema, run.images.index_select(0, index.narrow(0, b, e - b)),
                              batch_size);
  });
}

// The pool images no earlier round labeled, in pool order.
std::vector<std::int64_t> positions_left(const RunData& run, const CarriedSelection& carried) {
  std::vector<bool> taken(run.lt.size(), false);
  for (std::int64_t p : carried.positions) taken[static_cast<std::size_t>(p)] = true;
  std::vector<std::int64_t> left;
  for (std::int64_t p : run.unlabeled_only) {
    if (!taken[static_cast<std::size_t>(p)]) left.push_back(p);
  }
  return left;
}

// The anchors: the original labeled set, and with crest.knn_anchors all the earlier rounds'
// pseudo-labeled images too.
std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> anchor_set(
    const RunPlan& plan, const CarriedSelection& carried, KnnAnchors anchors) {
  std::vector<std::int64_t> positions = plan.labeled_positions;
  std::vector<std::int64_t> labels = plan.labeled_truth;
  if (anchors == KnnAnchors::kAll) {
    positions.insert(positions.end(), carried.positions.begin(), carried.positions.end());
    labels.insert(labels.end(), carried.labels.begin(), carried.labels.end());
  }
  return {positions, labels};
}

// The selection.json record of a round.
SelectionRecord knn_record(const Config& config, const RunData& run, const KnnSelection& s,
                           const SelectionAccounting& account, bool truth_known) {
  SelectionRecord record;
  record.policy = to_string(SelectionPolicy::kKnn);
  record.alpha = config.crest.alpha;
  record.rate_profile = to_string(config.crest.rate_profile);
  record.truth_known = truth_known;
  record.names = run.class_names;
  for (std::size_t c = 0; c < s.selected.size(); ++c) {
    record.rates.push_back(s.assigned[c] == 0 ? 0.0
                                              : static_cast<double>(s.selected[c]) /
                                                    static_cast<double>(s.assigned[c]));
  }
  record.predicted = s.assigned;
  record.selected = s.selected;
  record.correct = account.correct;
  record.pool_true_counts = account.pool_true_counts;
  record.precision = account.precision;
  record.recall = account.recall;
  record.selected_total = static_cast<std::int64_t>(s.rows.size());
  record.precision_total =
      truth_known ? account.precision_total : std::numeric_limits<double>::quiet_NaN();
  return record;
}

}  // namespace

CarriedSelection select_knn_round(WideResNet& ema, const RunData& run, const RunPlan& plan,
                                  const Config& config, const CarriedSelection& carried,
                                  RunSink& sink, const fs::path& gen_dir, GenerationRow& row,
                                  std::optional<SelectionRecord>& written) {
  CarriedSelection next;
  const CrestConfig& cc = config.crest;
  const int rounds = cc.generations - 1;
  const int round = row.generation;
  const std::vector<std::int64_t> left = positions_left(run, carried);
  if (!plan.selecting || round >= rounds || left.empty()) return next;
  const int batch = config.train.eval_batch_size;
  const auto [anchor_positions, anchor_labels] = anchor_set(plan, carried, cc.knn_anchors);
  const at::Tensor anchors = embeddings_of(ema, run, anchor_positions, batch);
  const at::Tensor labels = long_tensor(anchor_labels, anchors.device());
  const KnnCentroids centroids = class_centroids(anchors, labels, run.num_classes(),
                                                 cc.knn_clusters, cc.knn_kmeans_iterations);
  const KnnScores scores = score_pool(embeddings_of(ema, run, left, batch), anchors, labels,
                                      centroids, cc.knn_neighbours);
  // The last round takes every image left, whatever the agreement.
  const bool last = round + 1 == rounds;
  const auto pool = static_cast<std::int64_t>(run.unlabeled_only.size());
  const auto left_count = static_cast<std::int64_t>(left.size());
  const std::int64_t quota = knn_round_quota(pool, left_count, round, rounds, cc.knn_quota);
  const double min_agreement = last ? 0.0 : cc.knn_agreement;
  const KnnSelection s = select_knn(scores, run.num_classes(), quota, min_agreement, cc.knn_order);
  // Scored against the hidden labels only where every one is known.
  std::vector<std::int64_t> truth;
  for (std::int64_t p : left) truth.push_back(run.lt_labels[static_cast<std::size_t>(p)]);
  Selection as_selection;
  as_selection.rows = s.rows;
  as_selection.labels = s.labels;
  const SelectionAccounting account =
      plan.truth_known ? account_selection(as_selection, truth, run.num_classes())
                       : SelectionAccounting{};
  std::vector<PseudoLabelRow> rows;
  for (std::size_t k = 0; k < s.rows.size(); ++k) {
    const auto in_left = static_cast<std::size_t>(s.rows[k]);
    const auto position = static_cast<std::size_t>(left[in_left]);
    rows.push_back({run.lt[position], s.labels[k], s.agreements[k], truth[in_left],
                    run.files.empty() ? std::string() : run.files[position], s.distances[k]});
    next.positions.push_back(static_cast<std::int64_t>(position));
    next.labels.push_back(s.labels[k]);
  }
  SelectionRecord record = knn_record(config, run, s, account, plan.truth_known);
  record.generation = round;
  record.pool = left_count;
  KnnSelectionRecord k;
  k.round = round;
  k.rounds = rounds;
  k.quota = quota;
  k.labeled_before = pool - left_count;
  k.left_after = left_count - static_cast<std::int64_t>(s.rows.size());
  k.anchors = static_cast<std::int64_t>(anchor_positions.size());
  k.anchor_set = to_string(cc.knn_anchors);
  k.order = to_string(cc.knn_order);
  k.clusters = cc.knn_clusters;
  k.neighbours = cc.knn_neighbours;
  k.min_agreement = min_agreement;
  k.eligible = s.eligible;
  k.mean_agreement = s.mean_agreement;
  k.mean_distance = s.mean_distance;
  record.knn = k;
  row.selected = record.selected_total;
  row.selection_precision = record.precision_total;
  spdlog::info(
      "knn round {} of {}: {} of the {} unlabeled images left labeled (quota {}, agreement at "
      "least {:.2f}, {} anchors); {} left{}",
      round + 1, rounds, row.selected, left_count, quota, min_agreement, k.anchors, k.left_after,
      last ? ": the last generation trains on every unlabeled image" : "");
  sink.selection(gen_dir, rows, record);
  written = std::move(record);
  return next;
}

CarriedSelection accumulate_selection(const CarriedSelection& earlier,
                                      const CarriedSelection& round, const RunData& run,
                                      const fs::path& gen_dir) {
  CarriedSelection all = earlier;
  std::vector<std::int64_t> seen = earlier.positions;
  std::sort(seen.begin(), seen.end());
  for (std::size_t k = 0; k < round.positions.size(); ++k) {
    if (std::binary_search(seen.begin(), seen.end(), round.positions[k])) {
      throw DataError((gen_dir / kPseudoLabelsFile).string() + " labels image " +
                      std::to_string(run.lt[static_cast<std::size_t>(round.positions[k])]) +
                      " again, which an earlier generation already pseudo-labeled; a knn run "
                      "never relabels an image, so the files were edited or come from other "
                      "runs: start a new run folder");
    }
    all.positions.push_back(round.positions[k]);
    all.labels.push_back(round.labels[k]);
  }
  return all;
}

}  // namespace crest
