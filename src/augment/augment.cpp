#include "crest/augment/augment.h"

#include <sstream>
#include <stdexcept>
#include <string>

#include "crest/augment/ops.h"

namespace crest {

namespace {

namespace ops = augment_ops;

void check_batch(const at::Tensor& images, const at::Generator& generator, const char* what) {
  if (!images.defined() || images.dim() != 4 || images.size(1) != 3 ||
      images.scalar_type() != at::kByte) {
    std::ostringstream os;
    os << what << ": expected uint8 images [N, 3, H, W]";
    if (images.defined()) os << ", got " << images.scalar_type() << " " << images.sizes();
    throw std::invalid_argument(os.str());
  }
  if (!generator.defined() || generator.device().type() != images.device().type()) {
    std::ostringstream os;
    os << what << ": the generator must be on the images' device (" << images.device() << ")";
    if (generator.defined()) os << ", got one on " << generator.device();
    throw std::invalid_argument(os.str());
  }
}

void check_options(const AugmentOptions& options) {
  auto fail = [](const std::string& message) { throw std::invalid_argument(message); };
  if (options.pad < 0) fail("augment: pad must be >= 0, got " + std::to_string(options.pad));
  if (options.randaugment_layers < 0) {
    fail("augment: randaugment_layers must be >= 0, got " +
         std::to_string(options.randaugment_layers));
  }
  if (!(options.randaugment_prob >= 0.0 && options.randaugment_prob <= 1.0)) {
    fail("augment: randaugment_prob must be in [0, 1], got " +
         std::to_string(options.randaugment_prob));
  }
  if (options.cutout_size < 0) {
    fail("augment: cutout_size must be >= 0, got " + std::to_string(options.cutout_size));
  }
  if (options.fill < 0 || options.fill > 255) {
    fail("augment: fill must be in [0, 255], got " + std::to_string(options.fill));
  }
}

at::TensorOptions on(at::Device device, at::ScalarType type) {
  return at::TensorOptions().device(device).dtype(type);
}

// u < 0.5 as a bool [N]: a fair coin per image.
at::Tensor coin(std::int64_t count, at::Generator& generator, at::Device device) {
  return at::rand({count}, generator, on(device, at::kFloat)).lt(0.5);
}

}  // namespace

at::Tensor weak_augment(const at::Tensor& images, at::Generator& generator,
                        const AugmentOptions& options) {
  check_batch(images, generator, "weak_augment");
  check_options(options);
  const std::int64_t n = images.size(0);
  const at::Device device = images.device();
  // tf.image.random_crop: offsets uniform in [0, 2 pad] on each axis; then
  // tf.image.random_flip_left_right.
  const at::Tensor offset_y =
      at::randint(0, 2 * options.pad + 1, {n}, generator, on(device, at::kLong));
  const at::Tensor offset_x =
      at::randint(0, 2 * options.pad + 1, {n}, generator, on(device, at::kLong));
  const at::Tensor flip =
      options.flip ? coin(n, generator, device) : at::zeros({n}, on(device, at::kBool));
  return ops::pad_crop_flip(images, offset_y, offset_x, flip, options.pad);
}

std::vector<RandAugmentLayer> draw_randaugment(std::int64_t count, at::Generator& generator,
                                               const AugmentOptions& options, at::Device device) {
  check_options(options);
  std::vector<RandAugmentLayer> layers;
  for (int l = 0; l < options.randaugment_layers; ++l) {
    RandAugmentLayer layer;
    // rand_augment.py: branch_index ~ U{0..15}, applied when U[0,1) < prob_to_apply, level
    // ~ U[0,1) (num_levels None: continuous), and _randomly_negate_tensor keeps the sign when
    // floor(u + 0.5) is 1, i.e. u >= 0.5.
    layer.op = at::randint(0, ops::kNumOps, {count}, generator, on(device, at::kLong));
    layer.apply = at::rand({count}, generator, on(device, at::kFloat)).lt(options.randaugment_prob);
    layer.magnitude = at::rand({count}, generator, on(device, at::kFloat));
    layer.sign =
        at::rand({count}, generator, on(device, at::kFloat)).ge(0.5).to(at::kFloat).mul(2).sub(1);
    layers.push_back(std::move(layer));
  }
  return layers;
}

at::Tensor apply_randaugment(const at::Tensor& images, const std::vector<RandAugmentLayer>& layers,
                             int fill, augment_ops::Dispatch dispatch) {
  if (layers.empty()) return images.clone();
  const auto identity = static_cast<std::int64_t>(ops::Op::kIdentity);
  at::Tensor out = images;
  for (const RandAugmentLayer& layer : layers) {
    // Images a layer skips take the Identity op.
    const at::Tensor code =
        layer.op.to(images.device())
            .masked_fill(layer.apply.to(images.device()).logical_not(), identity);
    out = ops::apply_ops(out, code, layer.magnitude, layer.sign, fill, dispatch);
  }
  return out;
}

at::Tensor randaugment(const at::Tensor& images, at::Generator& generator,
                       const AugmentOptions& options) {
  check_batch(images, generator, "randaugment");
  const auto layers = draw_randaugment(images.size(0), generator, options, images.device());
  return apply_randaugment(images, layers, options.fill);
}

at::Tensor random_cutout(const at::Tensor& images, at::Generator& generator,
                         const AugmentOptions& options) {
  check_batch(images, generator, "random_cutout");
  check_options(options);
  if (options.cutout_size == 0) return images.clone();
  const std::int64_t n = images.size(0);
  const at::Device device = images.device();
  // CutOut.cutout: centre = round(uniform(0, side)) per axis (round half to even, as tf.round),
  // so centres run over 0..side and squares near a border are clipped.
  auto centre = [&](std::int64_t side) {
    return at::rand({n}, generator, on(device, at::kDouble)).mul(side).round().to(at::kLong);
  };
  const at::Tensor centre_y = centre(images.size(2));
  const at::Tensor centre_x = centre(images.size(3));
  return ops::cutout(images, centre_y, centre_x, options.cutout_size, options.fill);
}

at::Tensor strong_augment(const at::Tensor& images, at::Generator& generator,
                          const AugmentOptions& options) {
  // data/augment.py "dhrac": base pad-crop, hflip, randaug2-0.5 (mode all), cutout0.5 (a square
  // of half the side: 16 for CIFAR).
  return random_cutout(randaugment(weak_augment(images, generator, options), generator, options),
                       generator, options);
}

}  // namespace crest
