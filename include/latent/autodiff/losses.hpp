// latent/autodiff/losses.hpp: the probabilistic ops of VAEs and GANs. Losses
// are sums over features (rows) averaged over the batch (columns): nats per
// example. Each formula lives once in `formula::` as an element-wise Eigen
// expression; the ops here and the metrics (per-example scores) both use it.
#pragma once

#include <cmath>
#include <type_traits>

#include "latent/autodiff/tape.hpp"

namespace latent {
namespace detail {

/// log(1 + x) for x in [0, 1], the range of e^{-|l|} in the Bernoulli loss.
/// In float it is 2 atanh(s) with s = x / (2 + x) <= 1/3, whose odd series
/// in s reaches float rounding (2.2e-7 relative; Eigen's log1p 1.4e-7) in 7
/// terms with no range reduction: a fifth of the time of Eigen's general
/// log1p, which was most of the loss's cost in an MLP VAE step. Other
/// scalars (the gradchecks' doubles) keep std::log1p.
template <class S>
struct Log1pOfUnit {
  S operator()(const S& x) const {
    if constexpr (std::is_same_v<S, float>) {
      return packetOp(x);
    } else {
      return std::log1p(x);
    }
  }
  template <class Packet>
  Packet packetOp(const Packet& x) const {
    using namespace Eigen::internal;
    const Packet s = pdiv(x, padd(x, pset1<Packet>(S(2)))), s2 = pmul(s, s);
    Packet series = pset1<Packet>(S(1) / S(13));
    for (const int odd : {11, 9, 7, 5, 3, 1}) series = pmadd(series, s2, pset1<Packet>(S(1) / S(odd)));
    return pmul(padd(s, s), series);
  }
};

}  // namespace detail
}  // namespace latent

namespace Eigen::internal {
template <class S>
struct functor_traits<latent::detail::Log1pOfUnit<S>> {
  enum { Cost = 10 * NumTraits<S>::MulCost, PacketAccess = std::is_same_v<S, float> };
};
}  // namespace Eigen::internal

namespace latent {
namespace formula {

/// Binary cross-entropy of targets t under Bernoulli(sigmoid(l)), from logits,
/// in the stable form max(l, 0) - l t + log(1 + e^{-|l|}): finite for |l| =
/// 1e4. exp_minus_abs is e^{-|l|}, given where the sigmoid needs it too.
template <class L, class T, class E>
auto bce_with_logits(const L& logits, const T& targets, const E& exp_minus_abs) {
  using S = typename L::Scalar;
  return logits.max(S(0)) - logits * targets + exp_minus_abs.unaryExpr(detail::Log1pOfUnit<S>());
}

template <class L, class T>
auto bce_with_logits(const L& logits, const T& targets) {
  return bce_with_logits(logits, targets, (-logits.abs()).exp());
}

/// sigmoid(l) from e = e^{-|l|}: 1 / (1 + e) for l >= 0, e / (1 + e) below,
/// so neither overflows.
template <class L, class E>
auto sigmoid(const L& logits, const E& exp_minus_abs) {
  using S = typename L::Scalar;
  return (logits >= S(0)).select(S(1), exp_minus_abs) / (S(1) + exp_minus_abs);
}

/// KL(N(mu, e^logvar) || N(0, 1)) per latent dimension.
template <class M, class V>
auto kl_standard_normal(const M& mu, const V& logvar) {
  using S = typename M::Scalar;
  return S(-0.5) * (S(1) + logvar - mu.square() - logvar.exp());
}

/// sigma = e^{logvar / 2}, per element: the standard deviation of N(mu, e^logvar).
template <class V>
auto standard_deviation(const V& logvar) {
  using S = typename V::Scalar;
  return (S(0.5) * logvar).exp();
}

/// -log N(x; mean, e^logvar) per element.
template <class X, class M, class V>
auto gaussian_nll(const X& x, const M& mean, const V& logvar) {
  using S = typename X::Scalar;
  const S log_two_pi = S(1.8378770664093454835606594728112);
  return S(0.5) * (log_two_pi + logvar + (x - mean).square() * (-logvar).exp());
}

/// log sum_i e^{x_i} over a vector (one column of logits), stable: the
/// largest element is taken out before the exponentials, so none overflows.
/// The library's one softmax: softmax(x) = e^{x - log_sum_exp(x)}, and log
/// softmax(x) = x - log_sum_exp(x).
template <class Derived>
typename Derived::Scalar log_sum_exp(const Eigen::MatrixBase<Derived>& x) {
  using S = typename Derived::Scalar;
  const S largest = x.maxCoeff();
  return largest + std::log((x.array() - largest).exp().sum());
}

/// log softmax of each column (classes x batch).
template <class Derived>
Matrix<typename Derived::Scalar> log_softmax(const Eigen::MatrixBase<Derived>& logits) {
  Matrix<typename Derived::Scalar> result = logits;
  for (Index j = 0; j < result.cols(); ++j) result.col(j).array() -= log_sum_exp(result.col(j));
  return result;
}

}  // namespace formula

namespace detail {

template <class S>
S inverse_batch(const Var<S>& x) {
  if (x.cols() == 0) throw shape_error("loss on an empty batch " + shape_string(x.value()));
  return S(1) / S(x.cols());
}

}  // namespace detail

/// Bernoulli negative log-likelihood from logits: sum over rows, mean over
/// columns -> 1x1. logits and targets have equal shapes; targets in [0, 1].
/// The sigmoid is fused in (and saved for the backward: dl = sigmoid(l) - t).
template <class S>
Var<S> bce_with_logits(Var<S> logits, Var<S> targets) {
  detail::require_same_tape("bce_with_logits", logits, targets);
  detail::require_same_shape("bce_with_logits", logits, targets);
  Tape<S>& tape = logits.tape();
  Var<S> out = tape.record(1, 1, {logits, targets}, [](Tape<S>& t, Node<S>& n) {
    const S g = n.grad(0, 0) * detail::inverse_batch(Var<S>(&t, n.parents[0]));
    if (t.parent_requires_grad(n, 0))
      t.accumulate(n, 0, (g * (n.cache.array() - t.parent_value(n, 1).array())).matrix());
    if (t.parent_requires_grad(n, 1)) t.accumulate(n, 1, (-g) * t.parent_value(n, 0));
  });
  Node<S>& node = tape.node(out);
  const Matrix<S>& l = logits.value();
  const Matrix<S>& t = targets.value();
  node.cache.resize(l.rows(), l.cols());
  // Exponentials and logarithms for every pixel: worth splitting over threads,
  // by rows as the product that wrote the logits split them (so each thread
  // reads what it wrote). A column's rows at a time, so that e^{-|l|}, one
  // exponential for the loss and the sigmoid both, is read back from L1.
  const S sum = detail::sum_over_row_parts<S>(l.rows(), l.cols(), [&](Index begin, Index count) {
    S rows_sum = 0;
    for (Index j = 0; j < l.cols(); ++j) {
      const auto logit = l.col(j).segment(begin, count).array();
      auto cache = node.cache.col(j).segment(begin, count).array();
      cache = (-logit.abs()).exp();
      rows_sum += formula::bce_with_logits(logit, t.col(j).segment(begin, count).array(), cache).sum();
      cache = formula::sigmoid(logit, cache);
    }
    return rows_sum;
  });
  node.value(0, 0) = sum * detail::inverse_batch(logits);
  return out;
}

/// Softmax cross-entropy -sum_c t_c log softmax(l)_c: sum over the class rows,
/// mean over columns -> 1x1. logits and targets are classes x batch; targets
/// are one-hot (or any weights per column). Log-sum-exp is taken after
/// subtracting each column's largest logit, so no logit overflows. The
/// softmax and the targets' column sums are saved for the backward:
/// dl = softmax(l) sum_c t_c - t.
template <class S>
Var<S> softmax_cross_entropy(Var<S> logits, Var<S> targets) {
  detail::require_same_tape("softmax_cross_entropy", logits, targets);
  detail::require_same_shape("softmax_cross_entropy", logits, targets);
  Tape<S>& tape = logits.tape();
  Var<S> out = tape.record(1, 1, {logits, targets}, [](Tape<S>& t, Node<S>& n) {
    const S g = n.grad(0, 0) * detail::inverse_batch(Var<S>(&t, n.parents[0]));
    const Index classes = n.cache.rows() - 1;
    const Matrix<S>& target = t.parent_value(n, 1);
    if (t.parent_requires_grad(n, 0)) {
      const auto softmax = n.cache.topRows(classes).array();
      const auto target_sums = n.cache.row(classes).array();
      t.accumulate(n, 0, (g * (softmax.rowwise() * target_sums - target.array())).matrix());
    }
    if (t.parent_requires_grad(n, 1)) t.accumulate(n, 1, (-g) * formula::log_softmax(t.parent_value(n, 0)));
  });
  Node<S>& node = tape.node(out);
  const Matrix<S>& l = logits.value();
  const Matrix<S>& target = targets.value();
  // cache = [softmax(l); column sums of t], reused step after step.
  node.cache.resize(l.rows() + 1, l.cols());
  S total = 0;
  for (Index j = 0; j < l.cols(); ++j) {
    const auto log_softmax = l.col(j).array() - formula::log_sum_exp(l.col(j));
    node.cache.col(j).head(l.rows()) = log_softmax.exp().matrix();
    node.cache(l.rows(), j) = target.col(j).sum();
    total -= (target.col(j).array() * log_softmax).sum();
  }
  node.value(0, 0) = total * detail::inverse_batch(logits);
  return out;
}

/// KL(q || N(0, I)) for q = N(mu, diag(e^logvar)): sum over latent rows, mean
/// over columns -> 1x1. mu and logvar have equal shapes (latent x batch).
template <class S>
Var<S> kl_standard_normal(Var<S> mu, Var<S> logvar) {
  detail::require_same_tape("kl_standard_normal", mu, logvar);
  detail::require_same_shape("kl_standard_normal", mu, logvar);
  Tape<S>& tape = mu.tape();
  Var<S> out = tape.record(1, 1, {mu, logvar}, [](Tape<S>& t, Node<S>& n) {
    const S g = n.grad(0, 0) * detail::inverse_batch(Var<S>(&t, n.parents[0]));
    if (t.parent_requires_grad(n, 0)) t.accumulate(n, 0, g * t.parent_value(n, 0));
    if (t.parent_requires_grad(n, 1))
      t.accumulate(n, 1, (S(0.5) * g * (t.parent_value(n, 1).array().exp() - S(1))).matrix());
  });
  tape.value_of(out)(0, 0) =
      formula::kl_standard_normal(mu.value().array(), logvar.value().array()).sum() * detail::inverse_batch(mu);
  return out;
}

/// z = mu + e^{logvar / 2} .* eps, all three of equal shape. eps is usually a
/// constant of standard normal noise; the gradient reaches mu and logvar.
template <class S>
Var<S> reparameterize(Var<S> mu, Var<S> logvar, Var<S> eps) {
  detail::require_same_tape("reparameterize", mu, logvar);
  detail::require_same_tape("reparameterize", mu, eps);
  detail::require_same_shape("reparameterize", mu, logvar);
  detail::require_same_shape("reparameterize", mu, eps);
  Tape<S>& tape = mu.tape();
  Var<S> out = tape.record(mu.rows(), mu.cols(), {mu, logvar, eps}, [](Tape<S>& t, Node<S>& n) {
    const auto sigma = n.cache.array();
    if (t.parent_requires_grad(n, 0)) t.accumulate(n, 0, n.grad);
    if (t.parent_requires_grad(n, 1))
      t.accumulate(n, 1, (S(0.5) * n.grad.array() * t.parent_value(n, 2).array() * sigma).matrix());
    if (t.parent_requires_grad(n, 2)) t.accumulate(n, 2, (n.grad.array() * sigma).matrix());
  });
  Node<S>& node = tape.node(out);
  node.cache = formula::standard_deviation(logvar.value().array()).matrix();
  node.value.array() = mu.value().array() + node.cache.array() * eps.value().array();
  return out;
}

/// Gaussian negative log-likelihood -log N(x; mean, e^logvar): sum over rows,
/// mean over columns -> 1x1. x and mean have equal shapes; logvar has their
/// shape or is one column (a per-feature variance shared by the batch).
template <class S>
Var<S> gaussian_nll(Var<S> x, Var<S> mean, Var<S> logvar) {
  detail::require_same_tape("gaussian_nll", x, mean);
  detail::require_same_tape("gaussian_nll", x, logvar);
  detail::require_same_shape("gaussian_nll", x, mean);
  const bool per_feature = logvar.cols() == 1 && x.cols() != 1;
  if (!per_feature) {
    detail::require_same_shape("gaussian_nll", x, logvar);
  } else if (logvar.rows() != x.rows()) {
    throw shape_error("gaussian_nll: x is " + shape_string(x.value()) + " but logvar is " +
                      shape_string(logvar.value()) + " (want " + shape_string(x.rows(), x.cols()) + " or " +
                      shape_string(x.rows(), 1) + ")");
  }
  Tape<S>& tape = x.tape();
  Var<S> out = tape.record(1, 1, {x, mean, logvar}, [](Tape<S>& t, Node<S>& n) {
    // cache = (x - mean) / variance, saved by the forward.
    const S g = n.grad(0, 0) * detail::inverse_batch(Var<S>(&t, n.parents[0]));
    const auto scaled = n.cache.array();
    if (t.parent_requires_grad(n, 0)) t.accumulate(n, 0, (g * scaled).matrix());
    if (t.parent_requires_grad(n, 1)) t.accumulate(n, 1, (-g * scaled).matrix());
    if (t.parent_requires_grad(n, 2)) {
      const auto diff = t.parent_value(n, 0).array() - t.parent_value(n, 1).array();
      const auto per_element = S(0.5) * g * (S(1) - diff * scaled);
      if (t.parent_value(n, 2).cols() == n.cache.cols())
        t.accumulate(n, 2, per_element.matrix());
      else
        t.accumulate(n, 2, per_element.matrix().rowwise().sum());
    }
  });
  Node<S>& node = tape.node(out);
  const auto xa = x.value().array();
  const auto ma = mean.value().array();
  const auto nll_sum = [&](const auto& lv) {
    node.cache = ((xa - ma) * (-lv).exp()).matrix();
    return formula::gaussian_nll(xa, ma, lv).sum();
  };
  const S total = per_feature ? nll_sum(logvar.value().col(0).array().replicate(1, x.cols()))
                              : nll_sum(logvar.value().array());
  node.value(0, 0) = total * detail::inverse_batch(x);
  return out;
}

}  // namespace latent
