#include "crest/io/torch_pickle.h"

#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>
#include <torch/serialize.h>

#include <cstring>
#include <functional>
#include <map>

#include "test_util.h"

namespace crest {
namespace {

// A pickle written opcode by opcode, the way Python's pickle module writes protocol 2 (see
// `python3 -m pickletools` on a torch.save file's data.pkl).
struct Pickle {
  std::string bytes = "\x80\x02";

  Pickle& op(const std::string& codes) {
    bytes += codes;
    return *this;
  }
  Pickle& global(const std::string& module, const std::string& name) {
    return op("c" + module + "\n" + name + "\n");
  }
  Pickle& str(const std::string& text) {
    const auto n = static_cast<std::uint32_t>(text.size());
    op("X");
    for (int i = 0; i < 4; ++i) bytes += static_cast<char>((n >> (8 * i)) & 0xFF);
    return op(text);
  }
  Pickle& integer(std::int64_t value) {  // BININT1 for a byte, LONG1 of 8 bytes otherwise
    if (value >= 0 && value < 256) return op(std::string("K") + static_cast<char>(value));
    op("\x8a\x08");
    for (int i = 0; i < 8; ++i) bytes += static_cast<char>((value >> (8 * i)) & 0xFF);
    return *this;
  }
  Pickle& put(int index) { return op(std::string("q") + static_cast<char>(index)); }
  Pickle& get(int index) { return op(std::string("h") + static_cast<char>(index)); }
  Pickle& ints(const std::vector<std::int64_t>& values) {  // a tuple of ints
    op("(");
    for (std::int64_t v : values) integer(v);
    return op("t");
  }
  // torch._utils._rebuild_tensor_v2(('storage', torch.TYPE, key, 'cpu', numel), offset, size,
  // stride, False, collections.OrderedDict()), as torch.save writes a tensor.
  Pickle& tensor(const std::string& key, std::int64_t numel, std::int64_t offset,
                 const std::vector<std::int64_t>& size, const std::vector<std::int64_t>& stride,
                 const std::string& type = "FloatStorage") {
    global("torch._utils", "_rebuild_tensor_v2").op("((").str("storage").global("torch", type);
    str(key).str("cpu").integer(numel).op("tQ").integer(offset).ints(size).ints(stride);
    return op("\x89")
        .global("collections", "OrderedDict")
        .op(")Rt"
            "R");
  }
};

// A torch.save-style zip archive: data.pkl, the storages data/KEY, and `extra` records.
std::string archive(const std::string& pickle,
                    const std::map<std::string, std::string>& records = {
                        {"data/0", std::string(6 * sizeof(float), '\0')}}) {
  std::string out;
  caffe2::serialize::PyTorchStreamWriter writer([&out](const void* data, size_t size) {
    out.append(static_cast<const char*>(data), size);
    return size;
  });
  for (const auto& [name, bytes] : records) writer.writeRecord(name, bytes.data(), bytes.size());
  writer.writeRecord("data.pkl", pickle.data(), pickle.size());
  writer.writeEndOfFile();
  return out;
}

std::string floats(const std::vector<float>& values) {
  std::string out(values.size() * sizeof(float), '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

// {'w': a tensor of the storage data/0 of 6 floats}, with `value` in place of the tensor.
std::string dict_with(const std::function<void(Pickle&)>& value) {
  Pickle p;
  p.op("}").str("w");
  value(p);
  return p.op("s.").bytes;
}

TEST(TorchPickleTest, ReadsPythonsStateDictWithMetadataAndSharedStorages) {
  // torch.save(model.state_dict()): an OrderedDict (its global memoized and reused), two views
  // of one storage, a 0-d int64 buffer, and the _metadata attribute set by BUILD.
  Pickle p;
  p.global("collections", "OrderedDict").put(0).op(")R").put(1).op("(");
  p.str("a.weight").tensor("0", 6, 0, {2, 3}, {3, 1});
  p.str("a.bias").tensor("0", 6, 4, {2}, {1});
  p.str("n").tensor("1", 1, 0, {}, {}, "LongStorage");
  p.op("u}").str("_metadata").get(0).op(")R(").str("").op("}").str("version").integer(1);
  p.op(
      "sus"
      "b.");
  std::int64_t seven = 7;
  const std::string longs(reinterpret_cast<const char*>(&seven), sizeof(seven));
  const NamedTensors got = torch_load_state_dict(
      archive(p.bytes, {{"data/0", floats({0, 1, 2, 3, 4, 5})}, {"data/1", longs}}), "sd.pt");
  ASSERT_EQ(got.size(), 3U);
  EXPECT_EQ(got[0].first, "a.weight");
  EXPECT_TRUE(at::equal(got[0].second, at::arange(6, at::kFloat).reshape({2, 3})));
  EXPECT_EQ(got[1].first, "a.bias");
  EXPECT_TRUE(at::equal(got[1].second, at::tensor({4.0F, 5.0F})));
  EXPECT_EQ(got[2].first, "n");
  EXPECT_EQ(got[2].second.dim(), 0);
  EXPECT_EQ(got[2].second.item<std::int64_t>(), 7);
  // Views of the one storage, as torch.load gives them.
  EXPECT_EQ(got[0].second.storage().data(), got[1].second.storage().data());
}

TEST(TorchPickleTest, UnwrapsCheckpointsAndDataParallelNames) {
  for (const std::string wrapper : {"state_dict", "model"}) {
    Pickle p;  // {'epoch': 3, 'lr': 0.1, wrapper: {'module.a': t, 'module.b': t}}
    p.op("}(").str("epoch").integer(3).str("lr").op("G\x3f\xb9\x99\x99\x99\x99\x99\x9a");
    p.str(wrapper).op("}(").str("module.a").tensor("0", 6, 0, {6}, {1});
    p.str("module.b").tensor("0", 6, 1, {2}, {2}).op("uu.");
    const NamedTensors got = torch_load_state_dict(archive(p.bytes), "ckpt.pt");
    ASSERT_EQ(got.size(), 2U) << wrapper;
    EXPECT_EQ(got[0].first, "a");
    EXPECT_EQ(got[1].first, "b");
    EXPECT_EQ(got[1].second.numel(), 2);
  }
  // A prefix on only some names is kept as it is.
  Pickle p;
  p.op("}(").str("module.a").tensor("0", 6, 0, {6}, {1}).str("b").tensor("0", 6, 0, {1}, {1});
  const NamedTensors got = torch_load_state_dict(archive(p.op("u.").bytes), "mixed.pt");
  EXPECT_EQ(got[0].first, "module.a");
}

TEST(TorchPickleTest, RefusesEveryOtherGlobalByNameWithoutCallingIt) {
  const std::vector<std::pair<std::string, std::string>> globals = {
      {"posix", "system"},        {"os", "system"},
      {"builtins", "eval"},       {"builtins", "exec"},
      {"subprocess", "Popen"},    {"torch.nn.modules.conv", "Conv2d"},
      {"torch", "load"},          {"torch._utils", "_rebuild_sparse_tensor"},
      {"torch", "FloatStorage2"}, {"collections", "defaultdict"},
      {"__main__", "Evil"},       {"numpy.core.multiarray", "_reconstruct"}};
  for (const auto& [module, name] : globals) {
    // As a value of the state dict, after a good tensor, called with one argument.
    Pickle p;
    p.op("}(").str("a").tensor("0", 6, 0, {6}, {1}).str("b").global(module, name);
    p.str("touch /tmp/crest-pwned").op("\x85R").op("u.");
    expect_data_error([&] { torch_load_state_dict(archive(p.bytes), "evil.pt"); },
                      {"evil.pt", "refused", "'" + module + "." + name + "'", "state_dict()"});
  }
}

TEST(TorchPickleTest, RefusesDamagedArchivesAndPicklesNamingTheFile) {
  const std::string good = archive(dict_with([](Pickle& p) { p.tensor("0", 6, 0, {6}, {1}); }));
  ASSERT_EQ(torch_load_state_dict(good, "good.pt").size(), 1U);
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"", {"not a zip archive"}},
      {"just text", {"not a zip archive"}},
      {Pickle().op("}.").bytes, {"legacy format", "weights_only=True"}},
      {good.substr(0, good.size() / 2), {"not a .pt file"}},
      {good.substr(0, good.size() - 10), {"not a .pt file"}},
      {good.substr(0, 40), {"not a .pt file"}},
      {archive(Pickle().op("}").str("w").bytes), {"truncated"}},
      {archive(Pickle().op("}").str("w").op("\x95").bytes), {"opcode 0x95"}},
      {archive(Pickle().get(3).op(".").bytes), {"memo entry 3"}},
      {archive(Pickle().op("s.").bytes), {"empty stack"}},
      {archive(Pickle().op("]").integer(1).integer(2).op("b.").bytes), {"BUILD"}},
      {archive(dict_with([](Pickle& p) { p.tensor("0", 6, 5, {2}, {1}); })), {"does not fit"}},
      {archive(dict_with([](Pickle& p) { p.tensor("0", 6, 0, {7}, {1}); })), {"does not fit"}},
      {archive(dict_with([](Pickle& p) { p.tensor("0", 6, 0, {8}, {0}); })), {"does not fit"}},
      {archive(dict_with([](Pickle& p) { p.tensor("0", 6, 0, {2}, {-1}); })), {"does not fit"}},
      {archive(dict_with([](Pickle& p) { p.tensor("0", 6, -1, {1}, {1}); })), {"does not fit"}},
      {archive(dict_with([](Pickle& p) {
         p.tensor("0", 6, 0, {std::int64_t{1} << 62, std::int64_t{1} << 62}, {1, 1});
       })),
       {"does not fit"}},
      {archive(dict_with([](Pickle& p) { p.tensor("0", 7, 0, {6}, {1}); })),
       {"data/0 holds 24 bytes, not 7 Float elements"}},
      {archive(dict_with([](Pickle& p) { p.tensor("9", 6, 0, {6}, {1}); })),
       {"lacks the record data/9"}},
      {archive(dict_with([](Pickle& p) { p.tensor("0", 6, 0, {6}, {1}); }),
               {{"data/0", floats({0, 1, 2, 3, 4, 5})}, {"byteorder", "big"}}),
       {"big-endian"}},
      {archive(Pickle().op("]").integer(1).op("a.").bytes), {"type list, not a dict"}},
      {archive(dict_with([](Pickle& p) { p.integer(3); })), {"'w' holds a value of type int"}},
      {archive(Pickle().op("}").integer(1).tensor("0", 6, 0, {6}, {1}).op("s.").bytes),
       {"a key is not a string"}},
      {archive(Pickle()
                   .op("}(")
                   .str("w")
                   .tensor("0", 6, 0, {6}, {1})
                   .str("w")
                   .tensor("0", 6, 0, {6}, {1})
                   .op("u.")
                   .bytes),
       {"holds 'w' twice"}},
  };
  for (const auto& [bytes, needles] : cases) {
    std::vector<std::string> all = needles;
    all.push_back("bad.pt");
    expect_data_error([&, b = bytes] { torch_load_state_dict(b, "bad.pt"); }, all);
  }
}

TEST(TorchPickleTest, RecalledStoragesAndStringsAreSharedNotCopied) {
  // {'w': [t] * 100000, 's': [a 1 MB string] * 200000}, each item one recall from the memo or
  // one call of the memoized _rebuild_tensor_v2 on memoized arguments: a few bytes of pickle
  // each, hundreds of gigabytes if each tensor or string were a copy.
  const std::int64_t n = std::int64_t{1} << 20;
  Pickle p;
  p.op("}(").str("w").op("](").global("torch._utils", "_rebuild_tensor_v2").put(0).op("((");
  p.str("storage").global("torch", "FloatStorage").str("0").str("cpu").integer(n).op("tQ");
  p.integer(0).ints({n}).ints({1}).op("\x89").global("collections", "OrderedDict").op(")Rt");
  p.put(1);
  for (int i = 0; i < 100000; ++i) p.get(0).get(1).op("R");
  p.op("e").str("s").op("](").str(std::string(n, 'x')).put(2);
  for (int i = 1; i < 200000; ++i) p.get(2);
  p.op("eu.");
  const std::string bytes = archive(p.bytes, {{"data/0", std::string(4 * n, '\0')}});
  EXPECT_LT(bytes.size(), std::size_t{8} << 20);
  expect_data_error([&] { torch_load_state_dict(bytes, "many.pt"); },
                    {"many.pt", "'w' holds a value of type list"});
}

TEST(TorchPickleTest, ReadsCrestsOwnFilesFromBeforeIssue28) {
  c10::Dict<std::string, at::Tensor> dict;  // what write_weight_file wrote until #28
  dict.insert("conv1.weight", at::ones({2, 2}));
  dict.insert("bn1.num_batches_tracked", at::tensor(std::int64_t{3}));
  const std::vector<char> old = torch::pickle_save(c10::IValue(dict));
  const std::string bytes(old.begin(), old.end());
  ASSERT_NE(bytes.find("restore_type_tag"), std::string::npos);
  const NamedTensors got = torch_load_state_dict(bytes, "old.pt");
  ASSERT_EQ(got.size(), 2U);
  EXPECT_TRUE(at::equal(got[0].second, at::ones({2, 2})));
  EXPECT_EQ(got[1].second.item<std::int64_t>(), 3);
}

}  // namespace
}  // namespace crest
