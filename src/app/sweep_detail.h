// Private to `crest sweep` (src/app/sweep*.cpp): the helpers its launchers share.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "crest/app/sweep.h"

namespace crest::sweep_detail {

// OUT/sweep.json of a plan.
std::string plan_file(const SweepPlan& plan);

// `text` quoted for a POSIX shell when it needs quoting.
std::string shell_quote(const std::string& text);

// A command line for people: the program and its arguments, shell-quoted.
std::string command_text(const std::string& program, const std::vector<std::string>& args);

// The path of the running crest executable (what the points and the job script run).
std::string crest_executable();

// Starts `program` (argv[0] = `name`) with its output appended to the two files; with
// `own_group`, in a process group of its own. Returns its pid; throws std::runtime_error.
pid_t spawn(const std::string& program, const std::string& name,
            const std::vector<std::string>& args, const std::filesystem::path& stdout_file,
            const std::filesystem::path& stderr_file, bool own_group = false);

// "exit N" or "killed by signal S": a waitpid status for people.
std::string describe_status(int status);

// Writes the job script and submits it (or, with --dry-run, prints the sbatch command).
void run_slurm(const SweepPlan& plan, const std::vector<std::size_t>& selected,
               const SweepOptions& options, std::ostream& out);

}  // namespace crest::sweep_detail
