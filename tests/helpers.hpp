// Shared test helpers: random inputs and a gradcheck assertion with a readable failure.
#pragma once

#include <catch2/catch.hpp>
#include <latent/latent.hpp>

namespace test {

/// Restores latent's thread count (set_num_threads) and Eigen's when a test
/// that sets them ends.
class ThreadSettings {
 public:
  ThreadSettings() : latent_(latent::detail::requested_threads()), eigen_(Eigen::nbThreads()) {}
  ~ThreadSettings() {
    latent::detail::requested_threads() = latent_;
    Eigen::setNbThreads(eigen_);
  }
  ThreadSettings(const ThreadSettings&) = delete;
  ThreadSettings& operator=(const ThreadSettings&) = delete;

 private:
  int latent_, eigen_;
};

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

/// A fixed random projection of an op's output to a scalar, so every entry
/// gets a distinct weight (a plain sum would hide a transposed gradient).
inline latent::Var<double> project(latent::Var<double> y) {
  const latent::Matrix<double> weights =
      random_matrix(y.rows(), y.cols(), 99 + static_cast<std::uint64_t>(y.rows() * 31 + y.cols()));
  return latent::sum(latent::mul(y, y.tape().constant(weights)));
}

/// n 8x8 images of one bar (a row or a column), 0/255 with some grey noise:
/// low-dimensional structure a small model learns quickly. Labels: bar % 10.
inline latent::data::Dataset bars(latent::Index n, std::uint64_t seed) {
  latent::Rng rng(seed);
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(n * 64)), labels(static_cast<std::size_t>(n));
  for (latent::Index i = 0; i < n; ++i) {
    const int bar = static_cast<int>(rng.below(16));
    labels[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(bar % 10);
    for (int r = 0; r < 8; ++r)
      for (int c = 0; c < 8; ++c) {
        const bool on = bar < 8 ? r == bar : c == bar - 8;
        const double noise = 20 * rng.uniform();
        pixels[static_cast<std::size_t>(i * 64 + r * 8 + c)] = static_cast<std::uint8_t>(on ? 255 - noise : noise);
      }
  }
  return latent::data::Dataset(std::move(pixels), std::move(labels), 8, 8);
}

#define REQUIRE_GRADCHECK(result)          \
  do {                                     \
    const auto gc_result = (result);       \
    INFO(gc_result.report);                \
    REQUIRE(gc_result.passed);             \
    REQUIRE(gc_result.checked > 0);        \
  } while (0)

}  // namespace test
