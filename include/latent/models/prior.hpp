// latent/models/prior.hpp: prior policies p(z) of a VAE: the KL term of the
// ELBO, samples, and the per-example log-density for metrics.
#pragma once

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

  /// log p(z) per example (a row).
  template <class S>
  Matrix<S> log_density(const Matrix<S>& z) const {
    const auto zero = Matrix<S>::Zero(z.rows(), z.cols()).array();
    return -formula::gaussian_nll(z.array(), zero, zero).matrix().colwise().sum();
  }
};

}  // namespace latent
