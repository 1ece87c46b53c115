// latent/autodiff/elementwise.hpp: element-wise ops (add, sub, mul, scale,
// shift, exp, log, square, activations) and the arithmetic operators on Var.
// Each op is a small formula struct (value, and gradient from input, output
// and incoming gradient) run by one of two generic node recorders, so an op
// is written once and its forward and backward are single fused expressions.
#pragma once

#include "latent/autodiff/tape.hpp"
#include "latent/autodiff/activation.hpp"

namespace latent {
namespace detail {

/// Records y = op.value(x) element-wise; backward adds op.grad(x, y, dy) to dx.
template <class S, class Op>
Var<S> unary(Var<S> x, const Op& op) {
  Tape<S>& tape = x.tape();
  Var<S> out = tape.record(x.rows(), x.cols(), {x}, [](Tape<S>& t, Node<S>& n) {
    const Op f = n.template load<Op>();
    t.accumulate(n, 0, f.grad(t.parent_value(n, 0).array(), n.value.array(), n.grad.array()).matrix());
  });
  Node<S>& node = tape.node(out);
  node.store(op);
  node.value.array() = op.value(x.value().array());
  return out;
}

/// Records y = op.value(a, b) element-wise on equal shapes; backward adds
/// op.grad_a(a, b, dy) to da and op.grad_b(a, b, dy) to db.
template <class S, class Op>
Var<S> binary(const char* name, Var<S> a, Var<S> b, const Op& op) {
  require_same_tape(name, a, b);
  require_same_shape(name, a, b);
  Tape<S>& tape = a.tape();
  Var<S> out = tape.record(a.rows(), a.cols(), {a, b}, [](Tape<S>& t, Node<S>& n) {
    const Op f = n.template load<Op>();
    const auto A = t.parent_value(n, 0).array();
    const auto B = t.parent_value(n, 1).array();
    const auto dy = n.grad.array();
    if (t.parent_requires_grad(n, 0)) t.accumulate(n, 0, f.grad_a(A, B, dy).matrix());
    if (t.parent_requires_grad(n, 1)) t.accumulate(n, 1, f.grad_b(A, B, dy).matrix());
  });
  Node<S>& node = tape.node(out);
  node.store(op);
  node.value.array() = op.value(a.value().array(), b.value().array());
  return out;
}

struct AddOp {
  template <class A, class B>
  auto value(const A& a, const B& b) const { return a + b; }
  template <class A, class B, class D>
  auto grad_a(const A&, const B&, const D& dy) const { return dy; }
  template <class A, class B, class D>
  auto grad_b(const A&, const B&, const D& dy) const { return dy; }
};

struct SubOp {
  template <class A, class B>
  auto value(const A& a, const B& b) const { return a - b; }
  template <class A, class B, class D>
  auto grad_a(const A&, const B&, const D& dy) const { return dy; }
  template <class A, class B, class D>
  auto grad_b(const A&, const B&, const D& dy) const { return -dy; }
};

struct MulOp {
  template <class A, class B>
  auto value(const A& a, const B& b) const { return a * b; }
  template <class A, class B, class D>
  auto grad_a(const A&, const B& b, const D& dy) const { return dy * b; }
  template <class A, class B, class D>
  auto grad_b(const A& a, const B&, const D& dy) const { return dy * a; }
};

/// y = a x + c with scalars a and c.
struct ScaleShiftOp {
  double a, c;
  template <class X>
  auto value(const X& x) const {
    using S = typename X::Scalar;
    return S(a) * x + S(c);
  }
  template <class X, class Y, class D>
  auto grad(const X&, const Y&, const D& dy) const {
    using S = typename D::Scalar;
    return S(a) * dy;
  }
};

struct ExpOp {
  template <class X>
  auto value(const X& x) const { return x.exp(); }
  template <class X, class Y, class D>
  auto grad(const X&, const Y& y, const D& dy) const { return dy * y; }
};

struct LogOp {
  template <class X>
  auto value(const X& x) const { return x.log(); }
  template <class X, class Y, class D>
  auto grad(const X& x, const Y&, const D& dy) const { return dy / x; }
};

struct SquareOp {
  template <class X>
  auto value(const X& x) const { return x.square(); }
  template <class X, class Y, class D>
  auto grad(const X& x, const Y&, const D& dy) const {
    using S = typename D::Scalar;
    return S(2) * x * dy;
  }
};

template <class Act>
struct ActivationOp {
  Act act;
  template <class X>
  auto value(const X& x) const { return act.apply(x); }
  template <class X, class Y, class D>
  auto grad(const X&, const Y& y, const D& dy) const { return dy * act.derivative_from_output(y); }
};

}  // namespace detail

/// a + b, equal shapes.
template <class S> Var<S> add(Var<S> a, Var<S> b) { return detail::binary("add", a, b, detail::AddOp{}); }
/// a - b, equal shapes.
template <class S> Var<S> sub(Var<S> a, Var<S> b) { return detail::binary("sub", a, b, detail::SubOp{}); }
/// a .* b (element-wise), equal shapes.
template <class S> Var<S> mul(Var<S> a, Var<S> b) { return detail::binary("mul", a, b, detail::MulOp{}); }
/// factor * x.
template <class S> Var<S> scale(Var<S> x, double factor) { return detail::unary(x, detail::ScaleShiftOp{factor, 0.0}); }
/// x + offset (every element).
template <class S> Var<S> shift(Var<S> x, double offset) { return detail::unary(x, detail::ScaleShiftOp{1.0, offset}); }
/// e^x.
template <class S> Var<S> exp(Var<S> x) { return detail::unary(x, detail::ExpOp{}); }
/// ln x (x > 0).
template <class S> Var<S> log(Var<S> x) { return detail::unary(x, detail::LogOp{}); }
/// x^2.
template <class S> Var<S> square(Var<S> x) { return detail::unary(x, detail::SquareOp{}); }

/// act(x) for any activation policy (see autodiff/activation.hpp).
template <class Act, class S>
Var<S> activate(const Act& act, Var<S> x) {
  return detail::unary(x, detail::ActivationOp<Act>{act});
}
template <class S> Var<S> identity(Var<S> x) { return activate(Identity{}, x); }
template <class S> Var<S> relu(Var<S> x) { return activate(ReLU{}, x); }
template <class S> Var<S> leaky_relu(Var<S> x, double slope = 0.2) { return activate(LeakyReLU{slope}, x); }
template <class S> Var<S> sigmoid(Var<S> x) { return activate(Sigmoid{}, x); }
template <class S> Var<S> tanh(Var<S> x) { return activate(Tanh{}, x); }
template <class S> Var<S> softplus(Var<S> x) { return activate(Softplus{}, x); }

template <class S> Var<S> operator+(Var<S> a, Var<S> b) { return add(a, b); }
template <class S> Var<S> operator-(Var<S> a, Var<S> b) { return sub(a, b); }
template <class S> Var<S> operator-(Var<S> x) { return scale(x, -1.0); }
template <class S> Var<S> operator*(double factor, Var<S> x) { return scale(x, factor); }
template <class S> Var<S> operator*(Var<S> x, double factor) { return scale(x, factor); }
template <class S> Var<S> operator+(Var<S> x, double offset) { return shift(x, offset); }
template <class S> Var<S> operator+(double offset, Var<S> x) { return shift(x, offset); }
template <class S> Var<S> operator-(Var<S> x, double offset) { return shift(x, -offset); }
template <class S> Var<S> operator-(double offset, Var<S> x) { return detail::unary(x, detail::ScaleShiftOp{-1.0, offset}); }

}  // namespace latent
