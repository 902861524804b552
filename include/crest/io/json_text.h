// The one way crest serialises JSON: nlohmann-json's dump, which escapes every string (quotes,
// backslashes, control characters), with invalid UTF-8 replaced by U+FFFD instead of throwing
// (a file name or path of arbitrary bytes must not turn a write into a crash). Build JSON as
// nlohmann::json values, never by concatenating strings.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace crest {

// `j` as text: compact for indent < 0, else pretty with `indent` spaces; no final newline.
std::string json_text(const nlohmann::json& j, int indent = -1);

}  // namespace crest
