// latent/autodiff/concat.hpp: joining two matrices into one. concat stacks
// rows (features): a condition (one-hot labels) below the images or the
// noise it conditions, one column per example as ever. concat_columns puts
// two batches side by side, so one network call scores both (a VAE-GAN's
// critic on reconstructions and prior samples at once). The backward hands
// each operand its block of the incoming gradient. slice_rows undoes concat:
// a network that reads [x; y] as one input takes its parts back.
#pragma once

#include <string>

#include "latent/autodiff/tape.hpp"

namespace latent {
namespace detail {

/// [a; b] (Rows) or [a, b] (columns): one node whose backward splits its gradient.
template <bool Rows, class S>
Var<S> join(const char* op, Var<S> a, Var<S> b) {
  require_same_tape(op, a, b);
  if (Rows ? a.cols() != b.cols() : a.rows() != b.rows())
    throw shape_error(std::string(op) + ": A is " + shape_string(a.value()) + ", B is " + shape_string(b.value()) +
                      (Rows ? " (their column counts must match)" : " (their row counts must match)"));
  Tape<S>& tape = a.tape();
  const Index rows = Rows ? a.rows() + b.rows() : a.rows();
  const Index cols = Rows ? a.cols() : a.cols() + b.cols();
  Var<S> out = tape.record(rows, cols, {a, b}, [](Tape<S>& t, Node<S>& n) {
    const Matrix<S>& first = t.parent_value(n, 0);
    if constexpr (Rows) {
      if (t.parent_requires_grad(n, 0)) t.accumulate(n, 0, n.grad.topRows(first.rows()));
      if (t.parent_requires_grad(n, 1)) t.accumulate(n, 1, n.grad.bottomRows(n.grad.rows() - first.rows()));
    } else {
      if (t.parent_requires_grad(n, 0)) t.accumulate(n, 0, n.grad.leftCols(first.cols()));
      if (t.parent_requires_grad(n, 1)) t.accumulate(n, 1, n.grad.rightCols(n.grad.cols() - first.cols()));
    }
  });
  Matrix<S>& value = tape.value_of(out);
  if constexpr (Rows) {
    value.topRows(a.rows()) = a.value();
    value.bottomRows(b.rows()) = b.value();
  } else {
    value.leftCols(a.cols()) = a.value();
    value.rightCols(b.cols()) = b.value();
  }
  return out;
}

}  // namespace detail

/// [a; b]: a (m x n) above b (k x n) -> (m + k) x n. Each column stays one
/// example, with b's features after a's.
template <class S>
Var<S> concat(Var<S> a, Var<S> b) {
  return detail::join<true>("concat", a, b);
}

/// [a, b]: a (m x n) beside b (m x k) -> m x (n + k): two batches as one.
template <class S>
Var<S> concat_columns(Var<S> a, Var<S> b) {
  return detail::join<false>("concat_columns", a, b);
}

/// Rows [begin, begin + count) of x: count x n. The backward adds the
/// incoming gradient into those rows of x's gradient.
template <class S>
Var<S> slice_rows(Var<S> x, Index begin, Index count) {
  if (begin < 0 || count <= 0 || begin + count > x.rows())
    throw shape_error("slice_rows: rows " + std::to_string(begin) + " to " + std::to_string(begin + count) + " of " +
                      shape_string(x.value()));
  Tape<S>& tape = x.tape();
  Var<S> out = tape.record(count, x.cols(), {x}, [](Tape<S>& t, Node<S>& n) {
    if (Matrix<S>* grad = t.gradient_to_add(n, 0)) grad->middleRows(n.template load<Index>(), n.grad.rows()) += n.grad;
  });
  tape.node(out).store(begin);
  tape.value_of(out) = x.value().middleRows(begin, count);
  return out;
}

}  // namespace latent
