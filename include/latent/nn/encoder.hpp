// latent/nn/encoder.hpp: the Gaussian encoder of a VAE: a body (any layer
// stack) followed by two linear heads giving the mean and the log-variance of
// q(z | x), each latent x batch.
#pragma once

#include <utility>
#include <vector>

#include "latent/concepts.hpp"
#include "latent/nn/dense.hpp"

namespace latent {

template <class Body>
class GaussianEncoder : public Module<GaussianEncoder<Body>, contract::scalar_of_t<Body>> {
  static_assert(contract::Layer<Body>::ok);
  static_assert(!contract::ends_linear<Body>::value,
                "GaussianEncoder: the body's last layer is linear (an Mlp ends in Identity unless told otherwise) and "
                "the mean and log-variance heads are linear too; name the body's activation: Mlp<S, Hidden, Hidden>");

 public:
  using Scalar = contract::scalar_of_t<Body>;

  struct Output {
    Var<Scalar> mu;
    Var<Scalar> logvar;
  };

  GaussianEncoder(Body body, Index latent, Rng& rng)
      : body_(std::move(body)), mu_(body_.out_features(), latent, rng), logvar_(body_.out_features(), latent, rng) {}

  /// Builds the body from its sizes ({784, 400}: data -> hidden), then the heads.
  GaussianEncoder(const std::vector<Index>& body_sizes, Index latent, Rng& rng)
      : GaussianEncoder(Body(body_sizes, rng), latent, rng) {}

  Output operator()(Var<Scalar> x) {
    Var<Scalar> hidden = body_(x);
    return {mu_(hidden), logvar_(hidden)};
  }

  Index in_features() const { return body_.in_features(); }
  Index latent_dim() const { return mu_.out_features(); }
  Body& body() { return body_; }

  template <class Visit>
  void for_each_child(Visit&& visit) {
    visit("body", body_);
    visit("mu", mu_);
    visit("logvar", logvar_);
  }

 private:
  Body body_;
  Dense<Scalar> mu_;
  Dense<Scalar> logvar_;
};

}  // namespace latent
