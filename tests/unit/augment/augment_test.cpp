// The batched augmentations: every op against Pillow 9.4's output (fixtures written once by
// tests/fixtures/make_augment_fixtures.py with Debian's python3-pil), plus the invariants of
// the weak and strong pipelines (identity at neutral magnitude, determinism by seed, independent
// draws per image, shapes and types, the crop, the cutout square).
//
// Tolerances against Pillow:
//   lookup-table ops (AutoContrast, Equalize, Invert, Posterize, Solarize, SolarizeAdd): exact;
//   blends (Color, Contrast, Brightness, Sharpness): every pixel within +-1 (the float32
//     arithmetic is Pillow's, so exact is expected; +-1 leaves room for a device whose float
//     rounding differs);
//   geometric ops (Rotate, ShearX/Y, TranslateX/Y): at most 0.5% of pixel values may differ
//     (Pillow's integer index math is reproduced, so exact is expected; the allowance covers
//     cos/sin differing in the last bit between libm and a device at an exact pixel boundary).
// Those allowances apply on CUDA; on the CPU every op must match exactly, and does.
#include "crest/augment/augment.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "crest/augment/ops.h"

namespace crest {
namespace {

namespace ops = augment_ops;

constexpr std::int64_t kFixtureImages = 4;
constexpr std::int64_t kSide = 32;

// CREST_AUGMENT_FIXTURES names another folder of the same format, e.g. one written by
// `make_augment_fixtures.py --out DIR --random 40` for a wider check.
std::string fixture_path(const std::string& name) {
  const char* dir = std::getenv("CREST_AUGMENT_FIXTURES");
  return (dir != nullptr && *dir != '\0'
              ? std::string(dir)
              : std::string(CREST_SOURCE_DIR) + "/tests/fixtures/augment") +
         "/" + name;
}

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open fixture " + path);
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

at::Tensor bytes_to_images(const std::vector<char>& bytes, std::int64_t offset) {
  const std::int64_t size = kFixtureImages * 3 * kSide * kSide;
  if (static_cast<std::int64_t>(bytes.size()) < offset + size) {
    throw std::runtime_error(
        "fixture file too short; rerun tests/fixtures/make_augment_fixtures.py");
  }
  return at::from_blob(const_cast<char*>(bytes.data()) + offset, {kFixtureImages, 3, kSide, kSide},
                       at::kByte)
      .clone();
}

struct FixtureCase {
  std::string name;
  std::string op;
  std::vector<double> params;  // empty for ops without a parameter
  at::Tensor expected;         // uint8 [4, 3, 32, 32]
};

struct Fixtures {
  at::Tensor inputs;
  std::vector<FixtureCase> cases;
};

const Fixtures& fixtures() {
  static const Fixtures loaded = [] {
    Fixtures f;
    f.inputs = bytes_to_images(read_bytes(fixture_path("inputs.bin")), 0);
    const std::vector<char> outputs = read_bytes(fixture_path("outputs.bin"));
    std::ifstream cases(fixture_path("cases.txt"));
    if (!cases) throw std::runtime_error("cannot open " + fixture_path("cases.txt"));
    std::string line;
    while (std::getline(cases, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream fields(line);
      FixtureCase c;
      fields >> c.name >> c.op;
      std::string value;
      while (fields >> value) {
        if (value != "-") c.params.push_back(std::stod(value));
      }
      const auto index = static_cast<std::int64_t>(f.cases.size());
      c.expected = bytes_to_images(outputs, index * kFixtureImages * 3 * kSide * kSide);
      f.cases.push_back(std::move(c));
    }
    return f;
  }();
  return loaded;
}

// The op of a fixture case, called directly with its per-image parameters.
at::Tensor run_fixture_op(const std::string& op, const at::Tensor& images,
                          const std::vector<double>& params) {
  const at::Tensor p = at::tensor(params, at::kDouble);
  const std::map<std::string, std::function<at::Tensor()>> table = {
      {"auto_contrast", [&] { return ops::auto_contrast(images); }},
      {"equalize", [&] { return ops::equalize(images); }},
      {"invert", [&] { return ops::invert(images); }},
      {"posterize", [&] { return ops::posterize(images, p.to(at::kLong)); }},
      {"solarize", [&] { return ops::solarize(images, p.to(at::kLong)); }},
      {"solarize_add", [&] { return ops::solarize_add(images, p.to(at::kLong)); }},
      {"color", [&] { return ops::color(images, p); }},
      {"contrast", [&] { return ops::contrast(images, p); }},
      {"brightness", [&] { return ops::brightness(images, p); }},
      {"sharpness", [&] { return ops::sharpness(images, p); }},
      {"rotate", [&] { return ops::rotate(images, p, 128); }},
      {"shear_x", [&] { return ops::shear_x(images, p, 128); }},
      {"shear_y", [&] { return ops::shear_y(images, p, 128); }},
      {"translate_x", [&] { return ops::translate_x(images, p, 128); }},
      {"translate_y", [&] { return ops::translate_y(images, p, 128); }},
  };
  const auto it = table.find(op);
  if (it == table.end()) throw std::runtime_error("fixture names an unknown op: " + op);
  return it->second();
}

enum class Tolerance { kExact, kOffByOne, kFewPixels };

Tolerance tolerance_of(const std::string& op) {
  static const std::set<std::string> blends = {"color", "contrast", "brightness", "sharpness"};
  static const std::set<std::string> geometric = {"rotate", "shear_x", "shear_y", "translate_x",
                                                  "translate_y"};
  if (blends.count(op)) return Tolerance::kOffByOne;
  if (geometric.count(op)) return Tolerance::kFewPixels;
  return Tolerance::kExact;
}

void compare_with_pillow(at::Device device) {
  const Fixtures& f = fixtures();
  ASSERT_GE(f.cases.size(), 16u);
  const at::Tensor inputs = f.inputs.to(device);
  for (const FixtureCase& c : f.cases) {
    SCOPED_TRACE(c.name + " on " + device.str());
    const at::Tensor out = run_fixture_op(c.op, inputs, c.params);
    ASSERT_EQ(out.scalar_type(), at::kByte);
    ASSERT_EQ(out.device(), device);
    ASSERT_EQ(out.sizes(), c.expected.sizes());
    const at::Tensor diff = (out.cpu().to(at::kInt) - c.expected.to(at::kInt)).abs();
    const std::int64_t differing = diff.gt(0).sum().item<std::int64_t>();
    const int max_diff = diff.max().item<int>();
    const double fraction = static_cast<double>(differing) / static_cast<double>(diff.numel());
    // On the CPU the arithmetic is Pillow's step for step, so nothing may differ there.
    switch (device.is_cpu() ? Tolerance::kExact : tolerance_of(c.op)) {
      case Tolerance::kExact:
        EXPECT_EQ(differing, 0) << "max |diff| " << max_diff;
        break;
      case Tolerance::kOffByOne:
        EXPECT_LE(max_diff, 1) << differing << " values differ";
        break;
      case Tolerance::kFewPixels:
        EXPECT_LE(fraction, 0.005) << differing << " values differ, max |diff| " << max_diff;
        break;
    }
    if (differing > 0) {
      std::printf("[ pillow   ] %-14s %s: %lld of %lld values differ (max %d)\n", c.name.c_str(),
                  device.str().c_str(), static_cast<long long>(differing),
                  static_cast<long long>(diff.numel()), max_diff);
    }
  }
}

at::Generator cpu_generator(std::uint64_t seed) {
  return at::make_generator<at::CPUGeneratorImpl>(seed);
}

at::Tensor noise_images(std::int64_t n, std::uint64_t seed, std::int64_t side = kSide) {
  at::Generator gen = cpu_generator(seed);
  return at::randint(0, 256, {n, 3, side, side}, gen, at::TensorOptions().dtype(at::kByte));
}

bool same(const at::Tensor& a, const at::Tensor& b) { return at::equal(a, b); }

TEST(AugmentOpsTest, MatchPillowOnCpu) { compare_with_pillow(at::Device(at::kCPU)); }

TEST(AugmentOpsTest, MatchPillowOnCuda) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  compare_with_pillow(at::Device(at::kCUDA, 0));  // outputs report their index: cuda:0
}

TEST(AugmentOpsTest, NeutralParametersAreIdentity) {
  const at::Tensor images = noise_images(6, 1);
  const at::Tensor one = at::ones({6}, at::kFloat);
  const at::Tensor zero = at::zeros({6}, at::kDouble);
  EXPECT_TRUE(same(ops::color(images, one), images));
  EXPECT_TRUE(same(ops::contrast(images, one), images));
  EXPECT_TRUE(same(ops::brightness(images, one), images));
  EXPECT_TRUE(same(ops::sharpness(images, one), images));
  EXPECT_TRUE(same(ops::rotate(images, zero, 128), images));
  EXPECT_TRUE(same(ops::shear_x(images, zero, 128), images));
  EXPECT_TRUE(same(ops::shear_y(images, zero, 128), images));
  EXPECT_TRUE(same(ops::translate_x(images, zero, 128), images));
  EXPECT_TRUE(same(ops::translate_y(images, zero, 128), images));
  EXPECT_TRUE(same(ops::posterize(images, at::full({6}, 8, at::kLong)), images));
  EXPECT_TRUE(same(ops::solarize(images, at::full({6}, 256, at::kLong)), images));
  EXPECT_TRUE(same(ops::solarize_add(images, at::zeros({6}, at::kLong)), images));
  EXPECT_TRUE(same(ops::invert(ops::invert(images)), images));
  // A full turn is no turn (Pillow reduces the angle modulo 360 first).
  EXPECT_TRUE(same(ops::rotate(images, at::full({6}, 360.0, at::kDouble), 128), images));
  // The geometric ops at magnitude 0 through RandAugment's mapping, either sign.
  const at::Tensor m0 = at::zeros({6}, at::kFloat);
  const at::Tensor sign = at::tensor({1.0f, -1.0f, 1.0f, -1.0f, 1.0f, -1.0f});
  for (ops::Op op : {ops::Op::kRotate, ops::Op::kShearX, ops::Op::kShearY, ops::Op::kTranslateX,
                     ops::Op::kTranslateY, ops::Op::kIdentity}) {
    EXPECT_TRUE(same(ops::apply_op(op, images, m0, sign, 128), images)) << ops::op_name(op);
  }
}

TEST(AugmentOpsTest, RandAugmentMagnitudeMapping) {
  // Every op through RandAugment's mapping equals the op called with the reference's
  // parameters, computed here independently: bits = max(int(4m), 1) (the reference's TF shift
  // clamp turns bits 0 into bits 1), threshold int(256m), addition int(110m), factor
  // 0.1 + 1.8m, +-30m degrees, +-0.3m shear, +-10m pixels.
  const at::Tensor images = noise_images(6, 2);
  const std::vector<float> m = {0.0f, 0.1f, 0.3f, 0.5f, 0.75f, 0.999f};
  const std::vector<float> s = {1.0f, -1.0f, -1.0f, 1.0f, -1.0f, 1.0f};
  auto mapped = [&](auto f) {
    std::vector<double> out;
    for (std::size_t i = 0; i < m.size(); ++i) out.push_back(f(static_cast<double>(m[i]), s[i]));
    return at::tensor(out, at::kDouble);
  };
  const at::Tensor bits = mapped([](double v, float) { return std::max(1.0, std::trunc(4 * v)); });
  EXPECT_EQ(bits[1].item<double>(), 1.0);
  const at::Tensor threshold = mapped([](double v, float) { return std::trunc(256 * v); });
  const at::Tensor addition = mapped([](double v, float) { return std::trunc(110 * v); });
  const at::Tensor factor = mapped([](double v, float) { return 1.8 * v + 0.1; });
  const at::Tensor degrees = mapped([](double v, float sign) { return sign * 30 * v; });
  const at::Tensor shear = mapped([](double v, float sign) { return sign * 0.3 * v; });
  const at::Tensor pixels = mapped([](double v, float sign) { return sign * 10 * v; });
  const std::map<ops::Op, at::Tensor> expected = {
      {ops::Op::kAutoContrast, ops::auto_contrast(images)},
      {ops::Op::kEqualize, ops::equalize(images)},
      {ops::Op::kPosterize, ops::posterize(images, bits.to(at::kLong))},
      {ops::Op::kSolarize, ops::solarize(images, threshold.to(at::kLong))},
      {ops::Op::kColor, ops::color(images, factor)},
      {ops::Op::kContrast, ops::contrast(images, factor)},
      {ops::Op::kBrightness, ops::brightness(images, factor)},
      {ops::Op::kIdentity, images},
      {ops::Op::kInvert, ops::invert(images)},
      {ops::Op::kSharpness, ops::sharpness(images, factor)},
      {ops::Op::kSolarizeAdd, ops::solarize_add(images, addition.to(at::kLong))},
      {ops::Op::kRotate, ops::rotate(images, degrees, 128)},
      {ops::Op::kShearX, ops::shear_x(images, shear, 128)},
      {ops::Op::kShearY, ops::shear_y(images, shear, 128)},
      {ops::Op::kTranslateX, ops::translate_x(images, pixels, 128)},
      {ops::Op::kTranslateY, ops::translate_y(images, pixels, 128)},
  };
  ASSERT_EQ(expected.size(), static_cast<std::size_t>(ops::kNumOps));
  for (const auto& [op, want] : expected) {
    EXPECT_TRUE(same(ops::apply_op(op, images, at::tensor(m), at::tensor(s), 128), want))
        << ops::op_name(op);
  }
  EXPECT_EQ(ops::translate_range(32), 10.0);
  EXPECT_EQ(ops::translate_range(96), 30.0);
  EXPECT_EQ(ops::translate_range(64), 19.0);
}

TEST(AugmentOpsTest, OpsKeepShapeTypeAndDevice) {
  const at::Tensor images = noise_images(5, 3);
  at::Generator gen = cpu_generator(4);
  const at::Tensor m = at::rand({5}, gen, at::TensorOptions().dtype(at::kFloat));
  const at::Tensor sign = at::tensor({1.0f, -1.0f, 1.0f, -1.0f, 1.0f});
  for (int k = 0; k < ops::kNumOps; ++k) {
    const auto op = static_cast<ops::Op>(k);
    const at::Tensor out = ops::apply_op(op, images, m, sign, 128);
    EXPECT_EQ(out.scalar_type(), at::kByte) << ops::op_name(op);
    EXPECT_EQ(out.sizes(), images.sizes()) << ops::op_name(op);
    EXPECT_EQ(out.device(), images.device()) << ops::op_name(op);
  }
  // Non-square images work too.
  const at::Tensor wide = noise_images(2, 5, 20).narrow(2, 0, 12).contiguous();
  EXPECT_EQ(ops::rotate(wide, at::tensor({10.0, -20.0}), 128).sizes(), wide.sizes());
  EXPECT_EQ(ops::sharpness(wide, at::tensor({0.5, 1.5}, at::kFloat)).sizes(), wide.sizes());
}

TEST(AugmentTest, EmptyBatch) {
  const at::Tensor none = at::zeros({0, 3, kSide, kSide}, at::kByte);
  at::Generator gen = cpu_generator(3);
  EXPECT_EQ(weak_augment(none, gen).sizes(), none.sizes());
  EXPECT_EQ(strong_augment(none, gen).sizes(), none.sizes());
  const auto layers = draw_randaugment(0, gen, AugmentOptions{}, at::Device(at::kCPU));
  EXPECT_EQ(apply_randaugment(none, layers, 128, ops::Dispatch::kMasked).sizes(), none.sizes());
}

TEST(AugmentOpsTest, RejectsBadInput) {
  const at::Tensor floats = at::zeros({2, 3, 8, 8}, at::kFloat);
  const at::Tensor gray = at::zeros({2, 1, 8, 8}, at::kByte);
  const at::Tensor images = at::zeros({2, 3, 8, 8}, at::kByte);
  EXPECT_THROW(ops::invert(floats), std::invalid_argument);
  EXPECT_THROW(ops::equalize(gray), std::invalid_argument);
  EXPECT_THROW(ops::color(images, at::ones({3})), std::invalid_argument);
  EXPECT_THROW(ops::rotate(images, at::zeros({2}), 300), std::invalid_argument);
  at::Generator gen = cpu_generator(0);
  EXPECT_THROW(weak_augment(floats, gen), std::invalid_argument);
  AugmentOptions bad;
  bad.randaugment_prob = 1.5;
  EXPECT_THROW(strong_augment(images, gen, bad), std::invalid_argument);
}

TEST(AugmentTest, WeakViewIsACropOfTheReflectPaddedImage) {
  const std::int64_t n = 24;
  const at::Tensor images = noise_images(n, 5);
  at::Generator gen = cpu_generator(6);
  const at::Tensor out = weak_augment(images, gen);
  ASSERT_EQ(out.sizes(), images.sizes());
  ASSERT_EQ(out.scalar_type(), at::kByte);
  const at::Tensor padded = at::reflection_pad2d(images.to(at::kFloat), {4, 4, 4, 4}).to(at::kByte);
  std::set<std::int64_t> offsets_seen;
  int flipped = 0;
  for (std::int64_t i = 0; i < n; ++i) {  // a test may loop over images; the library does not
    int matches = 0;
    for (std::int64_t dy = 0; dy <= 8; ++dy) {
      for (std::int64_t dx = 0; dx <= 8; ++dx) {
        const at::Tensor crop = padded[i].narrow(1, dy, kSide).narrow(2, dx, kSide);
        for (bool flip : {false, true}) {
          if (same(flip ? crop.flip({2}) : crop, out[i])) {
            ++matches;
            offsets_seen.insert(dy * 9 + dx);
            flipped += flip ? 1 : 0;
          }
        }
      }
    }
    EXPECT_EQ(matches, 1) << "image " << i;
  }
  EXPECT_GT(offsets_seen.size(), 10u);  // offsets are drawn per image
  EXPECT_GT(flipped, 0);
  EXPECT_LT(flipped, n);
}

TEST(AugmentTest, CutoutFillsAClippedSquare) {
  // Inputs without the value 128, so the square is where the output is 128.
  const at::Tensor images = noise_images(40, 7).clamp(0, 127);
  at::Generator gen = cpu_generator(8);
  const at::Tensor out = random_cutout(images, gen);
  const at::Tensor gray = out.eq(128).all(1);  // [N, H, W]
  EXPECT_TRUE(same(at::where(gray.unsqueeze(1), images, out), images));
  std::set<std::int64_t> areas;
  for (std::int64_t i = 0; i < out.size(0); ++i) {
    const at::Tensor rows = gray[i].any(1).nonzero().view({-1});
    const at::Tensor cols = gray[i].any(0).nonzero().view({-1});
    ASSERT_GT(rows.numel(), 0) << "Cutout is always applied";
    const std::int64_t height = rows.numel();
    const std::int64_t width = cols.numel();
    EXPECT_LE(height, 16);
    EXPECT_LE(width, 16);
    EXPECT_GE(height, 8);  // centres lie in [0, 32]: at worst half the square is left
    EXPECT_GE(width, 8);
    EXPECT_EQ(rows[-1].item<std::int64_t>() - rows[0].item<std::int64_t>() + 1, height);
    EXPECT_EQ(cols[-1].item<std::int64_t>() - cols[0].item<std::int64_t>() + 1, width);
    EXPECT_EQ(gray[i].sum().item<std::int64_t>(), height * width);  // a filled rectangle
    areas.insert(height * width);
  }
  EXPECT_GT(areas.size(), 1u);  // some squares are clipped, some not
  // Explicit centres: a corner keeps a quarter, the middle the whole square.
  const at::Tensor two = images.narrow(0, 0, 2);
  const at::Tensor cut = ops::cutout(two, at::tensor({0, 16}), at::tensor({0, 16}), 16, 128);
  EXPECT_EQ(cut[0].eq(128).all(0).sum().item<std::int64_t>(), 64);
  EXPECT_EQ(cut[1].eq(128).all(0).sum().item<std::int64_t>(), 256);
  EXPECT_TRUE(cut[1].narrow(1, 8, 16).narrow(2, 8, 16).eq(128).all().item<bool>());
}

TEST(AugmentTest, SameSeedSameViewsOtherSeedOtherViews) {
  const at::Tensor images = noise_images(16, 9);
  at::Generator a = cpu_generator(123);
  at::Generator b = cpu_generator(123);
  at::Generator c = cpu_generator(124);
  const at::Tensor strong_a = strong_augment(images, a);
  const at::Tensor strong_b = strong_augment(images, b);
  const at::Tensor strong_c = strong_augment(images, c);
  EXPECT_TRUE(same(strong_a, strong_b));
  EXPECT_FALSE(same(strong_a, strong_c));
  EXPECT_TRUE(same(weak_augment(images, a), weak_augment(images, b)));
  // The generator advances: the next call gives new views.
  EXPECT_FALSE(same(strong_augment(images, a), strong_a));
  EXPECT_EQ(strong_a.scalar_type(), at::kByte);
  EXPECT_EQ(strong_a.sizes(), images.sizes());
}

TEST(AugmentTest, EveryImageGetsItsOwnDraws) {
  const std::int64_t n = 64;
  const at::Tensor images = noise_images(1, 10).expand({n, 3, kSide, kSide}).contiguous();
  at::Generator gen = cpu_generator(11);
  const at::Tensor strong = strong_augment(images, gen);
  std::set<std::string> distinct;
  for (std::int64_t i = 0; i < n; ++i) {
    const at::Tensor view = strong[i].contiguous();
    distinct.insert(std::string(static_cast<const char*>(view.data_ptr()),
                                static_cast<std::size_t>(view.numel())));
  }
  EXPECT_GE(distinct.size(), static_cast<std::size_t>(n - 2));

  const auto layers = draw_randaugment(n, gen, AugmentOptions{}, at::Device(at::kCPU));
  ASSERT_EQ(layers.size(), 2u);
  for (const RandAugmentLayer& layer : layers) {
    EXPECT_GE(std::get<0>(at::_unique(layer.op)).numel(),
              12);  // uniform over 16: nearly all appear
    const double applied = layer.apply.to(at::kFloat).mean().item<double>();
    EXPECT_GT(applied, 0.25);
    EXPECT_LT(applied, 0.75);
    EXPECT_GT(layer.magnitude.max().item<float>() - layer.magnitude.min().item<float>(), 0.5f);
    EXPECT_TRUE(layer.sign.abs().eq(1).all().item<bool>());
    EXPECT_TRUE(layer.sign.lt(0).any().item<bool>() && layer.sign.gt(0).any().item<bool>());
  }
  EXPECT_FALSE(same(layers[0].op, layers[1].op));
}

TEST(AugmentTest, RandAugmentAppliesEachImagesOwnOp) {
  // 48 images, image k takes op k % 16: the batched layer equals each op applied on its own,
  // whether the families run on their groups or on the whole batch with a mask.
  const std::int64_t n = 3 * ops::kNumOps;
  const at::Tensor images = noise_images(n, 12);
  RandAugmentLayer layer;
  layer.op = at::arange(n, at::kLong).remainder(ops::kNumOps).flip({0});
  layer.apply = at::ones({n}, at::kBool);
  at::Generator gen = cpu_generator(13);
  layer.magnitude = at::rand({n}, gen, at::TensorOptions().dtype(at::kFloat));
  layer.sign = at::arange(n, at::kLong).remainder(2).to(at::kFloat).mul(2).sub(1);  // -1, +1, ..
  const at::Tensor grouped = apply_randaugment(images, {layer}, 128, ops::Dispatch::kGrouped);
  const at::Tensor masked = apply_randaugment(images, {layer}, 128, ops::Dispatch::kMasked);
  EXPECT_TRUE(same(grouped, masked));
  for (std::int64_t i = 0; i < n; ++i) {
    const auto op = static_cast<ops::Op>(layer.op[i].item<std::int64_t>());
    const at::Tensor alone =
        ops::apply_op(op, images.narrow(0, i, 1), layer.magnitude.narrow(0, i, 1),
                      layer.sign.narrow(0, i, 1), 128);
    EXPECT_TRUE(same(grouped[i], alone[0])) << ops::op_name(op);
  }
  // A layer that applies to no image leaves the batch alone.
  layer.apply = at::zeros({n}, at::kBool);
  EXPECT_TRUE(same(apply_randaugment(images, {layer}, 128, ops::Dispatch::kGrouped), images));
  EXPECT_TRUE(same(apply_randaugment(images, {layer}, 128, ops::Dispatch::kMasked), images));
  // Two full strong pipelines agree across dispatch modes too.
  const auto layers = draw_randaugment(n, gen, AugmentOptions{}, at::Device(at::kCPU));
  EXPECT_TRUE(same(apply_randaugment(images, layers, 128, ops::Dispatch::kGrouped),
                   apply_randaugment(images, layers, 128, ops::Dispatch::kMasked)));
}

TEST(AugmentTest, WorksOnCudaWithACudaGenerator) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  const at::Device cuda(at::kCUDA);
  const at::Tensor images = noise_images(32, 14).to(cuda);
  at::Generator a = at::globalContext().defaultGenerator(cuda).clone();
  at::Generator b = at::globalContext().defaultGenerator(cuda).clone();
  a.set_current_seed(5);
  b.set_current_seed(5);
  const at::Tensor strong_a = strong_augment(images, a);
  EXPECT_EQ(strong_a.device(), images.device());
  EXPECT_TRUE(same(strong_a, strong_augment(images, b)));
  EXPECT_TRUE(same(weak_augment(images, a), weak_augment(images, b)));
  at::Generator cpu = cpu_generator(5);
  EXPECT_THROW(weak_augment(images, cpu), std::invalid_argument);
  // The same draws give the same pixels on both devices (grouped on the CPU, masked on CUDA),
  // up to the allowances of the Pillow comparison.
  const auto layers = draw_randaugment(32, cpu, AugmentOptions{}, at::Device(at::kCPU));
  const at::Tensor on_cpu = apply_randaugment(images.cpu(), layers, 128);
  const at::Tensor on_cuda = apply_randaugment(images, layers, 128);
  const at::Tensor diff = (on_cuda.cpu().to(at::kInt) - on_cpu.to(at::kInt)).abs();
  const double fraction = diff.gt(0).to(at::kDouble).mean().item<double>();
  EXPECT_LE(fraction, 0.005) << "max |diff| " << diff.max().item<int>();
  std::printf("[ cuda     ] RandAugment CPU vs CUDA: %.5f of values differ (max %d)\n", fraction,
              diff.max().item<int>());
  const at::Tensor offsets = at::randint(0, 9, {32}, cpu, at::TensorOptions().dtype(at::kLong));
  const at::Tensor flips = at::rand({32}, cpu).lt(0.5);
  EXPECT_TRUE(same(ops::pad_crop_flip(images, offsets, offsets.flip({0}), flips, 4).cpu(),
                   ops::pad_crop_flip(images.cpu(), offsets, offsets.flip({0}), flips, 4)));
}

}  // namespace
}  // namespace crest
