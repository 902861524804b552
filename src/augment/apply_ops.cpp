// RandAugment's op list on a batch (declared in crest/augment/ops.h): the ops' names, the
// reference's magnitude -> parameter mapping, and the dispatch of one op per image, op by op or
// as three families that each run once on the whole batch.
#include <functional>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "crest/augment/ops.h"
#include "ops_parts.h"

namespace crest {
namespace augment_ops {

namespace {

using namespace ops_parts;  // NOLINT(build/namespaces): the image ops' shared parts

constexpr int kSolarizeAddThreshold = 128;  // the reference's solarize_add default

// The enhance factor 0.1 + 1.8m of Color, Contrast, Brightness and Sharpness.
at::Tensor enhance_factor(const at::Tensor& m) { return m.mul(1.8).add(0.1); }

// --- Families: one op per image, each image's op from `code` -----------------------------------

bool is_lut_op(Op op) {
  return op == Op::kAutoContrast || op == Op::kEqualize || op == Op::kPosterize ||
         op == Op::kSolarize || op == Op::kInvert || op == Op::kSolarizeAdd;
}
bool is_blend_op(Op op) {
  return op == Op::kColor || op == Op::kContrast || op == Op::kBrightness || op == Op::kSharpness;
}
bool is_geometric_op(Op op) { return static_cast<int>(op) >= static_cast<int>(Op::kRotate); }

// Images whose code is `op`, as a bool tensor shaped [N] + `trailing` ones.
at::Tensor chose(const at::Tensor& code, Op op, int trailing) {
  std::vector<std::int64_t> shape{code.size(0)};
  shape.resize(static_cast<std::size_t>(1 + trailing), 1);
  return code.eq(static_cast<std::int64_t>(op)).view(shape);
}

// The six lookup-table ops: each image's table, one gather. With `only`, every image takes that
// op and only its table is built; otherwise images whose code is not a table op get Invert's
// table (the caller discards them).
at::Tensor lut_family(const at::Tensor& images, const at::Tensor& code, const at::Tensor& m,
                      std::optional<Op> only = std::nullopt) {
  at::Tensor hist;
  auto histogram = [&] {
    if (!hist.defined()) hist = histograms(images);
    return hist;
  };
  auto table = [&](Op op) -> at::Tensor {
    switch (op) {
      case Op::kAutoContrast:
        return auto_contrast_lut(histogram());
      case Op::kEqualize:
        return equalize_lut(histogram());
      // bits = int(4m) is 0 for m < 1/4, and the reference's TF posterize then shifts a uint8
      // by 8 - 0 = 8 bits; TF clamps shift amounts to 7, so bits 0 acts as bits 1 (keeps the
      // top bit) rather than blackening the image as Pillow's posterize(0) would. We follow
      // the code.
      case Op::kPosterize:
        return posterize_lut(m.mul(4.0).trunc().to(at::kLong).clamp_min(1));
      case Op::kSolarize:
        return solarize_lut(m.mul(256.0).trunc().to(at::kLong));
      case Op::kSolarizeAdd:
        return solarize_add_lut(m.mul(110.0).trunc().to(at::kLong), kSolarizeAddThreshold);
      default:
        return at::rsub(pixel_values(images.options()), 255);  // Invert
    }
  };
  if (only) return apply_lut(images, table(*only));
  at::Tensor lut = table(Op::kInvert);
  for (Op op :
       {Op::kSolarizeAdd, Op::kSolarize, Op::kPosterize, Op::kEqualize, Op::kAutoContrast}) {
    lut = at::where(chose(code, op, 2), table(op), lut);
  }
  return apply_lut(images, lut);
}

// The four enhancements: each image's degenerate image, one blend with factor 0.1 + 1.8m. With
// `only`, every image takes that op and only its degenerate image is built.
at::Tensor blend_family(const at::Tensor& images, const at::Tensor& code, const at::Tensor& m,
                        std::optional<Op> only = std::nullopt) {
  at::Tensor gray;
  auto gray_images = [&] {
    if (!gray.defined()) gray = luma(images);
    return gray;
  };
  auto degenerate = [&](Op op) -> at::Tensor {
    switch (op) {
      case Op::kColor:
        return gray_images().to(at::kFloat);
      case Op::kContrast:
        return mean_luma(gray_images()).to(at::kFloat);
      case Op::kBrightness:
        return at::zeros({1}, images.options().dtype(at::kFloat));
      default:
        return smooth(images).to(at::kFloat);  // Sharpness
    }
  };
  if (only) return blend_float(degenerate(*only), images, enhance_factor(m));
  at::Tensor base = degenerate(Op::kSharpness);
  for (Op op : {Op::kBrightness, Op::kContrast, Op::kColor}) {
    base = at::where(chose(code, op, 3), degenerate(op), base);
  }
  return blend_float(base, images, enhance_factor(m));
}

// The five geometric ops: each image's matrix, one affine resampling. The reference negates the
// level with probability 1/2 (_randomly_negate_tensor); `sign` carries that draw.
at::Tensor geometric_family(const at::Tensor& images, const at::Tensor& code, const at::Tensor& m,
                            const at::Tensor& sign, int fill) {
  const std::int64_t h = images.size(2);
  const std::int64_t w = images.size(3);
  auto level = [&](double range) { return m.mul(range).mul(sign); };
  const at::Tensor rotation = rotation_matrix(level(30.0), h, w);
  const at::Tensor shear = level(0.3);
  const at::Tensor zero = at::zeros_like(shear);
  const at::Tensor rotate = chose(code, Op::kRotate, 0);
  auto entry = [&](std::int64_t k, const at::Tensor& otherwise) {
    return at::where(rotate, rotation.select(1, k), otherwise);
  };
  const at::Tensor one = at::ones_like(shear);
  const at::Tensor matrix = at::stack(
      {entry(0, one), entry(1, at::where(chose(code, Op::kShearX, 0), shear, zero)),
       entry(2, at::where(chose(code, Op::kTranslateX, 0), level(translate_range(w)), zero)),
       entry(3, at::where(chose(code, Op::kShearY, 0), shear, zero)), entry(4, one),
       entry(5, at::where(chose(code, Op::kTranslateY, 0), level(translate_range(h)), zero))},
      1);
  return affine(images, matrix, fill);
}

}  // namespace

const char* op_name(Op op) {
  switch (op) {
    case Op::kAutoContrast:
      return "AutoContrast";
    case Op::kEqualize:
      return "Equalize";
    case Op::kPosterize:
      return "Posterize";
    case Op::kSolarize:
      return "Solarize";
    case Op::kColor:
      return "Color";
    case Op::kContrast:
      return "Contrast";
    case Op::kBrightness:
      return "Brightness";
    case Op::kIdentity:
      return "Identity";
    case Op::kInvert:
      return "Invert";
    case Op::kSharpness:
      return "Sharpness";
    case Op::kSolarizeAdd:
      return "SolarizeAdd";
    case Op::kRotate:
      return "Rotate";
    case Op::kShearX:
      return "ShearX";
    case Op::kShearY:
      return "ShearY";
    case Op::kTranslateX:
      return "TranslateX";
    case Op::kTranslateY:
      return "TranslateY";
  }
  return "?";
}

// --- RandAugment ------------------------------------------------------------------------------

double translate_range(std::int64_t size) {
  // third_party/rand_augment.py sets TRANSLATE_CONST = 100 (ImageNet); data/augment_ops.py
  // overrides it by image size, and CReST's CIFAR runs pass size 32.
  switch (size) {
    case 32:
      return 10.0;
    case 96:
      return 30.0;
    case 128:
      return 40.0;
    case 256:
      return 100.0;
    default:
      return static_cast<double>(static_cast<std::int64_t>(0.3 * static_cast<double>(size)));
  }
}

at::Tensor apply_op(Op op, const at::Tensor& images, const at::Tensor& magnitude,
                    const at::Tensor& sign, int fill) {
  check_images(images, "apply_op");
  const int k = static_cast<int>(op);
  if (k < 0 || k >= kNumOps) {
    throw std::invalid_argument("apply_op: unknown op " + std::to_string(k));
  }
  const at::Tensor m = per_image(magnitude, images, at::kDouble, "apply_op");
  const at::Tensor s = per_image(sign, images, at::kDouble, "apply_op");
  const at::Tensor code = at::full({images.size(0)}, k, images.options().dtype(at::kLong));
  if (is_lut_op(op)) return lut_family(images, code, m, op);
  if (is_blend_op(op)) return blend_family(images, code, m, op);
  if (is_geometric_op(op)) return geometric_family(images, code, m, s, fill);
  return images.clone();
}

at::Tensor apply_ops(const at::Tensor& images, const at::Tensor& ops, const at::Tensor& magnitude,
                     const at::Tensor& sign, int fill, Dispatch dispatch) {
  check_images(images, "apply_ops");
  fill_value(images, fill);  // validates before any work
  const at::Tensor code = per_image(ops, images, at::kLong, "apply_ops");
  const at::Tensor m = per_image(magnitude, images, at::kDouble, "apply_ops");
  const at::Tensor s = per_image(sign, images, at::kDouble, "apply_ops");
  const bool grouped =
      dispatch == Dispatch::kGrouped || (dispatch == Dispatch::kAuto && images.is_cpu());
  if (grouped) {
    // Op by op on the images that chose it: the least arithmetic, and on the CPU the group
    // sizes cost nothing to read.
    at::Tensor out = images.clone();
    for (int k = 0; k < kNumOps; ++k) {
      const auto op = static_cast<Op>(k);
      if (op == Op::kIdentity) continue;
      const at::Tensor index = code.eq(k).nonzero().view({-1});
      if (index.numel() == 0) continue;
      out.index_copy_(0, index,
                      apply_op(op, images.index_select(0, index), m.index_select(0, index),
                               s.index_select(0, index), fill));
    }
    return out;
  }
  // Family by family on the whole batch, each image keeping its own family's result: a fixed
  // sequence of kernels, no synchronisation.
  auto any_of = [&](std::initializer_list<Op> members) {
    at::Tensor mask = at::zeros_like(code, at::kBool);
    for (Op op : members) mask = mask.logical_or(code.eq(static_cast<std::int64_t>(op)));
    return mask;
  };
  using Family = std::function<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                          const at::Tensor&)>;
  const std::vector<std::pair<at::Tensor, Family>> families = {
      {any_of({Op::kAutoContrast, Op::kEqualize, Op::kPosterize, Op::kSolarize, Op::kInvert,
               Op::kSolarizeAdd}),
       [](const at::Tensor& x, const at::Tensor& c, const at::Tensor& mm, const at::Tensor&) {
         return lut_family(x, c, mm);
       }},
      {any_of({Op::kColor, Op::kContrast, Op::kBrightness, Op::kSharpness}),
       [](const at::Tensor& x, const at::Tensor& c, const at::Tensor& mm, const at::Tensor&) {
         return blend_family(x, c, mm);
       }},
      {code.ge(static_cast<std::int64_t>(Op::kRotate)),
       [fill](const at::Tensor& x, const at::Tensor& c, const at::Tensor& mm,
              const at::Tensor& ss) { return geometric_family(x, c, mm, ss, fill); }},
  };
  at::Tensor out = images;
  for (const auto& [mask, run] : families) {
    out = at::where(mask.view({-1, 1, 1, 1}), run(images, code, m, s), out);
  }
  return out;
}

}  // namespace augment_ops
}  // namespace crest
