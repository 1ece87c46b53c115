// latent/train/vae_trainer.hpp: trains a Vae: the model, an objective policy
// (the beta-weighted negative ELBO by default) and an optimizer policy (Adam
// with lr 1e-3 by default). A conditional VAE (Conditioning) is given each
// batch's labels. A steady-state step allocates nothing: the batch bytes are
// scaled straight into the tape's input node, the labels and the noise are
// written into nodes of their own, and the tape's buffers are reused.
// Distributed (EpochTrainer::distribute), a step records this rank's slice
// of the global batch, with its columns of the global batch's noise.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "latent/concepts.hpp"
#include "latent/data/dataset.hpp"
#include "latent/distributed/gradient_sync.hpp"
#include "latent/models/vae.hpp"
#include "latent/optim/adam.hpp"
#include "latent/optim/clip.hpp"
#include "latent/random.hpp"
#include "latent/train/step_parts.hpp"
#include "latent/train/trainer.hpp"

namespace latent {

/// The objective: negative ELBO with the KL weighted by beta (beta-VAE).
/// An objective is called with the model, the batch x (features x batch),
/// its one-hot labels (an invalid Var for an unconditional model) and the
/// noise eps, and returns the model's Terms.
struct NegativeElbo {
  double beta = 1.0;

  template <class Model, class S>
  typename Model::Terms operator()(Model& model, Var<S> x, Var<S> condition, Var<S> eps) const {
    return model.negative_elbo(x, condition, eps, beta);
  }
};

template <class Model, class Optimizer = Adam<typename Model::Scalar>, class Objective = NegativeElbo>
class VaeTrainer : public EpochTrainer<VaeTrainer<Model, Optimizer, Objective>> {
 public:
  using Scalar = typename Model::Scalar;
  static_assert(contract::ScheduledOptimizer<Optimizer, Scalar>::ok);

  struct Options {
    Objective objective{};
    double clip_norm = 0;  ///< global gradient-norm bound; 0 = no clipping
    std::uint64_t seed = 1;  ///< for the reparameterization noise (stream streams::training_noise)
    std::function<double(std::int64_t)> lr_schedule;  ///< step -> learning rate; empty = the optimizer's own
  };

  explicit VaeTrainer(Model& model, Optimizer optimizer = Optimizer(Scalar(1e-3)), Options options = {})
      : model_(model),
        optimizer_(std::move(optimizer)),
        options_(options),
        params_(model.parameters()),
        rng_(options.seed, streams::training_noise),
        gradients_(params_, GradientSync<Scalar>::kBucketBytes, detail::sharding_for<Optimizer, Scalar>()) {}

  /// One optimizer step on the examples `batch` of `data`; adds the step's
  /// figures to `means` and returns the loss (checked for NaN by the caller
  /// before the next step; here, before the update).
  double train_batch(const data::Dataset& data, const data::Batch& batch, RunningMeans& means) {
    model_.train();
    const Slice slice = this->parallel().slice(batch.size());
    Var<Scalar> local_loss;
    if (slice.count > 0) {
      const auto terms = record(data, slice.of(batch), slice);
      const double weight = static_cast<double>(slice.count);
      means.add("loss", terms.loss.item(), weight);
      means.add("reconstruction", terms.reconstruction.item(), weight);
      means.add("kl", terms.kl.item(), weight);
      local_loss = terms.loss;
    } else {
      draw_noise(slice, empty_noise_);
    }
    const double loss = detail::global_backward(gradients_, this->parallel(), slice, tape_, local_loss);
    if (!std::isfinite(loss)) return loss;  // leave the parameters as they were
    if (options_.lr_schedule) optimizer_.lr = static_cast<Scalar>(options_.lr_schedule(this->steps_done_));
    const double norm = detail::update(optimizer_, gradients_, this->parallel(), options_.clip_norm, detail::NormReport::when_clipping);
    if (options_.clip_norm > 0) means.add("grad_norm", norm, slice.share());
    return loss;
  }

  /// The objective on a whole data set, in evaluation mode, z sampled as in
  /// training, without updating anything: {loss, reconstruction, kl} in nats
  /// per example. Distributed, every rank calls it and evaluates its slice of
  /// each batch.
  RunningMeans evaluate(const data::Dataset& data, Index batch_size = kEvaluationBlock) {
    const EvaluationMode evaluation(model_);
    RunningMeans means;
    data::BatchSampler sampler(data.size(), batch_size);
    for (const data::Batch& batch : sampler.epoch(0)) {
      const Slice slice = this->parallel().slice(batch.size());
      if (slice.count == 0) {
        draw_noise(slice, empty_noise_);
        continue;
      }
      const auto terms = record(data, slice.of(batch), slice);
      const double weight = static_cast<double>(slice.count);
      means.add("loss", terms.loss.item(), weight);
      means.add("reconstruction", terms.reconstruction.item(), weight);
      means.add("kl", terms.kl.item(), weight);
    }
    return this->parallel().global_means(means);
  }

  void evaluate_into(const data::Dataset& test, EpochRecord& record) { evaluate(test).write_to(record, "test_"); }

  /// The trainer's part of a checkpoint (see EpochTrainer::save_checkpoint).
  /// Makes the optimizer's state whole on every rank (see GradientSync::gather_state).
  void gather_sharded_state() { gradients_.gather_state(this->parallel(), optimizer_); }

  void bind_state(Checkpointer& state) {
    state.add_model("model", model_).add_optimizer("optimizer", optimizer_, params_).add_rng("rng", rng_);
  }

  Model& model() { return model_; }
  Optimizer& optimizer() { return optimizer_; }
  Rng& rng() { return rng_; }
  const ParameterList<Scalar>& parameters() const { return params_; }

 private:
  /// Records the objective on `examples`, this rank's slice of a batch.
  typename Model::Terms record(const data::Dataset& data, const data::Batch& examples, const Slice& slice) {
    tape_.reset();
    Var<Scalar> x = detail::record_images<data::ZeroToOne>(tape_, data, examples);
    Var<Scalar> labels = detail::record_labels(tape_, data, examples, model_.classes());
    Var<Scalar> eps = tape_.constant(model_.latent_dim(), examples.size());
    draw_noise(slice, tape_.value_of(eps));
    return options_.objective(model_, x, labels, eps);
  }

  /// This slice's columns of the global batch's reparameterization noise.
  void draw_noise(const Slice& slice, Matrix<Scalar>& eps) {
    eps.resize(model_.latent_dim(), slice.count);
    this->parallel().draw_columns(slice, eps, [this](Matrix<Scalar>& mine, Index total, Index first) {
      rng_.fill_normal_columns(mine, total, first);
    });
  }

  Model& model_;
  Optimizer optimizer_;
  Options options_;
  ParameterList<Scalar> params_;
  Rng rng_;
  Tape<Scalar> tape_;
  GradientSync<Scalar> gradients_;
  Matrix<Scalar> empty_noise_;  ///< the noise of a rank without examples in a batch (no columns)
};

}  // namespace latent
