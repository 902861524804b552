// `crest bench`: how fast the configured training runs on the configured device.
//   (a) the training step on inputs already on the device (forward, loss, backward, SGD, EMA);
//   (b) the full step, sampling and augmentation included;
//   (c) pseudo-labelling throughput of the EMA model over the unlabeled pool (images/s);
//   (d) peak memory (the device allocator's peak on CUDA, the process's peak RSS on CPU).
// Each rate is the median over several timed windows after a warm-up; on CUDA every window
// ends with a device synchronisation, so the figures are device throughput, not launch rate.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>

#include "crest/config/config.h"

namespace crest {

struct BenchOptions {
  int steps = 30;   // timed steps for (a) and (b), split into windows
  int warmup = 5;   // untimed steps before each measurement
  int windows = 5;  // timed windows; the median is reported
  bool json = false;
};

nlohmann::json run_bench(const Config& config, const BenchOptions& options);

// The table for people.
std::string bench_table(const nlohmann::json& result);

}  // namespace crest
