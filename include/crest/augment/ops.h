// The image ops of FixMatch's augmentations as batched tensor operations.
//
// Every op takes uint8 images [N, 3, H, W] on any device and its parameters as one value per
// image ([N] tensors, on any device, moved to the images' device), and returns new uint8
// [N, 3, H, W] images on that device. Nothing loops over images: each op is a handful of
// kernels for the whole batch.
//
// Pixel semantics are Pillow's (ImageOps, ImageEnhance, Image.rotate / Image.transform with
// NEAREST resampling), which the PyTorch ports of FixMatch and CReST use; the CReST reference
// implements the same ops in TensorFlow and differs in a few places, noted at each op.
// tests/unit/augment/augment_test.cpp checks every op against Pillow 9.4.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace crest {
namespace augment_ops {

// RandAugment's ops, in the order of the reference's op list (data/augment_ops.py, mode "all").
enum class Op : int {
  kAutoContrast = 0,
  kEqualize,
  kPosterize,
  kSolarize,
  kColor,
  kContrast,
  kBrightness,
  kIdentity,
  kInvert,
  kSharpness,
  kSolarizeAdd,
  kRotate,
  kShearX,
  kShearY,
  kTranslateX,
  kTranslateY,
};
constexpr int kNumOps = 16;

// "AutoContrast", "Equalize", ...: the reference's names.
const char* op_name(Op op);

// --- Per-channel lookup tables -----------------------------------------------------------------

// ImageOps.autocontrast (cutoff 0): per channel, lut[v] = int(v * scale - lo * scale) clipped
// to [0, 255], scale = 255 / (hi - lo); channels with hi == lo are left alone.
at::Tensor auto_contrast(const at::Tensor& images);

// ImageOps.equalize: per channel, step = (count - count of the last used value) // 255,
// lut[v] = (step // 2 + number of pixels below v) // step clipped to 255; channels with one
// value or step 0 are left alone.
at::Tensor equalize(const at::Tensor& images);

// 255 - v.
at::Tensor invert(const at::Tensor& images);

// Keeps the top `bits` bits (int [N], 0..8; 0 gives black as in Pillow).
at::Tensor posterize(const at::Tensor& images, const at::Tensor& bits);

// v < threshold ? v : 255 - v (threshold int [N]).
at::Tensor solarize(const at::Tensor& images, const at::Tensor& threshold);

// v < threshold ? min(v + addition, 255) : v (addition int [N]); the reference's op, which
// Pillow lacks.
at::Tensor solarize_add(const at::Tensor& images, const at::Tensor& addition, int threshold = 128);

// --- Enhancements: Image.blend(degenerate, image, factor) ----------------------------------

// Pillow's blend: out = uint8(d + f * (v - d)) in float32 arithmetic, truncated, clipped to
// [0, 255] (f float [N]; `degenerate` uint8, broadcastable to `images`).
at::Tensor blend(const at::Tensor& degenerate, const at::Tensor& images, const at::Tensor& factor);

// ImageEnhance.Color: blend with the image's luma, L = (19595 R + 38470 G + 7471 B + 2^15) >> 16.
at::Tensor color(const at::Tensor& images, const at::Tensor& factor);
// ImageEnhance.Contrast: blend with a flat image at the rounded mean luma.
at::Tensor contrast(const at::Tensor& images, const at::Tensor& factor);
// ImageEnhance.Brightness: blend with black.
at::Tensor brightness(const at::Tensor& images, const at::Tensor& factor);
// ImageEnhance.Sharpness: blend with ImageFilter.SMOOTH (3x3 kernel [1 1 1; 1 5 1; 1 1 1] / 13,
// rounded, the one-pixel border kept).
at::Tensor sharpness(const at::Tensor& images, const at::Tensor& factor);

// --- Geometry: nearest-neighbour affine maps, out-of-image pixels filled with `fill` --------

// Image.transform(size, AFFINE, (a0, ..., a5), NEAREST): output pixel (x, y) takes input pixel
// (floor(a0 (x + .5) + a1 (y + .5) + a2), floor(a3 (x + .5) + a4 (y + .5) + a5)), with
// Pillow's integer arithmetic (`matrix` float64 [N, 6]).
at::Tensor affine(const at::Tensor& images, const at::Tensor& matrix, int fill);

// Image.rotate(degrees, NEAREST, fillcolor): counter-clockwise about the image centre.
at::Tensor rotate(const at::Tensor& images, const at::Tensor& degrees, int fill);
// Affine (1, s, 0, 0, 1, 0) and (1, 0, 0, s, 1, 0).
at::Tensor shear_x(const at::Tensor& images, const at::Tensor& shear, int fill);
at::Tensor shear_y(const at::Tensor& images, const at::Tensor& shear, int fill);
// Affine (1, 0, t, 0, 1, 0) and (1, 0, 0, 0, 1, t): the content moves by -t pixels.
at::Tensor translate_x(const at::Tensor& images, const at::Tensor& pixels, int fill);
at::Tensor translate_y(const at::Tensor& images, const at::Tensor& pixels, int fill);

// --- Crop, flip, cutout --------------------------------------------------------------------

// Reflect-pads by `pad` (reflection without repeating the edge, as TF's REFLECT and
// torch's ReflectionPad), crops H x W at (offset_y, offset_x) (int [N], 0..2 pad), then mirrors
// left-right where `flip` (bool [N]).
at::Tensor pad_crop_flip(const at::Tensor& images, const at::Tensor& offset_y,
                         const at::Tensor& offset_x, const at::Tensor& flip, int pad);

// Fills rows [cy - size/2, cy - size/2 + size) x the same columns around (cy, cx) (int [N]),
// clipped at the borders, with `fill`.
at::Tensor cutout(const at::Tensor& images, const at::Tensor& centre_y, const at::Tensor& centre_x,
                  int size, int fill);

// --- RandAugment's magnitude -> parameter mapping (third_party/rand_augment.py) ----------

// The reference's translation range for square images of side `size` (data/augment_ops.py
// overrides TRANSLATE_CONST by image size): 10 px for 32.
double translate_range(std::int64_t size);

// Applies `op` at magnitude m (float [N], in [0, 1)) with sign s (+1/-1 [N], used by the
// geometric ops only), mapped as the reference does:
//   Posterize bits = max(int(4m), 1)   Solarize threshold = int(256m)
//   SolarizeAdd addition = int(110m)   Color/Contrast/Brightness/Sharpness factor = 0.1 + 1.8m
//   Rotate s * 30m degrees             ShearX/ShearY s * 0.3m
//   TranslateX/TranslateY s * translate_range(size) * m pixels
at::Tensor apply_op(Op op, const at::Tensor& images, const at::Tensor& magnitude,
                    const at::Tensor& sign, int fill);

// How apply_ops spreads a batch over the ops. Both give the same pixels.
enum class Dispatch {
  kAuto,     // kGrouped on the CPU, kMasked on other devices
  kGrouped,  // each op runs once, on the images that chose it (index_select / index_copy_):
             // the least arithmetic, but the group sizes must reach the host, which on a GPU
             // waits for the device
  kMasked,   // the ops form three families that each run once on the whole batch (the six
             // lookup-table ops share one gather, the four enhancements one blend, the five
             // geometric ops one affine resampling) and `where` keeps each image's own result:
             // more arithmetic, but a fixed sequence of kernels with fixed shapes and no host
             // synchronisation, so the host can run ahead of the device
};

// Applies to image i the op ops[i] (int64 [N], an Op; Identity leaves the image alone) at
// magnitude[i] and sign[i], exactly as apply_op would one image at a time.
at::Tensor apply_ops(const at::Tensor& images, const at::Tensor& ops, const at::Tensor& magnitude,
                     const at::Tensor& sign, int fill, Dispatch dispatch = Dispatch::kAuto);

}  // namespace augment_ops
}  // namespace crest
