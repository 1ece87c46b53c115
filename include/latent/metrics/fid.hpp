// latent/metrics/fid.hpp: the Frechet distance between two sets of feature
// vectors, each summarized by a Gaussian (its mean and covariance): the FID
// of Heusel et al. (2017) when the features come from a classifier's
// penultimate layer (models/classifier.hpp, run by metrics/classify.hpp):
//   d^2 = |m1 - m2|^2 + tr(C1) + tr(C2) - 2 tr (C1^{1/2} C2 C1^{1/2})^{1/2}.
// tr (C1 C2)^{1/2} equals the trace of the square root of the symmetric
// C1^{1/2} C2 C1^{1/2}, so both roots come from symmetric eigen-decompositions
// (no general matrix square root, no complex parts to discard). Sums run in
// double precision whatever the features' scalar type.
//
// Every function here is a template, even where it takes one type only: a
// non-template inline function is compiled in every translation unit that
// includes it, and these instantiate Eigen's eigen-solver, which made this
// header the largest part of parsing latent.hpp (bench/compile-time.sh). As
// templates they cost only the programs that compute a distance.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>

#include <Eigen/Eigenvalues>

#include "latent/error.hpp"
#include "latent/matrix.hpp"

namespace latent {

/// The mean and covariance of a feature set: the Gaussian the FID compares.
struct GaussianStatistics {
  Vector<double> mean;
  Matrix<double> covariance;  ///< unbiased (divided by n - 1), as numpy.cov
  Index count = 0;            ///< feature vectors summarized
};

/// Statistics of the columns of `features` (dimensions x n, n >= 2).
template <class Derived>
GaussianStatistics gaussian_statistics(const Eigen::MatrixBase<Derived>& features) {
  if (features.cols() < 2)
    throw shape_error("gaussian_statistics: needs at least 2 feature vectors (columns), got " + shape_string(features));
  GaussianStatistics stats;
  const Matrix<double> x = features.template cast<double>();
  stats.count = x.cols();
  stats.mean = x.rowwise().mean();
  const Matrix<double> centered = x.colwise() - stats.mean;
  stats.covariance.noalias() = centered * centered.transpose() / static_cast<double>(x.cols() - 1);
  return stats;
}

namespace detail {

/// The square root of a symmetric positive semi-definite matrix: V sqrt(L) V^T,
/// eigenvalues below zero (rounding) taken as zero.
template <class Derived>
Matrix<double> symmetric_sqrt(const Eigen::MatrixBase<Derived>& m) {
  const Eigen::SelfAdjointEigenSolver<Matrix<double>> eigen(m);
  if (eigen.info() != Eigen::Success) throw numeric_error("symmetric_sqrt: the eigen-decomposition did not converge");
  const Vector<double> roots = eigen.eigenvalues().cwiseMax(0.0).cwiseSqrt();
  return eigen.eigenvectors() * roots.asDiagonal() * eigen.eigenvectors().transpose();
}

}  // namespace detail

/// The squared Frechet distance between N(a.mean, a.covariance) and N(b.mean,
/// b.covariance). (Statistics is GaussianStatistics; see the file's comment.)
template <class Statistics, class = std::enable_if_t<std::is_same<Statistics, GaussianStatistics>::value>>
double frechet_distance(const Statistics& a, const Statistics& b) {
  if (a.mean.size() != b.mean.size() || a.covariance.rows() != a.mean.size() || b.covariance.rows() != b.mean.size())
    throw shape_error("frechet_distance: statistics of " + std::to_string(a.mean.size()) + " and " +
                      std::to_string(b.mean.size()) + " dimensions");
  if (!a.mean.allFinite() || !b.mean.allFinite() || !a.covariance.allFinite() || !b.covariance.allFinite())
    throw numeric_error("frechet_distance: the statistics contain NaN or infinity");
  const Matrix<double> root_a = detail::symmetric_sqrt(a.covariance);
  Matrix<double> product = root_a * b.covariance * root_a;
  product = 0.5 * (product + product.transpose()).eval();  // symmetric up to rounding; make it exact
  const Eigen::SelfAdjointEigenSolver<Matrix<double>> eigen(product, Eigen::EigenvaluesOnly);
  if (eigen.info() != Eigen::Success) throw numeric_error("frechet_distance: the eigen-decomposition did not converge");
  const double trace_root = eigen.eigenvalues().cwiseMax(0.0).cwiseSqrt().sum();
  const double distance = (a.mean - b.mean).squaredNorm() + a.covariance.trace() + b.covariance.trace() - 2 * trace_root;
  return std::max(distance, 0.0);  // rounding can take identical sets a hair below zero
}

/// The same, from two feature sets (dimensions x n each, columns are vectors).
template <class DerivedA, class DerivedB>
double frechet_distance(const Eigen::MatrixBase<DerivedA>& features_a, const Eigen::MatrixBase<DerivedB>& features_b) {
  return frechet_distance(gaussian_statistics(features_a), gaussian_statistics(features_b));
}

}  // namespace latent
