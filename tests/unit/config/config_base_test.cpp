// load_config_file with `base:` (src/config/config_base.cpp).
#include "crest/config/config_base.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "crest/config/config.h"
#include "crest/io/file.h"
#include "crest/util/error.h"
#include "test_util.h"

namespace crest {
namespace {

namespace fs = std::filesystem;

class ConfigBaseTest : public TempDirTest {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    fs::create_directories(path.parent_path());
    write_file_atomic(path, text);
    return path.string();
  }
};

TEST_F(ConfigBaseTest, ChildOverridesAndSectionsMergeKeyByKey) {
  write("base.yaml",
        "data:\n  imbalance_ratio: 50\n  fold: 3\ntrain:\n  lr: 0.1\n  epochs: 7\n"
        "run:\n  seed: 4\n");
  const std::string child = write("child.yaml",
                                  "base: base.yaml\ndata:\n  fold: 2\ntrain:\n  lr: 0.05\n"
                                  "crest:\n  generations: 2\n");
  const Config config = load_config_file(child);
  EXPECT_DOUBLE_EQ(config.data.imbalance_ratio, 50.0);  // from the base
  EXPECT_EQ(config.data.fold, 2);                       // the child's
  EXPECT_DOUBLE_EQ(config.train.lr, 0.05);
  EXPECT_EQ(config.train.epochs, 7);
  EXPECT_EQ(config.crest.generations, 2);
  EXPECT_EQ(config.run.seed, 4);
}

TEST_F(ConfigBaseTest, ChainsResolveRelativeToEachFile) {
  write("presets/root.yaml", "train:\n  epochs: 3\n  batch_size: 16\nrun:\n  seed: 1\n");
  write("presets/mid/mid.yaml", "base: ../root.yaml\ntrain:\n  epochs: 5\n");
  const std::string child = write("mine/child.yaml",
                                  "base: ../presets/mid/mid.yaml\nrun:\n"
                                  "  seed: 9\n");
  const Config config = load_config_file(child);
  EXPECT_EQ(config.train.epochs, 5);
  EXPECT_EQ(config.train.batch_size, 16);
  EXPECT_EQ(config.run.seed, 9);
  // An absolute base works too, and an empty section keeps the base's keys.
  const std::string absolute =
      write("abs.yaml", "base: " + (dir_ / "presets/root.yaml").string() + "\ntrain:\n");
  EXPECT_EQ(load_config_file(absolute).train.batch_size, 16);
}

TEST_F(ConfigBaseTest, MergedConfigIsWhatIsPrintedAndSaved) {
  write("base.yaml", "train:\n  epochs: 7\n");
  const std::string child = write("child.yaml", "base: base.yaml\nrun:\n  seed: 5\n");
  Config expected;
  expected.train.epochs = 7;
  expected.run.seed = 5;
  const std::string yaml = config_to_yaml(load_config_file(child));
  EXPECT_EQ(yaml, config_to_yaml(expected));
  EXPECT_EQ(yaml.find("base"), std::string::npos);
}

TEST_F(ConfigBaseTest, MissingBaseNamesBothFiles) {
  const std::string child = write("child.yaml", "base: nowhere.yaml\n");
  expect_config_error([&] { load_config_file(child); },
                      {"nowhere.yaml", "child.yaml", "cannot read config file"});
  const std::string folder = write("folder.yaml", "base: .\n");
  expect_config_error([&] { load_config_file(folder); }, {"folder.yaml", "is a folder"});
}

TEST_F(ConfigBaseTest, BaseThatIsNotAConfigMappingIsRefused) {
  write("list.yaml", "- a\n- b\n");
  write("scalar.yaml", "42\n");
  write("bad_key.yaml", "train:\n  lrr: 0.1\n");
  write("bad_value.yaml", "train:\n  epochs: many\n");
  for (const std::string base : {"list.yaml", "scalar.yaml", "bad_key.yaml", "bad_value.yaml"}) {
    const std::string child = write("child.yaml", "base: " + base + "\n");
    expect_config_error([&] { load_config_file(child); }, {base, "child.yaml"});
  }
}

TEST_F(ConfigBaseTest, BaseValueMustBeANonEmptyString) {
  for (const std::string value : {"[a.yaml, b.yaml]", "{x: 1}", "\"\"", ""}) {
    const std::string child = write("child.yaml", "base: " + value + "\n");
    expect_config_error([&] { load_config_file(child); }, {"child.yaml", "base"});
  }
}

TEST_F(ConfigBaseTest, CyclesAreRefusedWithTheChain) {
  const std::string self = write("self.yaml", "base: self.yaml\n");
  expect_config_error([&] { load_config_file(self); }, {"cycle", "self.yaml -> "});
  write("a.yaml", "base: b.yaml\n");
  write("b.yaml", "base: sub/../c.yaml\n");
  const std::string c = write("c.yaml", "base: a.yaml\n");
  expect_config_error([&] { load_config_file(c); }, {"cycle", "a.yaml", "b.yaml", "c.yaml"});
}

TEST_F(ConfigBaseTest, TooDeepChainsAreRefused) {
  for (int i = 0; i < kMaxConfigBases; ++i) {
    write("c" + std::to_string(i) + ".yaml", "base: c" + std::to_string(i + 1) + ".yaml\n");
  }
  write("c" + std::to_string(kMaxConfigBases) + ".yaml", "run:\n  seed: 3\n");
  expect_config_error([&] { load_config_file((dir_ / "c0.yaml").string()); },
                      {"more than", "c0.yaml", "flatten"});
  // One file fewer fits.
  EXPECT_EQ(load_config_file((dir_ / "c1.yaml").string()).run.seed, 3);
}

TEST_F(ConfigBaseTest, ErrorsInTheChildNameTheChild) {
  write("base.yaml", "train:\n  epochs: 7\n");
  const std::string child = write("child.yaml", "base: base.yaml\ntrain:\n  epochs: -1\n");
  expect_config_error([&] { load_config_file(child); }, {"child.yaml:3", "train.epochs"});
  // base is a top-level key only.
  const std::string nested = write("nested.yaml", "train:\n  base: base.yaml\n");
  expect_config_error([&] { load_config_file(nested); }, {"unknown key 'train.base'"});
}

TEST_F(ConfigBaseTest, ProtocolGivenInABaseCounts) {
  write("base.yaml", "data:\n  dataset: folder\n  protocol: crest\n");
  const std::string child = write("child.yaml", "base: base.yaml\ndata:\n  root: x\n");
  EXPECT_TRUE(config_file_gives(child, "data.protocol"));
  EXPECT_TRUE(config_file_gives(child, "data.root"));
  EXPECT_FALSE(config_file_gives(child, "data.fold"));
  EXPECT_FALSE(config_file_gives(child, "train.lr"));
  EXPECT_EQ(resolve_config(child, {}).data.protocol, SplitProtocol::kCrest);
}

}  // namespace
}  // namespace crest
