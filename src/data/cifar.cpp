#include "crest/data/cifar.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "crest/data/cifar_pickle.h"
#include "crest/io/file.h"
#include "crest/util/error.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

constexpr int kCifar10Classes = 10;
constexpr int kCifar100Classes = 100;
constexpr int kCifar10TrainFiles = 5;

// One CIFAR record layout and the names to use for it in messages.
struct Layout {
  const char* name;           // "CIFAR-10" or "CIFAR-100"
  const char* script_arg;     // argument of scripts/download_cifar.sh
  std::int64_t header_bytes;  // label bytes before the pixels
  std::int64_t label_offset;  // which header byte crest uses as the label
};

constexpr Layout kCifar10Layout{"CIFAR-10", "cifar10", 1, 0};
constexpr Layout kCifar100Layout{"CIFAR-100", "cifar100", 2, 1};

std::string download_hint(const Layout& layout) {
  return std::string("download ") + layout.name + " with `scripts/download_cifar.sh " +
         layout.script_arg + " DIR` and set data.root to DIR";
}

// Reads a whole record file into an [N, record] byte tensor in one read, so that 50,000
// records load in a fraction of a second and a short file is caught before any parsing.
Dataset read_records(const fs::path& file, const Layout& layout, int num_classes) {
  const std::int64_t record_bytes = layout.header_bytes + kCifarImageBytes;
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) {
    throw DataError(std::string(layout.name) + " file " + file.string() +
                    (fs::exists(file, ec) ? " is not a regular file" : " does not exist"));
  }
  const auto file_size = static_cast<std::int64_t>(fs::file_size(file, ec));
  if (ec) throw DataError("cannot read the size of " + file.string() + ": " + ec.message());
  if (file_size == 0) {
    throw DataError(std::string(layout.name) + " file " + file.string() +
                    " is empty (0 bytes): the download or copy did not finish; " +
                    download_hint(layout));
  }
  if (file_size % record_bytes != 0) {
    throw DataError(file.string() + " is " + std::to_string(file_size) +
                    " bytes, which is not a whole number of " + std::to_string(record_bytes) +
                    "-byte records: it looks truncated or is not in the " + layout.name +
                    " binary layout; " + download_hint(layout));
  }
  const std::int64_t count = file_size / record_bytes;

  at::Tensor raw = at::empty({count, record_bytes}, at::TensorOptions().dtype(at::kByte));
  if (count > 0) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw DataError("cannot open " + file.string() + ": " + std::strerror(errno));
    in.read(reinterpret_cast<char*>(raw.data_ptr<std::uint8_t>()),
            static_cast<std::streamsize>(file_size));
    if (in.gcount() != static_cast<std::streamsize>(file_size)) {
      throw DataError("reading " + file.string() + " stopped after " + std::to_string(in.gcount()) +
                      " of " + std::to_string(file_size) +
                      " bytes (was it changed while being read?)");
    }
  }

  // Validate labels before building tensors so the message can point at the record.
  const std::uint8_t* bytes = raw.data_ptr<std::uint8_t>();
  for (std::int64_t r = 0; r < count; ++r) {
    const int label = bytes[r * record_bytes + layout.label_offset];
    if (label >= num_classes) {
      throw DataError(file.string() + ": record " + std::to_string(r) + " has " +
                      (layout.header_bytes > 1 ? "fine label " : "label ") + std::to_string(label) +
                      ", but there are only " + std::to_string(num_classes) +
                      " classes (labels 0.." + std::to_string(num_classes - 1) +
                      "); the file is corrupt or not in the " + layout.name + " binary layout");
    }
  }

  Dataset dataset;
  dataset.images =
      raw.narrow(1, layout.header_bytes, kCifarImageBytes).contiguous().view({count, 3, 32, 32});
  dataset.labels = raw.select(1, layout.label_offset).to(at::kLong).contiguous();
  return dataset;
}

// Trims surrounding whitespace, including the '\r' of files written on Windows.
std::string trim(const std::string& text) {
  const char* kSpace = " \t\r\n\f\v";
  const auto first = text.find_first_not_of(kSpace);
  if (first == std::string::npos) return "";
  const auto last = text.find_last_not_of(kSpace);
  return text.substr(first, last - first + 1);
}

// The non-empty lines of `file` when it exists (exactly `expected` of them), else `fallback`.
std::vector<std::string> read_class_names(const fs::path& file, std::size_t expected,
                                          const std::vector<std::string>& fallback) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return fallback;
  const std::string text = read_file(file);
  std::vector<std::string> names;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string name = trim(text.substr(start, end - start));
    if (!name.empty()) names.push_back(std::move(name));
    start = end + 1;
  }
  // expected == 0: any count a one-byte label can address (CIFAR-10-layout folders written by
  // `crest data synth` may hold 2..256 classes; the official one names 10).
  if (expected == 0 ? (names.size() < 2 || names.size() > 256) : names.size() != expected) {
    throw DataError(file.string() + " holds " + std::to_string(names.size()) +
                    " class names (non-empty lines), expected " +
                    (expected == 0 ? std::string("2 to 256") : std::to_string(expected)) +
                    "; fix or delete it (the default names are used when it is absent)");
  }
  return names;
}

// Checks that the folder and all `files` exist before reading any, so that a half-copied
// download is reported in full and points at the download script.
void require_files(const fs::path& root, const std::vector<std::string>& files,
                   const Layout& layout) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    throw DataError(std::string(layout.name) + " folder " + root.string() +
                    (fs::exists(root, ec) ? " is not a folder" : " does not exist") + "; " +
                    download_hint(layout));
  }
  std::vector<std::string> missing;
  for (const auto& name : files) {
    if (!fs::is_regular_file(root / name, ec)) missing.push_back((root / name).string());
  }
  if (missing.empty()) return;
  std::string list;
  for (const auto& path : missing) list += (list.empty() ? "" : ", ") + path;
  throw DataError(std::string(layout.name) + " file" + (missing.size() > 1 ? "s" : "") +
                  " missing: " + list + "; " + download_hint(layout));
}

// The dataset as contiguous CPU tensors after checking it fits the 32x32 RGB record layout.
Dataset checked_for_writing(const fs::path& file, const Dataset& dataset, int max_label) {
  const std::string what = "cannot write " + file.string();
  check_dataset(dataset, what);
  const at::Tensor& images = dataset.images;
  if (images.size(1) != 3 || images.size(2) != 32 || images.size(3) != 32) {
    throw DataError(what + ": the CIFAR layout holds 3x32x32 images, got " +
                    std::to_string(images.size(1)) + "x" + std::to_string(images.size(2)) + "x" +
                    std::to_string(images.size(3)));
  }
  Dataset out{
      images.cpu().contiguous(), dataset.labels.cpu().contiguous(), dataset.class_names, {}};
  if (out.size() > 0) {
    const std::int64_t hi = out.labels.max().item<std::int64_t>();
    if (hi > max_label) {
      throw DataError(what + ": label " + std::to_string(hi) +
                      " does not fit the layout (labels 0.." + std::to_string(max_label) + ")");
    }
  }
  return out;
}

// Serialises records: `header(label)` bytes, then the 3072 CHW pixel bytes.
template <typename HeaderFn>
std::string encode_records(const Dataset& dataset, std::int64_t header_bytes, HeaderFn header) {
  const std::int64_t count = dataset.size();
  const std::int64_t record_bytes = header_bytes + kCifarImageBytes;
  std::string out(static_cast<std::size_t>(count * record_bytes), '\0');
  const std::uint8_t* pixels = dataset.images.data_ptr<std::uint8_t>();
  const std::int64_t* labels = dataset.labels.data_ptr<std::int64_t>();
  for (std::int64_t r = 0; r < count; ++r) {
    char* record = out.data() + r * record_bytes;
    header(labels[r], reinterpret_cast<std::uint8_t*>(record));
    std::memcpy(record + header_bytes, pixels + r * kCifarImageBytes, kCifarImageBytes);
  }
  return out;
}

void write_cifar10_records(const fs::path& file, const Dataset& dataset) {
  write_file_atomic(file, encode_records(dataset, 1, [](std::int64_t label, std::uint8_t* h) {
                      h[0] = static_cast<std::uint8_t>(label);
                    }));
}

// Class names go one per line, so each must be a non-empty single line without surrounding
// spaces, or reading the folder back would give different names.
void check_class_names(const fs::path& file, const std::vector<std::string>& names) {
  for (const auto& name : names) {
    if (name.empty() || trim(name) != name || name.find('\n') != std::string::npos) {
      throw DataError("cannot write " + file.string() + ": class name '" + name +
                      "' must be non-empty, on one line and without surrounding spaces");
    }
  }
}

// The folder of torchvision's python layout (cifar_pickle.h) when `root` is one or holds one
// (`sub`) and the binary layout's `binary_marker` is not in `root`; empty otherwise.
fs::path python_layout(const fs::path& root, const char* sub, const char* marker,
                       const char* binary_marker) {
  std::error_code ec;
  if (fs::exists(root / binary_marker, ec)) return {};
  if (fs::is_regular_file(root / marker, ec)) return root;
  if (fs::is_regular_file(root / sub / marker, ec)) return root / sub;
  return {};
}

// The class names of a python layout's meta file; `fallback` when it is absent.
std::vector<std::string> pickled_names(const fs::path& meta, const char* key,
                                       const std::vector<std::string>& fallback, int classes) {
  std::error_code ec;
  if (!fs::exists(meta, ec)) return fallback;
  std::vector<std::string> names = read_cifar_pickle_names(meta, key);
  if (static_cast<int>(names.size()) != classes) {
    throw DataError(meta.string() + " names " + std::to_string(names.size()) + " classes under '" +
                    key + "', expected " + std::to_string(classes) + "; the file is damaged");
  }
  return names;
}

DatasetPair read_cifar10_python(const fs::path& dir) {
  std::vector<std::string> files;
  for (int i = 1; i <= kCifar10TrainFiles; ++i) files.push_back("data_batch_" + std::to_string(i));
  require_files(dir, {files.begin(), files.end()}, kCifar10Layout);
  require_files(dir, {"test_batch"}, kCifar10Layout);
  const auto names =
      pickled_names(dir / "batches.meta", "label_names", cifar10_class_names(), kCifar10Classes);
  std::vector<at::Tensor> images;
  std::vector<at::Tensor> labels;
  for (const auto& name : files) {
    Dataset part = read_cifar_pickle_batch(dir / name, "labels", kCifar10Classes);
    images.push_back(part.images);
    labels.push_back(part.labels);
  }
  DatasetPair pair;
  pair.train = Dataset{at::cat(images, 0), at::cat(labels, 0), names, {}};
  pair.test = read_cifar_pickle_batch(dir / "test_batch", "labels", kCifar10Classes);
  pair.test.class_names = names;
  return pair;
}

DatasetPair read_cifar100_python(const fs::path& dir) {
  require_files(dir, {"train", "test"}, kCifar100Layout);
  const auto names =
      pickled_names(dir / "meta", "fine_label_names", cifar100_class_names(), kCifar100Classes);
  DatasetPair pair;
  pair.train = read_cifar_pickle_batch(dir / "train", "fine_labels", kCifar100Classes);
  pair.train.class_names = names;
  pair.test = read_cifar_pickle_batch(dir / "test", "fine_labels", kCifar100Classes);
  pair.test.class_names = names;
  return pair;
}

}  // namespace

Dataset read_cifar10_file(const fs::path& file, int num_classes) {
  if (num_classes < 1 || num_classes > 256) {
    throw InputError("read_cifar10_file: num_classes must be in 1..256 (one label byte), got " +
                     std::to_string(num_classes));
  }
  Dataset dataset = read_records(file, kCifar10Layout, num_classes);
  if (num_classes == kCifar10Classes) {
    dataset.class_names = cifar10_class_names();
  } else {
    for (int c = 0; c < num_classes; ++c) {
      dataset.class_names.push_back("class_" + std::to_string(c));
    }
  }
  return dataset;
}

DatasetPair read_cifar10(const fs::path& root) {
  const fs::path python =
      python_layout(root, "cifar-10-batches-py", "data_batch_1", "data_batch_1.bin");
  if (!python.empty()) return read_cifar10_python(python);
  std::vector<std::string> train_files;
  for (int i = 1; i <= kCifar10TrainFiles; ++i) {
    train_files.push_back("data_batch_" + std::to_string(i) + ".bin");
  }
  std::vector<std::string> all_files = train_files;
  all_files.push_back("test_batch.bin");
  require_files(root, all_files, kCifar10Layout);

  const auto names = read_class_names(root / "batches.meta.txt", 0, cifar10_class_names());
  const int num_classes = static_cast<int>(names.size());
  std::vector<at::Tensor> images;
  std::vector<at::Tensor> labels;
  for (const auto& name : train_files) {
    Dataset part = read_records(root / name, kCifar10Layout, num_classes);
    images.push_back(part.images);
    labels.push_back(part.labels);
  }
  DatasetPair pair;
  pair.train = Dataset{at::cat(images, 0), at::cat(labels, 0), names, {}};
  pair.test = read_records(root / "test_batch.bin", kCifar10Layout, num_classes);
  pair.test.class_names = names;
  return pair;
}

Dataset read_cifar100_file(const fs::path& file) {
  Dataset dataset = read_records(file, kCifar100Layout, kCifar100Classes);
  dataset.class_names = cifar100_class_names();
  return dataset;
}

DatasetPair read_cifar100(const fs::path& root) {
  const fs::path python = python_layout(root, "cifar-100-python", "train", "train.bin");
  if (!python.empty()) return read_cifar100_python(python);
  require_files(root, {"train.bin", "test.bin"}, kCifar100Layout);
  const auto names =
      read_class_names(root / "fine_label_names.txt", kCifar100Classes, cifar100_class_names());
  DatasetPair pair;
  pair.train = read_records(root / "train.bin", kCifar100Layout, kCifar100Classes);
  pair.train.class_names = names;
  pair.test = read_records(root / "test.bin", kCifar100Layout, kCifar100Classes);
  pair.test.class_names = names;
  return pair;
}

void write_cifar10_file(const fs::path& file, const Dataset& dataset) {
  write_cifar10_records(file, checked_for_writing(file, dataset, 255));
}

void write_cifar10_folder(const fs::path& root, const DatasetPair& data) {
  const fs::path meta = root / "batches.meta.txt";
  // read_cifar10 takes the class count from batches.meta.txt: 2 to 256 (one label byte).
  if (data.train.num_classes() < 2 || data.train.num_classes() > 256) {
    throw DataError("cannot write the CIFAR-10 folder " + root.string() +
                    ": it holds 2 to 256 classes, the training set has " +
                    std::to_string(data.train.num_classes()));
  }
  if (data.test.class_names != data.train.class_names) {
    throw DataError("cannot write the CIFAR-10 folder " + root.string() +
                    ": the training and test sets have different class names");
  }
  check_class_names(meta, data.train.class_names);
  const std::int64_t max_label = data.train.num_classes() - 1;
  const Dataset train = checked_for_writing(root / "data_batch_1..5.bin", data.train, max_label);
  const Dataset test = checked_for_writing(root / "test_batch.bin", data.test, max_label);

  // Spread N records over the 5 batches in order: the first N % 5 batches get one extra.
  const std::int64_t n = train.size();
  std::int64_t start = 0;
  for (int i = 0; i < kCifar10TrainFiles; ++i) {
    const std::int64_t len = n / kCifar10TrainFiles + (i < n % kCifar10TrainFiles ? 1 : 0);
    const Dataset part{train.images.narrow(0, start, len),
                       train.labels.narrow(0, start, len),
                       train.class_names,
                       {}};
    write_cifar10_records(root / ("data_batch_" + std::to_string(i + 1) + ".bin"), part);
    start += len;
  }
  write_cifar10_records(root / "test_batch.bin", test);
  std::string names;
  for (const auto& name : train.class_names) names += name + "\n";
  write_file_atomic(meta, names);
}

void write_cifar100_file(const fs::path& file, const Dataset& dataset) {
  const Dataset checked = checked_for_writing(file, dataset, kCifar100Classes - 1);
  // The official coarse classes are not fine / 5, but crest never reads the coarse byte;
  // fine / 5 only keeps it in the valid range 0..19 for other readers.
  write_file_atomic(file, encode_records(checked, 2, [](std::int64_t label, std::uint8_t* h) {
                      h[0] = static_cast<std::uint8_t>(label / 5);
                      h[1] = static_cast<std::uint8_t>(label);
                    }));
}

}  // namespace crest
