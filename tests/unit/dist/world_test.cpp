// Where a process stands in a job, read from torchrun's and Slurm's variables.
#include "crest/dist/world.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "test_util.h"

namespace crest::dist {
namespace {

class RankEnvironmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : kNames) {
      const char* value = std::getenv(name);
      saved_.emplace_back(name, value ? std::optional<std::string>(value) : std::nullopt);
      ::unsetenv(name);
    }
  }
  void TearDown() override {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }
  static constexpr const char* kNames[] = {"RANK",         "WORLD_SIZE",    "LOCAL_RANK",
                                           "MASTER_ADDR",  "MASTER_PORT",   "SLURM_PROCID",
                                           "SLURM_NTASKS", "SLURM_LOCALID", "CREST_DIST_TIMEOUT"};
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST_F(RankEnvironmentTest, NothingSetIsTheWorldOfOneRank) {
  const RankInfo info = rank_from_environment();
  EXPECT_EQ(info.world_size, 1);
  EXPECT_EQ(info.rank, 0);
  EXPECT_EQ(info.source, "default");
  EXPECT_EQ(info.master_addr, "127.0.0.1");
  EXPECT_EQ(info.master_port, 29500);
  EXPECT_EQ(collective_timeout().count(), 30000);
}

TEST_F(RankEnvironmentTest, TorchrunVariables) {
  ::setenv("RANK", "3", 1);
  ::setenv("WORLD_SIZE", "4", 1);
  ::setenv("LOCAL_RANK", "1", 1);
  ::setenv("MASTER_ADDR", "node7", 1);
  ::setenv("MASTER_PORT", "1234", 1);
  const RankInfo info = rank_from_environment();
  EXPECT_EQ(info.rank, 3);
  EXPECT_EQ(info.world_size, 4);
  EXPECT_EQ(info.local_rank, 1);
  EXPECT_EQ(info.master_addr, "node7");
  EXPECT_EQ(info.master_port, 1234);
  EXPECT_EQ(info.source, "env");
}

TEST_F(RankEnvironmentTest, SlurmTasksComeFirst) {
  ::setenv("RANK", "0", 1);
  ::setenv("WORLD_SIZE", "1", 1);
  ::setenv("SLURM_PROCID", "5", 1);
  ::setenv("SLURM_NTASKS", "8", 1);
  ::setenv("SLURM_LOCALID", "1", 1);
  const RankInfo info = rank_from_environment();
  EXPECT_EQ(info.rank, 5);
  EXPECT_EQ(info.world_size, 8);
  EXPECT_EQ(info.local_rank, 1);
  EXPECT_EQ(info.source, "slurm");
  // One Slurm task is not a job of ranks: the torchrun variables decide.
  ::setenv("SLURM_NTASKS", "1", 1);
  EXPECT_EQ(rank_from_environment().source, "env");
}

TEST_F(RankEnvironmentTest, BadValuesNameTheVariable) {
  ::setenv("WORLD_SIZE", "2", 1);
  ::setenv("RANK", "2", 1);
  expect_input_error([] { rank_from_environment(); }, {"RANK", "'2'", "0 to 1"});
  ::setenv("RANK", "x", 1);
  expect_input_error([] { rank_from_environment(); }, {"RANK", "'x'"});
  ::setenv("RANK", "0", 1);
  ::setenv("MASTER_PORT", "70000", 1);
  expect_input_error([] { rank_from_environment(); }, {"MASTER_PORT", "70000"});
  ::setenv("CREST_DIST_TIMEOUT", "0", 1);
  expect_input_error([] { collective_timeout(); }, {"CREST_DIST_TIMEOUT"});
}

TEST(WorldOfOneRankTest, CollectivesReturnTheirInput) {
  World world;
  EXPECT_FALSE(world.distributed());
  EXPECT_TRUE(world.is_main());
  at::Tensor t = at::arange(3, at::kFloat);
  world.all_reduce_sum(t);
  EXPECT_TRUE(at::equal(t, at::arange(3, at::kFloat)));
  EXPECT_TRUE(at::equal(world.all_gather_rows(t), t));
  EXPECT_TRUE(world.any(true));
  EXPECT_FALSE(world.any(false));
  EXPECT_EQ(world.backend(), "none");
}

}  // namespace
}  // namespace crest::dist
