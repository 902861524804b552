#include "crest/config/protocol_default.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "crest/io/file.h"
#include "test_util.h"

namespace crest {
namespace {

class ProtocolDefaultTest : public TempDirTest {
 protected:
  Config resolved(const std::string& yaml, const std::vector<std::string>& overrides) {
    const std::string path = (dir_ / "x.yaml").string();
    write_file_atomic(path, yaml);
    return resolve_config(path, overrides);
  }
};

TEST_F(ProtocolDefaultTest, FolderWithoutProtocolIsAsIs) {
  // From the file (a ratio alone does not ask for a cut), from --set, after a --set that
  // changes the dataset, and from the embedded quickstart.
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"data:\n  dataset: folder\n", {}},
      {"data:\n  dataset: folder\n  imbalance_ratio: 10\n", {}},
      {"", {"data.dataset=folder"}},
      {"data:\n  dataset: cifar10\n", {"data.dataset=folder", "data.fold=2"}}};
  for (const auto& [yaml, sets] : cases) {
    const Config config = resolved(yaml, sets);
    EXPECT_EQ(config.data.protocol, SplitProtocol::kAsIs) << yaml;
    EXPECT_NE(protocol_note(config.data).find("unless data.protocol is given"), std::string::npos);
    EXPECT_NE(protocol_note(config.data).find("data.protocol: crest"), std::string::npos);
  }
  EXPECT_EQ(resolve_config("", {"data.dataset=folder"}).data.protocol, SplitProtocol::kAsIs);
  EXPECT_FALSE(protocol_given("", {"data.dataset=folder", "data.protocolx=1"}));
}

TEST_F(ProtocolDefaultTest, ProtocolGivenAnywhereIsKept) {
  for (const std::string protocol : {"crest", "darp", "acr", "as_is"}) {
    for (const auto& config :
         {resolved("data:\n  dataset: folder\n  protocol: " + protocol + "\n", {}),
          resolved("data:\n  dataset: folder\n", {"data.protocol=" + protocol}),
          resolved("", {"data.protocol=" + protocol, "data.dataset=folder"})}) {
      EXPECT_EQ(to_string(config.data.protocol), protocol);
      EXPECT_NE(protocol_note(config.data).find("data.protocol: " + protocol), std::string::npos);
      EXPECT_NE(protocol_hint(config.data).find("data.protocol is " + protocol), std::string::npos);
    }
  }
}

TEST_F(ProtocolDefaultTest, OtherDatasetsKeepTheirProtocol) {
  for (const std::string dataset : {"cifar10", "cifar100", "synthetic"}) {
    const Config config = resolved("data:\n  dataset: " + dataset + "\n", {});
    EXPECT_EQ(config.data.protocol, SplitProtocol::kCrest) << dataset;
    EXPECT_EQ(protocol_note(config.data), "");
    EXPECT_NE(protocol_hint(config.data).find("set data.protocol: as_is"), std::string::npos);
  }
  EXPECT_EQ(resolve_config("", {}).data.protocol, SplitProtocol::kCrest);
  // A folder run's saved config names the protocol, so reading it back keeps it.
  const Config folder = resolved("data:\n  dataset: folder\n", {});
  const Config again = resolved(config_to_yaml(folder), {});
  EXPECT_EQ(again.data.protocol, SplitProtocol::kAsIs);
  EXPECT_TRUE(config_differences(folder, again).empty());
  Config cut = folder;
  EXPECT_FALSE(apply_dataset_defaults(cut, /*given=*/true));
  EXPECT_TRUE(apply_dataset_defaults(cut, /*given=*/false));
}

}  // namespace
}  // namespace crest
