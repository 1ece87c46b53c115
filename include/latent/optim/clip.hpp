// latent/optim/clip.hpp: gradient clipping by global L2 norm.
#pragma once

#include <cmath>

#include "latent/autodiff/parameter.hpp"

namespace latent {

/// L2 norm of all gradients together.
template <class S>
double grad_norm(const ParameterList<S>& params) {
  double squared = 0;
  for (const auto* p : params) squared += static_cast<double>(p->grad.squaredNorm());
  return std::sqrt(squared);
}

/// Scales all gradients so their global norm is at most max_norm; returns the
/// norm before clipping. Gradients already within the bound are untouched.
template <class S>
double clip_grad_norm(const ParameterList<S>& params, double max_norm) {
  const double norm = grad_norm(params);
  if (norm > max_norm) {
    const S factor = static_cast<S>(max_norm / norm);
    for (auto* p : params) p->grad *= factor;
  }
  return norm;
}

}  // namespace latent
