// latent/autodiff/reduction.hpp: ops that reduce a matrix: to a 1x1 loss
// (sum, mean), or each column to one number (column_dot: a projection
// discriminator's <embedding of the label, features> per example).
#pragma once

#include <string>

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

/// The dot product of each column of a with the same column of b: equal
/// shapes m x n -> 1 x n.
template <class S>
Var<S> column_dot(Var<S> a, Var<S> b) {
  detail::require_same_tape("column_dot", a, b);
  if (a.rows() != b.rows() || a.cols() != b.cols())
    throw shape_error("column_dot: A is " + shape_string(a.value()) + ", B is " + shape_string(b.value()) +
                      " (their shapes must match)");
  Tape<S>& tape = a.tape();
  Var<S> out = tape.record(1, a.cols(), {a, b}, [](Tape<S>& t, Node<S>& n) {
    const auto per_column = n.grad.row(0).asDiagonal();
    t.accumulate(n, 0, t.parent_value(n, 1) * per_column);
    t.accumulate(n, 1, t.parent_value(n, 0) * per_column);
  });
  tape.value_of(out) = a.value().cwiseProduct(b.value()).colwise().sum();
  return out;
}

}  // namespace latent
