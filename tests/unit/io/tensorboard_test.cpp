#include "crest/io/tensorboard.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include "crest/io/file.h"
#include "crest/io/generation_files.h"
#include "crest/io/selection_files.h"
#include "crest/io/training_files.h"
#include "test_util.h"

namespace crest {
namespace {

namespace fs = std::filesystem;

using TensorBoardTest = TempDirTest;

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::uint32_t le32(const std::string& bytes, std::size_t at) {
  std::uint32_t value = 0;
  for (int i = 3; i >= 0; --i) {
    value = (value << 8) | static_cast<unsigned char>(bytes[at + static_cast<std::size_t>(i)]);
  }
  return value;
}

// The published check value of CRC-32C (Castagnoli) and the iSCSI test vectors of RFC 3720,
// B.4.
TEST(Crc32cTest, PublishedValues) {
  const std::string check = "123456789";
  EXPECT_EQ(crc32c(check.data(), check.size()), 0xE3069283u);
  const std::string zeros(32, '\0');
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  const std::string ones(32, '\xff');
  EXPECT_EQ(crc32c(ones.data(), ones.size()), 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  EXPECT_EQ(crc32c(ascending.data(), ascending.size()), 0x46DD794Eu);
  EXPECT_EQ(crc32c(nullptr, 0), 0u);
  // Continuing from a CRC gives the CRC of the whole.
  EXPECT_EQ(crc32c(check.data() + 4, 5, crc32c(check.data(), 4)), 0xE3069283u);
}

TEST(Crc32cTest, MaskIsTfRecords) {
  const std::string check = "123456789";
  const std::uint32_t crc = 0xE3069283u;
  EXPECT_EQ(masked_crc32c(check.data(), check.size()),
            static_cast<std::uint32_t>(((crc >> 15) | (crc << 17)) + 0xa282ead8u));
}

// The first record of every event file: Event{file_version: "brain.Event:2"} is the 15 bytes
// 0x1a 0x0d "brain.Event:2". The masked CRCs come from scripts/read_tfevents.py, whose CRC32C
// gives the published values above.
TEST(TfRecordTest, FramesAKnownRecord) {
  const std::string data = std::string("\x1a\x0d", 2) + "brain.Event:2";
  const std::string frame = tfrecord_frame(data);
  ASSERT_EQ(frame.size(), 16 + data.size());
  EXPECT_EQ(frame.substr(0, 8), std::string("\x0f\0\0\0\0\0\0\0", 8));  // uint64 LE length
  EXPECT_EQ(le32(frame, 8), 0x092b536du);                               // masked CRC of it
  EXPECT_EQ(frame.substr(12, data.size()), data);
  EXPECT_EQ(le32(frame, 12 + data.size()), 0x295198fcu);  // masked CRC of the data
  EXPECT_EQ(le32(frame, 8), masked_crc32c(frame.data(), 8));
}

TEST(TfRecordTest, EmptyRecord) {
  const std::string frame = tfrecord_frame("");
  ASSERT_EQ(frame.size(), 16u);
  EXPECT_EQ(le32(frame, 12), masked_crc32c("", 0));
}

// Class names become one safe tag component each, distinct even when they sanitise alike.
TEST(TensorBoardTagTest, ClassTagsAreSafeAndDistinct) {
  const std::vector<std::string> tags =
      class_tags({"cat", "a b", "a_b", "x/y", "<script>", "line\nbreak", "a|b"});
  EXPECT_EQ(tags, (std::vector<std::string>{"cat", "a_b", "a_b_2", "x_y", "_script_", "line_break",
                                            "a_b_6"}));
}

TEST(TfRecordTest, FileName) {
  EXPECT_EQ(event_file_name(1700000000, "box", 42, 0), "events.out.tfevents.1700000000.box.42.0");
}

TEST_F(TensorBoardTest, WritesANewFileStartingWithTheVersion) {
  if (!tensorboard_supported()) GTEST_SKIP() << "built without Protobuf";
  const fs::path dir = dir_ / "tb" / "gen_0";
  fs::path first;
  {
    EventWriter writer;
    ASSERT_TRUE(writer.open(dir));
    first = writer.path();
    EXPECT_EQ(first.parent_path(), dir);
    EXPECT_TRUE(std::regex_match(first.filename().string(),
                                 std::regex(R"(events\.out\.tfevents\.\d+\.[^/]+\.\d+\.0)")));
    writer.add_scalar("train/loss", 0.5, 10);
    writer.add_scalar("train/pseudo_label_acc", MetricsLine::kNaN, 10);  // unknown: left out
    writer.flush();
    EXPECT_FALSE(writer.failed());
  }
  const std::string bytes = read_bytes(first);
  const std::string version = std::string("\x1a\x0d", 2) + "brain.Event:2";
  ASSERT_GE(bytes.size(), 16u + 9 + version.size());
  // The first record: wall_time (field 1, 9 bytes), then file_version; step 0 is not written.
  const std::string framed = bytes.substr(0, 16 + 9 + version.size());
  EXPECT_EQ(framed, tfrecord_frame(framed.substr(12, 9 + version.size())));
  EXPECT_EQ(framed.substr(12 + 9, version.size()), version);
  // One more record (the scalar), well framed, holding its tag.
  const std::string rest = bytes.substr(framed.size());
  ASSERT_GE(rest.size(), 16u);
  std::uint64_t length = 0;
  for (int i = 7; i >= 0; --i) {
    length = (length << 8) | static_cast<unsigned char>(rest[static_cast<std::size_t>(i)]);
  }
  ASSERT_EQ(rest.size(), 16 + length);
  EXPECT_EQ(rest, tfrecord_frame(rest.substr(12, length)));
  EXPECT_NE(rest.find("train/loss"), std::string::npos);
  EXPECT_EQ(bytes.find("pseudo_label_acc"), std::string::npos);

  // A second writer in the same folder never reuses the file.
  EventWriter again;
  ASSERT_TRUE(again.open(dir));
  EXPECT_NE(again.path(), first);
  EXPECT_EQ(read_bytes(first), bytes);
}

// A folder that cannot be created: open() says no, and every later call is a no-op.
TEST_F(TensorBoardTest, FailureStopsWritingWithoutThrowing) {
  write_file_atomic(dir_ / "tb", "a file where the folder should be");
  EventWriter writer;
  EXPECT_FALSE(writer.open(dir_ / "tb" / "gen_0"));
  EXPECT_TRUE(writer.failed());
  EXPECT_FALSE(writer.is_open());
  writer.add_scalar("train/loss", 1.0, 1);
  writer.flush();
  MetricsLine line;
  line.step = 1;
  add_metrics_scalars(writer, line, {"a"});
  add_generation_scalars(writer, GenerationRow{}, nullptr, 1);
  EXPECT_TRUE(writer.failed());
}

}  // namespace
}  // namespace crest
