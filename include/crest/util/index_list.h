// Index lists in Slurm's --array syntax ("0-3,7,9-10"), shared by `crest sweep` (which points to
// run or submit) and `crest summarize` (which folds a group averages).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace crest {

// "0-3,7,9-10" -> {0, 1, 2, 3, 7, 9, 10}, sorted and without repeats, each < count. Throws
// InputError "WHAT TEXT: why (e.g. 0-3,7)" otherwise.
std::vector<std::size_t> parse_index_list(const std::string& text, std::size_t count,
                                          const std::string& what);

// The inverse: sorted indices with runs of three or more as ranges ({0, 1, 2, 5, 6} ->
// "0-2,5,6").
std::string index_list_text(std::vector<std::size_t> indices);

}  // namespace crest
