// latent/nn/body.hpp: the base of the modules that give one layer stack (their
// body) a role: Decoder, Generator, Discriminator. It owns the body, builds it
// from its sizes, and lists its parameters and buffers as "body.<name>".
#pragma once

#include <utility>
#include <vector>

#include "latent/autodiff/tape.hpp"
#include "latent/concepts.hpp"
#include "latent/nn/module.hpp"
#include "latent/random.hpp"

namespace latent {

template <class Derived, class Body>
class WithBody : public Module<Derived, contract::scalar_of_t<Body>> {
  static_assert(contract::Layer<Body>::ok);

 public:
  using Scalar = contract::scalar_of_t<Body>;

  Body& body() { return body_; }
  const Body& body() const { return body_; }

  template <class Visit>
  void for_each_child(Visit&& visit) {
    visit("body", body_);
  }

 protected:
  explicit WithBody(Body body) : body_(std::move(body)) {}
  WithBody(const std::vector<Index>& sizes, Rng& rng) : body_(sizes, rng) {}

  Body body_;
};

}  // namespace latent
