// latent/nn/body.hpp: the base of the modules that give one layer stack (their
// body) a role: Decoder, Generator, Discriminator. It owns the body, builds it
// from its sizes, and lists its parameters and buffers as "body.<name>".
#pragma once

#include <utility>
#include <vector>

#include "latent/nn/module.hpp"
#include "latent/random.hpp"

namespace latent {

template <class Derived, class Body>
class WithBody : public Module<Derived, typename Body::Scalar> {
 public:
  using Scalar = typename Body::Scalar;

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
