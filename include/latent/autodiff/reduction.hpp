// latent/autodiff/reduction.hpp: ops that reduce a matrix to a 1x1 loss.
#pragma once

#include "latent/autodiff/tape.hpp"

namespace latent {
namespace detail {

/// factor * (sum of all entries of x), as a 1x1 node.
template <class S>
Var<S> scaled_sum(Var<S> x, double factor) {
  Tape<S>& tape = x.tape();
  Var<S> out = tape.record(1, 1, {x}, [](Tape<S>& t, Node<S>& n) {
    const Matrix<S>& x_value = t.parent_value(n, 0);
    const S g = n.grad(0, 0) * S(n.template load<double>());
    t.accumulate(n, 0, Matrix<S>::Constant(x_value.rows(), x_value.cols(), g));
  });
  Node<S>& node = tape.node(out);
  node.store(factor);
  node.value(0, 0) = S(factor) * x.value().sum();
  return out;
}

}  // namespace detail

/// Sum of all entries -> 1x1.
template <class S>
Var<S> sum(Var<S> x) {
  return detail::scaled_sum(x, 1.0);
}

/// Mean of all entries -> 1x1. (Losses that are sums over features averaged
/// over the batch are ops of their own: see losses.hpp.)
template <class S>
Var<S> mean(Var<S> x) {
  if (x.value().size() == 0) throw shape_error("mean: empty input " + shape_string(x.value()));
  return detail::scaled_sum(x, 1.0 / static_cast<double>(x.value().size()));
}

}  // namespace latent
