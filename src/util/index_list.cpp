#include "crest/util/index_list.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "crest/util/error.h"

namespace crest {

std::vector<std::size_t> parse_index_list(const std::string& text, std::size_t count,
                                          const std::string& what) {
  std::set<std::size_t> indices;
  std::stringstream split(text);
  const auto bad = [&](const std::string& why) {
    return InputError(what + " " + text + ": " + why + " (e.g. 0-3,7)");
  };
  const auto number = [&](const std::string& s) -> std::size_t {
    if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) {
      throw bad("'" + s + "' is not an index");
    }
    const std::size_t value = std::stoul(s);
    if (value >= count) {
      throw bad(s + " is past the last point, " + std::to_string(count - 1));
    }
    return value;
  };
  for (std::string item; std::getline(split, item, ',');) {
    const auto dash = item.find('-');
    if (dash == std::string::npos) {
      indices.insert(number(item));
      continue;
    }
    const std::size_t first = number(item.substr(0, dash));
    const std::size_t last = number(item.substr(dash + 1));
    if (last < first) throw bad("the range " + item + " runs backwards");
    for (std::size_t i = first; i <= last; ++i) indices.insert(i);
  }
  if (indices.empty()) throw bad("no index given");
  return {indices.begin(), indices.end()};
}

std::string index_list_text(std::vector<std::size_t> indices) {
  std::sort(indices.begin(), indices.end());
  indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
  std::string text;
  for (std::size_t i = 0; i < indices.size();) {
    std::size_t j = i;
    while (j + 1 < indices.size() && indices[j + 1] == indices[j] + 1) ++j;
    if (!text.empty()) text += ",";
    text += std::to_string(indices[i]);
    if (j > i) text += (j == i + 1 ? "," : "-") + std::to_string(indices[j]);
    i = j + 1;
  }
  return text;
}

}  // namespace crest
