// latent/nn/discriminator.hpp: the discriminator (or critic) of a GAN: a body
// (any layer stack) mapping images (features x batch) to one raw score per
// image (1 x batch): a logit for the BCE losses, a critic value for the
// Wasserstein and hinge losses. The loss policy reads it (models/gan_loss.hpp).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "latent/autodiff/jvp.hpp"
#include "latent/error.hpp"
#include "latent/nn/body.hpp"
#include "latent/random.hpp"

namespace latent {

template <class Body>
class Discriminator : public WithBody<Discriminator<Body>, Body> {
  using Base = WithBody<Discriminator<Body>, Body>;
  using Base::body_;

 public:
  using Scalar = typename Body::Scalar;

  explicit Discriminator(Body body) : Base(std::move(body)) { check_single_output(); }
  /// Builds the body from its sizes ({784, 512, 256, 1}: image -> hidden -> score).
  Discriminator(const std::vector<Index>& sizes, Rng& rng) : Base(sizes, rng) { check_single_output(); }

  /// One score per column of x: 1 x batch.
  Var<Scalar> operator()(Var<Scalar> x) { return body_(x); }
  /// The scores and their directional derivative along x's tangent (for
  /// gradient penalties: models/gradient_penalty.hpp).
  Dual<Scalar> jvp(const Dual<Scalar>& x) { return body_.jvp(x); }

  Index in_features() const { return body_.in_features(); }

 private:
  void check_single_output() const {
    if (body_.out_features() != 1)
      throw shape_error("Discriminator: the body must end in one output (a score per image), it has " +
                        std::to_string(body_.out_features()));
  }
};

}  // namespace latent
