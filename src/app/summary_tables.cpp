// `crest summarize`'s output (app/summarize.h): the Markdown and CSV tables of a Summary and the
// command that prints them. src/app/summarize.cpp reads the run folders and groups them.
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <tuple>
#include <utility>

#include "crest/app/summarize.h"
#include "crest/config/choices.h"
#include "crest/io/csv.h"
#include "crest/util/error.h"
#include "crest/util/index_list.h"
#include "crest/util/text_escape.h"
#include "summary_detail.h"

namespace crest {

using summary_detail::kAsIsBeta;

namespace {

// --format.
enum class Format { kMarkdown, kCsv };

const char* format_name(Format format) {
  switch (format) {
    case Format::kMarkdown:
      return "md";
    case Format::kCsv:
      return "csv";
  }
  return nullptr;
}

std::string method_label(CrestMode mode) {
  switch (mode) {
    case CrestMode::kFixMatch:
      return "FixMatch";
    case CrestMode::kCrest:
      return "CReST";
    case CrestMode::kCrestPlus:
      return "CReST+";
  }
  return to_string(mode);
}

std::string format(const char* pattern, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), pattern, value);
  return buffer;
}

// "10%", or "as is".
std::string beta_text(double beta) {
  return beta == kAsIsBeta ? "as is" : format("%g", 100.0 * beta) + "%";
}

// Folds are >= 0 (data.fold's rule), so Slurm's array syntax writes them: "1-5", "1,3".
std::string folds_text(const std::vector<std::int64_t>& folds) {
  return index_list_text(std::vector<std::size_t>(folds.begin(), folds.end()));
}

// "77.7 (1.22)": percent, mean with one decimal and std with two; "n/a" for what is undefined.
std::string percent_cell(const MeanStd& value) {
  if (value.n == 0 || std::isnan(value.mean)) return "n/a";
  return format("%.1f", 100.0 * value.mean) + " (" +
         (std::isnan(value.std) ? std::string("n/a") : format("%.2f", 100.0 * value.std)) + ")";
}

std::string number_field(double value, const char* pattern) {
  return std::isnan(value) ? std::string() : format(pattern, value);
}

// Names joined by ';' inside one CSV field: a ';' or '\' within a name is escaped with '\'.
std::string name_list_item(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (c == ';' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// "CReST+", or with the variant "CReST+ (MixMatch, logit_adjusted)"; a learner other than
// FixMatch without self-training is named alone, with what else varies: "ACR", "SeMi (gamma_u 1)";
// so is one whose generations pseudo-label by nearest neighbours, which are not CReST's:
// "DML-PL (knn selection, warm start)", "+ CReST+ alignment" under crest.mode crest+.
std::string group_method(const SummaryGroup& g) {
  const bool knn = g.variant.find("knn selection") != std::string::npos;
  if ((g.method == CrestMode::kFixMatch || knn) && !g.learner.empty()) {
    std::string rest = g.variant.size() > g.learner.size() + 2
                           ? g.variant.substr(g.learner.size() + 2)
                           : std::string();
    if (knn && g.method == CrestMode::kCrestPlus) {
      rest += (rest.empty() ? "" : ", ") + std::string("CReST+ alignment");
    }
    return g.learner + (rest.empty() ? "" : " (" + rest + ")");
  }
  return method_label(g.method) + (g.variant.empty() ? "" : " (" + g.variant + ")");
}

std::string group_title(const SummaryGroup& g) {
  return g.dataset + ", beta " + beta_text(g.beta) + ", gamma " + format("%g", g.gamma) + ", " +
         group_method(g);
}

// One row of the main table: a group's counts and figures.
std::string markdown_group_row(const SummaryGroup& g) {
  std::string per_class;
  for (std::size_t i = 0; i < g.minority_class_recall.size(); ++i) {
    if (!per_class.empty()) per_class += ", ";
    per_class +=
        markdown_cell(g.minority_names[i]) + " " + percent_cell(g.minority_class_recall[i]);
  }
  std::string n = std::to_string(g.folds.size());
  if (g.excluded > 0) n += " (+" + std::to_string(g.excluded) + " left out)";
  return "| " + markdown_cell(g.dataset) + " | " + beta_text(g.beta) + " | " +
         format("%g", g.gamma) + " | " + markdown_cell(group_method(g)) + " | " + n + " | " +
         (g.folds.empty() ? "-" : folds_text(g.folds)) + " | " + percent_cell(g.final_accuracy) +
         " | " + percent_cell(g.final_accuracy_median_20) + " | " + percent_cell(g.best_accuracy) +
         " | " + percent_cell(g.minority_recall) + " | " + (per_class.empty() ? "-" : per_class) +
         " |\n";
}

// The paper's Table 1 layout for the groups of one dataset and beta: methods down (in the
// groups' order), gamma across, final accuracy in the cells.
std::string markdown_table1(const std::string& dataset, double beta,
                            const std::vector<const SummaryGroup*>& members) {
  std::set<double> gammas;
  std::vector<std::string> methods;
  for (const SummaryGroup* g : members) {
    gammas.insert(g->gamma);
    const std::string label = group_method(*g);
    if (std::find(methods.begin(), methods.end(), label) == methods.end()) {
      methods.push_back(label);
    }
  }
  std::ostringstream out;
  out << "\nFinal accuracy, " << markdown_cell(dataset) << ", beta = " << beta_text(beta)
      << " (Table 1 layout):\n\n| method |";
  for (double gamma : gammas) out << " gamma = " << format("%g", gamma) << " |";
  out << "\n|---|";
  for (std::size_t i = 0; i < gammas.size(); ++i) out << "---|";
  out << "\n";
  for (const std::string& method : methods) {
    out << "| " << markdown_cell(method) << " |";
    for (double gamma : gammas) {
      std::string cell;
      for (const SummaryGroup* g : members) {
        if (group_method(*g) == method && g->gamma == gamma) {
          cell = percent_cell(g->final_accuracy);
        }
      }
      out << " " << cell << " |";
    }
    out << "\n";
  }
  return out.str();
}

// The groups' notes and the runs left out of the averages, as Markdown lists.
std::string markdown_notes(const Summary& summary) {
  std::ostringstream out;
  bool any_notes = false;
  for (const SummaryGroup& g : summary.groups) {
    for (const std::string& note : g.notes) {
      if (!any_notes) out << "\nNotes:\n\n";
      any_notes = true;
      out << "- " << markdown_cell(group_title(g)) << ": " << markdown_cell(note) << "\n";
    }
  }
  if (!summary.skipped.empty()) {
    out << "\nNot averaged in (" << summary.skipped.size() << "):\n\n";
    for (const SkippedRun& s : summary.skipped) {
      out << "- " << markdown_cell(s.path) << ": " << markdown_cell(s.reason) << "\n";
    }
  }
  return out.str();
}

}  // namespace

std::string summary_markdown(const Summary& summary) {
  std::ostringstream out;
  out << "Top-1 accuracy and recall on the test set, in percent: mean (std) over the runs of\n"
         "each group (one run per fold); std = sample standard deviation (n - 1); n/a = undefined\n"
         "(the std of fewer than 2 runs, the recall of a class without test images). final = the\n"
         "last generation; selected = the generation selected on validation (crest.select_on "
         "val),\n"
         "the last one (as final) in runs without a validation split;\n"
         "minority recall = the final generation's recall of the minority classes (their mean,\n"
         "then each class).\n\n";
  out << "| dataset | beta | gamma | method | n | folds | final acc | final acc, median of last "
         "20 | selected acc | minority recall | minority recall per class |\n";
  out << "|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const SummaryGroup& g : summary.groups) out << markdown_group_row(g);

  // The paper's Table 1 layout: one table per dataset and beta.
  std::map<std::pair<std::string, double>, std::vector<const SummaryGroup*>> tables;
  for (const SummaryGroup& g : summary.groups) tables[{g.dataset, g.beta}].push_back(&g);
  for (const auto& [dataset_beta, members] : tables) {
    out << markdown_table1(dataset_beta.first, dataset_beta.second, members);
  }
  out << markdown_notes(summary);
  return out.str();
}

std::string summary_csv(const Summary& summary) {
  std::ostringstream out;
  out << "dataset,method,imbalance_ratio,label_fraction,n,excluded,folds,"
         "final_accuracy_mean_pct,final_accuracy_std_pct,selected_accuracy_mean_pct,"
         "selected_accuracy_std_pct,minority_recall_mean_pct,minority_recall_std_pct,"
         "minority_classes,minority_class_names,minority_class_recall_mean_pct,"
         "minority_class_recall_std_pct,final_accuracy_median_20_mean_pct,"
         "final_accuracy_median_20_std_pct,variant\n";
  const auto pct = [](double v) { return number_field(100.0 * v, "%.4f"); };
  for (const SummaryGroup& g : summary.groups) {
    std::string folds, classes, names, means, stds;
    for (std::size_t i = 0; i < g.folds.size(); ++i) {
      folds += (i ? ";" : "") + std::to_string(g.folds[i]);
    }
    for (std::size_t i = 0; i < g.minority_class_recall.size(); ++i) {
      const char* sep = i ? ";" : "";
      classes += sep + std::to_string(g.minority_classes[i]);
      names += sep + name_list_item(g.minority_names[i]);
      means += sep + pct(g.minority_class_recall[i].mean);
      stds += sep + pct(g.minority_class_recall[i].std);
    }
    out << csv_field(g.dataset) << "," << to_string(g.method) << "," << format("%g", g.gamma) << ","
        << (g.beta == kAsIsBeta ? std::string("as_is") : format("%g", g.beta)) << ","
        << g.folds.size() << "," << g.excluded << "," << folds << "," << pct(g.final_accuracy.mean)
        << "," << pct(g.final_accuracy.std) << "," << pct(g.best_accuracy.mean) << ","
        << pct(g.best_accuracy.std) << "," << pct(g.minority_recall.mean) << ","
        << pct(g.minority_recall.std) << "," << classes << "," << csv_field(names) << "," << means
        << "," << stds << "," << pct(g.final_accuracy_median_20.mean) << ","
        << pct(g.final_accuracy_median_20.std) << "," << csv_field(g.variant) << "\n";
  }
  return out.str();
}

void summarize(const SummarizeOptions& options, std::ostream& out) {
  const std::optional<Format> format = value_named(options.format, format_name);
  if (!format) {
    throw InputError("summarize: --format must be " + or_list(names_of(format_name)) + ", got '" +
                     options.format + "'");
  }
  const Summary summary = summarize_runs(options.paths);
  switch (*format) {
    case Format::kMarkdown:
      out << summary_markdown(summary);
      break;
    case Format::kCsv:
      out << summary_csv(summary);
      for (const SummaryGroup& g : summary.groups) {
        for (const std::string& note : g.notes) {
          spdlog::warn("{}: {}", visible_text(group_title(g)), visible_text(note));
        }
      }
      for (const SkippedRun& s : summary.skipped) {
        spdlog::warn("not averaged in: {}: {}", visible_text(s.path), visible_text(s.reason));
      }
      break;
  }
  out.flush();
}

}  // namespace crest
