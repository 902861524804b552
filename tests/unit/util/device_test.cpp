#include "crest/util/device.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace crest {
namespace {

// The flags of the first processor in /proc/cpuinfo, as the kernel reports them.
std::set<std::string> kernel_cpu_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::set<std::string> flags;
    for (std::string w; words >> w;) flags.insert(w);
    return flags;
  }
  return {};
}

// cpuid + XGETBV against an independent witness: Linux lists amx_bf16 and amx_tile only when the
// CPU has them and the kernel manages their state.
TEST(DeviceTest, AmxDetectionAgreesWithTheKernel) {
  const std::set<std::string> flags = kernel_cpu_flags();
  if (flags.empty()) GTEST_SKIP() << "no /proc/cpuinfo flags line on this system";
#if defined(__x86_64__)
  const bool listed = flags.count("amx_bf16") > 0 && flags.count("amx_tile") > 0;
  EXPECT_EQ(cpu_has_amx_bf16(), listed);
#else
  EXPECT_FALSE(cpu_has_amx_bf16());
#endif
}

// The same for AVX512-BF16: Linux lists avx512_bf16 only when CPUID has it and XCR0 enables the
// AVX-512 state (the kernel clears the AVX-512 flags otherwise).
TEST(DeviceTest, Avx512Bf16DetectionAgreesWithTheKernel) {
  const std::set<std::string> flags = kernel_cpu_flags();
  if (flags.empty()) GTEST_SKIP() << "no /proc/cpuinfo flags line on this system";
#if defined(__x86_64__)
  EXPECT_EQ(cpu_has_avx512_bf16(), flags.count("avx512_bf16") > 0);
  EXPECT_EQ(cpu_has_bf16_compute(),
            flags.count("avx512_bf16") > 0 ||
                (flags.count("amx_bf16") > 0 && flags.count("amx_tile") > 0));
#else
  EXPECT_FALSE(cpu_has_avx512_bf16());
  EXPECT_FALSE(cpu_has_bf16_compute());
#endif
}

TEST(DeviceTest, AmpAutoIsBf16OnBf16CpusOnly) {
  const c10::Device cpu(c10::kCPU);
  EXPECT_EQ(use_bf16_autocast(Amp::kAuto, cpu), cpu_has_bf16_compute());
  EXPECT_TRUE(use_bf16_autocast(Amp::kBf16, cpu));
  EXPECT_FALSE(use_bf16_autocast(Amp::kOff, cpu));
  EXPECT_TRUE(use_bf16_autocast(Amp::kAuto, c10::Device(c10::kCUDA, 0)));
  EXPECT_FALSE(use_bf16_autocast(Amp::kOff, c10::Device(c10::kCUDA, 0)));
}

TEST(DeviceTest, AutocastGuardRestoresTheCpuState) {
  const c10::Device cpu(c10::kCPU);
  const at::Tensor a = at::ones({4, 4});
  {
    AutocastGuard guard(true, cpu);
    EXPECT_EQ(at::mm(a, a).scalar_type(), at::kBFloat16);
  }
  EXPECT_EQ(at::mm(a, a).scalar_type(), at::kFloat);
  {
    AutocastGuard off(false, cpu);
    EXPECT_EQ(at::mm(a, a).scalar_type(), at::kFloat);
  }
}

}  // namespace
}  // namespace crest
