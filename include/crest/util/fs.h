// Small file helpers shared by every writer: atomic writes so a crash never leaves a
// half-written file where a complete one was.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace crest {

// Writes `contents` to `path` through a temporary file in the same folder, then renames it
// into place; creates missing parent folders. Throws std::runtime_error naming the path.
void write_file_atomic(const std::filesystem::path& path, const std::string& contents);

// Reads a whole file; throws DataError naming the path when it cannot be read.
std::string read_file(const std::filesystem::path& path);

// 64-bit FNV-1a over bytes, chainable through `seed`. Used to fingerprint datasets.
std::uint64_t fnv1a64(const void* data, std::size_t size,
                      std::uint64_t seed = 0xcbf29ce484222325ULL);

// Lower-case 16-digit hexadecimal.
std::string hex64(std::uint64_t value);

}  // namespace crest
