// latent/autodiff/linear.hpp: the ops that do matrix products: matmul, affine
// and dense (affine fused with an activation). The products go through Eigen's
// GEMM kernels, forward and backward, and write straight into the node's
// buffers (noalias), so no temporary matrix is made.
//
// With several threads (latent::set_num_threads, OpenMP builds), a product is
// split into one block of its result per thread, each computed by Eigen's
// single-threaded GEMM: one fork and one join per product. Eigen's own
// parallel GEMM synchronizes its threads by spinning many times within each
// product; on a machine where another process takes a core, every such wait
// can last a scheduler time slice, and a step was measured 15x slower on two
// threads than on one. Split products degrade to about one thread's speed.
#pragma once

#include <algorithm>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "latent/autodiff/tape.hpp"
#include "latent/nn/activation.hpp"
#include "latent/threads.hpp"

namespace latent {
namespace detail {

/// Threads to split a rows x cols result with this inner dimension over: one
/// per 2^21 multiply-adds (a share worth waking a thread for), at most
/// latent::num_threads(), and one inside a parallel region or without OpenMP.
inline int product_threads(Index rows, Index cols, Index depth) {
#ifdef _OPENMP
  const int available = num_threads();
  if (available <= 1 || omp_in_parallel()) return 1;
  const double shares = static_cast<double>(rows) * static_cast<double>(cols) * static_cast<double>(depth) / double(1 << 21);
  return static_cast<int>(std::clamp(shares, 1.0, static_cast<double>(available)));
#else
  (void)rows, (void)cols, (void)depth;
  return 1;
#endif
}

/// dst = lhs rhs, or dst += lhs rhs when `add`; dst is already lhs.rows() x
/// rhs.cols(). Split over product_threads() along dst's longer side (rows in
/// multiples of 16, a cache line of floats), each block one Eigen GEMM.
template <class S, class L, class R>
void product(Matrix<S>& dst, const L& lhs, const R& rhs, bool add) {
  const auto one = [add](auto&& d, const auto& l, const auto& r) {
    if (add)
      d.noalias() += l * r;
    else
      d.noalias() = l * r;
  };
  const int threads = product_threads(dst.rows(), dst.cols(), lhs.cols());
  if (threads == 1) return one(dst, lhs, rhs);
#ifdef _OPENMP
  const bool by_rows = dst.rows() >= dst.cols();
  const Index length = by_rows ? dst.rows() : dst.cols();
  const Index granule = by_rows ? 16 : 1;
#pragma omp parallel num_threads(threads)
  {
    const Index parts = omp_get_num_threads(), part = omp_get_thread_num();
    const Index begin = std::min(length, (length * part / parts + granule - 1) / granule * granule);
    const Index end = part + 1 == parts ? length : std::min(length, (length * (part + 1) / parts + granule - 1) / granule * granule);
    if (end > begin) {
      if (by_rows)
        one(dst.middleRows(begin, end - begin), lhs.middleRows(begin, end - begin), rhs);
      else
        one(dst.middleCols(begin, end - begin), lhs, rhs.middleCols(begin, end - begin));
    }
  }
#endif
}

/// Adds lhs rhs to the gradient of parent i of n, by Tape::accumulate's rules
/// (parameters add; a node's first contribution assigns), as a split product.
template <class S, class L, class R>
void accumulate_product(Tape<S>& t, const Node<S>& n, int i, const L& lhs, const R& rhs) {
  if (product_threads(lhs.rows(), rhs.cols(), lhs.cols()) == 1) return t.accumulate(n, i, lhs * rhs);
  Node<S>& target = t.node(Var<S>(&t, n.parents[static_cast<std::size_t>(i)]));
  if (!target.requires_grad) return;
  if (target.parameter) return product(target.parameter->grad, lhs, rhs, true);
  if (target.has_grad) return product(target.grad, lhs, rhs, true);
  target.grad.resize(lhs.rows(), rhs.cols());
  product(target.grad, lhs, rhs, false);
  target.has_grad = true;
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
    if (t.parent_requires_grad(n, 0)) detail::accumulate_product(t, n, 0, n.grad, B.transpose());
    if (t.parent_requires_grad(n, 1)) detail::accumulate_product(t, n, 1, A.transpose(), n.grad);
  });
  detail::product(tape.value_of(out), a.value(), b.value(), false);
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
const Matrix<S>& pre_activation_grad(const Node<S>& n, Matrix<S>& scratch) {
  if constexpr (Act::is_identity) {
    (void)scratch;
    return n.grad;
  } else {
    const Act act = n.template load<Act>();
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
    const Matrix<S>& dz = detail::pre_activation_grad<S, Act>(n, n.cache);
    if (t.parent_requires_grad(n, 0)) detail::accumulate_product(t, n, 0, dz, t.parent_value(n, 1).transpose());
    if (t.parent_requires_grad(n, 1)) detail::accumulate_product(t, n, 1, t.parent_value(n, 0).transpose(), dz);
    if (t.parent_requires_grad(n, 2)) t.accumulate(n, 2, dz.rowwise().sum());
  });
  Node<S>& node = tape.node(out);
  node.store(act);
  detail::product(node.value, w.value(), x.value(), false);
  if constexpr (Act::is_identity) {
    node.value.colwise() += b.value().col(0);
  } else {
    node.value.array() = act.apply((node.value.colwise() + b.value().col(0)).array());
  }
  return out;
}

/// Y = W X + b 1^T (the bias broadcast over the batch's columns).
template <class S>
Var<S> affine(Var<S> w, Var<S> x, Var<S> b) {
  return dense(Identity{}, w, x, b);
}

}  // namespace latent
