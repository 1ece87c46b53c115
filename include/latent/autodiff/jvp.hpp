// latent/autodiff/jvp.hpp: second order, the way this core takes it. A
// gradient penalty (WGAN-GP, R1) needs the gradient, with respect to a
// critic's parameters, of a norm of the critic's gradient with respect to
// its input: a derivative of a derivative.
//
// The route: forward-mode directional derivatives recorded as ordinary tape
// ops, then one ordinary reverse sweep (the route of Stan Math's
// Hessian-vector products). A layer's `jvp` carries a pair (value, tangent)
// through it: for y = act(W x + b) the tangent is t' = act'(z) .* (W t),
// recorded as a product and an `activation_derivative` node, whose own
// backward needs act''. The tangent at the critic's output is then a Var
// like any other, and backward() differentiates it with respect to every
// parameter that the recording read.
//
// Why not the other route, recording the backward itself on the tape
// (PyTorch's create_graph): that needs every op's backward rewritten as
// recorded ops (gradients as nodes, not matrices), node storage that stays
// put while a sweep records, and recordings swept more than once: a redesign
// of the op contract of ~25 ops. The forward route needs one new op and a
// `jvp` per layer type, leaves every existing op as it is, and costs one
// more forward pass (the tangent) and its backward. What it cannot do is
// give a whole input gradient in one pass: a penalty first takes the input
// gradient by an ordinary backward on a scratch tape, then records the
// derivative along that gradient's direction (models/gradient_penalty.hpp).
#pragma once

#include <string>

#include "latent/autodiff/elementwise.hpp"
#include "latent/autodiff/linear.hpp"

namespace latent {

/// A value and a tangent of the same shape: the derivative of the value
/// along some direction of the inputs, both recorded on one tape.
template <class S>
struct Dual {
  Var<S> value;
  Var<S> tangent;
};

namespace detail {

template <class Act>
struct ActivationDerivativeOp {
  Act act;
  template <class Y>
  auto value(const Y& y) const { return act.derivative_from_output(y); }
  template <class Y, class D, class G>
  auto grad(const Y& y, const D&, const G& dy) const { return dy * act.derivative_slope_from_output(y); }
};

template <class S>
void require_dual_shapes(const char* op, const Dual<S>& x) {
  require_same_tape(op, x.value, x.tangent);
  if (x.value.rows() != x.tangent.rows() || x.value.cols() != x.tangent.cols())
    throw shape_error(std::string(op) + ": the value is " + shape_string(x.value.value()) + " but its tangent is " +
                      shape_string(x.tangent.value()));
}

}  // namespace detail

/// act'(z) for y = act(z), read from the output y, as a recorded node: its
/// backward carries act''(z) to y (and through y's own node to z).
template <class Act, class S>
Var<S> activation_derivative(const Act& act, Var<S> y) {
  return detail::unary(y, detail::ActivationDerivativeOp<Act>{act});
}

/// dense(act, W, x, b) and its tangent act'(z) .* (W t) for the tangent t of x.
template <class Act, class S>
Dual<S> dense_jvp(const Act& act, Var<S> w, const Dual<S>& x, Var<S> b) {
  detail::require_dual_shapes(Act::is_identity ? "affine_jvp" : "dense_jvp", x);
  Var<S> y = dense(act, w, x.value, b);
  Var<S> tangent = matmul(w, x.tangent);
  if constexpr (!Act::is_identity) tangent = mul(activation_derivative(act, y), tangent);
  return {y, tangent};
}

/// act(x) and its tangent act'(x) .* t.
template <class Act, class S>
Dual<S> activate_jvp(const Act& act, const Dual<S>& x) {
  detail::require_dual_shapes("activate_jvp", x);
  if constexpr (Act::is_identity) {
    return x;
  } else {
    Var<S> y = activate(act, x.value);
    return {y, mul(activation_derivative(act, y), x.tangent)};
  }
}

}  // namespace latent
