// How a training ran: gen_K/execution.json (and the pre-training folder's), one segment per
// start of the training, the first and every resume, so the report says where, with what and in
// what precision each stretch of steps ran without reading the human log.
//
//   {"format": "crest-execution", "version": 1, "segments": [SEGMENT, ...]}
//
// A segment that started at a step at or after a later segment's start was redone from a
// checkpoint before it, and is dropped when that later one is recorded (as metrics.jsonl drops
// the lines after the checkpoint a resume continues from).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace crest {

struct ExecutionSegment {
  std::int64_t from_step = 0;  // the first step of the segment (0, or the checkpoint's)
  std::string started;         // UTC, ISO 8601 ("2026-12-07T05:03:40Z")
  std::string command;         // the command line
  std::string device;          // util/device.h describe_device: kind, threads, why
  int world_size = 1;          // ranks of the data-parallel job
  int threads = 1;             // CPU threads of each rank's compute
  std::string precision;       // "bf16" | "fp32" (the training step; evaluation is fp32)
  std::string memory_format;   // "channels_last" | "contiguous"
  std::string sgd;             // the SGD kernels: "foreach" | "fused" | "loop"
  bool cuda_graph = false;     // the step replayed as a CUDA graph
  std::string crest_version;
  std::string torch_version;
};

struct ExecutionRecord {
  std::vector<ExecutionSegment> segments;  // in the order they ran
};

// The record with `segment` appended, after the segments that started before segment.from_step.
ExecutionRecord with_segment(ExecutionRecord record, const ExecutionSegment& segment);

void write_execution_record(const std::filesystem::path& file, const ExecutionRecord& record);
// DataError naming the file for a file crest did not write this way: not JSON, another format,
// a segment missing a field or with a negative step, a world size or thread count below 1.
ExecutionRecord read_execution_record(const std::filesystem::path& file);

}  // namespace crest
