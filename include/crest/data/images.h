// Image files to the uint8 tensors crest trains on: decoding any size and mode to RGB at
// data.image_size (data.resize), in parallel over the cores, with a decoded cache so that a
// second run over the same files starts in seconds.
//
// Decoded with OpenCV; without it (CREST_WITH_OPENCV off) every function that decodes throws a
// DataError saying how to get it.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "crest/config/choices.h"

namespace crest {

// True when this build can decode image files.
bool image_decoding_available();

// The file extensions crest reads as images (lower case, with the dot), and the same as one
// space-separated string for messages.
const std::vector<std::string>& image_extensions();
std::string image_extension_list();
bool has_image_extension(const std::filesystem::path& file);

struct DecodeOptions {
  int image_size = 32;                    // side of the square output, pixels
  ResizeMode resize = ResizeMode::kArea;  // how another size is fitted (config.h, data.resize)
  int threads = 0;                        // decoding threads; 0 = every available core
  std::string label = "decode";           // names the progress bar ("decode train")
};

// Decodes one file to RGB, channels first, into `out` (3 x size x size bytes). Grey, grey +
// alpha, BGR, BGRA (alpha dropped), palette and 16-bit images are converted to 8-bit RGB.
// Another size is fitted as `resize` says: area resizes the whole image to a square
// (cv::INTER_AREA when shrinking, cv::INTER_LINEAR when enlarging); center_crop resizes the
// shorter side to `size` (same interpolation rule) and crops the centre; error throws.
// DataError naming the file: empty, truncated (JPEG without FFD9, PNG without IEND, BMP shorter
// than its header), undecodable, or (resize error) of another size.
void decode_image(const std::filesystem::path& file, int size, ResizeMode resize,
                  std::uint8_t* out);

// Decodes `files` in order into uint8 [N, 3, S, S] (S = options.image_size), in parallel,
// showing a progress bar (Progress) for long lists. The first failing file (in list order)
// is the DataError thrown.
at::Tensor decode_images(const std::vector<std::filesystem::path>& files,
                         const DecodeOptions& options);

// What decode_images_skipping decoded: the images of `files` in order, [files.size(), 3, S, S]
// uint8, and the files that did not decode (DataError: empty, truncated, not an image), in list
// order.
struct DecodedFiles {
  at::Tensor images;
  std::vector<std::filesystem::path> files;
  std::vector<std::filesystem::path> failed;
};

// decode_images, but a file that does not decode is left out (listed in `failed`) instead of
// thrown; other errors (InputError for bad options, no OpenCV) still throw.
DecodedFiles decode_images_skipping(const std::vector<std::filesystem::path>& files,
                                    const DecodeOptions& options);

// decode_images with a cache in `cache_dir` ("" = no cache), kept as two files named from
// `name` (e.g. "train") and a hash of (the absolute `root`, size, resize mode): NAME-HASH.u8
// (the raw tensor) and NAME-HASH.json (format version, image size, resize mode, per file its
// path relative to `root`, byte size, mtime in ns and an FNV-1a 64 hash of its bytes, and an
// FNV-1a 64 hash of the tensor). A file whose path, size, mtime or bytes differ from the index
// is decoded again (so a file replaced by another of the same size with its mtime put back is
// never served stale); the others are copied from the cache. Every file is read and hashed
// (in parallel, on the decoding threads), which costs a small part of decoding it. A cache that is
// damaged (unreadable index, wrong length, hash mismatch) is ignored with a warning and rewritten.
// The cache is written atomically (write_file_atomic); a failure to write it is a warning, never an
// error. Logs how many images came from the cache and how many were decoded.
at::Tensor decode_images_cached(const std::vector<std::filesystem::path>& files,
                                const std::filesystem::path& root, const DecodeOptions& options,
                                const std::filesystem::path& cache_dir, const std::string& name);

}  // namespace crest
