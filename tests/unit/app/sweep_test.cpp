// crest sweep (grid parsing, naming, validation, plans, Slurm script) and crest summarize
// (grouping, mean and sample std, unfinished runs) on hand-written run folders.
#include "crest/app/sweep.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "crest/app/summarize.h"
#include "crest/config/config.h"
#include "crest/io/run_state.h"
#include "crest/util/error.h"
#include "crest/util/threads.h"
#include "test_util.h"

namespace crest {
namespace {

namespace fs = std::filesystem;

void write_text(const fs::path &file, const std::string &text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file) << text;
}

class SweepTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    write_text(dir_ / "base.yaml", "data:\n  dataset: synthetic\ncrest:\n  generations: 2\n");
  }

  SweepPlan parse(const std::string &grid) {
    return parse_grid("base: base.yaml\n" + grid, "g.yaml", dir_, (dir_ / "out").string());
  }
};

TEST_F(SweepTest, CrossesAxesFirstSlowestWithSetFirst) {
  const SweepPlan plan = parse(
      "grid:\n  data.imbalance_ratio: [50, 100]\n  "
      "crest.mode: [crest, crest+]\n"
      "set: {run.device: cpu}\n");
  EXPECT_EQ(plan.base, (dir_ / "base.yaml").string());
  EXPECT_EQ(plan.out_dir, dir_ / "out");
  EXPECT_EQ(plan.keys, (std::vector<std::string>{"data.imbalance_ratio", "crest.mode"}));
  ASSERT_EQ(plan.points.size(), 4u);
  EXPECT_EQ(plan.points[0].name, "imbalance_ratio=50,mode=crest");
  EXPECT_EQ(plan.points[1].name, "imbalance_ratio=50,mode=crest+");
  EXPECT_EQ(plan.points[2].name, "imbalance_ratio=100,mode=crest");
  EXPECT_EQ(plan.points[3].overrides,
            (std::vector<std::string>{"run.device=cpu", "data.imbalance_ratio=100",
                                      "crest.mode=crest+"}));
  EXPECT_EQ(plan.points[3].folder, dir_ / "out" / "imbalance_ratio=100,mode=crest+");
  EXPECT_EQ(plan.points[3].index, 3u);
}

TEST_F(SweepTest, NamedAxisBundlesOverrides) {
  const SweepPlan plan = parse(
      "grid:\n  method:\n    fixmatch: {crest.mode: fixmatch, "
      "crest.generations: 1}\n"
      "    crest+: {crest.mode: crest+}\n  data.fold: [1, 2]\n");
  ASSERT_EQ(plan.points.size(), 4u);
  EXPECT_EQ(plan.points[0].name, "method=fixmatch,fold=1");
  EXPECT_EQ(
      plan.points[0].overrides,
      (std::vector<std::string>{"crest.mode=fixmatch", "crest.generations=1", "data.fold=1"}));
  EXPECT_EQ(plan.points[3].overrides,
            (std::vector<std::string>{"crest.mode=crest+", "data.fold=2"}));
  EXPECT_EQ(resolve_config(plan.base, plan.points[0].overrides).crest.generations, 1);
  EXPECT_EQ(resolve_config(plan.base, plan.points[3].overrides).crest.generations, 2);
}

TEST_F(SweepTest, TableOneGridHasNinetyPoints) {
  const std::string grid = std::string(CREST_SOURCE_DIR) + "/sweeps/table1.yaml";
  const SweepPlan plan = load_grid(grid, (dir_ / "t1").string());
  ASSERT_EQ(plan.points.size(), 90u);
  std::set<std::string> names;
  for (const auto &p : plan.points) names.insert(p.name);
  EXPECT_EQ(names.size(), 90u);
  EXPECT_EQ(plan.points[0].name, "imbalance_ratio=50,label_fraction=0.1,method=fixmatch,fold=1");
  EXPECT_EQ(plan.points[89].name, "imbalance_ratio=200,label_fraction=0.3,method=crest+,fold=5");
  EXPECT_EQ(fs::path(plan.base).filename(), "cifar10lt.yaml");
}

TEST(SweepNameTest, LabelsSanitisingAndLength) {
  EXPECT_EQ(point_name({"crest.mode", "data.fold"}, {"crest+", "3"}), "mode=crest+,fold=3");
  // Two keys ending alike keep their whole key.
  EXPECT_EQ(point_name({"run.seed", "data.synthetic.seed", "data.fold"}, {"1", "2", "3"}),
            "run.seed=1,data.synthetic.seed=2,fold=3");
  EXPECT_EQ(point_name({"data.root"}, {"/data/cifar 10"}), "root=_data_cifar_10");
  const std::string long_name = point_name({"data.root"}, {std::string(300, 'x')});
  EXPECT_EQ(long_name.size(), 200u);
  EXPECT_NE(long_name, point_name({"data.root"}, {std::string(301, 'x')}));
}

TEST_F(SweepTest, TyposFailNamingFileLineAndKey) {
  expect_config_error([&] { parse("grid:\n  data.imbalnce_ratio: [50]\n"); },
                      {"g.yaml:3", "unknown key 'data.imbalnce_ratio'", "data.imbalance_ratio"});
  expect_config_error([&] { parse("grid:\n  data.fold: [1,\n    x]\n"); },
                      {"g.yaml:4", "data.fold", "'x'"});
  expect_config_error([&] { parse("grid:\n  data.label_fraction: [0.1, 1.5]\n"); },
                      {"g.yaml:3", "data.label_fraction", "1.5"});
  expect_config_error([&] { parse("grid:\n  data.fold: [1]\nsett: {}\n"); },
                      {"g.yaml:4", "unknown key 'sett'"});
  expect_config_error([&] { parse("grid:\n  data.fold: [1]\nset: {crest.mod: crest}\n"); },
                      {"g.yaml:4", "set", "unknown key 'crest.mod'"});
  expect_config_error([&] { parse("grid:\n  method: {a: {crest.mode: nope}}\n"); },
                      {"g.yaml:3", "method", "crest.mode", "nope"});
}

TEST_F(SweepTest, StructuralErrors) {
  expect_config_error([&] { parse("grid: {}\n"); }, {"g.yaml", "at least one key"});
  expect_config_error([&] { parse("grid:\n  data.fold: [1, 1]\n"); }, {"lists '1' twice"});
  expect_config_error([&] { parse("grid:\n  data.fold: []\n"); }, {"must list its values"});
  expect_config_error([&] { parse("grid:\n  run.out_dir: [a, b]\n"); },
                      {"run.out_dir is chosen by the sweep"});
  expect_config_error([&] { parse("grid:\n  data.fold: [1]\nset: {data.fold: 2}\n"); },
                      {"data.fold is both in grid and in set"});
  expect_config_error([&] { parse("grid:\n  data.fold: [1]\n  m: {a: {data.fold: 2}}\n"); },
                      {"data.fold is set by two grid axes"});
  expect_config_error(
      [&] { parse_grid("base: missing.yaml\ngrid: {data.fold: [1]}\n", "g.yaml", dir_, "o"); },
      {"g.yaml: base", "missing.yaml"});
  // Each value is valid alone; the combination breaks a rule that involves two keys.
  expect_config_error(
      [&] {
        parse(
            "grid:\n  data.dataset: [synthetic, cifar10]\n  data.image_size: "
            "[32, 28]\n");
      },
      {"g.yaml: point 3 'dataset=cifar10,image_size=28'", "data.image_size must be 32"});
  // Values that differ only in characters replaced in folder names.
  expect_config_error([&] { parse("grid:\n  data.root: [a/b, a_b]\n"); },
                      {"points 0 and 1 get the same folder name 'root=a_b'"});
}

TEST_F(SweepTest, PlanIsWrittenOnceAndChecked) {
  const SweepPlan plan = parse("grid:\n  data.fold: [1, 2]\n");
  write_or_check_plan(plan);
  const SweepPlan back = read_plan(dir_ / "out" / "sweep.json");
  EXPECT_EQ(back.base, plan.base);
  ASSERT_EQ(back.points.size(), 2u);
  EXPECT_EQ(back.points[1].name, plan.points[1].name);
  EXPECT_EQ(back.points[1].overrides, plan.points[1].overrides);
  EXPECT_EQ(back.points[1].folder, plan.points[1].folder);
  write_or_check_plan(plan);  // the same grid again: fine

  const SweepPlan changed = parse("grid:\n  data.fold: [1, 2, 3]\n");
  expect_input_error([&] { write_or_check_plan(changed); },
                     {"sweep.json was written for another grid", "2 points there, 3 now"});
  const SweepPlan other = parse("grid:\n  data.fold: [1, 3]\n");
  expect_input_error([&] { write_or_check_plan(other); }, {"point 1 is 'fold=2' there"});
  write_text(dir_ / "bad.json", "{}");
  expect_input_error([&] { read_plan(dir_ / "bad.json"); }, {"bad.json", "not a sweep plan"});
}

TEST(SweepIndexTest, ListsAndRanges) {
  EXPECT_EQ(parse_index_list("0-3,7", 10, "x"), (std::vector<std::size_t>{0, 1, 2, 3, 7}));
  EXPECT_EQ(parse_index_list("7,3,3", 10, "x"), (std::vector<std::size_t>{3, 7}));
  expect_input_error([] { parse_index_list("10", 10, "--array-indices"); },
                     {"--array-indices 10", "past the last point, 9"});
  expect_input_error([] { parse_index_list("3-1", 10, "x"); }, {"runs backwards"});
  expect_input_error([] { parse_index_list("a", 10, "x"); }, {"'a' is not an index"});
  EXPECT_EQ(index_list_text({0, 1, 2, 3, 7, 9, 10}), "0-3,7,9,10");
  EXPECT_EQ(index_list_text({5}), "5");
}

TEST_F(SweepTest, SlurmScriptRunsOnePointPerArrayTask) {
  const SweepPlan plan = parse("grid:\n  data.fold: [1, 2, 3]\n");
  SweepOptions options;
  options.partition = "gpu";
  options.time = "1:00:00";
  options.gpus_per_task = 1;
  options.cpus_per_task = 4;
  options.max_parallel = 2;
  options.sbatch_args = {"--qos=high"};
  const std::string script = slurm_script(plan, options, "/opt/crest/bin/crest");
  for (const std::string &line :
       {std::string("#!/bin/bash\n"), std::string("#SBATCH --array=0-2%2\n"),
        std::string("#SBATCH --partition=gpu\n"), std::string("#SBATCH --time=1:00:00\n"),
        std::string("#SBATCH --gpus-per-task=1\n"), std::string("#SBATCH --cpus-per-task=4\n"),
        std::string("#SBATCH --qos=high\n"), std::string("#SBATCH --job-name=crest-out\n"),
        "#SBATCH --output=" + (dir_ / "out" / "slurm" / "%A_%a.out").string() + "\n",
        "exec /opt/crest/bin/crest sweep --points " + (dir_ / "out" / "sweep.json").string() +
            " --run-index \"$SLURM_ARRAY_TASK_ID\"\n"}) {
    EXPECT_NE(script.find(line), std::string::npos) << "missing: " << line << "\n" << script;
  }
  EXPECT_EQ(script.find("--account"), std::string::npos);
  options.sbatch_args = {"qos=high"};
  expect_input_error([&] { slurm_script(plan, options, "crest"); }, {"--sbatch-arg qos=high"});
  options.sbatch_args = {};
  options.time = "1:00\n#SBATCH --x";
  expect_input_error([&] { slurm_script(plan, options, "crest"); }, {"--time", "line break"});
}

// The local sweep's default parallelism: a point with run.threads 0 gets available_cores() (the
// affinity mask capped by the cgroup CPU quota, util/threads.h) divided among the slots, at
// least 1; a run.threads of the config is divided the same way. Read from --dry-run's commands.
TEST_F(SweepTest, LocalSlotsShareTheAvailableCores) {
  auto threads_of = [&](int slots, int run_threads) {
    write_text(dir_ / "threads.yaml", "data:\n  dataset: synthetic\nrun:\n  threads: " +
                                          std::to_string(run_threads) + "\n");
    write_text(dir_ / "g.yaml", "base: threads.yaml\ngrid:\n  data.fold: [1, 2]\n");
    SweepOptions options;
    options.grid = (dir_ / "g.yaml").string();
    options.out = (dir_ / "out").string();
    options.launcher = "local";
    options.slots = slots;
    options.dry_run = true;
    std::ostringstream out;
    run_sweep(options, out);
    std::vector<int> threads;
    static const std::regex pattern(R"(--set run\.threads=(\d+))");
    const std::string text = out.str();
    for (auto it = std::sregex_iterator(text.begin(), text.end(), pattern);
         it != std::sregex_iterator(); ++it) {
      threads.push_back(std::stoi((*it)[1].str()));
    }
    EXPECT_EQ(threads.size(), 2u) << text;  // one command per point
    return threads.empty() ? -1 : threads.front();
  };
  const int cores = available_cores();
  EXPECT_EQ(threads_of(1, 0), cores);
  EXPECT_EQ(threads_of(2, 0), std::max(1, cores / 2));
  EXPECT_EQ(threads_of(cores + 1, 0), 1);  // more slots than cores: one thread each
  EXPECT_EQ(threads_of(2, 6), 3);          // the config's own count, divided
  EXPECT_FALSE(fs::exists(dir_ / "out"));  // a dry run leaves nothing behind
}

// ---- summarize -------------------------------------------------------------------------------

// A hand-written run folder: config.yaml, summary.json with `done` of the configured
// generations, and the last generation's per_class.csv (4 classes, minority classes 2 and 3).
void make_run(const fs::path &dir, const std::string &mode, double gamma, std::int64_t fold,
              double final_acc, double best_acc, std::vector<double> recall, int done = 2,
              int generations = 2) {
  Config config;
  config.data.dataset = DatasetKind::kSynthetic;
  config.data.imbalance_ratio = gamma;
  config.data.label_fraction = 0.3;
  config.data.fold = fold;
  config.crest.mode = parse_mode(mode);
  config.crest.generations = generations;
  config.run.out_dir = dir.string();
  write_text(dir / "config.yaml", config_to_yaml(config));
  if (done == 0) return;
  nlohmann::json rows = nlohmann::json::array();
  for (int g = 0; g < done; ++g) rows.push_back({{"generation", g}, {"accuracy", final_acc}});
  const nlohmann::json summary = {{"final",
                                   {{"generation", done - 1},
                                    {"accuracy", final_acc},
                                    {"accuracy_median_last_20", final_acc - 0.01}}},
                                  {"best", {{"generation", 0}, {"accuracy", best_acc}}},
                                  {"minority_classes", {2, 3}},
                                  {"generations", rows}};
  write_text(dir / "summary.json", summary.dump(2));
  std::string csv = "class,name,precision,recall,f1,support,predicted\n";
  const char *names[] = {"disc", "square", "tri,angle", "ring"};
  for (int c = 0; c < 4; ++c) {
    csv += std::to_string(c) + "," + (c == 2 ? "\"tri,angle\"" : names[c]) + ",0.5," +
           std::to_string(recall[static_cast<std::size_t>(c)]) + ",0.5,20,20\n";
  }
  write_text(dir / ("gen_" + std::to_string(done - 1)) / "per_class.csv", csv);
}

class SummarizeTest : public TempDirTest {};

TEST(MeanStdTest, SampleStandardDeviation) {
  const MeanStd m = mean_std({0.70, 0.72, 0.74});
  EXPECT_EQ(m.n, 3u);
  EXPECT_NEAR(m.mean, 0.72, 1e-12);
  EXPECT_NEAR(m.std, 0.02, 1e-12);  // n - 1 in the denominator (population std: 0.0163)
  EXPECT_TRUE(std::isnan(mean_std({0.5}).std));
  EXPECT_EQ(mean_std({}).n, 0u);
}

TEST_F(SummarizeTest, GroupsByDatasetMethodGammaBeta) {
  const fs::path sweep = dir_ / "sweep";
  make_run(sweep / "a", "crest+", 100, 1, 0.70, 0.71, {0.9, 0.8, 0.5, 0.3});
  make_run(sweep / "b", "crest+", 100, 2, 0.72, 0.73, {0.9, 0.8, 0.6, 0.4});
  make_run(sweep / "c", "crest+", 100, 3, 0.74, 0.75, {0.9, 0.8, 0.7, 0.5});
  make_run(sweep / "d", "fixmatch", 100, 1, 0.60, 0.60, {1.0, 0.9, 0.2, 0.1});
  make_run(sweep / "e", "fixmatch", 50, 1, 0.65, 0.65, {1.0, 0.9, 0.3, 0.1});
  make_run(sweep / "nested" / "f", "fixmatch", 100, 2, 0.62, 0.62, {1.0, 0.9, 0.2, 0.2});
  make_run(sweep / "unfinished", "crest+", 100, 4, 0.99, 0.99, {1, 1, 1, 1}, 1);
  make_run(sweep / "failed", "crest+", 100, 5, 0, 0, {}, 0);
  make_run(sweep / "diverged", "fixmatch", 50, 2, 0.5, 0.5, {1.0, 0.9, 0.3, 0.1});
  write_text(sweep / "diverged" / "summary.json",
             R"({"status": "diverged", "failed_generation": 1, "error": "gen 1: the loss became )"
             R"(non-finite", "generations": [{"generation": 0, "accuracy": 0.5}]})");

  const Summary s = summarize_runs({sweep.string()});
  ASSERT_EQ(s.groups.size(), 3u);
  // Sorted by gamma, then FixMatch, CReST, CReST+.
  EXPECT_EQ(s.groups[0].gamma, 50.0);
  EXPECT_EQ(s.groups[1].method, CrestMode::kFixMatch);
  const SummaryGroup &g = s.groups[2];
  EXPECT_EQ(g.method, CrestMode::kCrestPlus);
  EXPECT_EQ(g.dataset, "synthetic");
  EXPECT_DOUBLE_EQ(g.beta, 0.3);
  EXPECT_EQ(g.folds, (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(g.excluded, 2u);
  EXPECT_NEAR(g.final_accuracy.mean, 0.72, 1e-12);
  EXPECT_NEAR(g.final_accuracy.std, 0.02, 1e-12);
  EXPECT_NEAR(g.best_accuracy.mean, 0.73, 1e-12);
  EXPECT_EQ(g.minority_classes, (std::vector<int>{2, 3}));
  EXPECT_EQ(g.minority_names, (std::vector<std::string>{"tri,angle", "ring"}));
  EXPECT_NEAR(g.minority_class_recall[0].mean, 0.6, 1e-12);
  EXPECT_NEAR(g.minority_class_recall[1].mean, 0.4, 1e-12);
  EXPECT_NEAR(g.minority_recall.mean, 0.5, 1e-12);  // mean over runs of (r2 + r3) / 2
  EXPECT_NEAR(g.minority_recall.std, 0.1, 1e-12);
  EXPECT_EQ(s.groups[1].folds.size(), 2u);  // found one level deeper too
  EXPECT_TRUE(g.notes.empty());

  ASSERT_EQ(s.skipped.size(), 3u);
  std::string reasons;
  for (const auto &r : s.skipped) reasons += r.path + ": " + r.reason + "\n";
  EXPECT_NE(reasons.find("unfinished: summary.json has 1 of 2 generations"), std::string::npos)
      << reasons;
  EXPECT_NE(reasons.find("unfinished: no summary.json"), std::string::npos) << reasons;
  EXPECT_NE(reasons.find("failed: training diverged in generation 1 (gen 1: the loss became"),
            std::string::npos)
      << reasons;

  const std::string md = summary_markdown(s);
  EXPECT_NE(md.find("| synthetic | 30% | 100 | CReST+ | 3 (+2 left out) | 1-3 "
                    "| 72.0 (2.00) | 71.0 (2.00) | "
                    "73.0 (2.00) | 50.0 (10.00) | tri,angle 60.0 (10.00), ring "
                    "40.0 (10.00) |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("sample standard deviation (n - 1)"), std::string::npos);
  EXPECT_NE(md.find("| FixMatch | 65.0 (n/a) | 61.0 (1.41) |"), std::string::npos) << md;
  EXPECT_NE(md.find("Not averaged in (3)"), std::string::npos);

  const std::string csv = summary_csv(s);
  EXPECT_NE(csv.find("\nsynthetic,crest+,100,0.3,3,2,1;2;3,72.0000,2.0000,73.0000,2.0000,"
                     "50.0000,10.0000,2;3,\"tri,angle;ring\",60.0000;40.0000,10.0000;10."
                     "0000,71.0000,2.0000,\n"),
            std::string::npos)
      << csv;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4);
}

TEST_F(SummarizeTest, VariantsAndTheDarpProtocolGetTheirOwnGroups) {
  auto edit = [](const fs::path &dir, const std::function<void(Config &)> &change) {
    Config config = load_config_file((dir / "config.yaml").string());
    change(config);
    write_text(dir / "config.yaml", config_to_yaml(config));
  };
  make_run(dir_ / "ce", "crest+", 100, 1, 0.70, 0.70, {1, 1, 0.5, 0.5});
  make_run(dir_ / "la", "crest+", 100, 1, 0.60, 0.60, {1, 1, 0.5, 0.5});
  edit(dir_ / "la", [](Config &c) { c.train.labeled_loss = LabeledLoss::kLogitAdjusted; });
  make_run(dir_ / "init", "crest+", 100, 1, 0.50, 0.50, {1, 1, 0.5, 0.5});
  edit(dir_ / "init", [](Config &c) {
    c.model.init_from = "pre/backbone.pt";
    c.train.algorithm = TrainAlgorithm::kMixMatch;
  });
  make_run(dir_ / "darp", "fixmatch", 100, 1, 0.40, 0.40, {1, 1, 0.5, 0.5});
  edit(dir_ / "darp", [](Config &c) {
    c.data.protocol = SplitProtocol::kDarp;
    c.data.imbalance_ratio_labeled = 150;
    c.data.imbalance_ratio_unlabeled = -150;
  });
  const Summary s = summarize_runs({dir_.string()});
  ASSERT_EQ(s.groups.size(), 4u);
  std::set<std::string> variants;
  for (const auto &g : s.groups) variants.insert(g.variant);
  EXPECT_EQ(variants, (std::set<std::string>{"", "logit_adjusted", "MixMatch, init pre/backbone.pt",
                                             "gamma_u -150"}));
  const std::string md = summary_markdown(s);
  EXPECT_NE(md.find("| CReST+ (logit\\_adjusted) | 60.0 (n/a) |"), std::string::npos) << md;
  EXPECT_NE(md.find("| CReST+ (MixMatch, init pre/backbone.pt) | 50.0 (n/a) |"), std::string::npos)
      << md;
  // darp: gamma is gamma_l, beta the head class's labeled share N_1 / (N_1 + M_1).
  EXPECT_NE(md.find("| synthetic | 33.3333% | 150 | FixMatch (gamma\\_u -150) |"),
            std::string::npos)
      << md;
  EXPECT_NE(summary_csv(s).find(",logit_adjusted\n"), std::string::npos);
}

TEST_F(SummarizeTest, NotesMixedConfigsAndListsSweepPointsNeverStarted) {
  make_run(dir_ / "s" / "a", "crest", 10, 1, 0.5, 0.5, {1, 1, 0.5, 0.5});
  make_run(dir_ / "s" / "b", "crest", 10, 1, 0.7, 0.7, {1, 1, 0.5, 0.5}, 3, 3);
  write_text(dir_ / "s" / "sweep.json",
             R"({"points": [{"folder": "a"}, {"folder": "b"}, {"folder": "c"}]})");
  const Summary s = summarize_runs({(dir_ / "s").string(), (dir_ / "s" / "a").string()});
  ASSERT_EQ(s.groups.size(), 1u);
  EXPECT_EQ(s.groups[0].folds.size(), 2u);  // a counts once although given twice
  std::string notes;
  for (const auto &n : s.groups[0].notes) notes += n + "\n";
  EXPECT_NE(notes.find("differ in crest.generations"), std::string::npos) << notes;
  EXPECT_NE(notes.find("fold 1 counts 2 times"), std::string::npos) << notes;
  ASSERT_EQ(s.skipped.size(), 1u);
  EXPECT_EQ(s.skipped[0].path, (dir_ / "s" / "c").string());
  EXPECT_EQ(s.skipped[0].reason, "not started (no config.yaml)");
}

TEST_F(SummarizeTest, PathsThatHoldNoRunAreErrors) {
  fs::create_directories(dir_ / "empty" / "sub");
  expect_input_error([&] { summarize_runs({(dir_ / "empty").string()}); },
                     {(dir_ / "empty").string(), "is not a run folder", "holds none"});
  expect_input_error([&] { summarize_runs({(dir_ / "missing").string()}); },
                     {"missing does not exist"});
  SummarizeOptions options;
  options.paths = {(dir_ / "empty").string()};
  options.format = "html";
  std::ostringstream out;
  expect_input_error([&] { summarize(options, out); }, {"--format must be md or csv"});
}

TEST_F(SummarizeTest, InspectRun) {
  make_run(dir_ / "done", "crest", 10, 1, 0.5, 0.5, {1, 1, 0.5, 0.5});
  EXPECT_TRUE(inspect_run(dir_ / "done").complete);
  EXPECT_FALSE(inspect_run(dir_ / "done", 3).complete);
  EXPECT_FALSE(inspect_run(dir_ / "nothing").started);
  write_text(dir_ / "bad" / "config.yaml", "crest: {generations: x}\n");
  const RunState bad = inspect_run(dir_ / "bad");
  EXPECT_TRUE(bad.started);
  EXPECT_FALSE(bad.complete);
  EXPECT_NE(bad.problem.find("unreadable config.yaml"), std::string::npos) << bad.problem;
}

}  // namespace
}  // namespace crest
