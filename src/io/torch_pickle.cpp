#include "crest/io/torch_pickle.h"

#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "crest/util/error.h"
#include "unpickler.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

using io_detail::kind_name;
using io_detail::pt_error;
using io_detail::StorageLoader;
using io_detail::Unpickler;
using io_detail::Value;

// The state dict in the file: the top-level dict, or the dict it wraps under 'state_dict' or
// 'model' when it holds other things, with DataParallel's 'module.' prefix removed.
NamedTensors named_tensors(const Unpickler& unpickler, const Value& top, const fs::path& file) {
  if (top.kind != Value::Kind::kDict) {
    throw pt_error(file,
                   std::string("it holds a value of type ") + kind_name(top.kind) + ", not a dict");
  }
  const std::vector<Value>* items = &unpickler.items(top);
  bool all_tensors = true;
  for (std::size_t i = 1; i < items->size(); i += 2) {
    all_tensors &= (*items)[i].kind == Value::Kind::kTensor;
  }
  for (const char* wrapper : {"model", "state_dict"}) {
    for (std::size_t i = 0; !all_tensors && i + 1 < items->size(); i += 2) {
      if ((*items)[i].kind == Value::Kind::kString && (*items)[i].text() == wrapper &&
          (*items)[i + 1].kind == Value::Kind::kDict) {
        items = &unpickler.items((*items)[i + 1]);
        break;
      }
    }
  }
  NamedTensors out;
  std::set<std::string> seen;
  bool prefixed = items->size() > 0;
  for (std::size_t i = 0; i + 1 < items->size(); i += 2) {
    const Value& key = (*items)[i];
    const Value& value = (*items)[i + 1];
    if (key.kind != Value::Kind::kString) throw pt_error(file, "a key is not a string");
    if (value.kind != Value::Kind::kTensor) {
      throw pt_error(file, "'" + key.text() + "' holds a value of type " + kind_name(value.kind) +
                               ", not a tensor");
    }
    if (!seen.insert(key.text()).second)
      throw pt_error(file, "it holds '" + key.text() + "' twice");
    prefixed &= key.text().rfind("module.", 0) == 0;
    out.emplace_back(key.text(), value.tensor);
  }
  for (auto& entry : out) {
    if (prefixed) entry.first.erase(0, 7);
  }
  return out;
}

// The storage reader over the archive's data/KEY records, each read once.
StorageLoader storage_loader(caffe2::serialize::PyTorchStreamReader& reader, const fs::path& file,
                             std::map<std::string, at::Tensor>& cache) {
  return [&reader, file, &cache](const std::string& key, at::ScalarType dtype, std::int64_t numel) {
    const auto it = cache.find(key);
    if (it != cache.end()) {
      if (it->second.scalar_type() != dtype || it->second.numel() != numel) {
        throw pt_error(file, "storage " + key + " is given two types or sizes");
      }
      return it->second;
    }
    const std::string record = "data/" + key;
    if (!reader.hasRecord(record)) throw pt_error(file, "it lacks the record " + record);
    auto [data, bytes] = reader.getRecord(record);
    const auto element = static_cast<std::int64_t>(c10::elementSize(dtype));
    if (numel < 0 || numel > static_cast<std::int64_t>(bytes) / element ||
        static_cast<std::int64_t>(bytes) != numel * element) {
      throw pt_error(file, record + " holds " + std::to_string(bytes) + " bytes, not " +
                               std::to_string(numel) + " " + c10::toString(dtype) + " elements");
    }
    at::Tensor t = at::empty({numel}, at::TensorOptions().dtype(dtype));
    if (bytes > 0) std::memcpy(t.data_ptr(), data.get(), bytes);
    cache.emplace(key, t);
    return t;
  };
}

}  // namespace

NamedTensors torch_load_state_dict(const std::string& bytes, const fs::path& file) {
  if (bytes.rfind("PK\x03\x04", 0) != 0) {
    if (!bytes.empty() && static_cast<unsigned char>(bytes[0]) == 0x80) {  // pickle's PROTO
      throw pt_error(file,
                     "a bare pickle, such as torch.save's legacy format from before PyTorch 1.6; "
                     "save it again in Python with torch.save(torch.load(OLD, "
                     "weights_only=True), NEW)");
    }
    throw pt_error(file, "not a zip archive, the layout torch.save writes");
  }
  try {
    std::istringstream in(bytes);
    caffe2::serialize::PyTorchStreamReader reader(&in);
    if (reader.hasRecord("byteorder")) {
      auto [order, size] = reader.getRecord("byteorder");
      if (std::string(static_cast<const char*>(order.get()), size) != "little") {
        throw pt_error(file,
                       "its tensors are big-endian; save it again on a little-endian machine");
      }
    }
    auto [pickle, size] = reader.getRecord("data.pkl");
    const std::string text(static_cast<const char*>(pickle.get()), size);
    std::map<std::string, at::Tensor> cache;
    Unpickler unpickler(text, file, storage_loader(reader, file, cache));
    const Value top = unpickler.run();
    return named_tensors(unpickler, top, file);
  } catch (const InputError&) {
    throw;
  } catch (const c10::Error& e) {
    throw pt_error(file, e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw pt_error(file, e.what());
  }
}

}  // namespace crest
