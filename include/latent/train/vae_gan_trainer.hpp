// latent/train/vae_gan_trainer.hpp: trains a VaeGan (models/vae_gan.hpp) on
// the epoch loop of train/trainer.hpp, from the step parts the GAN's trainer
// uses too (train/step_parts.hpp): the model and three optimizers, one per
// network, and a Lipschitz policy for the critic (train/lipschitz.hpp). Each batch updates
// all three networks, each from its own loss recorded on a tape of its own
// with the other networks frozen (so no gradient of a network's loss reaches
// another network, and none is computed for it):
//   1. the encoder: KL + the feature error of the reconstructions;
//   2. the decoder: gamma * the feature error + the GAN generator loss, on
//      the codes of step 1 (a constant) and codes drawn from the prior;
//   3. the discriminator: the GAN discriminator loss on the real batch
//      against the reconstructions and prior samples of step 2.
// Every network's loss is taken at the parameters the batch started with
// (the decoder's step reads step 1's codes, not the updated encoder; the
// discriminator's reads step 2's images), as in Larsen et al.'s algorithm.
// Per epoch the history holds the parts of each loss, the gradient norms,
// D(x) and D of the generated images, the same parts on the test set, and,
// with a mode monitor, the class histogram of prior samples.
//
// Distributed (EpochTrainer::distribute), each network's step records this
// rank's slice of the global batch, with its columns of the global batch's
// noise, and averages the network's gradient over the ranks before its update.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "latent/data/dataset.hpp"
#include "latent/distributed/gradient_sync.hpp"
#include "latent/models/vae_gan.hpp"
#include "latent/optim/adam.hpp"
#include "latent/random.hpp"
#include "latent/train/checkpointer.hpp"
#include "latent/train/lipschitz.hpp"
#include "latent/train/mode_monitor.hpp"
#include "latent/train/step_parts.hpp"
#include "latent/train/trainer.hpp"

namespace latent {

template <class Model, class Optimizer = Adam<typename Model::Scalar>, class Lipschitz = Unconstrained,
          class Scaling = data::MinusOneToOne>
class VaeGanTrainer : public EpochTrainer<VaeGanTrainer<Model, Optimizer, Lipschitz, Scaling>> {
 public:
  using Scalar = typename Model::Scalar;
  using Loss = typename Model::LossPolicy;

  struct Options {
    double gamma = 1.0;         ///< weight of the feature error in the decoder's loss, against the GAN loss
    double kl_weight = 1.0;     ///< beta, the KL's weight in the encoder's loss, against the feature error
    double real_label = 1.0;    ///< < 1: one-sided label smoothing (losses with targets only)
    double clip_grad_norm = 0;  ///< bound on each network's gradient norm; 0 = no clipping
    Lipschitz lipschitz{};      ///< applied to the critic after each of its updates
    std::uint64_t seed = 1;     ///< for the noise (stream streams::training_noise)
  };

  /// The progress bar shows the running feature error of the reconstructions.
  static constexpr const char* progress_figure = "feature_error";

  /// Adam with lr 2e-4 and beta1 0.5 (DCGAN's recipe), the default for each network.
  static Optimizer default_optimizer() { return Optimizer(Scalar(2e-4), Scalar(0.5), Scalar(0.999)); }

  explicit VaeGanTrainer(Model& model, Optimizer encoder_optimizer = default_optimizer(),
                      Optimizer decoder_optimizer = default_optimizer(),
                      Optimizer discriminator_optimizer = default_optimizer(), Options options = {})
      : model_(model),
        encoder_optimizer_(std::move(encoder_optimizer)),
        decoder_optimizer_(std::move(decoder_optimizer)),
        discriminator_optimizer_(std::move(discriminator_optimizer)),
        options_(options),
        encoder_params_(model.encoder_parameters()),
        decoder_params_(model.decoder_parameters()),
        discriminator_params_(model.discriminator_parameters()),
        rng_(options.seed, streams::training_noise),
        encoder_gradients_(encoder_params_, GradientSync<Scalar>::kBucketBytes, detail::sharding_for<Optimizer, Scalar>()),
        decoder_gradients_(decoder_params_, GradientSync<Scalar>::kBucketBytes, detail::sharding_for<Optimizer, Scalar>()),
        discriminator_gradients_(discriminator_params_, GradientSync<Scalar>::kBucketBytes, detail::sharding_for<Optimizer, Scalar>()) {
    if (!(options_.gamma >= 0)) throw error("VaeGanTrainer: gamma must be positive (or 0), got " + std::to_string(options_.gamma));
    if (!(options_.kl_weight > 0))
      throw error("VaeGanTrainer: kl_weight must be positive, got " + std::to_string(options_.kl_weight));
    detail::check_critic_options<Loss>("VaeGanTrainer", options_.real_label, options_.clip_grad_norm);
    options_.lipschitz.check();
  }

  /// One update of each network on the examples `batch` of `data` (see the
  /// header). Returns the sum of the three losses, NaN or infinite when one
  /// was (then that network and the ones after it were not updated).
  double train_batch(const data::Dataset& data, const data::Batch& batch, RunningMeans& means) {
    const Slice slice = this->parallel().slice(batch.size());
    const Index n = slice.count;
    const double weight = static_cast<double>(n);
    const data::Batch examples = slice.of(batch);
    model_.train();

    // 1. The encoder, through the frozen decoder and discriminator.
    encoder_tape_.reset();
    Var<Scalar> x = detail::record_images<Scaling>(encoder_tape_, data, examples);
    Var<Scalar> eps = encoder_tape_.constant(model_.latent_dim(), n);
    this->parallel().draw_columns(slice, encoder_tape_.value_of(eps), [this](Matrix<Scalar>& mine, Index total, Index first) {
      rng_.fill_normal_columns(mine, total, first);
    });
    Var<Scalar> e_local, codes;
    if (n > 0) {
      const FrozenParameters<Scalar> frozen_decoder(decoder_params_);
      const FrozenParameters<Scalar> frozen_discriminator(discriminator_params_);
      const auto terms = model_.encoder_loss(x, eps, options_.kl_weight);
      means.add("kl", terms.kl.item(), weight);
      means.add("feature_error", terms.feature_error.item(), weight);
      e_local = terms.loss;
      codes = terms.z;
    }
    const double e_loss = detail::global_backward(encoder_gradients_, this->parallel(), slice, encoder_tape_, e_local);
    if (!std::isfinite(e_loss)) return e_loss;
    means.add("e_grad_norm", detail::update(encoder_optimizer_, encoder_gradients_, this->parallel(), options_.clip_grad_norm), weight);

    // 2. The decoder, on step 1's codes and on prior codes, through the frozen discriminator.
    decoder_tape_.reset();
    Var<Scalar> z_prior = decoder_tape_.constant(model_.latent_dim(), n);
    this->parallel().draw_columns(slice, decoder_tape_.value_of(z_prior), [this](Matrix<Scalar>& mine, Index total, Index first) {
      sample_columns(model_.prior(), mine, rng_, total, first);
    });
    Var<Scalar> g_local, reconstruction, prior_samples;
    if (n > 0) {
      const FrozenParameters<Scalar> frozen_discriminator(discriminator_params_);
      const auto terms = model_.decoder_loss(decoder_tape_.constant(x.value()), decoder_tape_.constant(codes.value()), z_prior,
                                             options_.gamma, &discriminator_params_);
      means.add("g_loss", terms.gan.loss.item(), weight);
      g_local = terms.loss;
      reconstruction = terms.reconstruction;
      prior_samples = terms.prior_samples;
    }
    const double g_loss = detail::global_backward(decoder_gradients_, this->parallel(), slice, decoder_tape_, g_local);
    if (!std::isfinite(g_loss)) return g_loss;
    means.add("g_grad_norm", detail::update(decoder_optimizer_, decoder_gradients_, this->parallel(), options_.clip_grad_norm), weight);

    // 3. The discriminator: the real batch against step 2's reconstructions and prior samples.
    const auto record = [&] {
      critic_tape_.reset();
      GanBatch<Scalar> critic_batch;
      critic_batch.real = detail::record_images<Scaling>(critic_tape_, data, examples);
      critic_batch.fake = critic_tape_.constant(model_.data_dim(), 2 * n);
      Matrix<Scalar>& fake = critic_tape_.value_of(critic_batch.fake);
      fake.leftCols(n) = reconstruction.value();
      fake.rightCols(n) = prior_samples.value();
      critic_batch.real_label = options_.real_label;
      critic_batch.scratch = &scratch_tape_;
      return model_.discriminator_loss(critic_batch, &discriminator_params_);
    };
    const double d_loss = detail::critic_update<Loss>(record, critic_tape_, this->parallel(), slice, discriminator_gradients_,
                                                      discriminator_optimizer_, options_.lipschitz, options_.clip_grad_norm, means);
    return e_loss + g_loss + d_loss;
  }

  /// After an epoch, with the test set (nothing updated): the encoder's
  /// loss parts ("test_kl", "test_feature_error"), the mean D(x)
  /// ("test_d_real"), and the mode monitor's figures if one is set.
  void evaluate_into(const data::Dataset& test, EpochRecord& record) {
    const EvaluationMode evaluation(model_);
    const FrozenParameters<Scalar> frozen_encoder(encoder_params_);
    const FrozenParameters<Scalar> frozen_decoder(decoder_params_);
    const FrozenParameters<Scalar> frozen_discriminator(discriminator_params_);
    RunningMeans means;
    Rng rng(options_.seed, streams::evaluation_noise);
    data::BatchSampler sampler(test.size(), kEvaluationBlock);
    for (const data::Batch& batch : sampler.epoch(0)) {
      const Slice slice = this->parallel().slice(batch.size());
      evaluation_tape_.reset();
      Var<Scalar> x = detail::record_images<Scaling>(evaluation_tape_, test, slice.of(batch));
      Var<Scalar> eps = evaluation_tape_.constant(model_.latent_dim(), slice.count);
      this->parallel().draw_columns(slice, evaluation_tape_.value_of(eps), [&rng](Matrix<Scalar>& mine, Index total, Index first) {
        rng.fill_normal_columns(mine, total, first);
      });
      if (slice.count == 0) continue;
      const auto terms = model_.encoder_loss(x, eps);
      const double weight = static_cast<double>(slice.count);
      means.add("kl", terms.kl.item(), weight);
      means.add("feature_error", terms.feature_error.item(), weight);
      means.add("d_real", Loss::output(model_.discriminator()(x).value().array()).mean(), weight);
    }
    this->parallel().global_means(means).write_to(record, "test_");
    if (watch_.active()) watch_.log(model_.decode(watch_.noise()), record, this->parallel().rank() == 0);
  }

  /// Watches prior samples for mode collapse after every epoch (see ModeMonitor).
  void monitor_modes(ModeMonitor<Scalar> monitor) {
    watch_.start("VaeGanTrainer", std::move(monitor), model_.latent_dim(),
                 [this](Matrix<Scalar>& z, Rng& rng) { model_.prior().sample(z, rng); });
  }

  /// The class histogram of the monitor's fixed batch of prior samples, now.
  ClassHistogram mode_histogram() {
    if (!watch_.active()) throw error("VaeGanTrainer::mode_histogram: no mode monitor is set (monitor_modes)");
    return watch_.histogram(model_.decode(watch_.noise()));
  }

  /// The trainer's part of a checkpoint (see EpochTrainer::save_checkpoint): the
  /// three networks ("vaegan.encoder.*", ...), their optimizers, the noise
  /// generator.
  /// Makes the optimizers' state whole on every rank (see GradientSync::gather_state).
  void gather_sharded_state() {
    encoder_gradients_.gather_state(this->parallel(), encoder_optimizer_);
    decoder_gradients_.gather_state(this->parallel(), decoder_optimizer_);
    discriminator_gradients_.gather_state(this->parallel(), discriminator_optimizer_);
  }

  void bind_state(Checkpointer& state) {
    state.add_model("vaegan", model_)
        .add_optimizer("encoder_optimizer", encoder_optimizer_, encoder_params_)
        .add_optimizer("decoder_optimizer", decoder_optimizer_, decoder_params_)
        .add_optimizer("discriminator_optimizer", discriminator_optimizer_, discriminator_params_)
        .add_rng("noise_rng", rng_);
  }

  Model& model() { return model_; }
  Optimizer& encoder_optimizer() { return encoder_optimizer_; }
  Optimizer& decoder_optimizer() { return decoder_optimizer_; }
  Optimizer& discriminator_optimizer() { return discriminator_optimizer_; }
  const Options& options() const { return options_; }
  Rng& rng() { return rng_; }

 private:
  Model& model_;
  Optimizer encoder_optimizer_;
  Optimizer decoder_optimizer_;
  Optimizer discriminator_optimizer_;
  Options options_;
  ParameterList<Scalar> encoder_params_;
  ParameterList<Scalar> decoder_params_;
  ParameterList<Scalar> discriminator_params_;
  Rng rng_;
  GradientSync<Scalar> encoder_gradients_;
  GradientSync<Scalar> decoder_gradients_;
  GradientSync<Scalar> discriminator_gradients_;
  Tape<Scalar> encoder_tape_;
  Tape<Scalar> decoder_tape_;
  Tape<Scalar> critic_tape_;
  Tape<Scalar> scratch_tape_;
  Tape<Scalar> evaluation_tape_;
  detail::ModeWatch<Scalar> watch_;
};

}  // namespace latent
