// latent/metrics/iwae.hpp: the importance-weighted estimate of log p(x) (the
// IWAE bound) with K samples, and the reconstruction error. The bound is
// log (1/K) sum_k p(x, z_k) / q(z_k | x), z_k ~ q(z | x); it is >= the ELBO
// and grows towards log p(x) with K. Computed with log-sum-exp, batched.
#pragma once

#include <cmath>
#include <string>
#include <type_traits>

#include "latent/autodiff/losses.hpp"
#include "latent/concepts.hpp"
#include "latent/data/dataset.hpp"
#include "latent/nn/module.hpp"
#include "latent/random.hpp"

namespace latent {

/// Per-example IWAE bounds (a 1 x batch row) for the batch x, K samples each.
template <class Model>
Matrix<typename Model::Scalar> importance_weighted_log_likelihood(Model& model, const Matrix<typename Model::Scalar>& x, int samples,
                                                             Rng& rng) {
  using S = typename Model::Scalar;
  static_assert(contract::LikelihoodForMetrics<std::decay_t<decltype(model.likelihood())>, S>::ok &&
                contract::PriorForMetrics<std::decay_t<decltype(model.prior())>, S>::ok);
  if (samples < 1) throw error("importance_weighted_log_likelihood: needs at least one sample, got " + std::to_string(samples));
  const auto q = model.posterior(x);
  const Matrix<S> sigma = formula::standard_deviation(q.logvar.array()).matrix();
  Matrix<S> eps(q.mu.rows(), q.mu.cols());
  // log_w(k, j): log p(x_j, z_k) - log q(z_k | x_j), accumulated in double.
  Eigen::MatrixXd log_w(samples, x.cols());
  for (int k = 0; k < samples; ++k) {
    rng.fill_normal(eps);
    const Matrix<S> z = q.mu + (sigma.array() * eps.array()).matrix();
    const Matrix<S> log_q = -formula::gaussian_nll(z.array(), q.mu.array(), q.logvar.array()).matrix().colwise().sum();
    const Matrix<S> log_joint = model.likelihood().log_likelihood(model.decoder_output(z), x) + model.prior().log_density(z);
    log_w.row(k) = (log_joint - log_q).template cast<double>();
  }
  Matrix<S> result(1, x.cols());
  for (Index j = 0; j < x.cols(); ++j)
    result(0, j) = static_cast<S>(formula::log_sum_exp(log_w.col(j)) - std::log(static_cast<double>(samples)));
  return result;
}

/// The IWAE bound averaged over a data set (pixels scaled to [0, 1]), in nats per example.
template <class Model>
double importance_weighted_log_likelihood(Model& model, const data::Dataset& data, int samples, Rng& rng,
                                          Index batch_size = kEvaluationBlock) {
  using S = typename Model::Scalar;
  double total = 0;
  data::BatchSampler sampler(data.size(), batch_size);
  for (const data::Batch& batch : sampler.epoch(0))
    total += importance_weighted_log_likelihood(model, data.batch<S>(batch), samples, rng).template cast<double>().sum();
  return total / static_cast<double>(data.size());
}

/// Mean squared difference per example between x and its reconstruction,
/// summed over features (the same scale as the nats of the ELBO's parts).
template <class Model>
double reconstruction_error(Model& model, const Matrix<typename Model::Scalar>& x) {
  return static_cast<double>((model.reconstruct(x) - x).squaredNorm()) / static_cast<double>(x.cols());
}

}  // namespace latent
