// The Frechet distance: zero for a set against itself, the closed form for
// Gaussians of known parameters (exactly from their statistics, and within
// sampling error from samples), symmetric, and clear errors on bad input.
#include <cmath>

#include "helpers.hpp"
#include <latent/metrics/fid.hpp>

namespace test_fid {

using latent::Index;
using latent::Matrix;

namespace {

// n samples of N(mean, covariance) as columns: mean + L eps, L the Cholesky factor.
Matrix<double> gaussian_samples(const latent::Vector<double>& mean, const Matrix<double>& covariance, Index n,
                                std::uint64_t seed) {
  latent::Rng rng(seed);
  Matrix<double> eps(mean.size(), n);
  rng.fill_normal(eps);
  const Matrix<double> factor = covariance.llt().matrixL();
  return (factor * eps).colwise() + mean;
}

latent::GaussianStatistics statistics(latent::Vector<double> mean, Matrix<double> covariance) {
  latent::GaussianStatistics stats;
  stats.mean = std::move(mean);
  stats.covariance = std::move(covariance);
  return stats;
}

}  // namespace

TEST_CASE("FID of a feature set against itself is ~0", "[fid]") {
  const Matrix<double> features = test::random_matrix(16, 300, 1);
  REQUIRE(latent::frechet_distance(features, features) == Approx(0.0).margin(1e-9));
  // Fewer samples than dimensions: a singular covariance is fine too.
  const Matrix<float> few = test::random_matrix(32, 10, 2).cast<float>();
  REQUIRE(latent::frechet_distance(few, few) == Approx(0.0).margin(1e-6));
}

TEST_CASE("FID of two Gaussians with known parameters matches the closed form", "[fid]") {
  SECTION("one dimension: (m1 - m2)^2 + (s1 - s2)^2") {
    latent::Vector<double> m1(1), m2(1);
    m1 << 1.0;
    m2 << -0.5;
    Matrix<double> c1(1, 1), c2(1, 1);
    c1 << 4.0;
    c2 << 0.25;
    REQUIRE(latent::frechet_distance(statistics(m1, c1), statistics(m2, c2)) == Approx(1.5 * 1.5 + 1.5 * 1.5));
  }

  SECTION("two dimensions, covariances that do not commute") {
    // For 2x2 positive definite M, tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)); with
    // M = C1^{1/2} C2 C1^{1/2}: tr M = tr(C1 C2) and det M = det C1 det C2.
    latent::Vector<double> m1(2), m2(2);
    m1 << 0.3, -1.0;
    m2 << 1.0, 2.0;
    Matrix<double> c1(2, 2), c2(2, 2);
    c1 << 2.0, 0.6, 0.6, 1.0;
    c2 << 0.5, -0.3, -0.3, 1.5;
    const double trace_root = std::sqrt((c1 * c2).trace() + 2 * std::sqrt(c1.determinant() * c2.determinant()));
    const double expected = (m1 - m2).squaredNorm() + c1.trace() + c2.trace() - 2 * trace_root;
    const double distance = latent::frechet_distance(statistics(m1, c1), statistics(m2, c2));
    REQUIRE(distance == Approx(expected).epsilon(1e-12));
    REQUIRE(latent::frechet_distance(statistics(m2, c2), statistics(m1, c1)) == Approx(distance).epsilon(1e-12));
  }

  SECTION("from samples, within sampling error") {
    latent::Vector<double> m1(3), m2(3);
    m1 << 0, 0, 0;
    m2 << 1, 0, -1;
    Matrix<double> c1 = Matrix<double>::Identity(3, 3);
    Matrix<double> c2(3, 3);
    c2 << 2.0, 0.5, 0.0, 0.5, 1.0, 0.2, 0.0, 0.2, 0.5;
    const double exact = latent::frechet_distance(statistics(m1, c1), statistics(m2, c2));
    const double sampled =
        latent::frechet_distance(gaussian_samples(m1, c1, 20000, 3), gaussian_samples(m2, c2, 20000, 4));
    INFO("exact " << exact << ", from samples " << sampled);
    REQUIRE(sampled == Approx(exact).epsilon(0.03));
  }
}

TEST_CASE("gaussian_statistics: the sample mean and the unbiased covariance", "[fid]") {
  Matrix<double> x(2, 3);
  x << 1, 2, 3, 2, 4, 9;
  const auto stats = latent::gaussian_statistics(x);
  REQUIRE(stats.count == 3);
  REQUIRE(stats.mean(0) == Approx(2));
  REQUIRE(stats.mean(1) == Approx(5));
  REQUIRE(stats.covariance(0, 0) == Approx(1));   // ((-1)^2 + 0 + 1^2) / 2
  REQUIRE(stats.covariance(0, 1) == Approx(3.5));  // ((-1)(-3) + 0 + (1)(4)) / 2
  REQUIRE(stats.covariance(1, 1) == Approx(13));   // (9 + 1 + 16) / 2
}

TEST_CASE("frechet_distance refuses mismatched or non-finite input", "[fid]") {
  REQUIRE_THROWS_AS(latent::gaussian_statistics(test::random_matrix(3, 1, 5)), latent::shape_error);
  REQUIRE_THROWS_AS(latent::frechet_distance(test::random_matrix(3, 10, 6), test::random_matrix(4, 10, 7)),
                    latent::shape_error);
  Matrix<double> bad = test::random_matrix(3, 10, 8);
  bad(1, 1) = std::nan("");
  REQUIRE_THROWS_AS(latent::frechet_distance(bad, test::random_matrix(3, 10, 9)), latent::numeric_error);
}

}  // namespace test_fid
