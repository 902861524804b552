// The one place that turns run.device into a device, and the autocast switch.
#pragma once

#include <c10/core/Device.h>

#include <string>

#include "crest/config/choices.h"

namespace crest {

// "auto" -> the first CUDA device when this build has CUDA and a GPU is visible, else CPU;
// "cpu"; "cuda" / "cuda:N" -> that GPU, or an InputError saying why it cannot be used.
c10::Device resolve_device(const std::string& spec);

// Sets the CPU threads of tensor operations and returns how many: `threads` when > 0; when 0
// (run.threads auto), OMP_NUM_THREADS if the user set it, else `recorded` when > 0 (the count a
// resumed run chose at its start, so that the resume computes as the first start did), else
// free_cores(): the cores of the affinity mask and cgroup quota that other processes left idle
// over 0.2 s (util/threads.h). The device line (describe_device) says which.
int set_cpu_threads(int threads, int recorded = 0);

// A short description for logs ("cpu (2 threads)", "cuda:0 NVIDIA H100 ...").
std::string describe_device(const c10::Device& device);

// Whether this CPU has Intel AMX bf16 tile units (Sapphire Rapids and later) and the OS has
// enabled their state (CPUID leaf 7 EDX bits 22 and 24, XCR0 bits 17-18; Intel SDM vol. 1,
// ch. 18). oneDNN runs bf16 convolutions and matmuls on them. False on other architectures.
bool cpu_has_amx_bf16();

// Whether this CPU has the AVX512-BF16 instructions (VDPBF16PS: bf16 dot products into fp32;
// Intel Cooper Lake and Sapphire Rapids, AMD Zen 4 and later) on top of AVX512 F/DQ/BW/VL, and
// the OS saves the AVX-512 state (CPUID leaf 7 subleaf 0 EBX bits 16, 17, 30, 31, subleaf 1 EAX
// bit 5; XCR0 bits 1-2 and 5-7).
// oneDNN's avx512_core_bf16 kernels use them. False on other architectures.
bool cpu_has_avx512_bf16();

// Either of the two above: the CPU computes bf16 products in hardware.
bool cpu_has_bf16_compute();

// Whether train.amp means bf16 autocast on `device`. auto: on CUDA, and on CPUs that compute
// bf16 in hardware (cpu_has_bf16_compute()), where it measured 1.5x per quickstart generation
// on AMX and 1.4x on AVX512-BF16 (Zen 5; docs/performance.md); off on other CPUs, where oneDNN
// has no bf16 instructions to run them on.
bool use_bf16_autocast(Amp amp, const c10::Device& device);

// bf16 autocast for the lifetime of the guard (no-op when `enabled` is false), on the device's
// autocast backend; restores the previous state on destruction.
class AutocastGuard {
 public:
  AutocastGuard(bool enabled, const c10::Device& device);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool enabled_;
  bool cuda_;
  bool previous_;
};

}  // namespace crest
