#include "crest/io/weight_files.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/pickler.h>

#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>

#include "crest/io/file.h"
#include "crest/io/json_text.h"
#include "crest/io/torch_pickle.h"
#include "crest/util/error.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

struct SafetensorsType {
  const char* name;
  at::ScalarType type;
};

constexpr SafetensorsType kSafetensorsTypes[] = {
    {"F32", at::kFloat}, {"F64", at::kDouble},    {"I64", at::kLong},
    {"F16", at::kHalf},  {"BF16", at::kBFloat16}, {"I32", at::kInt},
    {"U8", at::kByte},   {"I8", at::kChar},       {"BOOL", at::kBool}};

const char* safetensors_dtype(at::ScalarType type) {
  for (const auto& t : kSafetensorsTypes) {
    if (t.type == type) return t.name;
  }
  return nullptr;
}

std::string safetensors_bytes(const NamedTensors& tensors,
                              const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string data;
  for (const auto& [name, tensor] : tensors) {
    const at::Tensor t = tensor.detach().cpu().contiguous();
    const char* dtype = safetensors_dtype(t.scalar_type());
    if (dtype == nullptr) {
      throw InputError("safetensors: no dtype for " + name + " (" +
                       std::string(c10::toString(t.scalar_type())) + ")");
    }
    const std::size_t begin = data.size();
    data.append(static_cast<const char*>(t.data_ptr()), static_cast<std::size_t>(t.nbytes()));
    header[name] = {{"dtype", dtype},
                    {"shape", std::vector<std::int64_t>(t.sizes().begin(), t.sizes().end())},
                    {"data_offsets", {begin, data.size()}}};
  }
  std::string json = json_text(header);
  while (json.size() % 8 != 0) json += ' ';
  std::string out(8, '\0');
  const std::uint64_t n = json.size();
  for (int i = 0; i < 8; ++i)
    out[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + json + data;
}

NamedTensors parse_safetensors(const std::string& bytes, const fs::path& file) {
  auto bad = [&file](const std::string& why) {
    return DataError(file.string() + ": not a safetensors file (" + why +
                     "); export it again (crest export --format safetensors)");
  };
  if (bytes.size() < 8) throw bad("shorter than its 8-byte header size");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) {
    n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  }
  if (n > bytes.size() - 8) throw bad("the header runs past the end of the file");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.substr(8, n));
  } catch (const nlohmann::json::exception& e) {
    throw bad(std::string("its header is not JSON: ") + e.what());
  }
  if (!header.is_object()) throw bad("its header is not a JSON object");
  const std::size_t data_begin = 8 + n;
  const std::size_t data_size = bytes.size() - data_begin;
  // Entries in the order of their data, which is the order they were written.
  std::vector<std::pair<std::uint64_t, NamedTensors::value_type>> entries;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    try {
      const std::string dtype = entry.at("dtype").get<std::string>();
      const auto shape = entry.at("shape").get<std::vector<std::int64_t>>();
      const auto offsets = entry.at("data_offsets").get<std::vector<std::uint64_t>>();
      at::ScalarType type = at::kFloat;
      bool known = false;
      for (const auto& t : kSafetensorsTypes) {
        if (dtype == t.name) {
          type = t.type;
          known = true;
        }
      }
      if (!known) throw bad(name + " has the dtype " + dtype + ", which crest does not read");
      std::int64_t count = 1;
      for (std::int64_t d : shape) {
        if (d < 0) throw bad(name + " has a negative dimension");
        count *= d;
      }
      const std::uint64_t expected = static_cast<std::uint64_t>(count) * c10::elementSize(type);
      if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_size ||
          offsets[1] - offsets[0] != expected) {
        throw bad(name + "'s data_offsets do not fit its shape or the file");
      }
      at::Tensor t = at::empty(shape, at::TensorOptions().dtype(type));
      if (expected > 0) std::memcpy(t.data_ptr(), bytes.data() + data_begin + offsets[0], expected);
      entries.push_back({offsets[0], {name, t}});
    } catch (const nlohmann::json::exception& e) {
      throw bad(name + ": " + e.what());
    }
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  NamedTensors out;
  for (auto& e : entries) out.push_back(std::move(e.second));
  return out;
}

// torch.save's zip layout (io/torch_pickle.h) of one dict name -> tensor, read by
// torch.load(weights_only=True): its pickle names only collections.OrderedDict (a tensor's empty
// backward hooks), torch._utils._rebuild_tensor_v2 and torch.<Type>Storage.
std::string torch_save_bytes(const NamedTensors& tensors) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, tensor] : tensors) {
    // A storage of exactly the tensor: no bytes of anything else go into the file.
    dict.insert_or_assign(name, tensor.detach().cpu().clone(at::MemoryFormat::Contiguous));
  }
  std::string pickle;
  // tag_aggregates false: no torch.jit._pickle.restore_type_tag around the dict, a global that
  // torch.load(weights_only=True) refuses.
  torch::jit::Pickler pickler(
      [&pickle](const char* data, size_t size) { pickle.append(data, size); }, nullptr, nullptr,
      nullptr, nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(c10::IValue(dict));
  pickler.stop();
  std::string out;
  caffe2::serialize::PyTorchStreamWriter writer([&out](const void* data, size_t size) {
    out.append(static_cast<const char*>(data), size);
    return size;
  });
  // The pickle's storage keys are the tensors' positions in tensorData().
  const std::vector<at::Tensor>& storages = pickler.tensorData();
  for (std::size_t i = 0; i < storages.size(); ++i) {
    const at::Storage& storage = storages[i].storage();
    writer.writeRecord("data/" + std::to_string(i), storage.data(), storage.nbytes());
  }
  writer.writeRecord("data.pkl", pickle.data(), pickle.size());
  writer.writeEndOfFile();
  return out;
}

}  // namespace

void write_weight_file(const fs::path& file, const NamedTensors& tensors, const std::string& format,
                       const std::map<std::string, std::string>& metadata) {
  if (format == "safetensors") {
    write_file_atomic(file, safetensors_bytes(tensors, metadata));
  } else if (format == "pt") {
    write_file_atomic(file, torch_save_bytes(tensors));
  } else {
    throw InputError("weight file format must be pt or safetensors, got '" + format + "'");
  }
}

NamedTensors read_weight_file(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) {
    throw InputError(file.string() + " does not exist or is not a file");
  }
  const std::string bytes = read_file(file);
  if (file.extension() == ".safetensors") return parse_safetensors(bytes, file);
  return torch_load_state_dict(bytes, file);
}

}  // namespace crest
