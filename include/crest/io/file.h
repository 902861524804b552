// Whole-file reads and writes for everything crest leaves on disk. A write goes to a temporary
// file in the same folder, is flushed to the disk (fsync) and then renamed over the target, so
// a crash never leaves a half-written file where a complete one was.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace crest {

// Writes `contents` to `path` atomically (temporary PATH.tmp.PID, fsync, rename); creates
// missing parent folders. Throws WriteError naming the path (disk full, no permission); the
// previous file is then intact and the temporary removed.
void write_file_atomic(const std::filesystem::path& path, const std::string& contents);

// write_file_atomic for `size` bytes at `data`, for large buffers (a tensor's storage) that a
// std::string copy would double in memory.
void write_bytes_atomic(const std::filesystem::path& path, const void* data, std::size_t size);

// Appends `line` and a newline to `path` (created when missing) and flushes. Used for
// line-per-record logs (metrics.jsonl): a crash can cut off the last line only, which the
// readers tolerate. WriteError naming the path when it fails.
void append_line(const std::filesystem::path& path, const std::string& line);

// Whether `name` is one of the temporaries write_file_atomic uses (NAME.tmp.PID, or NAME.tmp of
// older versions).
bool is_temporary_name(const std::string& name);

// Removes such temporaries from `folder` and its sub-folders: a process killed mid-write leaves
// one behind. Returns what it removed. Only with the folder's lock held (no other writer).
std::vector<std::filesystem::path> remove_stale_temporaries(const std::filesystem::path& folder);

// Reads a whole file; throws DataError naming the path when it cannot be read.
std::string read_file(const std::filesystem::path& path);

// The lines of a text file without their line breaks; DataError as read_file.
std::vector<std::string> read_lines(const std::filesystem::path& path);

// What a record notes about a file written before it, so that a reader can tell whether the
// file changed since: its length in bytes and the FNV-1a 64 hash of its bytes (util/hash.h,
// 16 hex digits).
struct FileFingerprint {
  std::int64_t bytes = 0;
  std::string fnv1a64;

  bool operator==(const FileFingerprint& other) const {
    return bytes == other.bytes && fnv1a64 == other.fnv1a64;
  }
  bool operator!=(const FileFingerprint& other) const { return !(*this == other); }
};

// The fingerprint of a file; DataError as read_file.
FileFingerprint fingerprint_file(const std::filesystem::path& path);

}  // namespace crest
