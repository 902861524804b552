#include "crest/io/class_tables.h"

#include <string>

#include "crest/io/csv.h"
#include "crest/io/file.h"
#include "crest/util/error.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

void check_names(const char* who, std::size_t names, std::size_t classes, const fs::path& file) {
  if (names != classes) {
    throw InputError(std::string(who) + ": " + std::to_string(names) + " class names for " +
                     std::to_string(classes) + " classes (" + file.string() + ")");
  }
}

// Rows must list classes 0, 1, ... in order (the writers do), so index c is class c.
void check_class_column(const CsvTable& table) {
  const std::size_t col = table.column("class");
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    if (table.integer(r, col) != static_cast<std::int64_t>(r)) {
      throw DataError(table.where(r) + ": expected class " + std::to_string(r) + ", found '" +
                      table.rows[r][col] + "'");
    }
  }
}

}  // namespace

void write_labeled_distribution_csv(const fs::path& file, const LabeledDistribution& table) {
  const std::size_t c = table.labeled.size();
  if (table.pseudo_labeled.size() != c || table.total.size() != c) {
    throw InputError("write_labeled_distribution_csv: the per-class vectors differ in size");
  }
  check_names("write_labeled_distribution_csv", table.names.size(), c, file);
  std::string out = "class,name,labeled,pseudo_labeled,total\n";
  for (std::size_t k = 0; k < c; ++k) {
    out += std::to_string(k) + ',' + csv_field(table.names[k]) + ',' +
           std::to_string(table.labeled[k]) + ',' + std::to_string(table.pseudo_labeled[k]) + ',' +
           std::to_string(table.total[k]) + '\n';
  }
  write_file_atomic(file, out);
}

void write_per_class_csv(const fs::path& file, const PerClassTable& m) {
  const std::size_t c = m.precision.size();
  if (m.recall.size() != c || m.f1.size() != c || m.support.size() != c ||
      m.predicted.size() != c) {
    throw InputError("write_per_class_csv: the per-class vectors of the evaluation differ in size");
  }
  check_names("write_per_class_csv", m.names.size(), c, file);
  std::string out = "class,name,precision,recall,f1,support,predicted\n";
  for (std::size_t k = 0; k < c; ++k) {
    out += std::to_string(k) + ',' + csv_field(m.names[k]) + ',' + csv_number(m.precision[k]) +
           ',' + csv_number(m.recall[k]) + ',' + csv_number(m.f1[k]) + ',' +
           std::to_string(m.support[k]) + ',' + std::to_string(m.predicted[k]) + '\n';
  }
  write_file_atomic(file, out);
}

void write_confusion_csv(const fs::path& file, const ConfusionTable& table) {
  const std::size_t c = table.counts.size();
  for (const auto& row : table.counts) {
    if (row.size() != c) {
      throw InputError(
          "write_confusion_csv: the confusion matrix must be square [C, C], got a "
          "row of " +
          std::to_string(row.size()) + " for " + std::to_string(c) + " rows (" + file.string() +
          ")");
    }
  }
  check_names("write_confusion_csv", table.names.size(), c, file);
  std::string out = "true\\predicted";
  for (const auto& name : table.names) out += ',' + csv_field(name);
  out += '\n';
  for (std::size_t t = 0; t < c; ++t) {
    out += csv_field(table.names[t]);
    for (std::size_t p = 0; p < c; ++p) out += ',' + std::to_string(table.counts[t][p]);
    out += '\n';
  }
  write_file_atomic(file, out);
}

LabeledDistribution read_labeled_distribution_csv(const fs::path& file) {
  const CsvTable t = read_csv(file);
  check_class_column(t);
  const std::size_t name = t.column("name"), labeled = t.column("labeled"),
                    pseudo = t.column("pseudo_labeled"), total = t.column("total");
  LabeledDistribution d;
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    d.names.push_back(t.rows[r][name]);
    d.labeled.push_back(t.integer(r, labeled));
    d.pseudo_labeled.push_back(t.integer(r, pseudo));
    d.total.push_back(t.integer(r, total));
  }
  return d;
}

PerClassTable read_per_class_csv(const fs::path& file) {
  const CsvTable t = read_csv(file);
  check_class_column(t);
  const std::size_t name = t.column("name"), precision = t.column("precision"),
                    recall = t.column("recall"), f1 = t.column("f1"), support = t.column("support"),
                    predicted = t.column("predicted");
  PerClassTable m;
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    m.names.push_back(t.rows[r][name]);
    // An empty field is an undefined figure (metrics/metrics.h): NaN.
    m.precision.push_back(t.number(r, precision, /*optional=*/true));
    m.recall.push_back(t.number(r, recall, /*optional=*/true));
    m.f1.push_back(t.number(r, f1, /*optional=*/true));
    m.support.push_back(t.integer(r, support));
    m.predicted.push_back(t.integer(r, predicted));
  }
  return m;
}

ConfusionTable read_confusion_csv(const fs::path& file) {
  const CsvTable t = read_csv(file);
  ConfusionTable m;
  m.names.assign(t.header.begin() + 1, t.header.end());
  if (t.rows.size() != m.names.size()) {
    throw DataError(file.string() + ": " + std::to_string(t.rows.size()) + " rows for " +
                    std::to_string(m.names.size()) + " classes; a confusion matrix is square");
  }
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    std::vector<std::int64_t> row;
    for (std::size_t c = 1; c < t.header.size(); ++c) row.push_back(t.integer(r, c));
    m.counts.push_back(row);
  }
  return m;
}

}  // namespace crest
