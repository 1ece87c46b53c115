// latent/autodiff/batch_norm.hpp: batch normalization (Ioffe and Szegedy
// 2015) as one op, fused with an activation:
//   y = act(gamma * (x - mean) / sqrt(variance + epsilon) + beta), per channel.
// x is a batch laid out as in latent/image_shape.hpp: seen as a channels x
// (pixels * batch) matrix, each channel is a row, so its statistics are
// row-wise reductions; a dense layer's features x batch output is the case of
// one pixel per image (each feature a channel).
//
// With batch statistics (training) the mean and variance are the batch's own
// (the biased variance, as PyTorch normalizes with), and the gradient couples
// every value of a channel:
//   dx = gamma / sigma * (dz - mean(dz) - x_hat * mean(dz * x_hat)),
// with x_hat = (x - mean) / sigma and dz the gradient before the activation.
// With given statistics (evaluation: the running ones) the op is a
// per-channel affine map and dx = gamma / sigma * dz.
//
// The node keeps its per-channel numbers in one channels x 6 cache, read by
// batch_norm_statistics(): mean, inverse deviation 1 / sigma, variance, the
// affine form's scale gamma / sigma and shift beta - mean * scale, and the
// number of values the statistics are over.
//
// Over several ranks (data-parallel training, a group communicator given),
// each rank holds a slice of the batch and the statistics are the whole
// batch's: the forward sums each channel's values, then its squared
// deviations, over the ranks (the same two passes as one process), and the
// backward sums the two gradient sums that the formula above averages. The
// gradient a rank sweeps back is its slice's part of the whole batch's loss
// (distributed/gradient_sync.hpp scales the slice's mean loss by its share
// of the batch), so the means are the ranks' sums over the whole count, and
// each rank's dx is its columns of the whole batch's.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "latent/autodiff/linear.hpp"
#include "latent/distributed/communicator.hpp"
#include "latent/image_shape.hpp"

namespace latent {
namespace detail {

template <class Act>
struct BatchNormState {
  Act act;
  double epsilon;
  std::int32_t channels;
  bool batch_statistics;
  Communicator* group;  ///< the ranks whose slices make the batch (nullptr: this process's batch alone)
};

enum BatchNormColumn : Index { kMean = 0, kInverseDeviation = 1, kVariance = 2, kScale = 3, kShift = 4, kCount = 5, kColumns = 6 };

/// Per channel (row of a channels x columns array expression), the sum of
/// its values, into `sums`. The loop runs over the columns: each is one
/// pixel's channels, contiguous, so the sums run down them in vector
/// registers. (Eigen's rowwise().sum() of an expression walks each row across
/// the columns, a strided scalar load a value: a 64-channel BatchNorm's
/// forward and backward took 14 ns a value.)
template <class Values, class Sums>
void channel_sums(const Values& values, Sums&& sums) {
  sums.setZero();
  for (Index j = 0; j < values.cols(); ++j) sums.array() += values.col(j);
}

template <class S, class Act>
void batch_norm_backward(Tape<S>& t, Node<S>& n) {
  const auto state = n.template load<BatchNormState<Act>>();
  const Index channels = state.channels;
  const auto x = as_pixels(t.parent_value(n, 0), channels);
  const auto dz = as_pixels(pre_activation_grad(state.act, n, n.workspace[0]), channels);
  const auto saved = n.cache.array();
  const auto mean = saved.col(kMean), inverse_deviation = saved.col(kInverseDeviation), scale = saved.col(kScale);
  const auto x_hat = (x.array().colwise() - mean).colwise() * inverse_deviation;
  // Per channel: sum of dz (beta's gradient) and of dz * x_hat (gamma's).
  // Columns 2 and 3: their means over the batch, kept here because a
  // broadcast (colwise) operand that is an expression would be evaluated
  // into a fresh temporary on every backward.
  Matrix<S>& sums = n.workspace[1];
  sums.resize(channels, 4);
  {
    auto dz_sum = sums.col(0).array(), dz_x_hat_sum = sums.col(1).array();
    dz_sum.setZero();
    dz_x_hat_sum.setZero();
    for (Index j = 0; j < dz.cols(); ++j) {  // both sums in one pass, column by column (see channel_sums)
      dz_sum += dz.col(j).array();
      dz_x_hat_sum += dz.col(j).array() * x_hat.col(j);
    }
  }
  if (t.parent_requires_grad(n, 0)) {
    if (state.batch_statistics) {
      const S inverse_count = S(1) / n.cache(0, kCount);  // all ranks' values per channel
      sums.middleCols(2, 2) = sums.leftCols(2);
      if (state.group) state.group->sum(sums.col(2).data(), 2 * channels);
      sums.middleCols(2, 2) *= inverse_count;
      const auto mean_dz = sums.col(2).array();
      const auto mean_dz_x_hat = sums.col(3).array();
      t.accumulate_reshaped(
          n, 0, (((dz.array().colwise() - mean_dz) - x_hat.colwise() * mean_dz_x_hat).colwise() * scale).matrix());
    } else {
      t.accumulate_reshaped(n, 0, (dz.array().colwise() * scale).matrix());
    }
  }
  if (t.parent_requires_grad(n, 1)) t.accumulate(n, 1, sums.col(1));
  if (t.parent_requires_grad(n, 2)) t.accumulate(n, 2, sums.col(0));
}

/// Per channel (row of `values`), the sum over the ranks of `group` of each
/// rank's row sums, divided by `count`, into `result`; `scratch` holds the
/// channels' sums.
template <class S, class Values>
void group_row_means(const Values& values, Communicator& group, double count, Matrix<S>& scratch,
                     Eigen::Block<Matrix<S>, Eigen::Dynamic, 1, true> result) {
  channel_sums(values, scratch.col(0));
  group.sum(scratch.col(0).data(), scratch.rows());
  result = scratch.col(0) / S(count);
}

template <class Act, class S>
Var<S> record_batch_norm(const Act& act, Var<S> x, Var<S> gamma, Var<S> beta, Index channels, double epsilon,
                         const Matrix<S>* mean, const Matrix<S>* variance, Communicator* group = nullptr) {
  const char* op = "batch_norm";
  require_same_tape(op, x, gamma);
  require_same_tape(op, x, beta);
  if (channels < 1 || x.rows() % channels != 0)
    throw shape_error(std::string(op) + ": x is " + shape_string(x.value()) + ", whose rows are not " + std::to_string(channels) +
                      " channels of whole pixels");
  for (const Var<S>* v : {&gamma, &beta})
    if (v->rows() != channels || v->cols() != 1)
      throw shape_error(std::string(op) + ": gamma and beta must be " + shape_string(channels, 1) + ", got " +
                        shape_string(v->value()));
  if (mean && (mean->rows() != channels || mean->cols() != 1 || variance->rows() != channels || variance->cols() != 1))
    throw shape_error(std::string(op) + ": the statistics must be " + shape_string(channels, 1) + ", got mean " +
                      shape_string(*mean) + " and variance " + shape_string(*variance));
  if (!(epsilon > 0)) throw error(std::string(op) + ": epsilon must be positive, got " + std::to_string(epsilon));
  if (mean) group = nullptr;  // given statistics: nothing to share
  double count = double(x.value().size() / channels);
  if (group) group->sum(&count, 1);
  if (!mean && count < 2)
    throw shape_error(std::string(op) + ": batch statistics need more than one value per channel, x is " +
                      shape_string(x.value()) + " with " + std::to_string(channels) + " channels" +
                      (group ? " (" + std::to_string(Index(count)) + " values per channel over all ranks)" : ""));
  Tape<S>& tape = x.tape();
  Var<S> out = tape.record(x.rows(), x.cols(), {x, gamma, beta}, batch_norm_backward<S, Act>);
  Node<S>& node = tape.node(out);
  node.store(BatchNormState<Act>{act, epsilon, static_cast<std::int32_t>(channels), mean == nullptr, group});
  const auto xs = as_pixels(x.value(), channels).array();
  Matrix<S>& saved = node.cache;
  saved.resize(channels, kColumns);
  if (mean) {
    saved.col(kMean) = *mean;
    saved.col(kVariance) = *variance;
  } else if (group) {
    // The backward's sums matrix, its shape already: no allocation per step.
    Matrix<S>& scratch = node.workspace[1];
    scratch.resize(channels, 4);
    group_row_means(xs, *group, count, scratch, saved.col(kMean));
    group_row_means((xs.colwise() - saved.col(kMean).array()).square(), *group, count, scratch, saved.col(kVariance));
  } else {
    // Two passes (mean, then squared deviations): no cancellation in float.
    channel_sums(xs, saved.col(kMean));
    saved.col(kMean) /= S(count);
    channel_sums((xs.colwise() - saved.col(kMean).array()).square(), saved.col(kVariance));
    saved.col(kVariance) /= S(count);
  }
  saved.col(kCount).setConstant(S(count));
  saved.col(kInverseDeviation) = (saved.col(kVariance).array() + S(epsilon)).rsqrt().matrix();
  saved.col(kScale) = gamma.value().cwiseProduct(saved.col(kInverseDeviation));
  saved.col(kShift) = beta.value() - saved.col(kMean).cwiseProduct(saved.col(kScale));
  // The affine map and the activation in one pass.
  as_pixels(node.value, channels).array() = act.apply((xs.colwise() * saved.col(kScale).array()).colwise() + saved.col(kShift).array());
  return out;
}

}  // namespace detail

/// act(batch normalization of x with its own statistics), per channel: x is
/// (channels * pixels) x batch, channels fastest; gamma and beta channels x 1.
/// Needs more than one value per channel.
template <class Act, class S>
Var<S> batch_norm(const Act& act, Var<S> x, Var<S> gamma, Var<S> beta, Index channels, double epsilon) {
  return detail::record_batch_norm<Act, S>(act, x, gamma, beta, channels, epsilon, nullptr, nullptr);
}

/// act(normalization of x with given statistics (channels x 1 each, e.g. the
/// running ones in evaluation mode)): a per-channel affine map.
template <class Act, class S>
Var<S> batch_norm(const Act& act, Var<S> x, Var<S> gamma, Var<S> beta, Index channels, double epsilon,
                  const Matrix<S>& mean, const Matrix<S>& variance) {
  return detail::record_batch_norm<Act, S>(act, x, gamma, beta, channels, epsilon, &mean, &variance);
}

/// What a batch_norm node normalized with, channels x 1 each: the mean and
/// the (biased) variance, the batch's own or the given ones; and over how
/// many values per channel (all ranks' with a group).
template <class S>
struct BatchNormStatistics {
  Eigen::Block<const Matrix<S>, Eigen::Dynamic, 1, true> mean, variance;
  double count;
};

template <class S>
BatchNormStatistics<S> batch_norm_statistics(const Var<S>& y) {
  const Node<S>& node = y.tape().node(y.index());
  return {node.cache.col(detail::kMean), node.cache.col(detail::kVariance), double(node.cache(0, detail::kCount))};
}

}  // namespace latent
