// latent/optim/clip.hpp: clipping in parameter space: gradients by their
// global L2 norm (clip_grad_norm), and values to a box (clip_weights, the
// Wasserstein GAN's way to keep its critic Lipschitz).
#pragma once

#include <cmath>
#include <string>

#include "latent/autodiff/parameter.hpp"
#include "latent/error.hpp"

namespace latent {

/// L2 norm of all gradients together (split over latent's threads).
template <class S>
double grad_norm(const ParameterList<S>& params) {
  return std::sqrt(detail::squared_grad_norm(params));
}

namespace detail {

/// Scales the gradients (or their ranges in `only`) by max_norm / norm when
/// norm, their global norm measured by the caller, exceeds max_norm.
template <class S>
void scale_grads_to_norm(const ParameterList<S>& params, double norm, double max_norm, const ElementRanges& only = {}) {
  if (!(norm > max_norm)) return;
  check_grad_shapes(params, "clip_grad_norm");
  const S factor = static_cast<S>(max_norm / norm);
  for_each_piece(params, [&](std::size_t i, Index begin, Index count) { piece(params[i]->grad, begin, count) *= factor; },
                 only);
}

}  // namespace detail

/// Scales all gradients so their global norm is at most max_norm; returns the
/// norm before clipping. Gradients already within the bound are untouched.
template <class S>
double clip_grad_norm(const ParameterList<S>& params, double max_norm) {
  const double norm = grad_norm(params);
  detail::scale_grads_to_norm(params, norm, max_norm);
  return norm;
}

/// Clamps every value of every parameter to [-bound, bound] (the WGAN critic's
/// weight clipping, applied after each of its optimizer steps).
template <class S>
void clip_weights(const ParameterList<S>& params, double bound) {
  if (!(bound > 0)) throw error("clip_weights: the bound must be positive, got " + std::to_string(bound));
  const S limit = static_cast<S>(bound);
  for (auto* p : params) p->value = p->value.cwiseMax(-limit).cwiseMin(limit);
}

}  // namespace latent
