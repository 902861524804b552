// Time of the batched weak and strong views (augment/augment.h) on random images: the figures
// of docs/performance.md ("Augmentation"). Target augment_bench, built with crest, never run by
// CTest (timings assert nothing):
//   build/augment_bench [--batch N] [--side S] [--threads T] [--repeats R]
// prints, on the CPU and, when LibTorch sees one, on CUDA, the median time of R calls (after one
// warm-up) per view for N uint8 images of 3 x S x S.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "crest/augment/augment.h"

namespace {

struct Settings {
  std::int64_t batch = 448;  // the paper's unlabeled batch: mu x B = 7 x 64
  std::int64_t side = 32;
  int threads = 0;  // 0: LibTorch's default
  int repeats = 9;
};

// Median milliseconds of `repeats` calls of `run` after one warm-up call.
double median_ms(const std::function<void()>& run, int repeats) {
  run();
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    run();
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// A whole number >= `least` from argv[i + 1]; exits 2 naming the option otherwise.
long long option_value(int argc, char** argv, int i, long long least) {
  char* end = nullptr;
  const long long value = i + 1 < argc ? std::strtoll(argv[i + 1], &end, 10) : 0;
  if (i + 1 >= argc || end == argv[i + 1] || *end != '\0' || value < least) {
    std::fprintf(stderr, "augment_bench: %s needs a whole number >= %lld\n", argv[i], least);
    std::exit(2);
  }
  return value;
}

Settings parse(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; i += 2) {
    const std::string option = argv[i];
    if (option == "--batch") {
      s.batch = option_value(argc, argv, i, 1);
    } else if (option == "--side") {
      s.side = option_value(argc, argv, i, 8);
    } else if (option == "--threads") {
      s.threads = static_cast<int>(option_value(argc, argv, i, 0));
    } else if (option == "--repeats") {
      s.repeats = static_cast<int>(option_value(argc, argv, i, 1));
    } else {
      std::fprintf(stderr,
                   "augment_bench: unknown option '%s'\n"
                   "usage: augment_bench [--batch N] [--side S] [--threads T] [--repeats R]\n",
                   argv[i]);
      std::exit(2);
    }
  }
  return s;
}

void bench_cpu(const at::Tensor& images, const Settings& s) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(16);
  const double weak = median_ms([&] { crest::weak_augment(images, gen); }, s.repeats);
  const double strong = median_ms([&] { crest::strong_augment(images, gen); }, s.repeats);
  std::printf(
      "%lld x 3 x %lld x %lld on CPU (%d threads): weak %.2f ms, strong %.2f ms (median "
      "of %d)\n",
      static_cast<long long>(s.batch), static_cast<long long>(s.side),
      static_cast<long long>(s.side), at::get_num_threads(), weak, strong, s.repeats);
}

void bench_cuda(const at::Tensor& images, const Settings& s) {
  const at::Device cuda(at::kCUDA);
  const at::Tensor on_gpu = images.to(cuda);
  at::Generator gen = at::globalContext().defaultGenerator(cuda).clone();
  gen.set_current_seed(16);
  // Each call waited for (the copy back to the host synchronises).
  auto synced = [](const std::function<at::Tensor()>& f) { return [f] { f().cpu(); }; };
  const int repeats = std::max(s.repeats, 21);
  const double weak = median_ms(synced([&] { return crest::weak_augment(on_gpu, gen); }), repeats);
  const double strong =
      median_ms(synced([&] { return crest::strong_augment(on_gpu, gen); }), repeats);
  // Host time alone: 50 calls queued back to back, one wait at the end. When the device keeps
  // up, this is what a training step pays on its own thread.
  at::Tensor last;
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < 50; ++r) last = crest::strong_augment(on_gpu, gen);
  const double host =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() /
      50;
  last.cpu();
  std::printf(
      "%lld x 3 x %lld x %lld on CUDA: weak %.2f ms, strong %.2f ms (median of %d, each "
      "waited for); strong %.2f ms of host time per call (mean of 50 queued)\n",
      static_cast<long long>(s.batch), static_cast<long long>(s.side),
      static_cast<long long>(s.side), weak, strong, repeats, host);
}

}  // namespace

int main(int argc, char** argv) {
  const Settings s = parse(argc, argv);
  if (s.threads > 0) at::set_num_threads(s.threads);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(15);
  const at::Tensor images =
      at::randint(0, 256, {s.batch, 3, s.side, s.side}, gen, at::TensorOptions().dtype(at::kByte));
  bench_cpu(images, s);
  if (at::hasCUDA()) bench_cuda(images, s);
  return 0;
}
