// ScopedFlushDenormals: subnormal results become zero while a guard lives,
// and the previous mode comes back when it ends, nested guards included.
#include <limits>

#include <catch2/catch.hpp>
#include <latent/denormals.hpp>

namespace test_denormals {

namespace {

// min() / 4 is subnormal; volatile keeps the compiler from folding it.
float quarter_of_smallest_normal() {
  volatile float smallest = std::numeric_limits<float>::min();
  volatile float divisor = 4.0f;
  return smallest / divisor;
}

}  // namespace

TEST_CASE("ScopedFlushDenormals flushes subnormal floats for its scope and restores the mode", "[denormals]") {
#ifdef LATENT_HAS_MXCSR
  REQUIRE(quarter_of_smallest_normal() > 0.0f);  // subnormal arithmetic is on by default
  {
    const latent::ScopedFlushDenormals flush;
    REQUIRE(quarter_of_smallest_normal() == 0.0f);
    {
      const latent::ScopedFlushDenormals nested;
      REQUIRE(quarter_of_smallest_normal() == 0.0f);
    }
    REQUIRE(quarter_of_smallest_normal() == 0.0f);  // the nested guard restored the outer one's mode
  }
  REQUIRE(quarter_of_smallest_normal() > 0.0f);
#else
  const latent::ScopedFlushDenormals flush;  // no MXCSR: the guard does nothing
  REQUIRE(quarter_of_smallest_normal() > 0.0f);
#endif
}

}  // namespace test_denormals
