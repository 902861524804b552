// Fingerprints of bytes (datasets, weights, long names): 64-bit FNV-1a and its hexadecimal
// text. Whole-file reads and atomic writes live in io/file.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace crest {

// 64-bit FNV-1a over bytes, chainable through `seed`. Used to fingerprint datasets.
std::uint64_t fnv1a64(const void* data, std::size_t size,
                      std::uint64_t seed = 0xcbf29ce484222325ULL);

// Lower-case 16-digit hexadecimal.
std::string hex64(std::uint64_t value);

}  // namespace crest
