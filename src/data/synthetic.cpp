#include "crest/data/synthetic.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "crest/util/error.h"

// The images must be the same bytes wherever they are made. So everything random comes from our
// own generator and our own conversions to floats, the only maths functions used are sqrt and
// floor (exact in IEEE 754; the standard library's distributions and sin/exp/log differ between
// implementations), and no multiply-add is fused, as compilers otherwise do where the hardware
// has FMA (ARM, x86 with -march=native): fused and unfused round differently.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace crest {
namespace {

constexpr int kMinClasses = 2;
constexpr int kMaxClasses = 1000;
constexpr int kMinImageSize = 8;
constexpr int kMaxImageSize = 256;

// Classes are shape x hue family x texture; with 10 of each, 1000 distinct classes.
constexpr int kNumShapes = 10;
constexpr int kNumHues = 10;
constexpr int kNumTextures = 10;

const std::array<const char*, kNumShapes> kShapeNames = {"disc",  "square",  "triangle", "ring",
                                                         "cross", "diamond", "star",     "crescent",
                                                         "bars",  "checker"};

constexpr std::uint64_t kTrainSplit = 0;
constexpr std::uint64_t kTestSplit = 1;

// --- Randomness -------------------------------------------------------------------------------

std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// xoshiro256**, seeded through splitmix64.
class Rng {
 public:
  explicit Rng(std::uint64_t key) {
    for (auto& word : state_) {
      key += 0x9E3779B97F4A7C15ull;
      word = mix64(key);
    }
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, 1), 24 random bits: every value is exact in a float.
  float uniform() { return static_cast<float>(next() >> 40) * 0x1.0p-24f; }
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  // Uniform in [0, n); the bias of the multiply-shift is below 2^-32 for the n used here.
  int below(int n) {
    return static_cast<int>(((next() >> 32) * static_cast<std::uint64_t>(n)) >> 32);
  }
  bool chance(float p) { return uniform() < p; }
  // Four samples of zero-mean, unit-variance noise from one draw, each the sum of two 8-bit
  // uniforms (a triangular distribution): cheap enough for every pixel and channel.
  void noise4(float* out) {
    const std::uint64_t bits = next();
    for (int k = 0; k < 4; ++k) {
      const std::uint64_t pair = bits >> (16 * k);
      const float sum = static_cast<float>((pair & 0xFF) + ((pair >> 8) & 0xFF));
      out[k] = (sum - 255.0f) * (2.4494897f / 256.0f);  // sqrt(6): the sum's variance is 1/6
    }
  }
  // A uniformly random direction, by rejection from the unit disc (no trigonometry).
  void direction(float& c, float& s) {
    for (;;) {
      const float x = uniform(-1.0f, 1.0f);
      const float y = uniform(-1.0f, 1.0f);
      const float r2 = x * x + y * y;
      if (r2 > 1e-4f && r2 <= 1.0f) {
        const float r = std::sqrt(r2);
        c = x / r;
        s = y / r;
        return;
      }
    }
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<std::uint64_t, 4> state_{};
};

// Image `index` of `split` gets its own stream, so it does not depend on how many other images
// are made.
std::uint64_t image_key(std::uint64_t seed, std::uint64_t split, std::uint64_t index) {
  std::uint64_t key = mix64(seed + 0x9E3779B97F4A7C15ull);
  key = mix64(key ^ (split * 0xD1B54A32D192ED03ull + 0x8CB92BA72F3D8DD7ull));
  return mix64(key ^ (index + 0x632BE59BD9B4E019ull));
}

// --- Small vector maths -----------------------------------------------------------------------

struct Rgb {
  float r;
  float g;
  float b;
};

float clamp01(float v) { return std::min(1.0f, std::max(0.0f, v)); }
float length(float x, float y) { return std::sqrt(x * x + y * y); }
int floor_int(float v) { return static_cast<int>(std::floor(v)); }
float fract(float v) { return v - std::floor(v); }
// Triangle wave with period 1, in [0, 1]: a periodic pattern without sin.
float tri(float v) { return std::fabs(fract(v) - 0.5f) * 2.0f; }
float sign_of(float v) { return v < 0.0f ? -1.0f : 1.0f; }
Rgb mix(const Rgb& a, const Rgb& b, float t) {
  return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t};
}

// h, s, v in [0, 1]; h wraps.
Rgb hsv(float h, float s, float v) {
  h = fract(h) * 6.0f;
  const int sector = std::min(5, static_cast<int>(h));
  const float f = h - static_cast<float>(sector);
  const float p = v * (1.0f - s);
  const float q = v * (1.0f - s * f);
  const float t = v * (1.0f - s * (1.0f - f));
  switch (sector) {
    case 0:
      return {v, t, p};
    case 1:
      return {q, v, p};
    case 2:
      return {p, v, t};
    case 3:
      return {p, q, v};
    case 4:
      return {t, p, v};
    default:
      return {v, p, q};
  }
}

// A colour with hue in [hue_lo, hue_hi) (wrapping), saturation and value in their ranges. The
// draws are separate statements: the order in which function arguments are evaluated is
// unspecified, and differs between compilers.
Rgb random_colour(Rng& rng, float hue_lo, float hue_hi, float sat_lo, float sat_hi, float val_lo,
                  float val_hi) {
  const float h = rng.uniform(hue_lo, hue_hi);
  const float s = rng.uniform(sat_lo, sat_hi);
  const float v = rng.uniform(val_lo, val_hi);
  return hsv(h, s, v);
}

// --- Signed distances, in the shape's own units (the shape fits the unit disc) -------------------

float sd_box(float x, float y, float bx, float by) {
  const float dx = std::fabs(x) - bx;
  const float dy = std::fabs(y) - by;
  return length(std::max(dx, 0.0f), std::max(dy, 0.0f)) + std::min(std::max(dx, dy), 0.0f);
}

float sd_triangle(float x, float y, float r) {
  constexpr float k = 1.7320508f;  // sqrt(3)
  x = std::fabs(x) - r;
  y = y + r / k;
  if (x + k * y > 0.0f) {
    const float nx = (x - k * y) * 0.5f;
    const float ny = (-k * x - y) * 0.5f;
    x = nx;
    y = ny;
  }
  x -= std::min(0.0f, std::max(-2.0f * r, x));
  return -length(x, y) * sign_of(y);
}

float sd_rhombus(float x, float y, float bx, float by) {
  x = std::fabs(x);
  y = std::fabs(y);
  const float h = std::max(
      -1.0f, std::min(1.0f, ((bx - 2.0f * x) * bx - (by - 2.0f * y) * by) / (bx * bx + by * by)));
  const float d = length(x - 0.5f * bx * (1.0f - h), y - 0.5f * by * (1.0f + h));
  return d * sign_of(x * by + y * bx - bx * by);
}

// A five-pointed star of outer radius r; rf sets how deep the inner corners are.
float sd_star5(float x, float y, float r, float rf) {
  constexpr float k1x = 0.809016994f;
  constexpr float k1y = -0.587785252f;
  x = std::fabs(x);
  float d = std::max(k1x * x + k1y * y, 0.0f) * 2.0f;
  x -= d * k1x;
  y -= d * k1y;
  d = std::max(-k1x * x + k1y * y, 0.0f) * 2.0f;
  x -= d * -k1x;
  y -= d * k1y;
  x = std::fabs(x);
  y -= r;
  const float bax = rf * -k1y;
  const float bay = rf * k1x - 1.0f;
  const float h = std::min(r, std::max(0.0f, (x * bax + y * bay) / (bax * bax + bay * bay)));
  return length(x - bax * h, y - bay * h) * sign_of(y * bax - x * bay);
}

float shape_distance(int shape, float x, float y) {
  switch (shape) {
    case 0:
      return length(x, y) - 0.85f;  // disc
    case 1:
      return sd_box(x, y, 0.68f, 0.68f);  // square
    case 2:
      return sd_triangle(x, -y + 0.12f, 0.9f);  // triangle
    case 3:
      return std::fabs(length(x, y) - 0.66f) - 0.2f;  // ring
    case 4:
      return std::min(sd_box(x, y, 0.9f, 0.26f), sd_box(x, y, 0.26f, 0.9f));  // cross
    case 5:
      return sd_rhombus(x, y, 0.95f, 0.55f);  // diamond
    case 6:
      return sd_star5(x, y + 0.05f, 0.95f, 0.45f);  // star
    case 7: {  // crescent: a disc with an offset disc bitten out
      return std::max(length(x, y) - 0.85f, -(length(x - 0.45f, y + 0.1f) - 0.68f));
    }
    case 8: {  // bars: three parallel bars
      const float ax = std::fabs(x);
      const float bar = std::min(ax, std::fabs(ax - 0.58f)) - 0.16f;
      return std::max(sd_box(x, y, 0.8f, 0.8f), bar);
    }
    default: {  // checker: a 3x3 board, the corner and centre cells filled
      constexpr float kCell = 0.5f;
      const float ux = (x + 0.75f) / kCell;
      const float uy = (y + 0.75f) / kCell;
      const bool on = ((floor_int(ux) + floor_int(uy)) & 1) == 0;
      const float fx = fract(ux);
      const float fy = fract(uy);
      const float edge = std::min(std::min(fx, 1.0f - fx), std::min(fy, 1.0f - fy)) * kCell;
      return std::max(sd_box(x, y, 0.75f, 0.75f), on ? -edge : edge);
    }
  }
}

// --- Drawing ------------------------------------------------------------------------------------

// A float RGB canvas, channel-planar, values nominally in [0, 1].
class Canvas {
 public:
  explicit Canvas(int size) : size_(size), pixels_(3 * static_cast<std::size_t>(size) * size) {}
  int size() const { return size_; }
  float* plane(int channel) {
    return pixels_.data() + static_cast<std::size_t>(channel) * size_ * size_;
  }

  void blend(int row, int col, const Rgb& c, float alpha) {
    const std::size_t at = static_cast<std::size_t>(row) * size_ + col;
    const std::size_t stride = static_cast<std::size_t>(size_) * size_;
    float* p = pixels_.data() + at;
    p[0] += (c.r - p[0]) * alpha;
    p[stride] += (c.g - p[stride]) * alpha;
    p[2 * stride] += (c.b - p[2 * stride]) * alpha;
  }
  void set(int row, int col, const Rgb& c) {
    const std::size_t at = static_cast<std::size_t>(row) * size_ + col;
    const std::size_t stride = static_cast<std::size_t>(size_) * size_;
    pixels_[at] = c.r;
    pixels_[at + stride] = c.g;
    pixels_[at + 2 * stride] = c.b;
  }

 private:
  int size_;
  std::vector<float> pixels_;
};

// Where a shape sits: centre and radius in pixels, orientation, and a slight stretch.
struct Placement {
  float cx;
  float cy;
  float radius;
  float cos_t;
  float sin_t;
  float stretch_x;
  float stretch_y;
};

Placement random_placement(Rng& rng, float size, float min_radius, float max_radius, float margin) {
  Placement p{};
  p.radius = rng.uniform(min_radius, max_radius) * size;
  const float lo = p.radius * margin;
  p.cx = rng.uniform(lo, size - lo);
  p.cy = rng.uniform(lo, size - lo);
  rng.direction(p.cos_t, p.sin_t);
  p.stretch_x = rng.uniform(0.88f, 1.12f);
  p.stretch_y = rng.uniform(0.88f, 1.12f);
  return p;
}

// Calls fn(row, col, x, y) for the pixels near the placement, x and y in shape units.
template <typename Fn>
void for_pixels_near(const Placement& p, int size, float reach, Fn&& fn) {
  const float extent = p.radius * reach * 1.15f + 1.0f;
  const int r0 = std::max(0, floor_int(p.cy - extent));
  const int r1 = std::min(size - 1, floor_int(p.cy + extent));
  const int c0 = std::max(0, floor_int(p.cx - extent));
  const int c1 = std::min(size - 1, floor_int(p.cx + extent));
  const float inv_x = 1.0f / (p.radius * p.stretch_x);
  const float inv_y = 1.0f / (p.radius * p.stretch_y);
  for (int row = r0; row <= r1; ++row) {
    const float dy = static_cast<float>(row) + 0.5f - p.cy;
    for (int col = c0; col <= c1; ++col) {
      const float dx = static_cast<float>(col) + 0.5f - p.cx;
      fn(row, col, (p.cos_t * dx + p.sin_t * dy) * inv_x, (-p.sin_t * dx + p.cos_t * dy) * inv_y);
    }
  }
}

// Anti-aliased coverage of a pixel from a signed distance in shape units.
float coverage(float distance, float radius) { return clamp01(0.5f - distance * radius); }

void draw_background(Canvas& canvas, Rng& rng) {
  const int size = canvas.size();
  const float inv = 1.0f / static_cast<float>(size);
  const Rgb a = random_colour(rng, 0.0f, 1.0f, 0.0f, 0.7f, 0.1f, 0.95f);
  const Rgb b = random_colour(rng, 0.0f, 1.0f, 0.0f, 0.7f, 0.1f, 0.95f);
  const int kind = rng.below(4);
  float dir_x = 0.0f;
  float dir_y = 0.0f;
  rng.direction(dir_x, dir_y);
  const float freq = rng.uniform(1.0f, 4.0f);
  const float phase = rng.uniform();
  const float ox = rng.uniform(0.0f, 1.0f);
  const float oy = rng.uniform(0.0f, 1.0f);
  // Value noise: a coarse random grid, bilinearly interpolated.
  constexpr int kGrid = 5;
  std::array<float, kGrid * kGrid> grid{};
  for (auto& g : grid) g = rng.uniform();
  for (int row = 0; row < size; ++row) {
    const float y = (static_cast<float>(row) + 0.5f) * inv;
    for (int col = 0; col < size; ++col) {
      const float x = (static_cast<float>(col) + 0.5f) * inv;
      float t = 0.0f;
      switch (kind) {
        case 0:  // linear gradient
          t = clamp01(0.5f + (x - 0.5f) * dir_x + (y - 0.5f) * dir_y);
          break;
        case 1:  // radial gradient
          t = clamp01(length(x - ox, y - oy) * 1.2f);
          break;
        case 2:  // waves
          t = tri((x * dir_x + y * dir_y) * freq + phase);
          break;
        default: {  // blotches
          const float gx = x * (kGrid - 1);
          const float gy = y * (kGrid - 1);
          const int ix = std::min(kGrid - 2, static_cast<int>(gx));
          const int iy = std::min(kGrid - 2, static_cast<int>(gy));
          const float fx = gx - static_cast<float>(ix);
          const float fy = gy - static_cast<float>(iy);
          const float top = grid[iy * kGrid + ix] * (1 - fx) + grid[iy * kGrid + ix + 1] * fx;
          const float bottom =
              grid[(iy + 1) * kGrid + ix] * (1 - fx) + grid[(iy + 1) * kGrid + ix + 1] * fx;
          t = top * (1 - fy) + bottom * fy;
          break;
        }
      }
      canvas.set(row, col, mix(a, b, t));
    }
  }
}

// Small random discs, boxes and strokes in random colours.
void draw_clutter(Canvas& canvas, Rng& rng, int count) {
  const float size = static_cast<float>(canvas.size());
  for (int i = 0; i < count; ++i) {
    const Placement p = random_placement(rng, size, 0.05f, 0.13f, 0.0f);
    const Rgb colour = random_colour(rng, 0.0f, 1.0f, 0.0f, 1.0f, 0.1f, 1.0f);
    const float opacity = rng.uniform(0.5f, 1.0f);
    const int kind = rng.below(3);
    float reach = 1.0f;
    if (kind == 2) reach = 2.5f;
    for_pixels_near(p, canvas.size(), reach, [&](int row, int col, float x, float y) {
      float d = 0.0f;
      if (kind == 0) {
        d = length(x, y) - 0.9f;
      } else if (kind == 1) {
        d = sd_box(x, y, 0.7f, 0.7f);
      } else {  // a stroke: a capsule 5 radii long
        const float hx = std::max(-2.0f, std::min(2.0f, x));
        d = length(x - hx, y) - 0.25f;
      }
      const float a = coverage(d, p.radius) * opacity;
      if (a > 0.0f) canvas.blend(row, col, colour, a);
    });
  }
}

// How a class fills its shape; t is the share of the second colour at a point.
float texture_weight(int texture, float x, float y, float distance, Rng& rng) {
  switch (texture) {
    case 0:
      return 0.0f;  // solid
    case 1:
      return tri(x * 2.2f) > 0.5f ? 1.0f : 0.0f;  // stripes
    case 2: {                                     // dots
      const float dx = fract(x * 2.5f) - 0.5f;
      const float dy = fract(y * 2.5f) - 0.5f;
      return dx * dx + dy * dy < 0.06f ? 1.0f : 0.0f;
    }
    case 3:
      return distance < -0.22f ? 1.0f : 0.0f;  // outlined
    case 4:
      return y > 0.0f ? 1.0f : 0.0f;  // two-tone
    case 5:
      return clamp01(length(x, y));  // radial
    case 6:                          // fine checks
      return ((floor_int(x * 3.0f) + floor_int(y * 3.0f)) & 1) ? 1.0f : 0.0f;
    case 7:
      return (tri(x * 2.2f) > 0.6f || tri(y * 2.2f) > 0.6f) ? 1.0f : 0.0f;  // hatched
    case 8:
      return rng.uniform();  // speckled
    default:
      return tri(length(x, y) * 2.5f) > 0.5f ? 1.0f : 0.0f;  // concentric
  }
}

struct ClassLook {
  int shape;
  int hue;
  int texture;  // -1: random per image (10 classes or fewer)
};

// With 10 classes or fewer, class c is shape c in hue family c, in any texture. Beyond, a
// bijection from the digits of the label to shape x hue x texture: consecutive classes differ in
// every factor, and below 100 classes texture does not follow hue.
ClassLook class_look(int label, int num_classes) {
  const int a = label % 10;
  const int b = (label / 10) % 10;
  const int d = label / 100;
  if (num_classes <= kNumShapes) return {a, a, -1};
  return {a, (a + b) % kNumHues, (a + 3 * b + d) % kNumTextures};
}

void draw_image(Canvas& canvas, Rng& rng, const ClassLook& look, std::uint8_t* out) {
  const int size = canvas.size();
  const float fsize = static_cast<float>(size);
  draw_background(canvas, rng);

  const int clutter = rng.below(5);  // 0..4 items
  const int behind = rng.below(clutter + 1);
  draw_clutter(canvas, rng, behind);

  // The object: its hue family spreads over about +-0.07 around its centre, so neighbouring
  // families touch and colour alone does not settle the class.
  const Placement p = random_placement(rng, fsize, 0.24f, 0.42f, 0.75f);
  const float hue = (static_cast<float>(look.hue) + rng.uniform(-0.7f, 0.7f)) / kNumHues;
  const Rgb main = random_colour(rng, hue, hue, 0.5f, 1.0f, 0.55f, 1.0f);
  // The second colour of the texture: a pale or a dark shade of the same hue.
  const Rgb second = rng.chance(0.5f) ? random_colour(rng, hue, hue, 0.1f, 0.5f, 0.8f, 1.0f)
                                      : random_colour(rng, hue, hue, 0.6f, 1.0f, 0.1f, 0.4f);
  const int texture = look.texture >= 0 ? look.texture : rng.below(kNumTextures);
  for_pixels_near(p, size, 1.0f, [&](int row, int col, float x, float y) {
    const float d = shape_distance(look.shape, x, y);
    const float a = coverage(d, p.radius);
    if (a <= 0.0f) return;
    canvas.blend(row, col, mix(main, second, texture_weight(texture, x, y, d, rng)), a);
  });

  draw_clutter(canvas, rng, clutter - behind);

  // Per-image colour jitter (gain per channel, brightness, contrast) and sensor noise.
  const float contrast = rng.uniform(0.7f, 1.15f);
  const float brightness = rng.uniform(-0.1f, 0.1f);
  const float noise = rng.uniform(0.01f, 0.06f);
  const std::size_t plane_size = static_cast<std::size_t>(size) * size;
  for (int channel = 0; channel < 3; ++channel) {
    const float gain = contrast * rng.uniform(0.9f, 1.1f);
    const float* src = canvas.plane(channel);
    std::uint8_t* dst = out + channel * plane_size;
    std::array<float, 4> jitter{};
    for (std::size_t i = 0; i < plane_size; ++i) {
      if (i % 4 == 0) rng.noise4(jitter.data());
      const float v = (src[i] - 0.5f) * gain + 0.5f + brightness + noise * jitter[i % 4];
      dst[i] = static_cast<std::uint8_t>(clamp01(v) * 255.0f + 0.5f);
    }
  }
}

Dataset make_split(const SyntheticOptions& options, std::uint64_t split, int per_class,
                   const std::vector<std::string>& names) {
  const std::int64_t classes = options.num_classes;
  const std::int64_t count = classes * per_class;
  const std::int64_t size = options.image_size;
  const std::int64_t image_bytes = 3 * size * size;
  Dataset dataset;
  dataset.images = at::empty({count, 3, size, size}, at::kByte);
  dataset.labels = at::empty({count}, at::kLong);
  dataset.class_names = names;
  std::uint8_t* pixels = dataset.images.data_ptr<std::uint8_t>();
  std::int64_t* labels = dataset.labels.data_ptr<std::int64_t>();
  // Each image has its own generator, so the result does not depend on the threading.
  at::parallel_for(0, count, 64, [&](std::int64_t begin, std::int64_t end) {
    Canvas canvas(static_cast<int>(size));
    for (std::int64_t i = begin; i < end; ++i) {
      const int label = static_cast<int>(i % classes);
      Rng rng(image_key(options.seed, split, static_cast<std::uint64_t>(i)));
      draw_image(canvas, rng, class_look(label, options.num_classes), pixels + i * image_bytes);
      labels[i] = label;
    }
  });
  return dataset;
}

void check_range(const char* name, std::int64_t value, std::int64_t lo, std::int64_t hi) {
  if (value < lo || value > hi) {
    throw InputError(std::string("synthetic: ") + name + " must be between " + std::to_string(lo) +
                     " and " + std::to_string(hi) + ", got " + std::to_string(value));
  }
}

void check_positive(const char* name, std::int64_t value) {
  if (value < 1) {
    throw InputError(std::string("synthetic: ") + name + " must be at least 1, got " +
                     std::to_string(value));
  }
}

}  // namespace

DatasetPair make_synthetic(const SyntheticOptions& options) {
  check_range("num_classes", options.num_classes, kMinClasses, kMaxClasses);
  check_positive("train_per_class", options.train_per_class);
  check_positive("test_per_class", options.test_per_class);
  check_range("image_size", options.image_size, kMinImageSize, kMaxImageSize);

  std::vector<std::string> names;
  names.reserve(static_cast<std::size_t>(options.num_classes));
  for (int c = 0; c < options.num_classes; ++c) {
    names.push_back(options.num_classes <= kNumShapes ? std::string(kShapeNames[c])
                                                      : "class_" + std::to_string(c));
  }
  return DatasetPair{make_split(options, kTrainSplit, options.train_per_class, names),
                     make_split(options, kTestSplit, options.test_per_class, names),
                     {}};
}

}  // namespace crest
