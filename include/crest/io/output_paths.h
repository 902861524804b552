// Where commands may write, and which names read back from files may be followed (#28, kind 1 in
// docs/reliability.md). A crest folder (a run, a pre-training or a sweep folder) belongs to crest:
// inside one, a command writes only into its own area (`crest export` into export/, `crest
// evaluate` into eval/, `crest report` its report.html, `crest predict` into predictions/), never
// through a symbolic link planted there, and never over the folder's own files.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace crest {

// Refuses a name read from a file that must be one entry of one folder (a sweep point's folder):
// InputError naming `where` and the value when it is empty, "." or "..", holds '/', '\\' or a
// NUL byte, or is absolute. Such a name can never lead outside the folder it is joined to.
void check_plain_name(const std::string& name, const std::string& where);

// Whether `dir` is a crest folder: it holds config.yaml, split_manifest.json, pretrain.json,
// sweep.json or .lock.
bool is_crest_folder(const std::filesystem::path& dir);

// The nearest crest folder at or above `path`, lexically (as written, made absolute) or after
// resolving symbolic links; empty when none. `resolved` chooses which.
std::filesystem::path enclosing_crest_folder(const std::filesystem::path& path, bool resolved);

// Creates `root / area` (a folder inside the crest folder `root` that a command writes into,
// e.g. "eval/gen_1-ema-test") and returns it. InputError naming the entry when a part of `area`
// exists as a symbolic link or as something other than a folder: crest does not write through
// links planted in its folders (they lead elsewhere). WriteError when it cannot be created.
std::filesystem::path make_output_folder(const std::filesystem::path& root,
                                         const std::filesystem::path& area);

// Checks an output file the user named with `option` (e.g. "--out") before anything is computed
// or written, and creates its missing parent folders. InputError (exit 2) naming the path when:
// - it is an existing folder, or a folder above it is a file;
// - it lies inside a crest folder (as written or after resolving links) outside the areas the
//   command may write there (`areas`, relative to that folder: "export", "report.html"), or
//   reaches one through a symbolic link inside that folder.
void check_output_file(const std::filesystem::path& file, const std::string& option,
                       const std::vector<std::string>& areas);

// Checks a folder the user named with `option` for a command that fills it (e.g. `crest data
// synth --out`): InputError when it is a crest folder or lies inside one, even with --force.
void check_output_folder_outside_crest(const std::filesystem::path& dir, const std::string& option);

}  // namespace crest
