// Config files that build on another (src/config/config_base.cpp).
//
// A top-level `base: PATH` in a config file (PATH relative to the folder of the file that names
// it, or absolute) makes load_config_file (config.h) read PATH first and the file over it; a
// base may have a base of its own. Merge rule: the file's keys override its base's; mappings
// (sections) merge key by key; anything else, a list included, replaces the base's value as a
// whole; an empty section keeps the base's keys. Each file's own keys are checked on their own,
// so an error names the file (and line) that holds the bad key. The result is one Config: what
// print-config prints and what a run saves as RUN/config.yaml, with no `base` left in it.
// ConfigError (exit 2) naming the files for: a base that is missing, a folder or unreadable; a
// base that is not a mapping or holds a bad key; a `base` that is not a non-empty string; a
// cycle; a chain of more than kMaxConfigBases files. `base` is not a key of --set.
#pragma once

#include <string>

namespace crest {

// The most files one base chain may hold, the file itself included.
constexpr int kMaxConfigBases = 16;

// Whether the config file at `path` or one of its bases gives `key` (a dotted path such as
// "data.protocol"). Errors as load_config_file.
bool config_file_gives(const std::string& path, const std::string& key);

}  // namespace crest
