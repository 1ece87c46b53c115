// latent/nn/decoder.hpp: the decoder of a VAE: a body mapping codes z
// (latent x batch) to the parameters of p(x | z), e.g. Bernoulli logits or
// Gaussian means (features x batch). The likelihood policy reads them.
#pragma once

#include <utility>
#include <vector>

#include "latent/nn/body.hpp"

namespace latent {

template <class Body>
class Decoder : public WithBody<Decoder<Body>, Body> {
  using Base = WithBody<Decoder<Body>, Body>;
  using Base::body_;

 public:
  using Scalar = contract::scalar_of_t<Body>;

  explicit Decoder(Body body) : Base(std::move(body)) {}
  /// Builds the body from its sizes ({20, 400, 784}: latent -> hidden -> data).
  Decoder(const std::vector<Index>& sizes, Rng& rng) : Base(sizes, rng) {}

  Var<Scalar> operator()(Var<Scalar> z) { return body_(z); }

  Index latent_dim() const { return body_.in_features(); }
  Index out_features() const { return body_.out_features(); }
};

}  // namespace latent
