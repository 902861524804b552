#include "crest/io/execution_files.h"

#include <nlohmann/json.hpp>
#include <tuple>

#include "crest/util/error.h"
#include "json_fields.h"

namespace crest {

namespace fs = std::filesystem;

using io_detail::json_member;

namespace {

constexpr char kFormat[] = "crest-execution";
constexpr int kVersion = 1;

constexpr auto kSegmentMembers =
    std::make_tuple(json_member("from_step", &ExecutionSegment::from_step),
                    json_member("started", &ExecutionSegment::started),
                    json_member("command", &ExecutionSegment::command),
                    json_member("device", &ExecutionSegment::device),
                    json_member("world_size", &ExecutionSegment::world_size),
                    json_member("threads", &ExecutionSegment::threads),
                    json_member("precision", &ExecutionSegment::precision),
                    json_member("memory_format", &ExecutionSegment::memory_format),
                    json_member("sgd", &ExecutionSegment::sgd),
                    json_member("cuda_graph", &ExecutionSegment::cuda_graph),
                    json_member("crest_version", &ExecutionSegment::crest_version),
                    json_member("torch_version", &ExecutionSegment::torch_version));

}  // namespace

ExecutionRecord with_segment(ExecutionRecord record, const ExecutionSegment& segment) {
  ExecutionRecord out;
  for (const ExecutionSegment& s : record.segments) {
    if (s.from_step < segment.from_step) out.segments.push_back(s);
  }
  out.segments.push_back(segment);
  return out;
}

void write_execution_record(const fs::path& file, const ExecutionRecord& record) {
  nlohmann::json segments = nlohmann::json::array();
  for (const ExecutionSegment& s : record.segments) {
    segments.push_back(io_detail::members_to_json(s, kSegmentMembers));
  }
  io_detail::write_json_file(
      file, {{"format", kFormat}, {"version", kVersion}, {"segments", std::move(segments)}});
}

ExecutionRecord read_execution_record(const fs::path& file) {
  const nlohmann::json j = io_detail::read_json_object(file);
  if (j.value("format", "") != kFormat || !j.contains("segments") || !j["segments"].is_array()) {
    throw DataError(file.string() + ": not a crest execution record (expected \"format\": \"" +
                    kFormat + "\" and a list \"segments\"); the file was edited or damaged");
  }
  ExecutionRecord record;
  for (const nlohmann::json& s : j["segments"]) {
    if (!s.is_object()) {
      throw DataError(file.string() + ": a segment is " + s.dump() + ", not an object");
    }
    ExecutionSegment segment =
        io_detail::members_from_json<ExecutionSegment>(s, file, kSegmentMembers);
    io_detail::check_count(segment.from_step, "'from_step'", file);
    if (segment.world_size < 1 || segment.threads < 1) {
      throw DataError(file.string() + ": 'world_size' and 'threads' must be at least 1, got " +
                      std::to_string(segment.world_size) + " and " +
                      std::to_string(segment.threads) + "; the file was edited or damaged");
    }
    record.segments.push_back(std::move(segment));
  }
  return record;
}

}  // namespace crest
