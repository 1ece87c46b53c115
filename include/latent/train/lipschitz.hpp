// latent/train/lipschitz.hpp: Lipschitz policies of a GAN trainer: what it
// does to the critic after each of the critic's updates to keep it
// Lipschitz, as the Wasserstein critic must be. Each has
// after_critic_update(params), check() (throws on bad settings; a trainer
// calls it when it is built) and a name. The other two ways live where
// they act: spectral normalization in the critic's layers (SpectralDense,
// nn/spectral_norm.hpp), the gradient penalty in the loss (WassersteinGp,
// models/gan_loss.hpp).
#pragma once

#include <string>

#include "latent/autodiff/parameter.hpp"
#include "latent/error.hpp"
#include "latent/optim/clip.hpp"

namespace latent {

/// Nothing after an update (the default; right for the BCE, least-squares
/// and hinge losses, and for critics kept Lipschitz by their layers or loss).
struct Unconstrained {
  static constexpr const char* name = "none";

  void check() const {}
  template <class S>
  void after_critic_update(const ParameterList<S>&) const {}
};

/// Weight clipping (Arjovsky et al. 2017): every critic parameter clamped to
/// [-bound, bound] after each critic update; 0.01 is the WGAN paper's bound.
/// A bound of 0 clips nothing, so a program can choose at run time.
struct WeightClip {
  static constexpr const char* name = "weight-clip";
  double bound = 0.01;

  void check() const {
    if (!(bound >= 0)) throw error("WeightClip: the bound must be positive (or 0 for none), got " + std::to_string(bound));
  }
  template <class S>
  void after_critic_update(const ParameterList<S>& params) const {
    if (bound > 0) clip_weights(params, bound);
  }
};

}  // namespace latent
