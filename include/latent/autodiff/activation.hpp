// latent/autodiff/activation.hpp: activation policies, the formulas the
// core's element-wise and fused ops (activate, dense) are parameterized by.
// Each is a small struct that carries its formula: `apply(z)` on an Eigen
// array expression; `derivative_from_output(y)`, the derivative written in
// terms of the output, so a fused layer keeps only its output for the
// backward pass; and `derivative_slope_from_output(y)`, the derivative of
// that derivative with respect to the output, d act'(z) / dy =
// act''(z) / act'(z), which a recorded derivative (autodiff/jvp.hpp: second
// order) needs for its own backward. Policies are trivially copyable so a
// tape node can hold one (LeakyReLU carries its slope).
#pragma once

#include <Eigen/Dense>

namespace latent {
namespace detail {

/// Zeros shaped like y: the derivative slope of a piecewise-linear activation.
template <class A>
auto zeros_like(const A& y) {
  return A::Constant(y.rows(), y.cols(), typename A::Scalar(0));
}

/// 1 where y > 0, else `otherwise` (NaN included): the derivative of the
/// ReLU family from its output. A functor with a packet form because Eigen
/// 3.4 does not vectorize a comparison cast to a float, (y > 0).cast<S>():
/// that took one scalar compare and convert per value, and the backward of a
/// ReLU layer or BatchNorm ran at scalar speed.
template <class S>
struct PositiveStep {
  S otherwise;
  S operator()(const S& y) const { return y > S(0) ? S(1) : otherwise; }
  template <class Packet>
  Packet packetOp(const Packet& y) const {
    using namespace Eigen::internal;
    return pselect(pcmp_lt(pzero(y), y), pset1<Packet>(S(1)), pset1<Packet>(otherwise));
  }
};

template <class A>
auto positive_step(const A& y, typename A::Scalar otherwise) {
  return y.unaryExpr(PositiveStep<typename A::Scalar>{otherwise});
}

}  // namespace detail
}  // namespace latent

template <class S>
struct Eigen::internal::functor_traits<latent::detail::PositiveStep<S>> {
  enum { Cost = 2 * NumTraits<S>::AddCost, PacketAccess = packet_traits<S>::HasCmp };
};

namespace latent {

struct Identity {
  static constexpr bool is_identity = true;
  static constexpr const char* name = "identity";
  template <class A>
  auto apply(const A& z) const {
    return z;
  }
  template <class A>
  auto derivative_from_output(const A& y) const {
    using S = typename A::Scalar;
    return A::Constant(y.rows(), y.cols(), S(1));
  }
  template <class A>
  auto derivative_slope_from_output(const A& y) const {
    return detail::zeros_like(y);
  }
};

struct ReLU {
  static constexpr bool is_identity = false;
  static constexpr const char* name = "relu";
  template <class A>
  auto apply(const A& z) const {
    using S = typename A::Scalar;
    return z.max(S(0));
  }
  template <class A>
  auto derivative_from_output(const A& y) const {
    return detail::positive_step(y, typename A::Scalar(0));
  }
  template <class A>
  auto derivative_slope_from_output(const A& y) const {
    return detail::zeros_like(y);
  }
};

/// max(z, slope * z) for 0 < slope < 1: z where positive, slope * z elsewhere.
struct LeakyReLU {
  static constexpr bool is_identity = false;
  static constexpr const char* name = "leaky_relu";
  double slope = 0.2;

  template <class A>
  auto apply(const A& z) const {
    using S = typename A::Scalar;
    return z.max(S(slope) * z);
  }
  template <class A>
  auto derivative_from_output(const A& y) const {
    using S = typename A::Scalar;
    return detail::positive_step(y, S(slope));
  }
  template <class A>
  auto derivative_slope_from_output(const A& y) const {
    return detail::zeros_like(y);
  }
};

struct Sigmoid {
  static constexpr bool is_identity = false;
  static constexpr const char* name = "sigmoid";
  template <class A>
  auto apply(const A& z) const {
    return z.logistic();
  }
  template <class A>
  auto derivative_from_output(const A& y) const {
    using S = typename A::Scalar;
    return y * (S(1) - y);
  }
  // d/dy y (1 - y)
  template <class A>
  auto derivative_slope_from_output(const A& y) const {
    using S = typename A::Scalar;
    return S(1) - S(2) * y;
  }
};

struct Tanh {
  static constexpr bool is_identity = false;
  static constexpr const char* name = "tanh";
  template <class A>
  auto apply(const A& z) const {
    return z.tanh();
  }
  template <class A>
  auto derivative_from_output(const A& y) const {
    using S = typename A::Scalar;
    return S(1) - y.square();
  }
  // d/dy (1 - y^2)
  template <class A>
  auto derivative_slope_from_output(const A& y) const {
    using S = typename A::Scalar;
    return S(-2) * y;
  }
};

/// log(1 + e^z) in the form that neither overflows nor loses small values.
struct Softplus {
  static constexpr bool is_identity = false;
  static constexpr const char* name = "softplus";
  template <class A>
  auto apply(const A& z) const {
    using S = typename A::Scalar;
    return z.max(S(0)) + (-z.abs()).exp().log1p();
  }
  // sigmoid(z) = 1 - e^{-softplus(z)}, written with expm1 to keep precision near 0.
  template <class A>
  auto derivative_from_output(const A& y) const {
    return -((-y).expm1());
  }
  // d/dy (1 - e^{-y}) = 1 - sigmoid(z)
  template <class A>
  auto derivative_slope_from_output(const A& y) const {
    return (-y).exp();
  }
};

}  // namespace latent
