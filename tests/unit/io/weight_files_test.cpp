#include "crest/io/weight_files.h"

#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>
#include <torch/serialize.h>

#include <fstream>
#include <sstream>

#include "crest/io/file.h"
#include "test_util.h"

namespace crest {
namespace {

class WeightFilesTest : public TempDirTest {
 protected:
  NamedTensors sample() const {
    return {{"conv1.weight", at::arange(24, at::kFloat).reshape({2, 3, 2, 2}) / 7.0},
            {"bn1.running_mean", at::tensor({0.5, -1.5}, at::kFloat)},
            {"bn1.num_batches_tracked", at::tensor(int64_t{12})},
            {"fc.bias", at::tensor({1.0, 2.0, 3.0}, at::kDouble)}};
  }
  static void expect_same(const NamedTensors& a, const NamedTensors& b) {
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].first, b[i].first);
      EXPECT_EQ(a[i].second.scalar_type(), b[i].second.scalar_type()) << a[i].first;
      EXPECT_TRUE(a[i].second.sizes().equals(b[i].second.sizes())) << a[i].first;
      EXPECT_TRUE(at::equal(a[i].second, b[i].second)) << a[i].first;
    }
  }
};

TEST_F(WeightFilesTest, SafetensorsRoundTripKeepsOrderDtypesAndValues) {
  const auto file = dir_ / "w.safetensors";
  write_weight_file(file, sample(), "safetensors", {{"format", "pt"}});
  expect_same(read_weight_file(file), sample());
  // The layout: an 8-byte little-endian header size, then a JSON header padded to 8 bytes.
  const std::string bytes = read_file(file);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(n % 8, 0U);
  EXPECT_EQ(bytes[8], '{');
}

TEST_F(WeightFilesTest, PickleRoundTripGivesADictInOrder) {
  const auto file = dir_ / "w.pt";
  write_weight_file(file, sample(), "pt");
  expect_same(read_weight_file(file), sample());
}

TEST_F(WeightFilesTest, PtIsTorchSavesZipLayoutWithOnlyWeightsOnlyGlobals) {
  const NamedTensors tensors = {{"conv.weight", at::randn({2, 3, 3, 3})},
                                {"bn.running_var", at::rand({4}, at::kDouble)},
                                {"bn.num_batches_tracked", at::tensor(std::int64_t{9})},
                                {"fc.bias", at::arange(8, at::kFloat).slice(0, 2, 8, 2)}};
  const auto file = dir_ / "w.pt";
  write_weight_file(file, tensors, "pt");
  const std::string bytes = read_file(file);
  std::istringstream in(bytes);
  caffe2::serialize::PyTorchStreamReader reader(&in);
  for (const char* record : {"data.pkl", "data/0", "data/1", "data/2", "data/3", "version"}) {
    EXPECT_TRUE(reader.hasRecord(record)) << record;
  }
  auto [data, size] = reader.getRecord("data.pkl");
  const std::string pickle(static_cast<const char*>(data.get()), size);
  EXPECT_EQ(pickle.find("restore_type_tag"), std::string::npos);
  EXPECT_NE(pickle.find("torch._utils\n_rebuild_tensor_v2\n"), std::string::npos);
  // The slice went in as its own 3 elements, not the 8 of the tensor it was cut from.
  EXPECT_EQ(std::get<1>(reader.getRecord("data/3")), 3 * sizeof(float));
  const NamedTensors got = read_weight_file(file);
  ASSERT_EQ(got.size(), tensors.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].first, tensors[i].first);
    EXPECT_TRUE(at::equal(got[i].second, tensors[i].second)) << got[i].first;
  }
}

TEST_F(WeightFilesTest, ErrorsNameTheFile) {
  expect_input_error([&] { read_weight_file(dir_ / "none.pt"); }, {"none.pt", "does not exist"});
  expect_input_error([&] { write_weight_file(dir_ / "x.bin", sample(), "bin"); },
                     {"pt or safetensors", "'bin'"});
  const auto good = dir_ / "w.safetensors";
  write_weight_file(good, sample(), "safetensors");
  const std::string bytes = read_file(good);
  const auto cut = dir_ / "cut.safetensors";
  write_file_atomic(cut, bytes.substr(0, bytes.size() - 5));
  expect_data_error([&] { read_weight_file(cut); }, {"cut.safetensors", "data_offsets"});
  const auto tiny = dir_ / "tiny.safetensors";
  write_file_atomic(tiny, "abc");
  expect_data_error([&] { read_weight_file(tiny); }, {"tiny.safetensors", "8-byte"});
  const auto garbage = dir_ / "garbage.pt";
  write_file_atomic(garbage, "this is not a pickle");
  expect_data_error([&] { read_weight_file(garbage); }, {"garbage.pt", "not a .pt file"});
  const auto list = dir_ / "list.pt";
  const std::vector<char> pickled = torch::pickle_save(c10::IValue(at::ones({2})));
  write_file_atomic(list, std::string(pickled.begin(), pickled.end()));
  expect_data_error([&] { read_weight_file(list); }, {"list.pt", "not a dict"});
}

}  // namespace
}  // namespace crest
