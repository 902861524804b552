// RUN/world.json: the world size of a multi-rank run, and the resume check against it.
#include "crest/io/world_file.h"

#include <gtest/gtest.h>

#include "crest/io/file.h"
#include "crest/io/run_files.h"
#include "test_util.h"

namespace crest {
namespace {

class WorldFileTest : public TempDirTest {};

TEST_F(WorldFileTest, AbsentMeansOneRankAndWrittenReadsBack) {
  EXPECT_EQ(read_world_size(dir_), 1);
  check_resume_world_size(dir_, 1);
  write_world_size(dir_, 4);
  EXPECT_EQ(read_world_size(dir_), 4);
  check_resume_world_size(dir_, 4);
}

TEST_F(WorldFileTest, AnotherWorldSizeOnResumeIsRefused) {
  write_world_size(dir_, 2);
  expect_input_error([&] { check_resume_world_size(dir_, 3); },
                     {"cannot resume", "3 rank(s)", "trained with 2", "--nproc 2"});
  expect_input_error([&] { check_resume_world_size(dir_, 1); }, {"trained with 2"});
  std::filesystem::remove(dir_ / kWorldFile);
  expect_input_error([&] { check_resume_world_size(dir_, 2); }, {"trained with 1", "one process"});
}

TEST_F(WorldFileTest, DamagedFileIsADataError) {
  write_file_atomic(dir_ / kWorldFile, "{\"world_size\": 0}\n");
  expect_data_error([&] { read_world_size(dir_); }, {"world.json", "world_size", "at least 1"});
  write_file_atomic(dir_ / kWorldFile, "{\"world_size\": 1.5}\n");
  expect_data_error([&] { read_world_size(dir_); }, {"world.json", "world_size"});
  write_file_atomic(dir_ / kWorldFile, "{}\n");
  expect_data_error([&] { read_world_size(dir_); }, {"world.json", "missing"});
  write_file_atomic(dir_ / kWorldFile, "not json");
  expect_data_error([&] { read_world_size(dir_); }, {"world.json"});
}

TEST_F(WorldFileTest, RecordedThreadsReadBackAndDamageIsADataError) {
  EXPECT_EQ(read_recorded_cpu_threads(dir_), 0);  // absent: nothing recorded
  write_recorded_cpu_threads(dir_, 3);
  EXPECT_EQ(read_recorded_cpu_threads(dir_), 3);
  write_file_atomic(dir_ / kThreadsFile, "{\"cpu_threads\": 0}\n");
  expect_data_error([&] { read_recorded_cpu_threads(dir_); },
                    {"threads.json", "cpu_threads", "at least 1"});
  write_file_atomic(dir_ / kThreadsFile, "{\"cpu_threads\": 100000}\n");
  expect_data_error([&] { read_recorded_cpu_threads(dir_); },
                    {"threads.json", "cpu_threads", "at most 1024"});
  write_file_atomic(dir_ / kThreadsFile, "{\"threads\": 2}\n");
  expect_data_error([&] { read_recorded_cpu_threads(dir_); }, {"threads.json", "missing"});
}

}  // namespace
}  // namespace crest
