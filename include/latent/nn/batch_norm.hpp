// latent/nn/batch_norm.hpp: the batch normalization layer, fused with an
// activation (one tape node, autodiff/batch_norm.hpp). It normalizes each
// channel of images (BatchNorm({64, 7, 7}): the 64 channels) or each feature
// of a dense layer's output (BatchNorm(400)), then scales and shifts it by a
// learned weight (gamma, starting at 1) and bias (beta, starting at 0).
//
// In training mode it normalizes with the batch's own statistics and updates
// its running ones, PyTorch's way: running = (1 - momentum) running +
// momentum batch, with momentum 0.1 weighting the new batch, and the
// unbiased batch variance (n / (n - 1) times the one it normalized with) in
// the running variance. In evaluation mode it normalizes with the running
// statistics. They are buffers (running_mean, running_var): checkpoints save
// and restore them with the parameters.
//
// In data-parallel training (set_batch_group, which the trainers call) the
// batch statistics are the whole global batch's, summed over the ranks in
// the forward and backward (autodiff/batch_norm.hpp), so every rank
// normalizes as one process would and the running statistics stay the same
// on every rank.
#pragma once

#include <string>

#include "latent/autodiff/activation.hpp"
#include "latent/autodiff/batch_norm.hpp"
#include "latent/error.hpp"
#include "latent/image_shape.hpp"
#include "latent/nn/module.hpp"

namespace latent {

template <class S, class Act = Identity>
class BatchNorm : public Module<BatchNorm<S, Act>, S> {
 public:
  using Activation = Act;

  /// Over the channels of images of this shape.
  explicit BatchNorm(const ImageShape& shape, Act act = {}, double momentum = 0.1, double epsilon = 1e-5)
      : weight(Matrix<S>::Ones(checked(shape, momentum, epsilon).channels, 1)),
        bias(shape.channels, 1),
        running_mean(Matrix<S>::Zero(shape.channels, 1)),
        running_var(Matrix<S>::Ones(shape.channels, 1)),
        shape_(shape),
        act_(act),
        momentum_(momentum),
        epsilon_(epsilon) {}

  /// Over the features of a dense layer's output (features x batch).
  explicit BatchNorm(Index features, Act act = {}, double momentum = 0.1, double epsilon = 1e-5)
      : BatchNorm(ImageShape{features, 1, 1}, act, momentum, epsilon) {}

  /// In training mode each column is normalized with the batch's statistics.
  bool mixes_columns() const { return this->training(); }

  Var<S> operator()(Var<S> x) {
    if (x.rows() != shape_.size())
      throw shape_error(describe() + ": expects " + what() + ", got " + shape_string(x.value()));
    Tape<S>& tape = x.tape();
    const Index channels = shape_.channels;
    if (!this->training())
      return batch_norm(act_, x, tape.leaf(weight), tape.leaf(bias), channels, epsilon_, running_mean, running_var);
    Var<S> y = detail::record_batch_norm<Act, S>(act_, x, tape.leaf(weight), tape.leaf(bias), channels, epsilon_, nullptr,
                                                 nullptr, group_);
    const auto batch = batch_norm_statistics(y);
    const S count = S(batch.count);
    const S m = S(momentum_);
    running_mean = (S(1) - m) * running_mean + m * batch.mean;
    running_var = (S(1) - m) * running_var + (m * count / (count - S(1))) * batch.variance;
    return y;
  }

  ImageShape in_shape() const { return shape_; }
  ImageShape out_shape() const { return shape_; }
  Index in_features() const { return shape_.size(); }
  Index out_features() const { return shape_.size(); }
  Index channels() const { return shape_.channels; }
  double momentum() const { return momentum_; }
  double epsilon() const { return epsilon_; }
  const Act& activation() const { return act_; }

  /// Normalize over the slices of all these ranks (nullptr: this process's batch).
  void set_batch_group(Communicator* group) { group_ = group; }
  Communicator* batch_group() const { return group_; }

  /// "BatchNorm(64 channels of 64x7x7)" or "BatchNorm(400 features)".
  std::string describe() const {
    if (shape_.pixels() == 1) return "BatchNorm(" + std::to_string(shape_.channels) + " features)";
    return "BatchNorm(" + std::to_string(shape_.channels) + " channels of " + to_string(shape_) + ")";
  }

  NamedParameterList<S> named_parameters() { return {{"weight", &weight}, {"bias", &bias}}; }
  NamedBufferList<S> named_buffers() { return {{"running_mean", &running_mean}, {"running_var", &running_var}}; }

  Parameter<S> weight;  ///< gamma, channels x 1
  Parameter<S> bias;    ///< beta, channels x 1
  Matrix<S> running_mean, running_var;

 private:
  std::string what() const {
    if (shape_.pixels() == 1) return std::to_string(shape_.channels) + " features a column";
    return "images " + to_string(shape_) + " (" + std::to_string(shape_.size()) + " features a column)";
  }

  static const ImageShape& checked(const ImageShape& shape, double momentum, double epsilon) {
    if (!shape.valid()) throw shape_error("BatchNorm: the shape " + to_string(shape) + " has a size that is not positive");
    if (!(momentum >= 0 && momentum <= 1)) throw error("BatchNorm: the momentum must lie in [0, 1], got " + std::to_string(momentum));
    if (!(epsilon > 0)) throw error("BatchNorm: epsilon must be positive, got " + std::to_string(epsilon));
    return shape;
  }

  ImageShape shape_;
  Act act_;
  double momentum_, epsilon_;
  Communicator* group_ = nullptr;
};

}  // namespace latent
