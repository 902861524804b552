#include "crest/util/device.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <algorithm>
#include <cstdlib>
#include <regex>
#include <thread>

#include "crest/util/error.h"
#include "crest/util/threads.h"

// LibTorch 2.4 moved autocast to device-type-generic calls; 1.13 has per-backend ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define CREST_AUTOCAST_DEVICE_API 1
#else
#define CREST_AUTOCAST_DEVICE_API 0
#endif

namespace crest {

c10::Device resolve_device(const std::string& spec) {
  const bool have_cuda = at::globalContext().hasCUDA();
  if (spec == "cpu") return c10::Device(c10::kCPU);
  if (spec == "auto") return have_cuda ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  static const std::regex kCuda("cuda(:([0-9]+))?");
  std::smatch match;
  if (!std::regex_match(spec, match, kCuda)) {
    throw ConfigError("run.device must be auto, cpu, cuda or cuda:N, got '" + spec + "'");
  }
  if (!have_cuda) {
    throw InputError("run.device is '" + spec +
                     "' but this crest cannot use CUDA (it was built "
                     "against a CPU-only LibTorch, or no NVIDIA driver/GPU is visible); use "
                     "--device cpu, or rebuild against a CUDA LibTorch (see README)");
  }
  const int index = match[2].matched ? std::stoi(match[2].str()) : 0;
  const int count = static_cast<int>(torch::cuda::device_count());
  if (index >= count) {
    throw InputError("run.device is '" + spec + "' but only " + std::to_string(count) +
                     " GPU(s) are visible");
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

void set_cpu_threads(int threads) {
  // run.threads 0: the user's OMP_NUM_THREADS wins, else the cores this process may use.
  if (threads == 0 && std::getenv("OMP_NUM_THREADS") != nullptr) return;
  at::set_num_threads(threads > 0 ? threads : available_cores());
}

std::string describe_device(const c10::Device& device) {
  if (device.is_cpu()) {
    const char* policy = std::getenv("OMP_WAIT_POLICY");
    const std::string waiting = policy == nullptr ? "default" : std::string(policy);
    return "cpu (" + std::to_string(at::get_num_threads()) + " threads of " +
           std::to_string(available_cores()) + " available, OpenMP waiting " + waiting + ", " +
           cpu_allocator() + ")";
  }
  return device.str();
}

bool use_bf16_autocast(Amp amp, const c10::Device& device) {
  switch (amp) {
    case Amp::kBf16:
      return true;
    case Amp::kOff:
      return false;
    case Amp::kAuto:
      return device.is_cuda();
  }
  return false;
}

AutocastGuard::AutocastGuard(bool enabled, const c10::Device& device)
    : enabled_(enabled), cuda_(device.is_cuda()), previous_(false) {
  if (!enabled_) return;
#if CREST_AUTOCAST_DEVICE_API
  const c10::DeviceType type = cuda_ ? c10::DeviceType::CUDA : c10::DeviceType::CPU;
  previous_ = at::autocast::is_autocast_enabled(type);
  at::autocast::set_autocast_dtype(type, at::kBFloat16);
  at::autocast::set_autocast_enabled(type, true);
#else
  if (cuda_) {
    previous_ = at::autocast::is_enabled();
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
  } else {
    previous_ = at::autocast::is_cpu_enabled();
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
  }
#endif
}

AutocastGuard::~AutocastGuard() {
  if (!enabled_) return;
#if CREST_AUTOCAST_DEVICE_API
  at::autocast::set_autocast_enabled(cuda_ ? c10::DeviceType::CUDA : c10::DeviceType::CPU,
                                     previous_);
#else
  if (cuda_) {
    at::autocast::set_enabled(previous_);
  } else {
    at::autocast::set_cpu_enabled(previous_);
  }
#endif
  at::autocast::clear_cache();
}

}  // namespace crest
