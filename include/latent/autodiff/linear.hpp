// latent/autodiff/linear.hpp: the ops that do matrix products: matmul, affine
// and dense (affine fused with an activation). The products go through
// autodiff/gemm.hpp (Eigen's GEMM kernel, no allocation, split over threads),
// forward and backward, and write straight into the node's buffers, so no
// temporary matrix is made.
#pragma once

#include "latent/autodiff/gemm.hpp"
#include "latent/autodiff/tape.hpp"
#include "latent/autodiff/activation.hpp"

namespace latent {
namespace detail {

/// Adds lhs rhs to the gradient of parent i of n, by Tape::accumulate's rules
/// (parameters add; a node's first contribution assigns), through gemm(). The
/// product may have another shape than the parent if it has as many elements
/// (a transposed convolution's input gradient, channels x pixels of a batch
/// whose columns are images): it is written over the parent's gradient seen
/// in the product's shape.
template <class S, class L, class R>
void accumulate_product(Tape<S>& t, const Node<S>& n, int i, const L& lhs, const R& rhs) {
  const auto target = t.gradient_to_write(n, i);
  if (target.grad) gemm(Eigen::Map<Matrix<S>>(target.grad->data(), lhs.rows(), rhs.cols()), lhs, rhs, target.add);
}

/// True when the gradients of parents i and j of n land in different places
/// (two nodes, not two leaves of one parameter), so that they can be written
/// at the same time.
template <class S>
bool distinct_gradients(Tape<S>& t, const Node<S>& n, int i, int j) {
  const Node<S>& first = t.node(Var<S>(&t, n.parents[static_cast<std::size_t>(i)]));
  const Node<S>& second = t.node(Var<S>(&t, n.parents[static_cast<std::size_t>(j)]));
  return &first != &second && (first.parameter == nullptr || first.parameter != second.parameter);
}

/// The backward of a product node: to_first() and to_second() accumulate the
/// gradients of its two operands, products of equal size (multiply_adds each),
/// and beside_first() the gradient of a third parent (a bias), which must not
/// be either operand's. With two threads, the two products run at once, one
/// whole product per thread, rather than one after the other, each split in
/// two: half the forks and joins, and neither thread packs an operand the
/// other also packs. beside_first() then runs on to_first()'s thread, just
/// before it, while the other thread has started its product.
template <class S, class ToFirst, class ToSecond, class BesideFirst>
void accumulate_products(Tape<S>& t, const Node<S>& n, double multiply_adds, const ToFirst& to_first,
                         const ToSecond& to_second, const BesideFirst& beside_first) {
  const bool first = t.parent_requires_grad(n, 0), second = t.parent_requires_grad(n, 1);
  if (first && second && num_threads() == 2 && multiply_adds >= 2 * kGemmShare && distinct_gradients(t, n, 0, 1)) {
    run_shares(2, [&](int share) {
      if (share == 1) return to_second();
      beside_first();
      to_first();
    });
    return;
  }
  beside_first();
  if (first) to_first();
  if (second) to_second();
}

template <class S, class ToFirst, class ToSecond>
void accumulate_products(Tape<S>& t, const Node<S>& n, double multiply_adds, const ToFirst& to_first,
                         const ToSecond& to_second) {
  accumulate_products(t, n, multiply_adds, to_first, to_second, [] {});
}

}  // namespace detail

/// C = A B. A: m x k, B: k x n -> m x n.
template <class S>
Var<S> matmul(Var<S> a, Var<S> b) {
  detail::require_same_tape("matmul", a, b);
  if (a.cols() != b.rows())
    throw shape_error("matmul: inner dimensions differ: A is " + shape_string(a.value()) + ", B is " +
                      shape_string(b.value()));
  Tape<S>& tape = a.tape();
  Var<S> out = tape.record(a.rows(), b.cols(), {a, b}, [](Tape<S>& t, Node<S>& n) {
    const Matrix<S>& A = t.parent_value(n, 0);
    const Matrix<S>& B = t.parent_value(n, 1);
    detail::accumulate_products(
        t, n, double(A.rows()) * double(A.cols()) * double(B.cols()),
        [&] { detail::accumulate_product(t, n, 0, n.grad, B.transpose()); },
        [&] { detail::accumulate_product(t, n, 1, A.transpose(), n.grad); });
  });
  detail::gemm(tape.value_of(out), a.value(), b.value(), false);
  return out;
}

namespace detail {

template <class S>
void check_affine_shapes(const char* op, const Var<S>& w, const Var<S>& x, const Var<S>& b) {
  require_same_tape(op, w, x);
  require_same_tape(op, w, b);
  if (w.cols() != x.rows())
    throw shape_error(std::string(op) + ": W is " + shape_string(w.value()) + " but x is " + shape_string(x.value()) +
                      " (W's columns must equal x's rows)");
  if (b.rows() != w.rows() || b.cols() != 1)
    throw shape_error(std::string(op) + ": W is " + shape_string(w.value()) + " but b is " + shape_string(b.value()) +
                      " (b must be " + shape_string(w.rows(), 1) + ")");
}

// dZ for a fused layer: the incoming gradient times the activation's
// derivative, computed from the saved output. The identity needs no pass.
template <class S, class Act>
const Matrix<S>& pre_activation_grad(const Act& act, const Node<S>& n, Matrix<S>& scratch) {
  if constexpr (Act::is_identity) {
    (void)act;
    (void)scratch;
    return n.grad;
  } else {
    scratch.array() = n.grad.array() * act.derivative_from_output(n.value.array());
    return scratch;
  }
}

}  // namespace detail

/// Y = act(W X + b 1^T), one node: W: out x in, X: in x batch, b: out x 1 -> out x batch.
/// The backward derives act' from Y, so Z = W X + b is never stored.
template <class Act, class S>
Var<S> dense(const Act& act, Var<S> w, Var<S> x, Var<S> b) {
  detail::check_affine_shapes(Act::is_identity ? "affine" : "dense", w, x, b);
  Tape<S>& tape = w.tape();
  Var<S> out = tape.record(w.rows(), x.cols(), {w, x, b}, [](Tape<S>& t, Node<S>& n) {
    const Matrix<S>& dz = detail::pre_activation_grad(n.template load<Act>(), n, n.cache);
    const Matrix<S>& W = t.parent_value(n, 0);
    const Matrix<S>& X = t.parent_value(n, 1);
    // The bias's gradient on the thread that wrote dZ, before W's, while dZ
    // is in its cache. Split by rows as the forward is, the backward's
    // element-wise work gave a VAE step four more forks and joins, 8-12% on a
    // busy machine (README: Speed).
    const auto to_bias = [&] {
      if (t.parent_requires_grad(n, 2)) t.accumulate(n, 2, dz.rowwise().sum());
    };
    const double multiply_adds = double(W.rows()) * double(W.cols()) * double(X.cols());
    const auto to_w = [&] { detail::accumulate_product(t, n, 0, dz, X.transpose()); };
    const auto to_x = [&] { detail::accumulate_product(t, n, 1, W.transpose(), dz); };
    // Beside W's gradient only where it cannot land in X's (else first, alone).
    const bool beside = detail::distinct_gradients(t, n, 1, 2);
    if (!beside) to_bias();
    detail::accumulate_products(t, n, multiply_adds, to_w, to_x, [&] {
      if (beside) to_bias();
    });
  });
  Node<S>& node = tape.node(out);
  node.store(act);
  // The bias and the activation in one pass over each share's block of the
  // product, while it is in that thread's cache.
  const Matrix<S>& bias = b.value();
  detail::gemm(node.value, w.value(), x.value(), false, [&](Index row, Index, auto&& block) {
    const auto bias_rows = bias.col(0).segment(row, block.rows());
    if constexpr (Act::is_identity)
      block.colwise() += bias_rows;
    else
      block.array() = act.apply((block.colwise() + bias_rows).array());
  });
  return out;
}

/// Y = W X + b 1^T (the bias broadcast over the batch's columns).
template <class S>
Var<S> affine(Var<S> w, Var<S> x, Var<S> b) {
  return dense(Identity{}, w, x, b);
}

}  // namespace latent
