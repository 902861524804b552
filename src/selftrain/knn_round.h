// One round of DML-PL's pseudo-labelling inside the generation loop (crest.selection: knn;
// selftrain/knn_selection.h has the rules): the EMA model's embeddings of the anchors and of the
// pool images still unlabeled, the round's quota, the selection, and its records
// (pseudo_labels.csv with agreement and distance, selection.json with the "knn" record).
// Private to src/selftrain/.
#pragma once

#include <filesystem>
#include <optional>

#include "crest/config/config.h"
#include "crest/io/generation_files.h"
#include "crest/io/selection_files.h"
#include "crest/io/sink.h"
#include "crest/models/wrn.h"
#include "crest/selftrain/plan.h"
#include "crest/selftrain/run_data.h"

namespace crest {

// The selection generation `row.generation` makes under crest.selection knn, given what the
// earlier rounds labeled (`carried`, which it never relabels); the last round before the final
// generation labels every image left. Writes the round's files through `sink` into `gen_dir`
// (the record also into `written`) and fills the row's selection figures. Returns this round's
// selection alone (empty when nothing is left or this is the final generation).
CarriedSelection select_knn_round(WideResNet& ema, const RunData& run, const RunPlan& plan,
                                  const Config& config, const CarriedSelection& carried,
                                  RunSink& sink, const std::filesystem::path& gen_dir,
                                  GenerationRow& row, std::optional<SelectionRecord>& written);

// `earlier` followed by `round` (positions in `run`); DataError naming gen_dir's
// pseudo_labels.csv and the image when an image appears in both (a knn run never relabels an
// image: the files were edited or mixed from other runs).
CarriedSelection accumulate_selection(const CarriedSelection& earlier,
                                      const CarriedSelection& round, const RunData& run,
                                      const std::filesystem::path& gen_dir);

}  // namespace crest
