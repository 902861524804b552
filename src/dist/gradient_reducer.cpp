#include "crest/dist/gradient_reducer.h"

#include <mutex>
#include <stdexcept>

namespace crest::dist {

struct GradientReducer::State {
  struct Bucket {
    std::vector<std::size_t> params;    // indices into `params`
    std::vector<std::int64_t> offsets;  // of each in `flat`
    at::Tensor flat;                    // 1-D, on the world's device
    std::size_t pending = 0;            // gradients still to arrive this pass
    std::shared_ptr<World::Pending> work;
  };

  explicit State(World& w) : world(w) {}

  // Starts the buckets that are full, in index order.
  void launch_ready() {
    while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
      buckets[next_launch].work = world.all_reduce_sum_async(buckets[next_launch].flat);
      ++next_launch;
    }
  }

  void on_gradient(std::size_t param, const at::Tensor& grad) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!armed || arrived[param]) return;
    arrived[param] = true;
    Bucket& bucket = buckets[bucket_of[param]];
    at::NoGradGuard no_grad;
    bucket.flat.narrow(0, bucket.offsets[slot_of[param]], grad.numel())
        .view(grad.sizes())
        .copy_(grad);
    --bucket.pending;
    launch_ready();
  }

  World& world;
  std::vector<at::Tensor> params;
  std::vector<Bucket> buckets;
  std::vector<std::size_t> bucket_of;  // bucket index of each parameter
  std::vector<std::size_t> slot_of;    // its position within the bucket
  std::vector<bool> arrived;
  std::size_t next_launch = 0;
  bool armed = false;
  std::mutex mutex;
};

GradientReducer::GradientReducer(std::vector<at::Tensor> params, World& world,
                                 std::size_t bucket_bytes)
    : state_(std::make_shared<State>(world)) {
  State& s = *state_;
  s.params = std::move(params);
  if (!world.distributed() || s.params.empty()) return;
  const at::Device device = world.comm_device();
  s.bucket_of.resize(s.params.size());
  s.slot_of.resize(s.params.size());
  s.arrived.assign(s.params.size(), false);
  std::size_t bytes = 0;
  for (std::size_t k = s.params.size(); k-- > 0;) {
    const std::size_t size = static_cast<std::size_t>(s.params[k].numel()) *
                             static_cast<std::size_t>(s.params[k].element_size());
    if (s.buckets.empty() || (bytes > 0 && bytes + size > bucket_bytes)) {
      s.buckets.emplace_back();
      bytes = 0;
    }
    State::Bucket& bucket = s.buckets.back();
    s.bucket_of[k] = s.buckets.size() - 1;
    s.slot_of[k] = bucket.params.size();
    bucket.offsets.push_back(
        bucket.params.empty() ? 0 : bucket.offsets.back() + s.params[bucket.params.back()].numel());
    bucket.params.push_back(k);
    bytes += size;
  }
  for (State::Bucket& bucket : s.buckets) {
    const std::int64_t numel = bucket.offsets.back() + s.params[bucket.params.back()].numel();
    bucket.flat = at::zeros({numel}, s.params.front().options().device(device));
  }
  bucket_count_ = s.buckets.size();
  const std::weak_ptr<State> weak = state_;
  for (std::size_t k = 0; k < s.params.size(); ++k) {
    s.params[k].register_hook([weak, k](const at::Tensor& grad) {
      if (const auto state = weak.lock()) state->on_gradient(k, grad);
      return at::Tensor();  // the gradient itself goes on unchanged
    });
  }
}

void GradientReducer::prepare() {
  State& s = *state_;
  if (s.buckets.empty()) return;
  std::lock_guard<std::mutex> lock(s.mutex);
  for (State::Bucket& bucket : s.buckets) {
    bucket.pending = bucket.params.size();
    bucket.work.reset();
  }
  s.arrived.assign(s.params.size(), false);
  s.next_launch = 0;
  s.armed = true;
}

void GradientReducer::finish() {
  State& s = *state_;
  if (s.buckets.empty()) return;
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.armed) throw std::logic_error("GradientReducer::finish without prepare");
  s.armed = false;
  at::NoGradGuard no_grad;
  // Parameters autograd gave no gradient this pass (none in WRN) contribute their .grad or 0.
  for (std::size_t k = 0; k < s.params.size(); ++k) {
    if (s.arrived[k]) continue;
    State::Bucket& bucket = s.buckets[s.bucket_of[k]];
    at::Tensor slice = bucket.flat.narrow(0, bucket.offsets[s.slot_of[k]], s.params[k].numel());
    if (s.params[k].grad().defined()) {
      slice.copy_(s.params[k].grad().reshape({-1}));
    } else {
      slice.zero_();
    }
    s.arrived[k] = true;
    --bucket.pending;
  }
  s.launch_ready();
  const double scale = 1.0 / s.world.size();
  for (State::Bucket& bucket : s.buckets) {
    World::wait(*bucket.work);
    bucket.flat.mul_(scale);
    for (std::size_t i = 0; i < bucket.params.size(); ++i) {
      at::Tensor& p = s.params[bucket.params[i]];
      const at::Tensor mean = bucket.flat.narrow(0, bucket.offsets[i], p.numel()).view(p.sizes());
      if (p.grad().defined()) {
        p.mutable_grad().copy_(mean);
      } else {
        p.mutable_grad() = mean.to(p.device()).clone();
      }
    }
  }
}

}  // namespace crest::dist
