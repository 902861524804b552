// The CReST generation loop (Wei et al. 2021, Algorithm 1), top to bottom:
//   for g = 0 .. G-1:
//     1. labeled set = the original labeled set + the selection made at the end of g-1
//        (nothing accumulates: each selection comes from the previous generation alone; under
//        crest.selection knn, DML-PL's rounds, every earlier selection: they accumulate);
//     2. re-initialise model, EMA, optimiser, schedule and alignment; train FixMatch
//        (CReST+: pseudo-labels aligned toward normalise(p_data^t_g));
//     3. the EMA model predicts every unlabeled-only image; per predicted class the most
//        confident floor(n_c * mu_c) are selected for generation g+1 (knn: nearest labeled-class
//        clusters in the embedding, selftrain/knn_selection.h, among the images not yet
//        labeled; the round before the last generation labels every image left).
// Every generation leaves its evidence in RUN/gen_g/, the run its table in
// RUN/generations.csv and RUN/summary.json, all written through io/ (io/run_files.h lists
// them). `crest.mode: fixmatch` skips step 3.
#pragma once

#include <ostream>

#include "crest/config/config.h"

namespace crest {

struct TrainOptions {
  bool resume = false;
};

// Runs (or, with resume, continues) the whole configured training in config.run.out_dir.
// Prints the per-generation table to `out` as generations finish. A resume loads the finished
// generations (gen_K/generation.json and the selection in gen_K/pseudo_labels.csv) and continues
// the first unfinished one from its checkpoint; on the CPU it ends bit-identical to an
// uninterrupted run. Throws InputError for a folder holding another run, a resume with another
// config or other data, DataError for a damaged record, Interrupted after a stop request.
void run_training(const Config& config, const TrainOptions& options, std::ostream& out);

}  // namespace crest
