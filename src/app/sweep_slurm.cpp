// `crest sweep --launcher slurm`: one job array for the selected points, each task running its
// point as `crest sweep --points OUT/sweep.json --run-index I`.
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <sstream>

#include "crest/app/sweep.h"
#include "crest/io/file.h"
#include "crest/io/run_files.h"
#include "crest/io/sweep_files.h"
#include "crest/util/error.h"
#include "sweep_detail.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

std::string find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream split(path ? path : "");
  for (std::string dir; std::getline(split, dir, ':');) {
    if (dir.empty()) dir = ".";
    const fs::path candidate = fs::path(dir) / program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

void check_directive_value(const std::string& option, const std::string& value) {
  if (value.find_first_of("\r\n") != std::string::npos) {
    throw InputError(option + ": a line break cannot go into a job script");
  }
}

std::string array_spec(const std::vector<std::size_t>& indices, int max_parallel) {
  std::string spec = index_list_text(indices);
  if (max_parallel > 0) spec += "%" + std::to_string(max_parallel);
  return spec;
}

}  // namespace

namespace sweep_detail {

void run_slurm(const SweepPlan& plan, const std::vector<std::size_t>& selected,
               const SweepOptions& options, std::ostream& out) {
  if (selected.empty()) {
    out << "nothing to submit: no point selected (all finished?)\n";
    return;
  }
  const std::string sbatch = options.dry_run ? std::string() : find_on_path("sbatch");
  if (!options.dry_run && sbatch.empty()) {
    throw InputError(
        "sbatch was not found on PATH: Slurm's client commands are not installed "
        "(Debian/Ubuntu: apt-get install slurm-client) or not on PATH. Use "
        "--dry-run to only write the job script, or --launcher local");
  }
  const fs::path slurm_dir = plan.out_dir / kSlurmFolder;
  const fs::path script = slurm_dir / kSlurmScriptFile;
  write_file_atomic(script, slurm_script(plan, options, crest_executable()));
  ::chmod(script.c_str(), 0755);

  const std::string spec = array_spec(selected, options.max_parallel);
  const std::vector<std::string> args = {"--parsable", "--array=" + spec, script.string()};
  if (options.dry_run) {
    out << "wrote " << script.string() << " (" << plan.points.size()
        << " array task(s), one per point of " << plan_file(plan) << ")\n"
        << "submit " << selected.size() << " task(s) with: " << command_text("sbatch", args)
        << "\n";
    return;
  }
  const fs::path answer = slurm_dir / kSbatchAnswerFile;
  std::error_code ec;
  fs::remove(answer, ec);
  ChildSpec submit;
  submit.program = sbatch;
  submit.argv = {"sbatch"};
  submit.argv.insert(submit.argv.end(), args.begin(), args.end());
  submit.in = Redirect::null();
  submit.out = Redirect::append(answer);
  submit.err = Redirect::append(answer);
  Supervisor supervisor;
  const ExitStatus status = supervisor.wait(supervisor.spawn(submit)).status;
  std::string text = read_file(answer);
  fs::remove(answer, ec);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (!status.success()) {
    throw std::runtime_error("sbatch failed (" + describe_status(status) + "): " + text +
                             "\nthe job script is " + script.string());
  }
  // --parsable prints "JOBID" or "JOBID;CLUSTER" (warnings, if any, on lines before it).
  std::string id =
      text.substr(text.find_last_of('\n') == std::string::npos ? 0 : text.find_last_of('\n') + 1);
  id = id.substr(0, id.find(';'));
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
    throw std::runtime_error("sbatch answered '" + text + "', not a job id");
  }
  append_slurm_submission(slurm_dir / kSlurmSubmissionsFile,
                          {id, spec, selected.size(), script.string()});
  out << "submitted job " << id << ": " << selected.size() << " array task(s) (--array=" << spec
      << ") of " << script.string() << "; task logs: " << (slurm_dir / (id + "_INDEX.out")).string()
      << "\n";
  out.flush();
}

}  // namespace sweep_detail

std::string slurm_script(const SweepPlan& plan, const SweepOptions& options,
                         const std::string& crest_executable_path) {
  const std::vector<std::pair<std::string, std::string>> values = {
      {"--partition", options.partition},
      {"--account", options.account},
      {"--time", options.time},
      {"--mem", options.mem},
      {"--job-name", options.job_name}};
  for (const auto& [option, value] : values) check_directive_value(option, value);
  for (const std::string& arg : options.sbatch_args) {
    check_directive_value("--sbatch-arg", arg);
    if (arg.empty() || arg[0] != '-') {
      throw InputError("--sbatch-arg " + arg + ": expected an sbatch option such as --qos=high");
    }
  }
  const fs::path sweep_json = sweep_detail::plan_file(plan);
  const fs::path slurm_dir = plan.out_dir / kSlurmFolder;
  std::vector<std::size_t> all(plan.points.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  const std::string job_name =
      options.job_name.empty() ? "crest-" + plan.out_dir.filename().string() : options.job_name;

  std::ostringstream s;
  s << "#!/bin/bash\n"
    << "# Written by `crest sweep --launcher slurm`: one array task per point of\n"
    << "# " << sweep_json.string() << "; task i runs point i (skipped when finished, resumed\n"
    << "# when started). Resubmit some points with: sbatch --array=3,7 "
    << (slurm_dir / kSlurmScriptFile).string() << "\n"
    << "#SBATCH --job-name=" << job_name << "\n"
    << "#SBATCH --array=" << array_spec(all, options.max_parallel) << "\n"
    << "#SBATCH --output=" << (slurm_dir / kSlurmTaskOutputPattern).string() << "\n";
  if (!options.partition.empty()) s << "#SBATCH --partition=" << options.partition << "\n";
  if (!options.account.empty()) s << "#SBATCH --account=" << options.account << "\n";
  if (!options.time.empty()) s << "#SBATCH --time=" << options.time << "\n";
  if (!options.mem.empty()) s << "#SBATCH --mem=" << options.mem << "\n";
  if (options.gpus_per_task > 0) s << "#SBATCH --gpus-per-task=" << options.gpus_per_task << "\n";
  if (options.cpus_per_task > 0) s << "#SBATCH --cpus-per-task=" << options.cpus_per_task << "\n";
  if (options.tasks_per_point > 1) s << "#SBATCH --ntasks=" << options.tasks_per_point << "\n";
  for (const std::string& arg : options.sbatch_args) s << "#SBATCH " << arg << "\n";
  std::string launcher;
  if (options.tasks_per_point > 1) {
    // Data-parallel points (docs/distributed.md): one srun task per rank, the ranks from
    // SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID, the rendezvous on the job's first node; srun
    // ends every task when one fails.
    s << "# " << options.tasks_per_point
      << " ranks per point: rank 0 runs the point, the others train beside it\n"
      << "MASTER_ADDR=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1)\n"
      << "export MASTER_ADDR\n"
      << "export MASTER_PORT=$((20000 + SLURM_JOB_ID % 40000))\n";
    launcher = "srun --kill-on-bad-exit=1 ";
  }
  s << "exec " << launcher << sweep_detail::shell_quote(crest_executable_path) << " sweep --points "
    << sweep_detail::shell_quote(sweep_json.string()) << " --run-index \"$SLURM_ARRAY_TASK_ID\"\n";
  return s.str();
}

}  // namespace crest
