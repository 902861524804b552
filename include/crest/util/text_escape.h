// Text that a user controls (class names from folder names, run and sweep point names, config
// values, file paths) made safe for the format it is embedded in: one function per format.
// Every writer that embeds such a string goes through one of them (docs/reliability.md, #28):
//   - visible_text: log and console lines, error messages;
//   - markdown_cell: a cell of a Markdown (GFM) table or inline Markdown text;
//   - csv_field: a CSV field (RFC 4180);
//   - html_text: HTML and SVG text and attribute values (double- or single-quoted);
//   - tensorboard_tag_part: one component of a TensorBoard tag;
//   - JSON needs nothing here: nlohmann-json escapes its strings (invalid UTF-8 is replaced,
//     see io/json_fields.h dump_json).
// "Visible" means: printable ASCII and valid UTF-8 are kept; a newline, carriage return and tab
// become \n, \r and \t; other control characters (C0, DEL, C1) and the Unicode line/paragraph
// separators and bidirectional overrides become \xNN or \u{XXXX}; a byte that is not part of valid
// UTF-8 becomes \xNN. The visible forms are for people and not reversible (a literal backslash
// stays as it is); CSV and JSON keep the bytes exactly.
#pragma once

#include <string>
#include <string_view>

namespace crest {

// Whether `text` is valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view text);

// `text` on one line with every control character and invalid byte made visible (see above).
std::string visible_text(std::string_view text);

// `text` for a Markdown table cell or inline Markdown: visible_text, then the characters Markdown
// would read as syntax or raw HTML (\ ` * _ [ ] < > | ~ &) escaped with a backslash, so the cell
// renders as the literal text and a table row keeps its column count.
std::string markdown_cell(std::string_view text);

// `text` as one CSV field (RFC 4180): quoted when it holds a comma, a double quote or a line
// break (CR or LF), with quotes inside doubled; unchanged otherwise. Bytes are kept exactly.
std::string csv_field(std::string_view text);

// `text` for HTML or SVG (XML) text or a quoted attribute value: & < > " ' as entities, and
// control characters and invalid bytes made visible as visible_text does (XML 1.0 forbids most
// control characters).
std::string html_text(std::string_view text);

// `text` as one component of a TensorBoard tag (the part between two '/'): every character
// outside [A-Za-z0-9_.-] (including '/', spaces and every non-ASCII byte) becomes '_', as
// TensorBoard's own tag check allows; "" becomes "_".
std::string tensorboard_tag_part(std::string_view text);

// `text` as one word of a POSIX shell command line: unchanged when it holds only
// [A-Za-z0-9._+=,/:@%-] (and is not empty), else in single quotes with each ' written '\''.
std::string shell_word(std::string_view text);

}  // namespace crest
