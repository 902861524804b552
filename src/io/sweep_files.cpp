#include "crest/io/sweep_files.h"

#include <nlohmann/json.hpp>

#include "crest/io/file.h"
#include "crest/io/json_text.h"
#include "crest/io/output_paths.h"
#include "crest/util/error.h"
#include "json_fields.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

// Every field through the checked accessors (json_fields.h): a wrong type names the key.
SweepPlanFile parse_plan(const nlohmann::json& j, const fs::path& file, bool complete) {
  using io_detail::json_field;
  using io_detail::json_list;
  if (!j.is_object()) throw DataError(file.string() + ": expected a JSON object");
  SweepPlanFile plan;
  if (complete) {
    if (json_field<int>(j, "version", file) != kSweepPlanVersion) {
      throw DataError(file.string() + ": 'version' is " + json_text(j["version"]) +
                      ", this crest reads version " + std::to_string(kSweepPlanVersion));
    }
    plan.grid = json_field<std::string>(j, "grid", file);
    plan.base = json_field<std::string>(j, "base", file);
    plan.keys = json_list<std::string>(j, "keys", file);
    plan.set = json_list<std::string>(j, "set", file);
  }
  if (!j.contains("points") || !j["points"].is_array()) {
    throw DataError(file.string() + ": expected a list 'points'");
  }
  for (const auto& p : j["points"]) {
    if (!p.is_object()) throw DataError(file.string() + ": a point is " + json_text(p));
    SweepPlanPoint point;
    point.index = plan.points.size();
    point.folder = json_field<std::string>(p, "folder", file);
    // The folder is joined to the sweep's: a name that leads elsewhere is refused.
    check_plain_name(point.folder,
                     file.string() + ": point " + std::to_string(point.index) + "'s folder");
    if (complete) {
      if (json_field<std::int64_t>(p, "index", file) != static_cast<std::int64_t>(point.index)) {
        throw DataError(file.string() + ": point " + std::to_string(point.index) +
                        " has another 'index'");
      }
      point.name = json_field<std::string>(p, "name", file);
      point.overrides = json_list<std::string>(p, "overrides", file);
    }
    plan.points.push_back(std::move(point));
  }
  return plan;
}

}  // namespace

void write_sweep_plan(const fs::path& file, const SweepPlanFile& plan) {
  nlohmann::json points = nlohmann::json::array();
  for (const SweepPlanPoint& p : plan.points) {
    points.push_back(
        {{"index", p.index}, {"name", p.name}, {"overrides", p.overrides}, {"folder", p.folder}});
  }
  const nlohmann::json j = {{"version", plan.version}, {"grid", plan.grid}, {"base", plan.base},
                            {"keys", plan.keys},       {"set", plan.set},   {"points", points}};
  io_detail::write_json_file(file, j);
}

SweepPlanFile read_sweep_plan(const fs::path& file, bool complete) {
  try {
    return parse_plan(io_detail::read_json_file(file), file, complete);
  } catch (const DataError& e) {
    throw DataError(std::string(e.what()) + " (not a sweep plan written by crest sweep)");
  }
}

void append_slurm_submission(const fs::path& file, const SlurmSubmission& record) {
  const nlohmann::json j = {{"job_id", record.job_id},
                            {"array", record.array},
                            {"points", record.points},
                            {"script", record.script}};
  append_line(file, json_text(j));
}

}  // namespace crest
