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

SweepPlanFile parse_plan(const nlohmann::json& j, bool complete, const fs::path& file) {
  SweepPlanFile plan;
  if (complete) {
    if (j.at("version").get<int>() != kSweepPlanVersion) {
      throw std::runtime_error("unknown version");
    }
    plan.grid = j.at("grid").get<std::string>();
    plan.base = j.at("base").get<std::string>();
    plan.keys = j.at("keys").get<std::vector<std::string>>();
    plan.set = j.at("set").get<std::vector<std::string>>();
  }
  for (const auto& p : j.at("points")) {
    SweepPlanPoint point;
    point.index = plan.points.size();
    point.folder = p.at("folder").get<std::string>();
    // The folder is joined to the sweep's: a name that leads elsewhere is refused.
    check_plain_name(point.folder,
                     file.string() + ": point " + std::to_string(point.index) + "'s folder");
    if (complete) {
      if (p.at("index").get<std::size_t>() != point.index) {
        throw std::runtime_error("point " + std::to_string(point.index) + " has another index");
      }
      point.name = p.at("name").get<std::string>();
      point.overrides = p.at("overrides").get<std::vector<std::string>>();
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
  const std::string text = read_file(file);
  try {
    return parse_plan(nlohmann::json::parse(text), complete, file);
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    throw DataError(file.string() + ": not a sweep plan written by crest sweep (" + e.what() + ")");
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
