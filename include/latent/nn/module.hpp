// latent/nn/module.hpp: what every layer and network offers, derived from the
// one thing each must write, named_parameters(). A module is callable on a
// Var (the tape travels inside the Var) and returns a Var.
#pragma once

#include "latent/autodiff/parameter.hpp"

namespace latent {

template <class Derived, class S>
class Module {
 public:
  using Scalar = S;

  /// Every parameter, in checkpoint order (allocates a list: keep it, do not
  /// call it per step).
  ParameterList<S> parameters() { return parameters_of(self().named_parameters()); }
  Index parameter_count() { return count_parameters(parameters()); }
  void zero_grad() { latent::zero_grad(parameters()); }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
};

}  // namespace latent
