// latent/models/likelihood.hpp: likelihood policies p(x | z) of a VAE. Each
// reads the decoder's output and carries its formula: the negative
// log-likelihood on the tape (nats per example), the per-example
// log-likelihood for metrics, and the distribution's mean for pictures.
#pragma once

#include <cmath>

#include "latent/autodiff/losses.hpp"
#include "latent/error.hpp"

namespace latent {

/// Bernoulli(sigmoid(logits)) per feature, for intensities in [0, 1] (the
/// convention of PyTorch's VAE example: grey levels used as soft targets).
struct Bernoulli {
  template <class S>
  Var<S> negative_log_likelihood(Var<S> logits, Var<S> x) {
    return bce_with_logits(logits, x);
  }

  /// log p(x | z) per example (a row: one entry per column).
  template <class S>
  Matrix<S> log_likelihood(const Matrix<S>& logits, const Matrix<S>& x) const {
    return -formula::bce_with_logits(logits.array(), x.array()).matrix().colwise().sum();
  }

  template <class S>
  Matrix<S> mean(const Matrix<S>& logits) const {
    return logits.array().logistic().matrix();
  }

  void bind(Index) {}
  template <class S>
  NamedParameterList<S> named_parameters() {
    return {};
  }
};

/// N(decoder output, sigma^2) per feature, with sigma^2 fixed or learned (one
/// variance per feature, shared by the batch).
template <class S>
class Gaussian {
 public:
  explicit Gaussian(double variance = 1.0, bool learned = false) : variance_(variance), learned_(learned) {
    if (!(variance > 0)) throw error("Gaussian likelihood: the variance must be positive");
  }

  /// Sizes the per-feature log-variance for a decoder with `features` outputs.
  void bind(Index features) {
    if (logvar_.value.rows() != features)
      logvar_ = Parameter<S>(Matrix<S>::Constant(features, 1, static_cast<S>(std::log(variance_))));
  }

  Var<S> negative_log_likelihood(Var<S> mean, Var<S> x) {
    Tape<S>& tape = mean.tape();
    return gaussian_nll(x, mean, learned_ ? tape.leaf(logvar_) : tape.constant(logvar_.value));
  }

  Matrix<S> log_likelihood(const Matrix<S>& mean, const Matrix<S>& x) const {
    const auto logvar = logvar_.value.col(0).array().replicate(1, x.cols());
    return -formula::gaussian_nll(x.array(), mean.array(), logvar).matrix().colwise().sum();
  }

  Matrix<S> mean(const Matrix<S>& output) const { return output; }

  template <class T = S>
  NamedParameterList<T> named_parameters() {
    if (!learned_) return {};
    return {{"logvar", &logvar_}};
  }

 private:
  double variance_;
  bool learned_;
  Parameter<S> logvar_;
};

}  // namespace latent
