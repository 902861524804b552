// Private to the image ops (src/augment/ops.cpp, which defines them, and apply_ops.cpp): the
// argument checks, the lookup tables, the enhancements' degenerate images and blend, and the
// rotation matrix, each for a whole batch. The semantics are Pillow's, described where each is
// defined.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace crest::augment_ops::ops_parts {

// std::invalid_argument naming `op` unless `images` are uint8 [N, 3, H, W].
void check_images(const at::Tensor& images, const char* op);

// One value per image as a [N] tensor of `type` on the images' device; std::invalid_argument
// naming `op` otherwise.
at::Tensor per_image(const at::Tensor& values, const at::Tensor& images, at::ScalarType type,
                     const char* op);

// `fill` (0..255) as a uint8 [1] tensor on the images' device.
at::Tensor fill_value(const at::Tensor& images, int fill);

// --- Lookup tables: int64 [..., 256], broadcastable to [N, 3, 256] -----------------------------

// 0..255, int64 [256].
at::Tensor pixel_values(const at::TensorOptions& options);
// Per-channel histograms, int64 [N, 3, 256].
at::Tensor histograms(const at::Tensor& images);
at::Tensor auto_contrast_lut(const at::Tensor& hist);
at::Tensor equalize_lut(const at::Tensor& hist);
at::Tensor posterize_lut(const at::Tensor& bits);
at::Tensor solarize_lut(const at::Tensor& threshold);
at::Tensor solarize_add_lut(const at::Tensor& addition, int threshold);
// The images with each channel mapped through its table: one gather for the batch.
at::Tensor apply_lut(const at::Tensor& images, const at::Tensor& lut);

// --- Enhancements ------------------------------------------------------------------------------

// Pillow's luma, int32 [N, 1, H, W].
at::Tensor luma(const at::Tensor& images);
// ImageEnhance.Contrast's gray level of luma images, float64 [N, 1, 1, 1].
at::Tensor mean_luma(const at::Tensor& luma_images);
// ImageFilter.SMOOTH, the one-pixel border kept.
at::Tensor smooth(const at::Tensor& images);
// Pillow's blend of float32 `degenerate` with the images by `factor` (one per image).
at::Tensor blend_float(const at::Tensor& degenerate, const at::Tensor& images,
                       const at::Tensor& factor);

// --- Geometry ----------------------------------------------------------------------------------

// Image.rotate's affine matrix for `degrees` (one per image) on h x w images, float64 [N, 6].
at::Tensor rotation_matrix(const at::Tensor& degrees, std::int64_t h, std::int64_t w);

}  // namespace crest::augment_ops::ops_parts
