// Memory and time of decoding an image folder (bench/decode_memory.sh runs it; target
// decode_memory_bench, built only on request). Each mode runs in its own process, so that the
// peak RSS it prints is that mode's alone:
//   decode_memory_bench generate DIR N [SIDE EXT]
//                                        writes N SIDE x SIDE images (default 32, .png) to DIR:
//                                        random pixels, smoothed for .jpg (as photos are)
//   decode_memory_bench decode DIR       decode_images over DIR's files, sorted
//   decode_memory_bench cached DIR CACHE decode_images_cached over them, cache in CACHE
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "crest/data/images.h"

namespace fs = std::filesystem;

namespace {

double megabytes(long kilobytes) { return static_cast<double>(kilobytes) / 1000.0; }

// The resident set now (VmRSS) and its peak so far (ru_maxrss), in kB.
long rss_now_kb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

long rss_peak_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

int generate(const fs::path& dir, int n, int side, const std::string& ext) {
  fs::create_directories(dir);
  cv::RNG rng(12345);
  cv::Mat image(side, side, CV_8UC3);
  for (int i = 0; i < n; ++i) {
    rng.fill(image, cv::RNG::UNIFORM, 0, 256);
    if (ext == ".jpg") cv::GaussianBlur(image, image, cv::Size(5, 5), 0);
    char name[32];
    std::snprintf(name, sizeof(name), "%06d%s", i, ext.c_str());
    if (!cv::imwrite((dir / name).string(), image)) {
      std::fprintf(stderr, "cannot write %s\n", (dir / name).c_str());
      return 1;
    }
  }
  std::printf("wrote %d %dx%d %s images to %s\n", n, side, side, ext.c_str(), dir.c_str());
  return 0;
}

std::vector<fs::path> list(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "generate" && (argc == 4 || argc == 6)) {
    return generate(argv[2], std::atoi(argv[3]), argc == 6 ? std::atoi(argv[4]) : 32,
                    argc == 6 ? argv[5] : ".png");
  }
  if ((mode != "decode" || argc != 3) && (mode != "cached" || argc != 4)) {
    std::fprintf(stderr, "usage: %s generate DIR N [SIDE EXT] | decode DIR | cached DIR CACHE\n",
                 argv[0]);
    return 2;
  }
  const std::vector<fs::path> files = list(argv[2]);
  at::empty({1}, at::kByte);  // LibTorch's allocator set up, as in crest before decoding
  const long baseline = rss_now_kb();
  crest::DecodeOptions options;
  options.image_size = 32;
  options.label = "decode bench";
  const auto start = std::chrono::steady_clock::now();
  const at::Tensor images =
      mode == "decode" ? crest::decode_images(files, options)
                       : crest::decode_images_cached(files, argv[2], options, argv[3], "bench");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const long peak = rss_peak_kb();
  const double tensor_mb = static_cast<double>(images.nbytes()) / 1e6;
  const double above = megabytes(peak - baseline);
  std::printf(
      "%s: %zu images, tensor %.1f MB, %.2f s (%.0f images/s); RSS baseline %.1f MB, "
      "peak %.1f MB, peak above baseline %.1f MB = %.2fx the tensor\n",
      mode.c_str(), files.size(), tensor_mb, seconds, static_cast<double>(files.size()) / seconds,
      megabytes(baseline), megabytes(peak), above, above / tensor_mb);
  return 0;
}
