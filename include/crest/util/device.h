// The one place that turns run.device into a device, and the autocast switch.
#pragma once

#include <c10/core/Device.h>

#include <string>

#include "crest/config/choices.h"

namespace crest {

// "auto" -> the first CUDA device when this build has CUDA and a GPU is visible, else CPU;
// "cpu"; "cuda" / "cuda:N" -> that GPU, or an InputError saying why it cannot be used.
c10::Device resolve_device(const std::string& spec);

// Sets the CPU threads of tensor operations: `threads`; when 0, OMP_NUM_THREADS if the user set
// it, else available_cores() (the affinity mask and cgroup quota, not every core of the box).
void set_cpu_threads(int threads);

// A short description for logs ("cpu (2 threads)", "cuda:0 NVIDIA H100 ...").
std::string describe_device(const c10::Device& device);

// Whether train.amp means bf16 autocast on `device` (auto: on CUDA only).
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
