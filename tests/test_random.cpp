// The random number generator: the one hash mix is SplitMix64's, streams of
// one seed are reproducible and share nothing with the plain seed's numbers.
#include <algorithm>
#include <cstdint>
#include <vector>

#include <catch2/catch.hpp>
#include <latent/random.hpp>

namespace test_random {

TEST_CASE("mix64 is SplitMix64's output function", "[rng]") {
  // SplitMix64 seeded with 0: its first output, from the reference implementation.
  STATIC_REQUIRE(latent::mix64(0x9e3779b97f4a7c15ULL) == 0xe220a8397b1dcdafULL);
  REQUIRE(latent::mix64(1) != latent::mix64(2));
}

TEST_CASE("an Rng stream is reproducible and shares nothing with the plain seed's numbers", "[rng]") {
  latent::Rng weights(7), noise(7, latent::streams::training_noise), again(7, latent::streams::training_noise);
  std::vector<std::uint64_t> drawn;
  for (int i = 0; i < 1000; ++i) drawn.push_back(weights());
  std::sort(drawn.begin(), drawn.end());
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t x = noise();
    REQUIRE(x == again());
    REQUIRE_FALSE(std::binary_search(drawn.begin(), drawn.end(), x));
  }
}

}  // namespace test_random
