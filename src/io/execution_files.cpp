#include "crest/io/execution_files.h"

#include <nlohmann/json.hpp>
#include <tuple>

#include "crest/io/json_text.h"
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

namespace {

// DataError with what to do: the file only records how the training ran.
[[noreturn]] void damaged(const fs::path& file, const std::string& what) {
  throw DataError(file.string() + ": " + what +
                  "; the file was edited or damaged. It only records how the training ran: "
                  "move it away (crest starts a new record) and run the command again");
}

ExecutionRecord parse_execution_record(const fs::path& file) {
  const nlohmann::json j = io_detail::read_json_object(file);
  const auto format = j.find("format");
  if (format == j.end() || !format->is_string() || *format != kFormat || !j.contains("segments") ||
      !j["segments"].is_array()) {
    damaged(file, std::string("not a crest execution record (expected \"format\": \"") + kFormat +
                      "\" and a list \"segments\")");
  }
  const auto version = j.find("version");
  if (version == j.end() || !version->is_number_integer() ||
      version->get<std::int64_t>() != kVersion) {
    damaged(file, "format 'version' " + (version == j.end() ? "absent" : version->dump()) +
                      ", this crest reads version " + std::to_string(kVersion) + " (a number)");
  }
  ExecutionRecord record;
  for (const nlohmann::json& s : j["segments"]) {
    if (!s.is_object()) damaged(file, "a segment is " + json_text(s) + ", not an object");
    ExecutionSegment segment =
        io_detail::members_from_json<ExecutionSegment>(s, file, kSegmentMembers);
    io_detail::check_count(segment.from_step, "'from_step'", file);
    if (segment.world_size < 1 || segment.threads < 1) {
      damaged(file, "'world_size' and 'threads' must be at least 1, got " +
                        std::to_string(segment.world_size) + " and " +
                        std::to_string(segment.threads));
    }
    record.segments.push_back(std::move(segment));
  }
  return record;
}

}  // namespace

ExecutionRecord read_execution_record(const fs::path& file) {
  try {
    return parse_execution_record(file);
  } catch (const DataError& e) {
    const std::string message = e.what();
    if (message.find("move it away") != std::string::npos) throw;
    // The shared readers' messages (not JSON, a missing or mistyped field), with the remedy.
    throw DataError(message + "; " + file.filename().string() +
                    " only records how the training ran: move it away (crest starts a new "
                    "record) and run the command again");
  }
}

}  // namespace crest
