// The image ops of crest/augment/ops.h, one op on a whole batch each; RandAugment's op list and
// its dispatch of one op per image are in apply_ops.cpp.
#include "crest/augment/ops.h"

#include <array>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "ops_parts.h"

namespace crest {
namespace augment_ops {

namespace {

constexpr double kPi = 3.141592653589793;

std::string describe(const at::Tensor& t) {
  if (!t.defined()) return "an undefined tensor";
  std::ostringstream os;
  os << c10::toString(t.scalar_type()) << " " << t.sizes() << " on " << t.device();
  return os.str();
}

}  // namespace

namespace ops_parts {

void check_images(const at::Tensor& images, const char* op) {
  if (!images.defined() || images.dim() != 4 || images.size(1) != 3 ||
      images.scalar_type() != at::kByte) {
    throw std::invalid_argument(std::string(op) + ": expected uint8 images [N, 3, H, W], got " +
                                describe(images));
  }
}

// One value per image as a [N] tensor of `type` on the images' device.
at::Tensor per_image(const at::Tensor& values, const at::Tensor& images, at::ScalarType type,
                     const char* op) {
  if (!values.defined() || values.dim() != 1 || values.size(0) != images.size(0)) {
    throw std::invalid_argument(std::string(op) + ": expected one parameter per image ([" +
                                std::to_string(images.size(0)) + "]), got " + describe(values));
  }
  return values.to(images.device(), type);
}

at::Tensor fill_value(const at::Tensor& images, int fill) {
  if (fill < 0 || fill > 255) {
    throw std::invalid_argument("fill must be in [0, 255], got " + std::to_string(fill));
  }
  return at::full({1}, fill, images.options());
}

// --- Lookup tables: int64 [..., 256], broadcastable to [N, 3, 256] ----------------------------

at::Tensor pixel_values(const at::TensorOptions& options) {
  return at::arange(256, options.dtype(at::kLong));
}

// Per-channel histograms, int64 [N, 3, 256].
at::Tensor histograms(const at::Tensor& images) {
  const std::int64_t n = images.size(0);
  const at::Tensor index = images.reshape({n * 3, images.size(2) * images.size(3)}).to(at::kLong);
  return at::zeros({n * 3, 256}, index.options())
      .scatter_add_(1, index, at::ones_like(index))
      .view({n, 3, 256});
}

// ImageOps.autocontrast (cutoff 0) from the histograms: lo and hi are the first and last used
// values; in float64, scale = 255.0 / (hi - lo), offset = -lo * scale,
// lut[v] = int(v * scale + offset) clipped to [0, 255]; identity where hi <= lo. The
// reference's TF version does the same in float32.
at::Tensor auto_contrast_lut(const at::Tensor& hist) {
  const at::Tensor values = pixel_values(hist.options());
  const at::Tensor used = hist.gt(0);
  const at::Tensor lo = at::where(used, values, 255).amin({-1}, /*keepdim=*/true).to(at::kDouble);
  const at::Tensor hi = used.mul(values).amax({-1}, /*keepdim=*/true).to(at::kDouble);
  const at::Tensor scale = at::full_like(hi, 255.0).div((hi - lo).clamp_min(1.0));
  const at::Tensor offset = lo.neg().mul(scale);
  const at::Tensor lut = values.to(at::kDouble).mul(scale).add(offset).trunc().clamp(0, 255);
  return at::where(hi.le(lo), values, lut.to(at::kLong));
}

// ImageOps.equalize from the histograms: step = (pixels - pixels of the last used value) // 255,
// lut[v] = (step // 2 + pixels below v) // step; identity for a single used value or step 0.
// Pillow 9.4 and the reference both divide by 255; Image.point clips the table to 255 (the last
// used value can map to 256), as the reference's clip_by_value does.
at::Tensor equalize_lut(const at::Tensor& hist) {
  const at::Tensor values = pixel_values(hist.options());
  const at::Tensor used = hist.gt(0);
  const at::Tensor last = used.mul(values).amax({-1}, /*keepdim=*/true);
  const at::Tensor pixels = hist.sum({-1}, /*keepdim=*/true);
  const at::Tensor step = at::div(pixels - hist.gather(-1, last), 255, "floor");
  const at::Tensor identity = used.sum({-1}, /*keepdim=*/true).le(1).logical_or(step.eq(0));
  const at::Tensor safe_step = step.clamp_min(1);
  const at::Tensor below = hist.cumsum(-1) - hist;
  const at::Tensor lut =
      at::div(below + at::div(safe_step, 2, "floor"), safe_step, "floor").clamp_max(255);
  return at::where(identity, values, lut);
}

// ImageOps.posterize: v & ~(2^(8 - bits) - 1), i.e. v & (256 - 2^(8 - bits)); [N, 1, 256].
at::Tensor posterize_lut(const at::Tensor& bits) {
  const at::Tensor b = bits.clamp(0, 8).view({-1, 1, 1});
  const at::Tensor mask = at::rsub(at::pow(2, at::rsub(b, 8)), 256);
  return pixel_values(bits.options()).bitwise_and(mask);
}

// ImageOps.solarize: v < threshold ? v : 255 - v; [N, 1, 256].
at::Tensor solarize_lut(const at::Tensor& threshold) {
  const at::Tensor values = pixel_values(threshold.options());
  return at::where(values.lt(threshold.view({-1, 1, 1})), values, at::rsub(values, 255));
}

// The reference's solarize_add: v < threshold ? min(v + addition, 255) : v; [N, 1, 256].
at::Tensor solarize_add_lut(const at::Tensor& addition, int threshold) {
  const at::Tensor values = pixel_values(addition.options());
  const at::Tensor added = values.add(addition.view({-1, 1, 1})).clamp(0, 255);
  return at::where(values.lt(threshold), added, values);
}

// One gather for the whole batch.
at::Tensor apply_lut(const at::Tensor& images, const at::Tensor& lut) {
  const std::int64_t n = images.size(0);
  const at::Tensor table = lut.to(at::kByte).expand({n, 3, 256}).reshape({n * 3, 256});
  return table.gather(1, images.reshape({n * 3, images.size(2) * images.size(3)}).to(at::kLong))
      .view(images.sizes());
}

// --- Enhancements ---------------------------------------------------------------------------

// Pillow's RGB -> L: (19595 R + 38470 G + 7471 B + 0x8000) >> 16, as int32 [N, 1, H, W].
// The reference's TF Color uses tf.image.rgb_to_grayscale (float weights 0.2989, 0.587, 0.114
// and TF's float-to-uint8 conversion), which can differ from Pillow's luma by a level.
at::Tensor luma(const at::Tensor& images) {
  const at::Tensor v = images.to(at::kInt);
  const at::Tensor weighted =
      v.select(1, 0).mul(19595) + v.select(1, 1).mul(38470) + v.select(1, 2).mul(7471) + 32768;
  return at::div(weighted, 65536, "floor").unsqueeze(1);
}

// ImageEnhance.Contrast's gray level: int(mean(L) + 0.5), in float64 as ImageStat computes it;
// float64 [N, 1, 1, 1].
at::Tensor mean_luma(const at::Tensor& luma_images) {
  const double pixels = static_cast<double>(luma_images.size(2) * luma_images.size(3));
  return luma_images.sum({1, 2, 3}, /*keepdim=*/true, at::kDouble).div(pixels).add(0.5).floor();
}

// ImageFilter.SMOOTH as Pillow's 3x3 filter computes it: float32 taps 1/13 and 5/13 summed row
// by row (row y+1, y, y-1, each left to right) onto 0.5, clamped and truncated (round half up);
// the outermost rows and columns are copied. The float32 products and the order of the
// additions are Pillow's, so the result matches it bit for bit. The reference's TF version
// truncates instead of rounding (no +0.5), so its smoothed image is up to one level darker.
at::Tensor smooth(const at::Tensor& images) {
  const std::int64_t h = images.size(2);
  const std::int64_t w = images.size(3);
  if (h < 3 || w < 3) return images.clone();
  const at::Tensor v = images.to(at::kFloat);
  const at::Tensor side = v.mul(1.0f / 13.0f);
  const at::Tensor centre = v.mul(5.0f / 13.0f);
  auto tap = [&](const at::Tensor& p, std::int64_t dy, std::int64_t dx) {
    return p.narrow(2, dy, h - 2).narrow(3, dx, w - 2);
  };
  auto row = [&](std::int64_t dy, const at::Tensor& middle) {
    return tap(side, dy, 0).add(tap(middle, dy, 1)).add(tap(side, dy, 2));
  };
  const at::Tensor sum = row(2, side).add(0.5f).add(row(1, centre)).add(row(0, side));
  at::Tensor out = images.clone();
  out.narrow(2, 1, h - 2).narrow(3, 1, w - 2).copy_(sum.clamp(0, 255).to(at::kByte));
  return out;
}

// Pillow's ImagingBlend: (UINT8)(in1 + alpha * (in2 - in1)), alpha a float32 and the arithmetic
// in float32, clipped to [0, 255] when alpha > 1. Separate kernels for the product and the sum
// keep both roundings (no fused multiply-add), as in Pillow. The reference's TF blend is the
// same formula (saturate_cast truncates). `degenerate`: float32, broadcastable to the images.
at::Tensor blend_float(const at::Tensor& degenerate, const at::Tensor& images,
                       const at::Tensor& factor) {
  const at::Tensor f = factor.to(at::kFloat).view({-1, 1, 1, 1});
  return images.to(at::kFloat).sub(degenerate).mul(f).add(degenerate).clamp(0, 255).to(at::kByte);
}

// --- Geometry -----------------------------------------------------------------------------------

// Image.rotate's matrix, step by step in float64: angle % 360 (Python's sign rule), then
// -radians, cos and sin rounded to 15 decimals, and the centre (w/2, h/2) moved to the origin
// and back: a2 = cos * -cx + sin * -cy + cx, a5 = -sin * -cx + cos * -cy + cy. [N, 6].
at::Tensor rotation_matrix(const at::Tensor& degrees, std::int64_t h, std::int64_t w) {
  at::Tensor angle = at::fmod(degrees, 360.0);
  angle = at::where(angle.lt(0), angle.add(360.0), angle);
  const at::Tensor radians = angle.mul(kPi / 180.0).neg();
  auto round15 = [](const at::Tensor& v) { return v.mul(1e15).round().div(1e15); };
  const at::Tensor cos = round15(radians.cos());
  const at::Tensor sin = round15(radians.sin());
  const at::Tensor minus_sin = round15(radians.sin().neg());
  const double cx = static_cast<double>(w) / 2.0;
  const double cy = static_cast<double>(h) / 2.0;
  const at::Tensor a2 = cos.mul(-cx).add(sin.mul(-cy)).add(cx);
  const at::Tensor a5 = minus_sin.mul(-cx).add(cos.mul(-cy)).add(cy);
  return at::stack({cos, sin, a2, minus_sin, cos, a5}, 1);
}

}  // namespace ops_parts

namespace {

using namespace ops_parts;  // NOLINT(build/namespaces): the image ops' shared parts

// (1, a1, a2, a3, 1, a5) for shears and translations; [N, 6].
at::Tensor shift_matrix(const at::Tensor& a1, const at::Tensor& a2, const at::Tensor& a3,
                        const at::Tensor& a5) {
  const at::Tensor one = at::ones_like(a1);
  return at::stack({one, a1, a2, a3, one, a5}, 1);
}

}  // namespace

// --- Lookup tables ----------------------------------------------------------------------------

at::Tensor auto_contrast(const at::Tensor& images) {
  check_images(images, "auto_contrast");
  return apply_lut(images, auto_contrast_lut(histograms(images)));
}

at::Tensor equalize(const at::Tensor& images) {
  check_images(images, "equalize");
  return apply_lut(images, equalize_lut(histograms(images)));
}

at::Tensor invert(const at::Tensor& images) {
  check_images(images, "invert");
  return at::bitwise_not(images);  // ~v == 255 - v on uint8
}

at::Tensor posterize(const at::Tensor& images, const at::Tensor& bits) {
  check_images(images, "posterize");
  return apply_lut(images, posterize_lut(per_image(bits, images, at::kLong, "posterize")));
}

at::Tensor solarize(const at::Tensor& images, const at::Tensor& threshold) {
  check_images(images, "solarize");
  return apply_lut(images, solarize_lut(per_image(threshold, images, at::kLong, "solarize")));
}

at::Tensor solarize_add(const at::Tensor& images, const at::Tensor& addition, int threshold) {
  check_images(images, "solarize_add");
  return apply_lut(
      images, solarize_add_lut(per_image(addition, images, at::kLong, "solarize_add"), threshold));
}

// --- Enhancements -------------------------------------------------------------------------------

at::Tensor blend(const at::Tensor& degenerate, const at::Tensor& images, const at::Tensor& factor) {
  check_images(images, "blend");
  return blend_float(degenerate.to(images.device(), at::kFloat), images,
                     per_image(factor, images, at::kFloat, "blend"));
}

at::Tensor color(const at::Tensor& images, const at::Tensor& factor) {
  check_images(images, "color");
  return blend(luma(images), images, factor);
}

at::Tensor contrast(const at::Tensor& images, const at::Tensor& factor) {
  check_images(images, "contrast");
  return blend(mean_luma(luma(images)), images, factor);
}

at::Tensor brightness(const at::Tensor& images, const at::Tensor& factor) {
  check_images(images, "brightness");
  return blend(at::zeros({1}, images.options()), images, factor);
}

at::Tensor sharpness(const at::Tensor& images, const at::Tensor& factor) {
  check_images(images, "sharpness");
  return blend(smooth(images), images, factor);
}

// --- Geometry -----------------------------------------------------------------------------------

at::Tensor affine(const at::Tensor& images, const at::Tensor& matrix, int fill) {
  check_images(images, "affine");
  const std::int64_t n = images.size(0);
  const std::int64_t h = images.size(2);
  const std::int64_t w = images.size(3);
  if (!matrix.defined() || matrix.dim() != 2 || matrix.size(0) != n || matrix.size(1) != 6) {
    throw std::invalid_argument("affine: expected one matrix per image ([" + std::to_string(n) +
                                ", 6]), got " + describe(matrix));
  }
  const at::Tensor fill_tensor = fill_value(images, fill);
  const at::Tensor a = matrix.to(images.device(), at::kDouble);
  auto coef = [&](std::int64_t k) { return a.select(1, k).view({n, 1, 1}); };

  // Pillow maps output pixel centres (x + .5, y + .5) through the matrix and takes the input
  // pixel the point falls in. It has two engines (Geometry.c) whose rounding differs, so both
  // are reproduced and each image takes the one Pillow would pick:
  // 1. a1 == a3 == 0 (translation, scaling): ImagingScaleAffine, float64,
  //    x_in = floor(a2 + a0 / 2 + x a0), y_in = floor(a5 + a4 / 2 + y a4).
  const at::Tensor xs = at::arange(w, a.options()).view({1, 1, w});
  const at::Tensor ys = at::arange(h, a.options()).view({1, h, 1});
  const at::Tensor x_scaled = coef(2).add(coef(0).mul(0.5)).add(xs.mul(coef(0))).floor();
  const at::Tensor y_scaled = coef(5).add(coef(4).mul(0.5)).add(ys.mul(coef(4))).floor();
  // 2. otherwise (rotation, shear): affine_fixed, 16.16 fixed point with FIX(v) =
  //    floor(v * 65536 + 0.5), x_in = (FIX(a2 + a0 / 2 + a1 / 2) + y FIX(a1) + x FIX(a0)) >> 16.
  //    (Its float64 fallback only runs for images over 32768 pixels wide.)
  auto fix = [](const at::Tensor& v) { return v.mul(65536.0).add(0.5).floor().to(at::kLong); };
  const at::Tensor xi = at::arange(w, a.options().dtype(at::kLong)).view({1, 1, w});
  const at::Tensor yi = at::arange(h, a.options().dtype(at::kLong)).view({1, h, 1});
  const at::Tensor x_origin = fix(coef(2).add(coef(0).mul(0.5)).add(coef(1).mul(0.5)));
  const at::Tensor y_origin = fix(coef(5).add(coef(3).mul(0.5)).add(coef(4).mul(0.5)));
  const at::Tensor x_fixed =
      at::div(x_origin + yi.mul(fix(coef(1))) + xi.mul(fix(coef(0))), 65536, "floor");
  const at::Tensor y_fixed =
      at::div(y_origin + yi.mul(fix(coef(4))) + xi.mul(fix(coef(3))), 65536, "floor");

  const at::Tensor scale_only = coef(1).eq(0).logical_and(coef(3).eq(0));
  const at::Tensor x_in = at::where(scale_only, x_scaled.to(at::kLong), x_fixed);
  const at::Tensor y_in = at::where(scale_only, y_scaled.to(at::kLong), y_fixed);
  const at::Tensor inside =
      x_in.ge(0).logical_and(x_in.lt(w)).logical_and(y_in.ge(0)).logical_and(y_in.lt(h));
  const at::Tensor index = (y_in.clamp(0, h - 1).mul(w) + x_in.clamp(0, w - 1))
                               .view({n, 1, h * w})
                               .expand({n, 3, h * w});
  const at::Tensor sampled = images.reshape({n, 3, h * w}).gather(2, index).view({n, 3, h, w});
  return at::where(inside.unsqueeze(1), sampled, fill_tensor);
}

at::Tensor rotate(const at::Tensor& images, const at::Tensor& degrees, int fill) {
  check_images(images, "rotate");
  return affine(images,
                rotation_matrix(per_image(degrees, images, at::kDouble, "rotate"), images.size(2),
                                images.size(3)),
                fill);
}

namespace {

// The op `name`: an affine map whose entry `slot` of shift_matrix (0: shear x, 1: translate x,
// 2: shear y, 3: translate y) is `amount` (one value per image) and whose other entries are 0.
at::Tensor shift_op(const at::Tensor& images, const at::Tensor& amount, int fill, const char* name,
                    std::size_t slot) {
  check_images(images, name);
  const at::Tensor a = per_image(amount, images, at::kDouble, name);
  const at::Tensor zero = at::zeros_like(a);
  std::array<at::Tensor, 4> m = {zero, zero, zero, zero};
  m[slot] = a;
  return affine(images, shift_matrix(m[0], m[1], m[2], m[3]), fill);
}

}  // namespace

at::Tensor shear_x(const at::Tensor& images, const at::Tensor& shear, int fill) {
  return shift_op(images, shear, fill, "shear_x", 0);
}

at::Tensor shear_y(const at::Tensor& images, const at::Tensor& shear, int fill) {
  return shift_op(images, shear, fill, "shear_y", 2);
}

at::Tensor translate_x(const at::Tensor& images, const at::Tensor& pixels, int fill) {
  return shift_op(images, pixels, fill, "translate_x", 1);
}

at::Tensor translate_y(const at::Tensor& images, const at::Tensor& pixels, int fill) {
  return shift_op(images, pixels, fill, "translate_y", 3);
}

// --- Crop, flip, cutout ---------------------------------------------------------------------

at::Tensor pad_crop_flip(const at::Tensor& images, const at::Tensor& offset_y,
                         const at::Tensor& offset_x, const at::Tensor& flip, int pad) {
  check_images(images, "pad_crop_flip");
  const std::int64_t n = images.size(0);
  const std::int64_t h = images.size(2);
  const std::int64_t w = images.size(3);
  if (pad < 0 || pad >= h || pad >= w) {
    throw std::invalid_argument("pad_crop_flip: reflect padding must be in [0, image side), got " +
                                std::to_string(pad) + " for " + std::to_string(h) + "x" +
                                std::to_string(w) + " images");
  }
  const at::Tensor oy = per_image(offset_y, images, at::kLong, "pad_crop_flip").view({n, 1});
  const at::Tensor ox = per_image(offset_x, images, at::kLong, "pad_crop_flip").view({n, 1});
  const at::Tensor mirror = per_image(flip, images, at::kBool, "pad_crop_flip").view({n, 1});
  // Padded coordinate p maps to source p - pad, reflected about the first and last pixel
  // (-k -> k, size - 1 + k -> size - 1 - k). The flip mirrors the crop: output column j is crop
  // column w - 1 - j. One gather for the batch.
  auto reflect = [](const at::Tensor& i, std::int64_t size) {
    const at::Tensor a = i.abs();
    return at::where(a.ge(size), at::rsub(a, 2 * (size - 1)), a);
  };
  const auto long_options = images.options().dtype(at::kLong);
  const at::Tensor rows =
      reflect(oy.clamp(0, 2 * pad) + at::arange(h, long_options).view({1, h}) - pad, h);
  const at::Tensor j = at::arange(w, long_options).view({1, w});
  const at::Tensor crop_col = at::where(mirror, at::rsub(j, w - 1), j);
  const at::Tensor cols = reflect(ox.clamp(0, 2 * pad) + crop_col - pad, w);
  const at::Tensor index =
      (rows.unsqueeze(2).mul(w) + cols.unsqueeze(1)).view({n, 1, h * w}).expand({n, 3, h * w});
  return images.reshape({n, 3, h * w}).gather(2, index).view({n, 3, h, w});
}

at::Tensor cutout(const at::Tensor& images, const at::Tensor& centre_y, const at::Tensor& centre_x,
                  int size, int fill) {
  check_images(images, "cutout");
  const std::int64_t n = images.size(0);
  const std::int64_t h = images.size(2);
  const std::int64_t w = images.size(3);
  if (size < 0) {
    throw std::invalid_argument("cutout: size must be >= 0, got " + std::to_string(size));
  }
  // The reference's square spans [c - size // 2, c + size // 2) (size 16: 8 either side).
  const std::int64_t half = size / 2;
  const at::Tensor top = per_image(centre_y, images, at::kLong, "cutout").view({n, 1, 1}) - half;
  const at::Tensor left = per_image(centre_x, images, at::kLong, "cutout").view({n, 1, 1}) - half;
  const auto long_options = images.options().dtype(at::kLong);
  const at::Tensor ys = at::arange(h, long_options).view({1, h, 1});
  const at::Tensor xs = at::arange(w, long_options).view({1, 1, w});
  const at::Tensor in_rows = ys.ge(top).logical_and(ys.lt(top + size));
  const at::Tensor in_cols = xs.ge(left).logical_and(xs.lt(left + size));
  return at::where(in_rows.logical_and(in_cols).unsqueeze(1), fill_value(images, fill), images);
}

}  // namespace augment_ops
}  // namespace crest
