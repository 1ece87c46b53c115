// latent/nn/dense.hpp: the fully connected layer y = act(W x + b), recorded as
// one fused tape node. W is out x in, b is out x 1, x is in x batch. The
// parameters and accessors live in detail::AffineLayer, which SpectralDense
// shares.
#pragma once

#include <string>

#include "latent/autodiff/jvp.hpp"
#include "latent/autodiff/linear.hpp"
#include "latent/autodiff/activation.hpp"
#include "latent/nn/init.hpp"
#include "latent/nn/module.hpp"

namespace latent {

namespace detail {

/// What every fully connected layer holds: W (out x in), b (out x 1), both
/// initialized by Init, and the activation. Derived records the layer.
template <class Derived, class S, class Act, class Init>
class AffineLayer : public Module<Derived, S> {
 public:
  using Activation = Act;

  Index in_features() const { return weight.value.cols(); }
  Index out_features() const { return weight.value.rows(); }
  const Act& activation() const { return act_; }

  NamedParameterList<S> named_parameters() { return {{"weight", &weight}, {"bias", &bias}}; }

  Parameter<S> weight;
  Parameter<S> bias;

 protected:
  AffineLayer(const char* layer, Index in, Index out, Rng& rng, Act act, Init init)
      : weight(checked_size(layer, in, out, out), in), bias(out, 1), act_(act) {
    init(weight.value, rng);
    init_bias(init, bias.value, in, rng);
  }

  Act act_;

 private:
  static Index checked_size(const char* layer, Index in, Index out, Index size) {
    if (in <= 0 || out <= 0)
      throw shape_error(std::string(layer) + ": sizes must be positive, got in " + std::to_string(in) + ", out " +
                        std::to_string(out));
    return size;
  }
};

}  // namespace detail

template <class S, class Act = Identity, class Init = GlorotUniform>
class Dense : public detail::AffineLayer<Dense<S, Act, Init>, S, Act, Init> {
  using Base = detail::AffineLayer<Dense<S, Act, Init>, S, Act, Init>;

 public:
  Dense(Index in, Index out, Rng& rng, Act act = {}, Init init = {}) : Base("Dense", in, out, rng, act, init) {}

  Var<S> operator()(Var<S> x) {
    Tape<S>& tape = x.tape();
    return dense(this->act_, tape.leaf(this->weight), x, tape.leaf(this->bias));
  }

  /// The layer and its directional derivative (autodiff/jvp.hpp).
  Dual<S> jvp(const Dual<S>& x) {
    Tape<S>& tape = x.value.tape();
    return dense_jvp(this->act_, tape.leaf(this->weight), x, tape.leaf(this->bias));
  }
};

}  // namespace latent
