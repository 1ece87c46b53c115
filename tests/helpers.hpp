// Shared test helpers: random inputs and a gradcheck assertion with a readable failure.
#pragma once

#include <catch2/catch.hpp>
#include <latent/latent.hpp>

namespace test {

/// Uniform in [lo, hi], seeded, double.
inline latent::Matrix<double> random_matrix(latent::Index rows, latent::Index cols, std::uint64_t seed, double lo = -1,
                                            double hi = 1) {
  latent::Rng rng(seed);
  latent::Matrix<double> m(rows, cols);
  rng.fill_uniform(m, lo, hi);
  return m;
}

/// Values kept away from 0 (by at least `gap`), for ops with a kink there.
inline latent::Matrix<double> away_from_zero(latent::Index rows, latent::Index cols, std::uint64_t seed, double gap = 0.05) {
  latent::Matrix<double> m = random_matrix(rows, cols, seed);
  return m.unaryExpr([gap](double v) { return v < 0 ? v - gap : v + gap; });
}

#define REQUIRE_GRADCHECK(result)          \
  do {                                     \
    const auto gc_result = (result);       \
    INFO(gc_result.report);                \
    REQUIRE(gc_result.passed);             \
    REQUIRE(gc_result.checked > 0);        \
  } while (0)

}  // namespace test
