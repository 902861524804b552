// CSV as crest writes it (RFC 4180: a field holding a comma, a quote or a line break is quoted,
// quotes doubled) and the one reader of it, whose errors name the file and the line.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "crest/util/text_escape.h"

namespace crest {

// csv_field (util/text_escape.h) quotes a field as RFC 4180 says.

// A ratio or figure as crest's CSV files hold it: "%.6f"; "" for NaN or infinity (a figure that
// is not defined, e.g. the selection precision of a run that selects nothing).
std::string csv_number(double value);

// A parsed CSV file: its header, its records and the line each record starts on (1-based; a
// quoted field may span lines). Blank lines are not records.
struct CsvTable {
  std::filesystem::path file;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int> lines;

  // "FILE:LINE" of a record, for messages.
  std::string where(std::size_t row) const;

  // The index of a header column; DataError "FILE:1: no column 'NAME' ..." when absent.
  std::size_t column(const std::string& name) const;
  // The same, or header.size() when the column is absent (older files may lack it).
  std::size_t find_column(const std::string& name) const;
  bool has_column(const std::string& name) const { return find_column(name) < header.size(); }

  // The number in (row, col). An empty field is NaN when `optional`, else (like text that is not
  // a number) a DataError naming FILE:LINE, the column and the text.
  double number(std::size_t row, std::size_t col, bool optional = false) const;
  // A whole number (|value| <= 9e15); DataError as number().
  std::int64_t integer(std::size_t row, std::size_t col) const;
};

// Parses CSV `text`; `file` names it in errors. Throws DataError naming FILE:LINE when a quoted
// field is never closed, a record has another number of fields than the header, or the text is
// empty (no header).
CsvTable parse_csv(const std::string& text, const std::filesystem::path& file);

// Reads and parses a CSV file (DataError as parse_csv, or when it cannot be read).
CsvTable read_csv(const std::filesystem::path& file);

}  // namespace crest
