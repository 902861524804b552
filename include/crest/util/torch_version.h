// Compile-time LibTorch version checks, for the APIs that differ between Debian's 1.13 (the
// development machines) and the 2.x builds on GPU machines.
#pragma once

#include <torch/version.h>

#define CREST_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||        \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

// CUDA graph capture of the training step: a CUDA build whose foreach kernels take the learning
// rate as a device tensor (LibTorch >= 2.3).
#if defined(CREST_WITH_CUDA) && CREST_TORCH_AT_LEAST(2, 3)
#define CREST_HAS_CUDA_GRAPHS 1
#else
#define CREST_HAS_CUDA_GRAPHS 0
#endif
