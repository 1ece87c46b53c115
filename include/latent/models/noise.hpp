// latent/models/noise.hpp: noise policies p(z) of a GAN: what the generator
// is fed. A policy fills a latent x batch matrix from the library's Rng with
// sample(z, rng). The standard normal is the VAE's prior, StandardNormal from
// models/prior.hpp, under the name a GAN reader looks for.
#pragma once

#include "latent/matrix.hpp"
#include "latent/models/prior.hpp"
#include "latent/random.hpp"

namespace latent {

/// z ~ N(0, I): the usual choice (DCGAN and most MLP GANs).
using NormalNoise = StandardNormal;

/// z ~ U(low, high)^d, per coordinate: U(-1, 1) by default, as in the original GAN.
struct UniformNoise {
  double low = -1.0;
  double high = 1.0;

  template <class S>
  void sample(Matrix<S>& z, Rng& rng) const {
    rng.fill_uniform(z, low, high);
  }

  template <class S>
  void sample_columns(Matrix<S>& z, Rng& rng, Index total_columns, Index first_column) const {
    rng.fill_uniform_columns(z, total_columns, first_column, low, high);
  }
};

}  // namespace latent
