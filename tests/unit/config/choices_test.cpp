#include "crest/config/choices.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crest/config/config.h"
#include "test_util.h"

namespace crest {
namespace {

// Every name parses to the enumerator at its position and prints back as itself.
template <typename E>
void expect_names(const std::vector<std::string>& expected) {
  EXPECT_EQ(choice_names<E>(), expected);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(expected[i]);
    const E value = parse_choice<E>(expected[i], "some.key");
    EXPECT_EQ(value, static_cast<E>(i));
    EXPECT_EQ(to_string(value), expected[i]);
  }
}

TEST(ChoicesTest, EveryNameRoundTrips) {
  expect_names<DatasetKind>({"cifar10", "cifar100", "folder", "synthetic"});
  expect_names<SplitProtocol>({"crest", "darp", "as_is", "acr"});
  expect_names<ResizeMode>({"area", "center_crop", "error"});
  expect_names<Amp>({"auto", "bf16", "off"});
  expect_names<Toggle>({"auto", "on", "off"});
  expect_names<SgdChoice>({"auto", "foreach", "fused", "loop"});
  expect_names<CrestMode>({"fixmatch", "crest", "crest+"});
  expect_names<RateProfile>({"ideal", "labeled"});
  expect_names<TemperatureSchedule>({"linear", "constant"});
  expect_names<PModelEstimate>({"buffer", "ema"});
  expect_names<SelectOn>({"last", "val"});
  expect_names<LabeledLoss>({"ce", "cb_softmax", "cb_sigmoid", "cb_focal", "logit_adjusted"});
  expect_names<TrainAlgorithm>({"fixmatch", "mixmatch", "acr", "semi", "daso", "dmlpl"});
  expect_names<SemiFeatureRows>({"reference", "aligned"});
  expect_names<AcrClassCount>({"reference", "histogram"});
}

TEST(ChoicesTest, NamedParsers) {
  EXPECT_EQ(parse_dataset("folder"), DatasetKind::kFolder);
  EXPECT_EQ(parse_protocol("darp"), SplitProtocol::kDarp);
  EXPECT_EQ(parse_protocol("as_is"), SplitProtocol::kAsIs);
  EXPECT_EQ(parse_protocol("acr"), SplitProtocol::kAcr);
  EXPECT_EQ(parse_resize("center_crop"), ResizeMode::kCenterCrop);
  EXPECT_EQ(parse_amp("bf16"), Amp::kBf16);
  EXPECT_EQ(parse_toggle("on", "train.channels_last"), Toggle::kOn);
  EXPECT_EQ(parse_sgd("fused"), SgdChoice::kFused);
  EXPECT_EQ(parse_mode("crest+"), CrestMode::kCrestPlus);
  EXPECT_EQ(parse_rate_profile("labeled"), RateProfile::kLabeled);
  EXPECT_EQ(parse_t_schedule("constant"), TemperatureSchedule::kConstant);
  EXPECT_EQ(parse_p_model("ema"), PModelEstimate::kEma);
  EXPECT_EQ(parse_select_on("val"), SelectOn::kVal);
}

TEST(ChoicesTest, ABadNameNamesTheKeyAndTheAllowedValues) {
  expect_config_error([] { parse_mode("crest++"); },
                      {"crest.mode must be one of fixmatch, crest or crest+, got 'crest++'"});
  expect_config_error([] { parse_toggle("maybe", "train.cuda_graph"); },
                      {"train.cuda_graph must be one of auto, on or off, got 'maybe'"});
  expect_config_error(
      [] { parse_dataset("imagenet"); },
      {"data.dataset must be one of cifar10, cifar100, folder or synthetic", "'imagenet'"});
  expect_config_error([] { parse_sgd("adam"); }, {"train.sgd", "auto, foreach, fused or loop"});
  // Names are exact: no case folding, no surrounding space.
  expect_config_error([] { parse_amp("BF16"); }, {"train.amp", "'BF16'"});
  expect_config_error([] { parse_select_on(" val"); }, {"crest.select_on", "' val'"});
}

// Through the config: every name of every choice key is accepted, printed as given, and read
// back; a bad one names the key and lists the names.
TEST(ChoicesTest, ConfigKeysTakeEveryName) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> keys = {
      {"data.dataset", choice_names<DatasetKind>()},
      {"data.protocol", choice_names<SplitProtocol>()},
      {"train.amp", choice_names<Amp>()},
      {"train.channels_last", choice_names<Toggle>()},
      {"train.sgd", choice_names<SgdChoice>()},
      {"train.cuda_graph", choice_names<Toggle>()},
      {"crest.mode", choice_names<CrestMode>()},
      {"crest.rate_profile", choice_names<RateProfile>()},
      {"crest.t_schedule", choice_names<TemperatureSchedule>()},
      {"crest.p_model", choice_names<PModelEstimate>()},
      {"crest.select_on", choice_names<SelectOn>()},
  };
  for (const auto& [key, names] : keys) {
    for (const std::string& name : names) {
      SCOPED_TRACE(key + "=" + name);
      Config config;
      apply_override(config, key + "='" + name + "'");
      const std::string printed = config_value(config, key);
      EXPECT_TRUE(printed == name || printed == "\"" + name + "\"") << printed;
      const Config again = parse_config(config_to_yaml(config), "printed.yaml");
      EXPECT_TRUE(config_differences(config, again).empty());
      EXPECT_EQ(config_value(again, key), printed);
    }
    Config config;
    expect_config_error(
        [&] { apply_override(config, key + "=nope"); },
        {"--set " + key + "=nope: " + key + " " + one_of_problem(names), "got 'nope'"});
  }
}

TEST(ChoicesTest, WhatTheChoicesMean) {
  EXPECT_TRUE(reads_files(DatasetKind::kCifar10));
  EXPECT_TRUE(reads_files(DatasetKind::kFolder));
  EXPECT_FALSE(reads_files(DatasetKind::kSynthetic));
  EXPECT_FALSE(selects_pseudo_labels(CrestMode::kFixMatch));
  EXPECT_TRUE(selects_pseudo_labels(CrestMode::kCrest));
  EXPECT_TRUE(selects_pseudo_labels(CrestMode::kCrestPlus));
  EXPECT_FALSE(aligns_distribution(CrestMode::kCrest));
  EXPECT_TRUE(aligns_distribution(CrestMode::kCrestPlus));
  EXPECT_FALSE(uses_validation(SelectOn::kLast));
  EXPECT_TRUE(uses_validation(SelectOn::kVal));
  for (const bool when_auto : {false, true}) {
    EXPECT_TRUE(resolve_toggle(Toggle::kOn, when_auto));
    EXPECT_FALSE(resolve_toggle(Toggle::kOff, when_auto));
    EXPECT_EQ(resolve_toggle(Toggle::kAuto, when_auto), when_auto);
  }
}

enum class Colour { kRed, kGreen, kBlue };

const char* colour_name(Colour colour) {
  switch (colour) {
    case Colour::kRed:
      return "red";
    case Colour::kGreen:
      return "green";
    case Colour::kBlue:
      return "blue";
  }
  return nullptr;
}

TEST(ChoicesTest, AnyEnumNamedByASwitch) {
  EXPECT_EQ(names_of(colour_name), (std::vector<std::string>{"red", "green", "blue"}));
  EXPECT_EQ(value_named("blue", colour_name), Colour::kBlue);
  EXPECT_FALSE(value_named("Blue", colour_name).has_value());
  EXPECT_EQ(or_list(names_of(colour_name)), "red, green or blue");
  EXPECT_EQ(or_list({"md", "csv"}), "md or csv");
  EXPECT_EQ(one_of_problem({"a"}), "must be one of a");
}

}  // namespace
}  // namespace crest
