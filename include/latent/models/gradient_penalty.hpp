// latent/models/gradient_penalty.hpp: penalties on the norm of a critic's
// gradient with respect to its input, with their exact gradients with
// respect to the critic's parameters (second order; the route is explained
// in autodiff/jvp.hpp).
//
// For each column x_i, g_i = grad_x D(x_i) comes from an ordinary backward
// on a scratch tape, with D's parameters frozen. With u_i = g_i / |g_i| held
// fixed, the directional derivative D'(x_i)[u_i] = <g_i, u_i> equals |g_i|,
// and its derivative with respect to the parameters is u_i^T dg_i/dtheta =
// d|g_i|/dtheta, exactly (u_i is g_i's direction at the current parameters).
// So the norms are recorded as the critic's jvp along u, and any loss made of
// them (WGAN-GP's (|g| - 1)^2, R1's |g|^2) backpropagates correctly.
//
// The critic must treat columns independently (no batch statistics): the
// gradient of the batch's summed scores is then each column's own gradient.
#pragma once

#include <cmath>

#include "latent/autodiff/jvp.hpp"
#include "latent/autodiff/reduction.hpp"
#include "latent/autodiff/parameter.hpp"

namespace latent {

/// |grad_x D(x_i)| for every column of `points` (features x batch on the
/// tape being recorded): a 1 x batch Var whose gradient with respect to the
/// critic's parameters is exact. `critic` maps images to 1 x batch scores and
/// has jvp(Dual); `critic_parameters` are its parameters (frozen while the
/// scratch tape takes the input gradients); `scratch` is a tape of the
/// caller's, reset here and reused step after step (so a steady step
/// allocates nothing).
template <class Critic, class S>
Var<S> input_gradient_norms(Critic& critic, const ParameterList<S>& critic_parameters, Var<S> points, Tape<S>& scratch) {
  Tape<S>& tape = points.tape();
  if (&scratch == &tape) throw error("input_gradient_norms: the scratch tape must not be the tape being recorded");
  scratch.reset();
  Var<S> inputs = scratch.variable(points.value());
  {
    const FrozenParameters<S> frozen(critic_parameters);
    Var<S> scores = critic(inputs);
    if (scores.rows() != 1 || scores.cols() != points.cols())
      throw shape_error("input_gradient_norms: the critic maps " + shape_string(points.value()) + " to " +
                        shape_string(scores.value()) + ", not one score per column");
    scratch.backward(sum(scores));
  }
  // The directions u_i = g_i / |g_i| (0 where the gradient vanishes), a constant.
  Var<S> directions = tape.constant(points.rows(), points.cols());
  Matrix<S>& u = tape.value_of(directions);
  u = inputs.grad();
  for (Index j = 0; j < u.cols(); ++j) {
    const S norm = u.col(j).norm();
    if (norm > S(0)) u.col(j) /= norm;
  }
  return critic.jvp(Dual<S>{points, directions}).tangent;
}

/// Gulrajani et al.'s penalty mean_i (|grad_x D(x_i)| - 1)^2 at `points`
/// (usually random interpolates of real and generated images), unweighted:
/// the loss adds lambda times it.
template <class Critic, class S>
Var<S> gradient_penalty(Critic& critic, const ParameterList<S>& critic_parameters, Var<S> points, Tape<S>& scratch) {
  return mean(square(input_gradient_norms(critic, critic_parameters, points, scratch) - 1.0));
}

}  // namespace latent
