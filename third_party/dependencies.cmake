# Finds every external dependency of crest. Nothing third-party lives in this repository:
# everything comes from Debian packages (see third_party/README.md) or, for Torch, from any
# LibTorch named through CMAKE_PREFIX_PATH (Debian's CPU build, pip torch, or the archive).

# --- Torch ---------------------------------------------------------------------------------
find_package(Torch REQUIRED)
if(TORCH_CXX_FLAGS MATCHES "_GLIBCXX_USE_CXX11_ABI=0")
  message(FATAL_ERROR
    "The LibTorch found at '${TORCH_INSTALL_PREFIX}' was built with the pre-C++11 libstdc++ ABI "
    "(TORCH_CXX_FLAGS='${TORCH_CXX_FLAGS}'). crest links CLI11, spdlog, yaml-cpp and OpenCV built "
    "with the C++11 ABI, so the two cannot be mixed. Use a cxx11-ABI LibTorch instead: the "
    "'cxx11 ABI' archive from pytorch.org, a pip torch >= 2.7, or Debian's libtorch-dev, and point "
    "CMAKE_PREFIX_PATH at it.")
endif()
if(DEFINED Torch_VERSION)
  set(CREST_TORCH_VERSION "${Torch_VERSION}")
else()
  set(CREST_TORCH_VERSION "unknown")
endif()

# --- Header-only and small libraries -----------------------------------------------------
find_package(CLI11 REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json 3.2 REQUIRED)
find_package(yaml-cpp REQUIRED)
# yaml-cpp 0.7 (Debian 12) exports `yaml-cpp`; 0.8 exports `yaml-cpp::yaml-cpp`.
if(TARGET yaml-cpp::yaml-cpp)
  set(CREST_YAML_TARGET yaml-cpp::yaml-cpp)
elseif(TARGET yaml-cpp)
  set(CREST_YAML_TARGET yaml-cpp)
else()
  message(FATAL_ERROR "yaml-cpp was found but exports neither yaml-cpp nor yaml-cpp::yaml-cpp")
endif()

# --- OpenCV (optional: image folders only) ------------------------------------------------
if(NOT DEFINED CREST_WITH_OPENCV)
  find_package(OpenCV QUIET COMPONENTS core imgproc imgcodecs)
  set(_crest_opencv_default ${OpenCV_FOUND})
else()
  set(_crest_opencv_default ${CREST_WITH_OPENCV})
endif()
option(CREST_WITH_OPENCV "Read image-folder datasets with OpenCV" ${_crest_opencv_default})
if(CREST_WITH_OPENCV)
  find_package(OpenCV QUIET COMPONENTS core imgproc imgcodecs)
  if(NOT OpenCV_FOUND)
    message(FATAL_ERROR
      "CREST_WITH_OPENCV=ON but OpenCV (core, imgproc, imgcodecs) was not found. Install "
      "libopencv-dev, point CMAKE_PREFIX_PATH at an OpenCV install, or configure with "
      "-DCREST_WITH_OPENCV=OFF (everything but image-folder datasets works without it).")
  endif()
endif()

# --- Protobuf (optional: TensorBoard event files, run.tensorboard) ---------------------------
# The event files are TFRecord-framed Event protos (proto/tensorboard_event.proto), compiled with
# protoc. Without Protobuf, run.tensorboard: true logs a warning and training goes on.
if(NOT DEFINED CREST_WITH_PROTOBUF)
  find_package(Protobuf QUIET)
  if(Protobuf_FOUND AND Protobuf_PROTOC_EXECUTABLE)
    set(_crest_protobuf_default ON)
  else()
    set(_crest_protobuf_default OFF)
  endif()
else()
  set(_crest_protobuf_default ${CREST_WITH_PROTOBUF})
endif()
option(CREST_WITH_PROTOBUF "Write TensorBoard event files (needs Protobuf and protoc)"
       ${_crest_protobuf_default})
if(CREST_WITH_PROTOBUF)
  find_package(Protobuf QUIET)
  if(NOT Protobuf_FOUND OR NOT Protobuf_PROTOC_EXECUTABLE)
    message(FATAL_ERROR
      "CREST_WITH_PROTOBUF=ON but Protobuf (the library and protoc) was not found. Install "
      "libprotobuf-dev and protobuf-compiler, point CMAKE_PREFIX_PATH at a Protobuf install, or "
      "configure with -DCREST_WITH_PROTOBUF=OFF (everything but TensorBoard event files works "
      "without it).")
  endif()
endif()

# --- GoogleTest (tests only) ----------------------------------------------------------------
if(CREST_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()

message(STATUS "crest: Torch ${CREST_TORCH_VERSION} at ${TORCH_INSTALL_PREFIX}")
message(STATUS "crest: OpenCV ${CREST_WITH_OPENCV} ${OpenCV_VERSION}")
if(CREST_WITH_PROTOBUF)
  message(STATUS "crest: TensorBoard event files ON (Protobuf ${Protobuf_VERSION})")
else()
  message(STATUS "crest: TensorBoard event files OFF (no Protobuf)")
endif()

# --- c10d (optional: data-parallel training, docs/distributed.md) ----------------------------
# LibTorch's own distributed engine: TCPStore and the process groups live in libtorch_cpu (and
# libtorch_cuda for NCCL); their headers come with LibTorch, Gloo's headers with libgloo-dev
# (Debian) and NCCL's with the CUDA toolkit or pip's nvidia-nccl. ProcessGroupGloo (CPU) needs
# the Gloo headers; ProcessGroupNCCL (CUDA) needs nccl.h and a CUDA LibTorch.
find_path(CREST_C10D_INCLUDE_DIR torch/csrc/distributed/c10d/ProcessGroup.hpp
          HINTS ${TORCH_INCLUDE_DIRS} NO_CACHE)
find_path(CREST_GLOO_INCLUDE_DIR gloo/context.h HINTS ${TORCH_INCLUDE_DIRS} NO_CACHE)
find_path(CREST_NCCL_INCLUDE_DIR nccl.h HINTS ${TORCH_INCLUDE_DIRS} ENV NCCL_INCLUDE_DIR
          PATH_SUFFIXES include NO_CACHE)
# Gloo gives CPU ranks (and GPU ranks without NCCL); NCCL gives GPU ranks. Either makes c10d usable.
set(_crest_gloo_found OFF)
if(CREST_C10D_INCLUDE_DIR AND CREST_GLOO_INCLUDE_DIR AND EXISTS
   "${CREST_C10D_INCLUDE_DIR}/torch/csrc/distributed/c10d/ProcessGroupGloo.hpp")
  set(_crest_gloo_found ON)
endif()
set(_crest_nccl_found OFF)
if(CREST_C10D_INCLUDE_DIR AND (TARGET torch_cuda OR C10_CUDA_LIBRARY) AND CREST_NCCL_INCLUDE_DIR
   AND EXISTS "${CREST_C10D_INCLUDE_DIR}/torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp")
  set(_crest_nccl_found ON)
endif()
set(_crest_c10d_found OFF)
if(_crest_gloo_found OR _crest_nccl_found)
  set(_crest_c10d_found ON)
endif()
option(CREST_WITH_C10D "Data-parallel training through c10d (TCPStore, ProcessGroupGloo/NCCL)"
       ${_crest_c10d_found})
if(CREST_WITH_C10D AND NOT _crest_c10d_found)
  message(FATAL_ERROR
    "CREST_WITH_C10D=ON but neither c10d's Gloo (torch/csrc/distributed/c10d/ProcessGroupGloo.hpp "
    "in '${CREST_C10D_INCLUDE_DIR}' and gloo/context.h in '${CREST_GLOO_INCLUDE_DIR}') nor its "
    "NCCL (a CUDA LibTorch and nccl.h in '${CREST_NCCL_INCLUDE_DIR}') was found. Install "
    "libgloo-dev, set NCCL_INCLUDE_DIR, or configure with -DCREST_WITH_C10D=OFF (everything but "
    "--nproc and multi-rank runs works without it).")
endif()
set(CREST_WITH_GLOO OFF)
set(CREST_WITH_NCCL OFF)
if(CREST_WITH_C10D)
  set(CREST_WITH_GLOO ${_crest_gloo_found})
  set(CREST_WITH_NCCL ${_crest_nccl_found})
endif()
if(CREST_WITH_C10D)
  message(STATUS "crest: c10d ON (Gloo ${CREST_WITH_GLOO}; NCCL ${CREST_WITH_NCCL})")
else()
  message(STATUS "crest: c10d OFF (no Gloo or NCCL headers): single-process training only")
endif()

# --- tcmalloc (optional: the CPU allocator, docs/performance.md) --------------------------------
# gperftools' tcmalloc keeps the memory of freed tensors for the next step; with glibc's malloc
# every block over its mmap threshold is mapped, zero-filled and unmapped again each step (a
# fifth of a quickstart step's CPU time in page faults). Linked into the executables only, first,
# so that its malloc is the process's (LibTorch's CPU allocator calls malloc).
find_library(CREST_TCMALLOC_LIBRARY NAMES tcmalloc_minimal NO_CACHE)
set(_crest_tcmalloc_found OFF)
if(CREST_TCMALLOC_LIBRARY)
  set(_crest_tcmalloc_found ON)
endif()
option(CREST_WITH_TCMALLOC "Link gperftools' tcmalloc as the allocator (libgoogle-perftools-dev)"
       ${_crest_tcmalloc_found})
if(CREST_WITH_TCMALLOC AND NOT _crest_tcmalloc_found)
  message(FATAL_ERROR
    "CREST_WITH_TCMALLOC=ON but libtcmalloc_minimal was not found. Install "
    "libgoogle-perftools-dev or configure with -DCREST_WITH_TCMALLOC=OFF (glibc's malloc: "
    "the same results, slower CPU steps).")
endif()
set(CREST_ALLOCATOR_LIBRARY "")
if(CREST_WITH_TCMALLOC)
  set(CREST_ALLOCATOR_LIBRARY "-Wl,--push-state,--no-as-needed" ${CREST_TCMALLOC_LIBRARY}
                              "-Wl,--pop-state")
  message(STATUS "crest: tcmalloc ON (${CREST_TCMALLOC_LIBRARY})")
else()
  message(STATUS "crest: tcmalloc OFF (glibc malloc)")
endif()
