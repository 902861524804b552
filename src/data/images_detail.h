// Private to the image decoding (src/data/images.cpp, image_cache.cpp): the parallel decoder
// both share.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "crest/data/images.h"

namespace crest::images_detail {

// Decodes files[rows[k]] into row rows[k] of `out` (uint8 [files.size(), 3, S, S], S =
// options.image_size) for every k, in parallel over options.threads, with a progress bar for
// long lists. `rows` is ascending. Of the files that fail, the one with the smallest row is the
// error thrown, after every worker has stopped; the other rows of `out` are then unspecified.
// With `skipped` (files.size() bytes, zeroed), a file that fails with a DataError (it does not
// decode) sets its byte to 1 instead, and the others are still decoded.
void decode_rows(const std::vector<std::filesystem::path>& files,
                 const std::vector<std::int64_t>& rows, std::uint8_t* out,
                 const DecodeOptions& options, std::vector<std::uint8_t>* skipped = nullptr);

// The threads decoding uses for `threads` (0 = every core this process may run on).
int decode_threads(int threads);

// InputError unless the options are usable (image size >= 1, threads >= 0).
void check_options(const DecodeOptions& options);

}  // namespace crest::images_detail
