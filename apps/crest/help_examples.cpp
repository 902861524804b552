#include "help_examples.h"

#include <map>
#include <string>
#include <vector>

namespace crest_cli {

namespace {

// Per subcommand path ("train", "data synth"), one or two command lines that work as written
// from the repository root (the run folder runs/quick is what the train example writes).
const std::map<std::string, std::vector<std::string>>& examples() {
  static const std::map<std::string, std::vector<std::string>> kExamples = {
      {"print-config",
       {"crest print-config --config configs/cifar10lt.yaml --set data.fold=2",
        "crest print-config --defaults"}},
      {"train",
       {"crest train --out runs/quick",
        "crest train --config configs/cifar10lt.yaml --set data.root=data/cifar-10-batches-bin "
        "--out runs/c10lt"}},
      {"pretrain",
       {"crest pretrain --config configs/cifar10lt-cpu-crestplus.yaml --out runs/pretrain"}},
      {"bench", {"crest bench --steps 20 --warmup 5", "crest bench --device cuda --json"}},
      {"data", {"crest data synth --out data/synth", "crest data prepare --out runs/split"}},
      {"data prepare",
       {"crest data prepare --out runs/split",
        "crest data prepare --config configs/cifar10lt.yaml --set data.fold=2 --json"}},
      {"data synth",
       {"crest data synth --out data/synth --classes 10 --train-per-class 500",
        "crest data synth --out data/folders --format folder --imbalance-ratio 10 "
        "--unlabeled-per-class 50"}},
      {"sweep",
       {"crest sweep --grid sweeps/table1.yaml --launcher local --dry-run",
        "crest sweep --grid sweeps/table1.yaml --launcher slurm --partition gpu --dry-run"}},
      {"summarize", {"crest summarize runs/table1", "crest summarize runs/table1 --format csv"}},
      {"report", {"crest report runs/quick", "crest report runs/quick --out quick.html"}},
      {"evaluate",
       {"crest evaluate runs/quick --generation last",
        "crest evaluate runs/quick --folder photos/test --logit-adjust"}},
      {"predict",
       {"crest predict runs/quick --folder photos/new --out predictions.csv",
        "crest predict runs/quick --image cat.png --top-k 3"}},
      {"export",
       {"crest export runs/quick --format safetensors",
        "crest export runs/quick --generation 0 --out gen0.pt"}},
  };
  return kExamples;
}

std::string footer(const std::vector<std::string>& lines) {
  std::string text = "Examples:";
  for (const auto& line : lines) text += "\n  " + line;
  return text;
}

void add_to(CLI::App* command, const std::string& path) {
  const auto it = examples().find(path);
  if (it != examples().end()) command->footer(footer(it->second));
  for (CLI::App* sub : command->get_subcommands({})) add_to(sub, path + " " + sub->get_name());
}

}  // namespace

void add_help_examples(CLI::App& app) {
  for (CLI::App* command : app.get_subcommands({})) add_to(command, command->get_name());
}

}  // namespace crest_cli
