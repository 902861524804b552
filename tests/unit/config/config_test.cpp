#include "crest/config/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "crest/config/embedded.h"
#include "crest/util/error.h"
#include "test_util.h"

namespace crest {
namespace {

std::string source_path(const std::string& relative) {
  return std::string(CREST_SOURCE_DIR) + "/" + relative;
}

TEST(ConfigTest, EmptyTextGivesDefaults) {
  const Config config = parse_config("", "empty.yaml");
  EXPECT_EQ(config_to_yaml(config), config_to_yaml(Config{}));
  EXPECT_EQ(config.data.dataset, DatasetKind::kCifar10);
  EXPECT_DOUBLE_EQ(config.crest.alpha, 1.0 / 3.0);
  EXPECT_EQ(config.train.batch_size, 64);
}

TEST(ConfigTest, ParsesEveryType) {
  const Config config = parse_config(
      "data:\n  imbalance_ratio: 50\n  fold: 3\n  synthetic:\n    classes: 4\n"
      "train:\n  nesterov: false\n  weight_decay: 1e-4\ncrest:\n  mode: fixmatch\n"
      "run:\n  device: cuda:1\n",
      "x.yaml");
  EXPECT_DOUBLE_EQ(config.data.imbalance_ratio, 50.0);
  EXPECT_EQ(config.data.fold, 3);
  EXPECT_EQ(config.data.synthetic.classes, 4);
  EXPECT_FALSE(config.train.nesterov);
  EXPECT_DOUBLE_EQ(config.train.weight_decay, 1e-4);
  EXPECT_EQ(config.crest.mode, CrestMode::kFixMatch);
  EXPECT_EQ(config.run.device, "cuda:1");
}

TEST(ConfigTest, YamlRoundTripIsExact) {
  Config config;
  config.data.root = "with space/and: colon";
  config.data.label_fraction = 0.3;
  config.run.out_dir = "123";
  config.train.lr = 0.1 + 0.2;  // not a short decimal
  const std::string text = config_to_yaml(config);
  const Config back = parse_config(text, "roundtrip");
  EXPECT_EQ(config_to_yaml(back), text);
  EXPECT_EQ(back.data.root, config.data.root);
  EXPECT_EQ(back.run.out_dir, "123");
  EXPECT_EQ(back.train.lr, config.train.lr);
}

TEST(ConfigTest, UnknownKeyNamesPathLineAndSuggestion) {
  expect_config_error([] { parse_config("data:\n  fold: 1\n  imbalance: 10\n", "my.yaml"); },
                      {"my.yaml:3", "unknown key 'data.imbalance'", "data.imbalance_ratio"});
  expect_config_error([] { parse_config("dta:\n  fold: 1\n", "my.yaml"); }, {"unknown key 'dta'"});
}

TEST(ConfigTest, WrongTypesNameKeyAndValue) {
  expect_config_error([] { parse_config("data:\n  fold: abc\n", "t.yaml"); },
                      {"t.yaml:2", "data.fold must be an integer", "'abc'"});
  expect_config_error([] { parse_config("data:\n  fold: 1.5\n", "t.yaml"); },
                      {"data.fold must be an integer", "'1.5'"});
  expect_config_error([] { parse_config("train:\n  lr: fast\n", "t.yaml"); },
                      {"train.lr must be a number", "'fast'"});
  expect_config_error([] { parse_config("train:\n  nesterov: maybe\n", "t.yaml"); },
                      {"train.nesterov must be true or false", "'maybe'"});
  expect_config_error([] { parse_config("data:\n  fold: [1, 2]\n", "t.yaml"); },
                      {"data.fold must be an integer, got a list"});
  expect_config_error([] { parse_config("data: 5\n", "t.yaml"); }, {"'data' is a section"});
  expect_config_error([] { parse_config("data:\n  fold:\n", "t.yaml"); },
                      {"data.fold has no value"});
  expect_config_error([] { parse_config("- a\n- b\n", "t.yaml"); },
                      {"must be a mapping of sections"});
}

TEST(ConfigTest, OutOfRangeValuesNameTheBound) {
  expect_config_error([] { parse_config("data:\n  imbalance_ratio: 0.5\n", "r.yaml"); },
                      {"r.yaml:2", "data.imbalance_ratio must be >= 1", "'0.5'"});
  expect_config_error([] { parse_config("data:\n  label_fraction: 0\n", "r.yaml"); },
                      {"data.label_fraction must be in (0, 1]", "'0'"});
  expect_config_error([] { parse_config("data:\n  label_fraction: 1.2\n", "r.yaml"); },
                      {"data.label_fraction must be in (0, 1]"});
  expect_config_error([] { parse_config("crest:\n  alpha: -1\n", "r.yaml"); },
                      {"crest.alpha must be >= 0", "'-1'"});
  expect_config_error([] { parse_config("crest:\n  mode: crest++\n", "r.yaml"); },
                      {"crest.mode must be one of fixmatch, crest or crest+", "'crest++'"});
  expect_config_error([] { parse_config("run:\n  device: gpu\n", "r.yaml"); },
                      {"run.device must be auto, cpu, cuda or cuda:N", "'gpu'"});
  expect_config_error([] { parse_config("data:\n  dataset: imagenet\n", "r.yaml"); },
                      {"data.dataset must be one of", "'imagenet'"});
  expect_config_error([] { parse_config("train:\n  lr: .nan\n", "r.yaml"); },
                      {"train.lr must be a"});
  expect_config_error([] { parse_config("data:\n  fold: 99999999999999999999\n", "r.yaml"); },
                      {"data.fold"});
}

// #28 kind 5: values that passed but made the arithmetic non-finite or meaningless are refused,
// naming the key, the value and the allowed range; the edges of each range still pass.
TEST(ConfigTest, NumericKeysKeepTheArithmeticFinite) {
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"train.lr=1e39", "train.lr must be in [1e-12, 100]"},
      {"train.lr=1e-20", "train.lr must be in [1e-12, 100]"},
      {"pretrain.lr=500", "pretrain.lr must be in [1e-12, 100]"},
      {"train.weight_decay=2", "train.weight_decay must be in [0, 1]"},
      {"pretrain.weight_decay=1e300", "pretrain.weight_decay must be in [0, 1]"},
      {"train.lambda_u=1e39", "train.lambda_u must be in [0, 10000]"},
      {"train.mixmatch_lambda_u=1e5", "train.mixmatch_lambda_u must be in [0, 10000]"},
      {"train.mixup_alpha=1e300", "train.mixup_alpha must be in (0, 1000]"},
      {"train.mixup_alpha=0", "train.mixup_alpha must be in (0, 1000]"},
      {"train.mixmatch_temperature=0", "train.mixmatch_temperature must be in (0, 1]"},
      {"train.mixmatch_temperature=-1e-9", "train.mixmatch_temperature must be in (0, 1]"},
  };
  for (const auto& [assignment, message] : refused) {
    Config config;
    const std::string value = assignment.substr(assignment.find('=') + 1);
    expect_config_error([&] { apply_override(config, assignment); }, {message, "'" + value + "'"});
  }
  for (const char* edge :
       {"train.lr=1e-12", "train.lr=100", "train.weight_decay=1", "train.lambda_u=10000",
        "train.mixup_alpha=1000", "train.mixmatch_temperature=1e-9", "pretrain.lr=0.1"}) {
    Config config;
    EXPECT_NO_THROW(apply_override(config, edge)) << edge;
  }
}

// A string value must be UTF-8 (it lands in JSON); the message shows the bytes visibly. (In a
// YAML file, yaml-cpp may refuse such bytes first; either way it is a ConfigError.)
TEST(ConfigTest, StringValuesMustBeUtf8) {
  for (const char* bad : {"runs/\xff", "a\xc3", "\xed\xa0\x80x"}) {
    Config config;
    expect_config_error([&] { apply_override(config, literal_override("run.out_dir", bad)); },
                        {"run.out_dir must be UTF-8 text", "\\x"});
  }
  expect_config_error([] { parse_config("run:\n  out_dir: \"a\xff\"\n", "u.yaml"); }, {});
  Config config;
  EXPECT_NO_THROW(apply_override(config, literal_override("run.out_dir", "runs/caf\xc3\xa9")));
  EXPECT_EQ(config.run.out_dir, "runs/caf\xc3\xa9");
}

TEST(ConfigTest, DuplicateKeysAndSyntaxErrors) {
  expect_config_error([] { parse_config("data:\n  fold: 1\n  fold: 2\n", "d.yaml"); },
                      {"d.yaml:3", "'data.fold' is given twice"});
  expect_config_error([] { parse_config("data:\n  fold: [1\n", "s.yaml"); },
                      {"s.yaml:", "YAML syntax error"});
}

TEST(ConfigTest, CrossKeyRules) {
  expect_config_error(
      [] { validate_config(parse_config("data:\n  dataset: cifar10\n  image_size: 64\n", "c")); },
      {"data.image_size must be 32 for cifar10"});
  expect_config_error([] { validate_config(parse_config("model:\n  depth: 27\n", "c")); },
                      {"model.depth must be 6n + 4", "27"});
  expect_config_error(
      [] { validate_config(parse_config("data:\n  imbalance_ratio_unlabeled: 0.5\n", "c")); },
      {"data.imbalance_ratio_unlabeled must be >= 1 or <= -1"});
  expect_config_error([] { validate_config(parse_config("data:\n  root: ''\n", "c")); },
                      {"data.root must name the folder"});
}

TEST(ConfigTest, PretrainRules) {
  expect_config_error(
      [] { validate_config(parse_config("pretrain:\n  warmup: 0.5\n  decay_at: 0.4\n", "c")); },
      {"pretrain.warmup (0.5) must end before pretrain.decay_at (0.4)"});
  expect_config_error(
      [] { validate_config(parse_config("pretrain:\n  nesterov: true\n  momentum: 0\n", "c")); },
      {"pretrain.nesterov needs pretrain.momentum > 0", "pretrain.nesterov=false"});
  expect_config_error([] { parse_config("pretrain:\n  batch_size: 2\n", "c"); },
                      {"pretrain.batch_size"});
  EXPECT_NO_THROW(validate_config(parse_config("pretrain:\n  all_rotations: true\n", "c")));
}

TEST(ConfigTest, OverridesFollowTheSameRules) {
  Config config;
  apply_override(config, "data.fold=4");
  apply_override(config, "crest.mode=crest");
  apply_override(config, "run.out_dir='my runs/a'");
  apply_override(config, "data.imbalance_ratio=200");
  EXPECT_EQ(config.data.fold, 4);
  EXPECT_EQ(config.crest.mode, CrestMode::kCrest);
  EXPECT_EQ(config.run.out_dir, "my runs/a");
  EXPECT_DOUBLE_EQ(config.data.imbalance_ratio, 200);
  expect_config_error([&] { apply_override(config, "data.fold=x"); },
                      {"--set data.fold=x", "data.fold must be an integer", "'x'"});
  expect_config_error([&] { apply_override(config, "data.imbalanceratio=3"); },
                      {"--set data.imbalanceratio=3", "unknown key", "data.imbalance_ratio"});
  expect_config_error([&] { apply_override(config, "data=3"); }, {"is a section"});
  expect_config_error([&] { apply_override(config, "nokey"); }, {"expected KEY=VALUE"});
  expect_config_error([&] { apply_override(config, "data.fold="); }, {"has no value"});
  expect_config_error([&] { apply_override(config, "data.label_fraction=2"); },
                      {"must be in (0, 1]"});
  expect_config_error([&] { apply_override(config, "data.fold=[1,2]"); }, {"got a list"});
}

TEST(ConfigTest, MissingFileIsAConfigError) {
  expect_config_error([] { load_config_file("/nonexistent/crest.yaml"); },
                      {"cannot read config file '/nonexistent/crest.yaml'"});
}

TEST(ConfigTest, PresetsParseAndValidate) {
  for (const char* preset : {"configs/cifar10lt.yaml", "configs/cifar100lt.yaml",
                             "configs/quickstart.yaml", "configs/defaults.yaml"}) {
    SCOPED_TRACE(preset);
    const Config config = load_config_file(source_path(preset));
    EXPECT_NO_THROW(validate_config(config));
  }
  const Config c10 = load_config_file(source_path("configs/cifar10lt.yaml"));
  EXPECT_EQ(c10.data.dataset, DatasetKind::kCifar10);
  EXPECT_DOUBLE_EQ(c10.data.imbalance_ratio, 100);
  EXPECT_DOUBLE_EQ(c10.data.label_fraction, 0.1);
  EXPECT_EQ(c10.model.depth, 28);
  EXPECT_EQ(c10.model.width, 2);
  EXPECT_EQ(c10.train.unlabeled_ratio, 7);
  EXPECT_EQ(c10.train.steps_per_epoch * c10.train.epochs, 65536);
  EXPECT_EQ(c10.crest.generations, 6);
  const Config c100 = load_config_file(source_path("configs/cifar100lt.yaml"));
  EXPECT_EQ(c100.data.dataset, DatasetKind::kCifar100);
}

TEST(ConfigTest, EmbeddedQuickstartIsTheFileInConfigs) {
  std::ifstream in(source_path("configs/quickstart.yaml"));
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), embedded_quickstart_yaml());
  const Config config = resolve_config("", {});
  EXPECT_EQ(config.data.dataset, DatasetKind::kSynthetic);
  EXPECT_EQ(config.run.device, "cpu");
}

TEST(ConfigTest, DefaultsFileIsGeneratedFromTheSchema) {
  std::ifstream in(source_path("configs/defaults.yaml"));
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), documented_defaults_yaml())
      << "configs/defaults.yaml is stale: regenerate it with "
         "`build/crest print-config --defaults > configs/defaults.yaml`";
  // Every key is documented in it.
  for (const std::string& key : config_keys()) {
    const std::string leaf = key.substr(key.rfind('.') + 1) + ":";
    EXPECT_NE(text.str().find(leaf), std::string::npos) << key;
  }
}

}  // namespace
}  // namespace crest

namespace crest {
namespace {

// Two documents in one file: which one was meant is a guess, so it is an error naming the file
// and the line where the second one starts.
TEST(ConfigTest, MultiDocumentFileIsRefused) {
  expect_config_error([] { parse_config("data:\n  fold: 2\n---\ndata:\n  fold: 3\n", "two.yaml"); },
                      {"two.yaml:", "2 YAML documents", "'---'", "one document"});
  // One document, with or without the explicit start marker, is fine.
  EXPECT_EQ(parse_config("---\ndata:\n  fold: 2\n", "one.yaml").data.fold, 2);
}

// --out and --device values are paths and names, not YAML: "#" is not a comment, ":" is not a
// mapping, quotes and backslashes stay as they are.
TEST(ConfigTest, LiteralOverrideKeepsTheValueAsWritten) {
  for (const std::string value :
       {"runs/exp #3", "runs/a: b", "'quoted'", "\"double\"", "back\\slash", " lead space",
        "[1, 2]",      "{a: 1}",    "null",     "~",          "yes",         "tab\there",
        "- dash",      "&anchor",   "*alias",   "%percent",   "@at",         "`tick`",
        "!tag",        "|",         ">"}) {
    Config config;
    apply_override(config, literal_override("run.out_dir", value));
    EXPECT_EQ(config.run.out_dir, value);
  }
  Config config;
  apply_override(config, literal_override("run.device", "cpu"));
  EXPECT_EQ(config.run.device, "cpu");
}

}  // namespace
}  // namespace crest
