// decode_images_cached (crest/data/images.h): the decoded-image cache, NAME-HASH.u8 (the raw
// uint8 [count, 3, S, S] tensor) beside NAME-HASH.json (what each row was decoded from: the
// file's path, size, mtime and a hash of its bytes; a row is reused only when all four match,
// so a file replaced by another of the same size with its mtime put back is decoded again).
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "crest/data/images.h"
#include "crest/io/file.h"
#include "crest/io/json_text.h"
#include "crest/util/error.h"
#include "crest/util/hash.h"
#include "images_detail.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "crest-image-cache";
constexpr int kVersion = 2;  // raise when the layout or the decoding changes: old caches then miss

// Rows of the cache read at a time (about 4 MB).
constexpr std::int64_t kReadBytes = 4 << 20;

// What a row was decoded from: the path relative to the root, the byte size, the mtime and the
// FNV-1a 64 hash of the bytes. Size and mtime alone can be put back by a copy (cp -p, rsync -t,
// touch -r); the bytes cannot.
struct Stamp {
  std::string path;
  std::int64_t size = -1;  // -1: the file could not be read (its decoding reports why)
  std::int64_t mtime_ns = -1;
  std::string content;  // hex64(fnv1a64(bytes))

  bool same_file(const Stamp& other) const {
    return size >= 0 && size == other.size && mtime_ns == other.mtime_ns &&
           content == other.content;
  }
};

// `path` absolute (against `cwd`) and normalised, without a trailing separator.
fs::path normalised(const fs::path& path, const fs::path& cwd) {
  fs::path out = (path.is_absolute() ? path : cwd / path).lexically_normal();
  if (!out.has_filename() && out.has_relative_path()) out = out.parent_path();
  return out;
}

Stamp stamp(const fs::path& file, const fs::path& root, const fs::path& cwd) {
  Stamp s;
  const fs::path absolute = normalised(file, cwd);
  const fs::path relative = absolute.lexically_relative(root);
  s.path = relative.empty() ? absolute.generic_string() : relative.generic_string();
  struct stat info {};
  if (::stat(file.c_str(), &info) != 0) return s;
  std::ifstream in(file, std::ios::binary);
  std::vector<char> bytes(static_cast<std::size_t>(std::max<off_t>(info.st_size, 0)));
  if (!in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) return s;
  s.size = static_cast<std::int64_t>(info.st_size);
  s.mtime_ns = static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1000000000LL +
               static_cast<std::int64_t>(info.st_mtim.tv_nsec);
  s.content = hex64(fnv1a64(bytes.data(), bytes.size()));
  return s;
}

// The stamps of `files`, read and hashed on `threads` threads (reading the bytes costs far less
// than decoding them).
std::vector<Stamp> stamps_of(const std::vector<fs::path>& files, const fs::path& root,
                             const fs::path& cwd, int threads) {
  std::vector<Stamp> stamps(files.size());
  const std::size_t n = files.size();
  const auto count = static_cast<std::size_t>(std::max(1, threads));
  const auto work = [&](std::size_t t) {
    for (std::size_t i = t; i < n; i += count) stamps[i] = stamp(files[i], root, cwd);
  };
  std::vector<std::thread> workers;
  for (std::size_t t = 1; t < std::min(count, n); ++t) workers.emplace_back(work, t);
  work(0);
  for (auto& worker : workers) worker.join();
  return stamps;
}

// The cache as its index describes it: per row what it was decoded from.
struct CacheIndex {
  std::int64_t count = 0;
  std::string data_hash;
  std::unordered_map<std::string, std::pair<std::int64_t, Stamp>> rows;  // by relative path
};

// The index in `file`, or nothing (none yet, or damaged: a warning says which and why).
std::optional<CacheIndex> read_index(const fs::path& file, const DecodeOptions& options) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  const auto damaged = [&](const std::string& why) {
    spdlog::warn("image cache index {} {}: ignoring the cache, decoding again and rewriting it",
                 file.string(), why);
    return std::nullopt;
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(file));
  } catch (const std::exception& e) {
    return damaged(std::string("cannot be read (") + e.what() + ")");
  }
  try {
    if (!j.is_object() || j.value("format", "") != kFormat) {
      return damaged(std::string("is not a ") + kFormat + " index");
    }
    if (j.at("version").get<int>() != kVersion) return damaged("is of another version");
    if (j.at("image_size").get<int>() != options.image_size ||
        j.at("resize").get<std::string>() != to_string(options.resize)) {
      return damaged("is for another image size or resize mode");
    }
    CacheIndex index;
    index.count = j.at("count").get<std::int64_t>();
    index.data_hash = j.at("data_hash").get<std::string>();
    const auto& files = j.at("files");
    if (!files.is_array() || static_cast<std::int64_t>(files.size()) != index.count) {
      return damaged("lists another number of files than its count");
    }
    index.rows.reserve(files.size());
    std::int64_t row = 0;
    for (const auto& f : files) {
      Stamp s{f.at("path").get<std::string>(), f.at("size").get<std::int64_t>(),
              f.at("mtime_ns").get<std::int64_t>(), f.at("fnv1a64").get<std::string>()};
      std::string key = s.path;
      index.rows.emplace(std::move(key), std::make_pair(row++, std::move(s)));
    }
    return index;
  } catch (const nlohmann::json::exception& e) {
    return damaged(std::string("has a missing or wrong field (") + e.what() + ")");
  }
}

// Copies cache rows into `out` as `wanted` says ((cache row, output row), sorted by cache row),
// hashing the whole file on the way. False (with a warning) when the file has the wrong length,
// cannot be read or does not hash to the index's data_hash: the rows copied are then garbage.
bool read_rows(const fs::path& file, const CacheIndex& index, std::int64_t image_bytes,
               const std::vector<std::pair<std::int64_t, std::int64_t>>& wanted,
               std::uint8_t* out) {
  const auto damaged = [&](const std::string& why) {
    spdlog::warn("image cache {} {}: ignoring the cache, decoding again and rewriting it",
                 file.string(), why);
    return false;
  };
  std::error_code ec;
  const auto bytes = static_cast<std::int64_t>(fs::file_size(file, ec));
  if (ec) return damaged("cannot be read (" + ec.message() + ")");
  if (bytes != index.count * image_bytes) {
    return damaged("has " + std::to_string(bytes) + " bytes, its index says " +
                   std::to_string(index.count * image_bytes));
  }
  std::ifstream in(file, std::ios::binary);
  const std::int64_t chunk_rows = std::max<std::int64_t>(1, kReadBytes / image_bytes);
  std::vector<char> buffer(static_cast<std::size_t>(chunk_rows * image_bytes));
  std::uint64_t hash = fnv1a64(nullptr, 0);
  auto next = wanted.begin();
  for (std::int64_t first = 0; first < index.count; first += chunk_rows) {
    const std::int64_t rows = std::min(chunk_rows, index.count - first);
    in.read(buffer.data(), static_cast<std::streamsize>(rows * image_bytes));
    if (!in) return damaged("cannot be read");
    hash = fnv1a64(buffer.data(), static_cast<std::size_t>(rows * image_bytes), hash);
    for (; next != wanted.end() && next->first < first + rows; ++next) {
      const char* from = buffer.data() + (next->first - first) * image_bytes;
      std::copy(from, from + image_bytes, out + next->second * image_bytes);
    }
  }
  if (hex64(hash) != index.data_hash) return damaged("does not match the hash in its index");
  return true;
}

// Writes the cache of `images` decoded from `stamps`; a failure is a warning.
void write_cache(const fs::path& dir, const fs::path& data_file, const fs::path& index_file,
                 const at::Tensor& images, const std::vector<Stamp>& stamps,
                 const DecodeOptions& options) {
  const auto* data = images.data_ptr<std::uint8_t>();
  const auto bytes = static_cast<std::size_t>(images.nbytes());
  nlohmann::json files = nlohmann::json::array();
  for (const Stamp& s : stamps) {
    files.push_back(
        {{"path", s.path}, {"size", s.size}, {"mtime_ns", s.mtime_ns}, {"fnv1a64", s.content}});
  }
  const nlohmann::json index = {{"format", kFormat},
                                {"version", kVersion},
                                {"image_size", options.image_size},
                                {"resize", to_string(options.resize)},
                                {"count", stamps.size()},
                                {"data_hash", hex64(fnv1a64(data, bytes))},
                                {"files", std::move(files)}};
  try {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw WriteError("cannot create folder " + dir.string() + ": " + ec.message());
    // Data first: an index next to data it does not describe fails its hash check.
    write_bytes_atomic(data_file, data, bytes);
    write_file_atomic(index_file, json_text(index) + "\n");
  } catch (const WriteError& e) {
    spdlog::warn(
        "cannot write the image cache ({}); continuing without it, the next run "
        "decodes again",
        e.what());
  }
}

// The rows the cache holds unchanged, copied into `out`: (cache row, output row) of each, and
// whether the cache holds exactly these files in this order (then it is not rewritten).
struct CacheHits {
  std::vector<std::pair<std::int64_t, std::int64_t>> hits;
  bool same_rows = false;
};

CacheHits read_cached_rows(const fs::path& index_file, const fs::path& data_file,
                           const std::vector<Stamp>& stamps, const DecodeOptions& options,
                           std::int64_t image_bytes, std::uint8_t* out) {
  CacheHits found;
  const auto n = static_cast<std::int64_t>(stamps.size());
  const std::optional<CacheIndex> index = read_index(index_file, options);
  found.same_rows = index && index->count == n;
  if (!index) return found;
  for (std::int64_t i = 0; i < n; ++i) {
    const Stamp& s = stamps[static_cast<std::size_t>(i)];
    const auto it = index->rows.find(s.path);
    if (it != index->rows.end() && it->second.second.same_file(s)) {
      found.hits.emplace_back(it->second.first, i);
      found.same_rows = found.same_rows && it->second.first == i;
    } else {
      found.same_rows = false;
    }
  }
  std::sort(found.hits.begin(), found.hits.end());
  if (!found.hits.empty() && !read_rows(data_file, *index, image_bytes, found.hits, out)) {
    found.hits.clear();
    found.same_rows = false;
  }
  return found;
}

}  // namespace

at::Tensor decode_images_cached(const std::vector<fs::path>& files, const fs::path& root,
                                const DecodeOptions& options, const fs::path& cache_dir,
                                const std::string& name) {
  images_detail::check_options(options);
  const auto start = std::chrono::steady_clock::now();
  const auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  const auto n = static_cast<std::int64_t>(files.size());
  if (cache_dir.empty()) {
    at::Tensor images = decode_images(files, options);
    spdlog::info("{} images: {} decoded, no cache ({:.1f} s)", n, n, seconds());
    return images;
  }
  if (!image_decoding_available()) return decode_images(files, options);  // says what to do

  const int size = options.image_size;
  const std::int64_t image_bytes = 3 * static_cast<std::int64_t>(size) * size;
  std::error_code ec;
  const fs::path cwd = fs::current_path(ec);
  const fs::path absolute_root = normalised(root, cwd);
  const std::string key_text = absolute_root.string() + "\n" + std::to_string(size) + "\n" +
                               to_string(options.resize) + "\n" + std::to_string(kVersion);
  const std::string key = name + "-" + hex64(fnv1a64(key_text.data(), key_text.size()));
  const fs::path data_file = cache_dir / (key + ".u8");
  const fs::path index_file = cache_dir / (key + ".json");

  const std::vector<Stamp> stamps =
      stamps_of(files, absolute_root, cwd, images_detail::decode_threads(options.threads));

  at::Tensor images = at::empty({n, 3, size, size}, at::TensorOptions().dtype(at::kByte));
  auto* out = images.data_ptr<std::uint8_t>();

  const CacheHits found =
      read_cached_rows(index_file, data_file, stamps, options, image_bytes, out);
  const auto& hits = found.hits;
  const bool same_rows = found.same_rows;
  std::vector<bool> cached(files.size(), false);
  for (const auto& hit : hits) cached[static_cast<std::size_t>(hit.second)] = true;
  std::vector<std::int64_t> misses;
  for (std::int64_t i = 0; i < n; ++i) {
    if (!cached[static_cast<std::size_t>(i)]) misses.push_back(i);
  }
  images_detail::decode_rows(files, misses, out, options);

  if (!same_rows) write_cache(cache_dir, data_file, index_file, images, stamps, options);
  spdlog::info("{} images: {} from the cache {}, {} decoded ({:.1f} s)", n, hits.size(),
               cache_dir.string(), misses.size(), seconds());
  return images;
}

}  // namespace crest
