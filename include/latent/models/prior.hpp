// latent/models/prior.hpp: prior policies p(z) of a VAE: the KL term of the
// ELBO, samples, and the per-example log-density for metrics.
#pragma once

#include <type_traits>
#include <utility>

#include "latent/autodiff/losses.hpp"
#include "latent/random.hpp"

namespace latent {

/// p(z) = N(0, I). The KL term against a diagonal Gaussian q is analytic.
struct StandardNormal {
  template <class S>
  Var<S> kl(Var<S> mu, Var<S> logvar) const {
    return kl_standard_normal(mu, logvar);
  }

  template <class S>
  void sample(Matrix<S>& z, Rng& rng) const {
    rng.fill_normal(z);
  }

  /// Columns first_column .. of what sample() draws into z.rows() x
  /// total_columns, computing those alone (see sample_columns below).
  template <class S>
  void sample_columns(Matrix<S>& z, Rng& rng, Index total_columns, Index first_column) const {
    rng.fill_normal_columns(z, total_columns, first_column);
  }

  /// log p(z) per example (a row).
  template <class S>
  Matrix<S> log_density(const Matrix<S>& z) const {
    const auto zero = Matrix<S>::Zero(z.rows(), z.cols()).array();
    return -formula::gaussian_nll(z.array(), zero, zero).matrix().colwise().sum();
  }
};

namespace detail {

template <class Policy, class S, class = void>
struct samples_columns : std::false_type {};
template <class Policy, class S>
struct samples_columns<Policy, S,
                       std::void_t<decltype(std::declval<const Policy&>().sample_columns(
                           std::declval<Matrix<S>&>(), std::declval<Rng&>(), Index{}, Index{}))>> : std::true_type {};

}  // namespace detail

/// Columns first_column .. first_column + z.cols() - 1 of what policy.sample()
/// (a prior, a GAN's noise) draws into a z.rows() x total_columns matrix, the
/// generator advanced alike: a rank's columns of a global batch's noise. A
/// policy with sample_columns() computes those columns alone; for another,
/// the whole matrix is drawn.
template <class Policy, class S>
void sample_columns(const Policy& policy, Matrix<S>& z, Rng& rng, Index total_columns, Index first_column) {
  if constexpr (detail::samples_columns<Policy, S>::value) {
    policy.sample_columns(z, rng, total_columns, first_column);
  } else {
    Matrix<S> all(z.rows(), total_columns);
    policy.sample(all, rng);
    z = all.middleCols(first_column, z.cols());
  }
}

}  // namespace latent
