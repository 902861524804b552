#include "crest/io/csv.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "crest/io/file.h"
#include "crest/util/error.h"

namespace crest {

namespace fs = std::filesystem;

std::string csv_number(double value) {
  if (!std::isfinite(value)) return "";
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.6f", value);
  return buffer;
}

std::string CsvTable::where(std::size_t row) const {
  return file.string() + ":" + std::to_string(lines[row]);
}

std::size_t CsvTable::find_column(const std::string& name) const {
  return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) - header.begin());
}

std::size_t CsvTable::column(const std::string& name) const {
  const std::size_t col = find_column(name);
  if (col == header.size()) {
    throw DataError(file.string() + ":1: no column '" + name +
                    "' in the header; is this a file of a crest run?");
  }
  return col;
}

double CsvTable::number(std::size_t row, std::size_t col, bool optional) const {
  const std::string& text = rows[row][col];
  if (text.empty() && optional) return std::numeric_limits<double>::quiet_NaN();
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE ||
      !std::isfinite(value)) {
    // crest writes an undefined figure as an empty field, never as nan or inf.
    throw DataError(where(row) + ": column '" + header[col] + "' is '" + text + "', not a number");
  }
  return value;
}

std::int64_t CsvTable::integer(std::size_t row, std::size_t col) const {
  const double value = number(row, col);
  if (value != std::floor(value) || std::abs(value) > 9e15) {
    throw DataError(where(row) + ": column '" + header[col] + "' is '" + rows[row][col] +
                    "', not a whole number");
  }
  return static_cast<std::int64_t>(value);
}

namespace {

// Splits `text` into records of fields, with the line each record starts on.
struct CsvRecords {
  std::vector<std::vector<std::string>> records;
  std::vector<int> starts;
};

CsvRecords split_records(const std::string& text, const fs::path& file) {
  CsvRecords out;
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false;
  bool in_record = false;
  int line = 1;
  int start = 1;
  auto end_record = [&]() {
    fields.push_back(field);
    field.clear();
    // A blank line is not a record.
    if (!(fields.size() == 1 && fields[0].empty())) {
      out.records.push_back(fields);
      out.starts.push_back(start);
    }
    fields.clear();
    in_record = false;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!in_record) {
      in_record = true;
      start = line;
    }
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        if (c == '\n') ++line;
        field += c;
      }
    } else if (c == '"' && field.empty()) {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(field);
      field.clear();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_record();
      ++line;
    } else {
      field += c;
    }
  }
  if (quoted) {
    throw DataError(file.string() + ":" + std::to_string(start) +
                    ": a quoted field is never closed (the file is damaged or cut off)");
  }
  if (in_record) end_record();
  return out;
}

}  // namespace

CsvTable parse_csv(const std::string& text, const fs::path& file) {
  const CsvRecords parsed = split_records(text, file);
  if (parsed.records.empty()) {
    throw DataError(file.string() +
                    ":1: the file is empty, expected a header; crest never writes it so: it was "
                    "cut off or emptied (for a run folder file: start a new run folder, or move "
                    "the generation's folder away to redo it)");
  }
  CsvTable table;
  table.file = file;
  table.header = parsed.records.front();
  for (std::size_t r = 1; r < parsed.records.size(); ++r) {
    if (parsed.records[r].size() != table.header.size()) {
      throw DataError(file.string() + ":" + std::to_string(parsed.starts[r]) + ": " +
                      std::to_string(parsed.records[r].size()) + " fields, the header has " +
                      std::to_string(table.header.size()) +
                      "; the file was edited or damaged (for a run folder file: start a new run "
                      "folder, or move the generation's folder away to redo it)");
    }
    table.rows.push_back(parsed.records[r]);
    table.lines.push_back(parsed.starts[r]);
  }
  return table;
}

CsvTable read_csv(const fs::path& file) { return parse_csv(read_file(file), file); }

}  // namespace crest
