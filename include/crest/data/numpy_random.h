// NumPy's legacy RandomState (MT19937) as far as the data splits need it: seeding with an
// integer and shuffle(). The reference splits call np.random.seed(fold) then
// np.random.shuffle(...) per class; reproducing that stream bit for bit means a fold of crest
// picks exactly the images the reference code picks from the same ordered set.
#pragma once

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace crest {

class NumpyRandomState {
 public:
  // np.random.seed(seed) for an integer seed in [0, 2^32): MT19937's init_genrand, which is
  // also how std::mt19937 seeds.
  explicit NumpyRandomState(std::uint32_t seed) : engine_(seed) {}

  std::uint32_t next_uint32() { return static_cast<std::uint32_t>(engine_()); }

  // NumPy's random_interval(max): a uniform integer in [0, max] by masked rejection.
  std::uint64_t random_interval(std::uint64_t max) {
    if (max == 0) return 0;
    std::uint64_t mask = max;
    for (int shift = 1; shift <= 32; shift <<= 1) mask |= mask >> shift;
    std::uint64_t value;
    if (max <= 0xffffffffULL) {
      while ((value = (next_uint32() & mask)) > max) {
      }
    } else {
      while ((value = (next_uint64() & mask)) > max) {
      }
    }
    return value;
  }

  // RandomState.shuffle on a 1-d sequence: Fisher-Yates from the back.
  template <typename T>
  void shuffle(std::vector<T>& values) {
    for (std::size_t i = values.size(); i-- > 1;) {
      const std::size_t j = static_cast<std::size_t>(random_interval(i));
      std::swap(values[i], values[j]);
    }
  }

 private:
  std::uint64_t next_uint64() {
    const std::uint64_t high = next_uint32();
    return (high << 32) | next_uint32();
  }

  std::mt19937 engine_;
};

}  // namespace crest
