// latent/nn/generator.hpp: the generator of a GAN: a body (any layer stack)
// mapping noise z (noise x batch) to images (features x batch), followed by an
// output activation, tanh by default, to match pixels scaled to [-1, 1]
// (data::MinusOneToOne). A body that applies its own output activation (an
// Mlp whose last layer is Dense<Tanh>, fused into one node) goes with Identity.
#pragma once

#include <utility>
#include <vector>

#include "latent/autodiff/elementwise.hpp"
#include "latent/autodiff/activation.hpp"
#include "latent/nn/body.hpp"
#include "latent/random.hpp"

namespace latent {

template <class Body, class Output = Tanh>
class Generator : public WithBody<Generator<Body, Output>, Body> {
  using Base = WithBody<Generator<Body, Output>, Body>;
  using Base::body_;

 public:
  using Scalar = contract::scalar_of_t<Body>;
  using OutputActivation = Output;

  explicit Generator(Body body, Output output = {}) : Base(std::move(body)), output_(output) {}
  /// Builds the body from its sizes ({100, 256, 512, 784}: noise -> hidden -> image).
  Generator(const std::vector<Index>& sizes, Rng& rng, Output output = {}) : Base(sizes, rng), output_(output) {}

  /// Images for the noise z: output(body(z)).
  Var<Scalar> operator()(Var<Scalar> z) {
    if constexpr (Output::is_identity) {
      return body_(z);
    } else {
      return activate(output_, body_(z));
    }
  }

  Index noise_dim() const { return body_.in_features(); }
  Index out_features() const { return body_.out_features(); }

 private:
  Output output_;
};

}  // namespace latent
