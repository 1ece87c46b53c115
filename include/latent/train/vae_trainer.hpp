// latent/train/vae_trainer.hpp: trains a Vae: the model, an objective policy
// (the beta-weighted negative ELBO by default) and an optimizer policy (Adam
// with lr 1e-3 by default). A steady-state step allocates nothing: the batch
// bytes are scaled straight into the tape's input node, the noise is drawn
// into the tape's noise node, and the tape's buffers are reused.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "latent/data/dataset.hpp"
#include "latent/models/vae.hpp"
#include "latent/optim/adam.hpp"
#include "latent/optim/clip.hpp"
#include "latent/random.hpp"
#include "latent/train/trainer.hpp"

namespace latent {

/// The objective: negative ELBO with the KL weighted by beta (beta-VAE).
struct NegativeElbo {
  double beta = 1.0;

  template <class Model, class S>
  typename Model::Terms operator()(Model& model, Var<S> x, Var<S> eps) const {
    return model.negative_elbo(x, eps, beta);
  }
};

template <class Model, class Optimizer = Adam<typename Model::Scalar>, class Objective = NegativeElbo>
class VaeTrainer : public EpochTrainer<VaeTrainer<Model, Optimizer, Objective>> {
 public:
  using Scalar = typename Model::Scalar;

  struct Options {
    Objective objective{};
    double clip_norm = 0;  ///< global gradient-norm bound; 0 = no clipping
    std::uint64_t seed = 1;  ///< for the reparameterization noise (stream streams::training_noise)
    std::function<double(std::int64_t)> lr_schedule;  ///< step -> learning rate; empty = the optimizer's own
  };

  explicit VaeTrainer(Model& model, Optimizer optimizer = Optimizer(Scalar(1e-3)), Options options = {})
      : model_(model), optimizer_(std::move(optimizer)), options_(options), params_(model.parameters()), rng_(options.seed, streams::training_noise) {}

  /// One optimizer step on the examples `batch` of `data`; adds the step's
  /// figures to `means` and returns the loss (checked for NaN by the caller
  /// before the next step; here, before the update).
  double train_batch(const data::Dataset& data, const data::Batch& batch, RunningMeans& means) {
    tape_.reset();
    Var<Scalar> x = tape_.constant(data.features(), batch.size());
    data.fill_batch(tape_.value_of(x), batch);
    const auto terms = record_objective(x);
    const double loss = terms.loss.item();
    if (!std::isfinite(loss)) return loss;  // leave the parameters as they were
    tape_.backward(terms.loss);
    if (options_.clip_norm > 0) means.add("grad_norm", clip_grad_norm(params_, options_.clip_norm));
    if (options_.lr_schedule) optimizer_.lr = static_cast<Scalar>(options_.lr_schedule(this->steps_done_));
    optimizer_.step(params_);
    zero_grad(params_);
    const double weight = static_cast<double>(batch.size());
    means.add("loss", loss, weight);
    means.add("reconstruction", terms.reconstruction.item(), weight);
    means.add("kl", terms.kl.item(), weight);
    return loss;
  }

  /// The objective on a whole data set, z sampled as in training, without
  /// updating anything: {loss, reconstruction, kl} in nats per example.
  RunningMeans evaluate(const data::Dataset& data, Index batch_size = 1000) {
    RunningMeans means;
    data::BatchSampler sampler(data.size(), batch_size);
    for (const data::Batch& batch : sampler.epoch(0)) {
      tape_.reset();
      Var<Scalar> x = tape_.constant(data.features(), batch.size());
      data.fill_batch(tape_.value_of(x), batch);
      const auto terms = record_objective(x);
      const double weight = static_cast<double>(batch.size());
      means.add("loss", terms.loss.item(), weight);
      means.add("reconstruction", terms.reconstruction.item(), weight);
      means.add("kl", terms.kl.item(), weight);
    }
    return means;
  }

  void evaluate_into(const data::Dataset& test, EpochRecord& record) { evaluate(test).write_to(record, "test_"); }

  /// The trainer's part of a checkpoint (see EpochTrainer::save_checkpoint).
  void bind_state(Checkpointer& state) {
    state.add_model("model", model_).add_optimizer("optimizer", optimizer_, params_).add_rng("rng", rng_);
  }

  Model& model() { return model_; }
  Optimizer& optimizer() { return optimizer_; }
  Rng& rng() { return rng_; }
  const ParameterList<Scalar>& parameters() const { return params_; }

 private:
  typename Model::Terms record_objective(Var<Scalar> x) {
    Var<Scalar> eps = tape_.constant(model_.latent_dim(), x.cols());
    rng_.fill_normal(tape_.value_of(eps));
    return options_.objective(model_, x, eps);
  }

  Model& model_;
  Optimizer optimizer_;
  Options options_;
  ParameterList<Scalar> params_;
  Rng rng_;
  Tape<Scalar> tape_;
};

}  // namespace latent
