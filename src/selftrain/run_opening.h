// How `crest train` opens its run folder and loads its data (selftrain/loop.cpp's first steps):
// the folder checks, the resume checks against the stored config, the ranks' agreement and the
// recorded split. Private to src/selftrain/.
#pragma once

#include "crest/config/config.h"
#include "crest/io/run_session.h"
#include "crest/selftrain/run_data.h"

namespace crest {

// The folder must be ours, hold the run to resume (checked before the lock creates a mistyped
// folder), and, on resume, the same config: the options for RunSession.
SessionOptions training_session(const Config& config, bool resume);

// The data, rank 0 first (it may decode and cache images); every rank's config and split
// checked against rank 0's; the split recorded (and, on resume, compared with the folder's);
// then on the device. InputError (every rank) when a rank disagrees or the split changed.
RunData load_run_data(RunSession& session, const Config& config);

}  // namespace crest
