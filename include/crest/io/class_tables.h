// The per-class CSV files of a generation (RUN/gen_K/): the labeled set it trained on
// (labeled_distribution.csv), the EMA model's per-class figures on the test set (per_class.csv)
// and its confusion matrix (confusion.csv). Rows list classes 0, 1, ... in order, so index c of
// every vector is class c; names are quoted as RFC 4180 says when they need it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace crest {

// labeled_distribution.csv: `class,name,labeled,pseudo_labeled,total`.
struct LabeledDistribution {
  std::vector<std::string> names;
  std::vector<std::int64_t> labeled;         // of the original labeled set (N_l per class)
  std::vector<std::int64_t> pseudo_labeled;  // carried over from the previous selection
  std::vector<std::int64_t> total;           // labeled + pseudo_labeled
};

// per_class.csv: `class,name,precision,recall,f1,support,predicted` (ratios as %.6f; an undefined
// ratio, NaN in memory, is an empty field: the precision of a class never predicted, the recall
// of a class without test images). Built from an Evaluation by per_class_table()
// (metrics/metrics.h), which states the conventions.
struct PerClassTable {
  std::vector<std::string> names;
  std::vector<double> precision;
  std::vector<double> recall;
  std::vector<double> f1;
  std::vector<std::int64_t> support;    // true examples of the class
  std::vector<std::int64_t> predicted;  // examples predicted as the class
};

// confusion.csv: `true\predicted,<name0>,<name1>,...`, then one row per true class starting with
// its name. counts[t][p]: examples of true class t predicted as p.
struct ConfusionTable {
  std::vector<std::string> names;
  std::vector<std::vector<std::int64_t>> counts;
};

// Writers, atomic. Throw InputError naming the file when the vectors do not have one entry per
// name (write_per_class_csv, write_labeled_distribution_csv) or the matrix is not
// [names x names] (write_confusion_csv).
void write_labeled_distribution_csv(const std::filesystem::path& file,
                                    const LabeledDistribution& table);
void write_per_class_csv(const std::filesystem::path& file, const PerClassTable& table);
void write_confusion_csv(const std::filesystem::path& file, const ConfusionTable& table);

// Readers. Throw DataError naming FILE:LINE when a column is absent, a field is not a number, the
// rows are not classes 0, 1, ... in order, or a confusion matrix is not square.
LabeledDistribution read_labeled_distribution_csv(const std::filesystem::path& file);
PerClassTable read_per_class_csv(const std::filesystem::path& file);
ConfusionTable read_confusion_csv(const std::filesystem::path& file);

}  // namespace crest
