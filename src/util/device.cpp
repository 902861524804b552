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

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

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
                     "--device cpu, or rebuild against a CUDA LibTorch (see docs/building.md)");
  }
  const int index = match[2].matched ? std::stoi(match[2].str()) : 0;
  const int count = static_cast<int>(torch::cuda::device_count());
  if (index >= count) {
    throw InputError("run.device is '" + spec + "' but only " + std::to_string(count) +
                     " GPU(s) are visible");
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

namespace {
std::string& cpu_threads_note() {
  static std::string note;
  return note;
}
}  // namespace

int set_cpu_threads(int threads, int recorded) {
  cpu_threads_note().clear();
  if (threads == 0 && std::getenv("OMP_NUM_THREADS") != nullptr) return at::get_num_threads();
  if (threads == 0 && recorded > 0) {
    threads = recorded;
    cpu_threads_note() = "as recorded at the run's start";
  } else if (threads == 0) {
    threads = free_cores();
    cpu_threads_note() = free_cores_note();
  }
  at::set_num_threads(threads);
  return threads;
}

std::string describe_device(const c10::Device& device) {
  if (device.is_cpu()) {
    const char* policy = std::getenv("OMP_WAIT_POLICY");
    const std::string waiting = policy == nullptr ? "default" : std::string(policy);
    const std::string& note = cpu_threads_note();
    const int threads = at::get_num_threads();
    return "cpu (" + std::to_string(threads) + (threads == 1 ? " thread of " : " threads of ") +
           std::to_string(available_cores()) + " available" + (note.empty() ? "" : ", " + note) +
           ", OpenMP waiting " + waiting + ", " + cpu_allocator() + ")";
  }
  return device.str();
}

#if defined(__x86_64__) || defined(__i386__)
namespace {
// Whether the OS saves every extended-state component of `mask` (XCR0 bits): CPUID.1:ECX bit 27
// (OSXSAVE) says XGETBV may be read, and XCR0 lists what the kernel saves.
bool os_saves_state(unsigned mask) {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0 || (ecx & (1u << 27)) == 0) return false;
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  return (xcr0_lo & mask) == mask;
}
}  // namespace
#endif

bool cpu_has_amx_bf16() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  // CPUID.(7,0):EDX bit 22 (AMX-BF16) and bit 24 (AMX-TILE).
  constexpr unsigned kAmx = (1u << 22) | (1u << 24);
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0 || (edx & kAmx) != kAmx) return false;
  // XCR0 bits 17 (XTILECFG) and 18 (XTILEDATA): the kernel saves the tile state.
  return os_saves_state(3u << 17);
#else
  return false;
#endif
}

bool cpu_has_avx512_bf16() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  // CPUID.(7,0):EBX bits 16, 17, 30, 31 (AVX512F, DQ, BW, VL: the avx512_core set oneDNN's bf16
  // kernels build on) and EAX >= 1 (subleaf 1 exists); CPUID.(7,1):EAX bit 5 (AVX512_BF16).
  constexpr unsigned kAvx512Core = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31);
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0 || eax < 1 ||
      (ebx & kAvx512Core) != kAvx512Core) {
    return false;
  }
  if (__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) == 0 || (eax & (1u << 5)) == 0) return false;
  // XCR0 bits 1-2 (SSE, AVX) and 5-7 (opmask, ZMM_Hi256, Hi16_ZMM): the kernel saves the
  // AVX-512 state.
  return os_saves_state(0xE6u);
#else
  return false;
#endif
}

bool cpu_has_bf16_compute() { return cpu_has_amx_bf16() || cpu_has_avx512_bf16(); }

bool use_bf16_autocast(Amp amp, const c10::Device& device) {
  switch (amp) {
    case Amp::kBf16:
      return true;
    case Amp::kOff:
      return false;
    case Amp::kAuto:
      return device.is_cuda() || (device.is_cpu() && cpu_has_bf16_compute());
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
