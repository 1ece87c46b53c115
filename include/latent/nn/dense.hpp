// latent/nn/dense.hpp: the fully connected layer y = act(W x + b), recorded as
// one fused tape node. W is out x in, b is out x 1, x is in x batch.
#pragma once

#include "latent/autodiff/linear.hpp"
#include "latent/nn/activation.hpp"
#include "latent/nn/init.hpp"
#include "latent/nn/module.hpp"

namespace latent {

template <class S, class Act = Identity, class Init = GlorotUniform>
class Dense : public Module<Dense<S, Act, Init>, S> {
 public:
  using Activation = Act;

  Dense(Index in, Index out, Rng& rng, Act act = {}, Init init = {})
      : weight(out, in), bias(out, 1), act_(act) {
    if (in <= 0 || out <= 0) throw shape_error("Dense: sizes must be positive, got in " + std::to_string(in) + ", out " + std::to_string(out));
    init(weight.value, rng);
    init_bias(init, bias.value, in, rng);
  }

  Var<S> operator()(Var<S> x) {
    Tape<S>& tape = x.tape();
    return dense(act_, tape.leaf(weight), x, tape.leaf(bias));
  }

  Index in_features() const { return weight.value.cols(); }
  Index out_features() const { return weight.value.rows(); }
  const Act& activation() const { return act_; }

  NamedParameterList<S> named_parameters() { return {{"weight", &weight}, {"bias", &bias}}; }

  Parameter<S> weight;
  Parameter<S> bias;

 private:
  Act act_;
};

}  // namespace latent
