// latent/train/gan_trainer.hpp: trains a Gan: the model (with its loss
// policy), two optimizers, one per network (Adam, lr 2e-4, beta1 0.5 by
// default, as DCGAN), and a Lipschitz policy for the critic (train/
// lipschitz.hpp: weight clipping, or nothing). By default each batch is one
// discriminator (critic) step and every n_critic-th batch also a generator
// step; with Options::fresh_critic_batches each batch is n_critic critic
// steps (the batch, then n_critic - 1 batches drawn at random from the
// training set) and one generator step, so an epoch is (examples / batch)
// generator steps, as WGAN-GP's authors count. A conditional GAN
// (Conditioning) is given the labels of each batch: the generated batch of a
// step has the real batch's labels. Options: one-sided label smoothing,
// gradient-norm clipping. Per epoch the history holds both losses, the means
// of D(x) and D(G(z)), the gradient norms reaching each network (before
// clipping: vanishing gradients show up here), a loss's penalty, and, with a
// mode monitor (train/mode_monitor.hpp), the class histogram of a fixed
// batch of samples and its entropy.
//
// A step allocates nothing once shapes are steady: the generator's forward
// pass is recorded once, on the generator's tape, and reused by both steps;
// the discriminator's step runs on a tape of its own that sees the samples as
// a constant (no gradient can reach G from there); the generator's step runs
// through the discriminator with D's parameters frozen, so no weight
// gradient of D is ever computed in it.
//
// Distributed (EpochTrainer::distribute), a step records this rank's slice
// of the global batch, with its columns of the global batch's noise (and of
// the fresh batches, which every rank draws alike); each network's gradient
// is averaged over the ranks before its update.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "latent/concepts.hpp"
#include "latent/data/dataset.hpp"
#include "latent/distributed/gradient_sync.hpp"
#include "latent/models/gan.hpp"
#include "latent/optim/adam.hpp"
#include "latent/random.hpp"
#include "latent/train/checkpointer.hpp"
#include "latent/train/lipschitz.hpp"
#include "latent/train/mode_monitor.hpp"
#include "latent/train/step_parts.hpp"
#include "latent/train/trainer.hpp"

namespace latent {

template <class Model, class GeneratorOptimizer = Adam<typename Model::Scalar>, class DiscriminatorOptimizer = GeneratorOptimizer,
          class Lipschitz = Unconstrained, class Scaling = data::MinusOneToOne>
class GanTrainer
    : public EpochTrainer<GanTrainer<Model, GeneratorOptimizer, DiscriminatorOptimizer, Lipschitz, Scaling>> {
 public:
  using Scalar = typename Model::Scalar;
  using Loss = typename Model::LossPolicy;
  static_assert(contract::Optimizer<GeneratorOptimizer, Scalar>::ok && contract::Optimizer<DiscriminatorOptimizer, Scalar>::ok);

  struct Options {
    int n_critic = 1;          ///< discriminator steps per generator step
    bool fresh_critic_batches = false;  ///< each batch: n_critic critic steps on fresh batches, then a generator step
    double real_label = 1.0;   ///< < 1: one-sided label smoothing (e.g. 0.9; losses with targets only)
    /// > 0: each real example's target is drawn from U(real_label - spread,
    /// real_label) at every critic step (the DCGAN recipe's U(0.8, 1): 1 and 0.2)
    double real_label_spread = 0;
    double clip_grad_norm = 0; ///< bound on each network's gradient norm; 0 = no clipping
    Lipschitz lipschitz{};     ///< applied to the critic after each of its updates
    std::uint64_t seed = 1;    ///< for the noise (stream streams::training_noise)
  };

  /// The progress bar shows the discriminator's running loss.
  static constexpr const char* progress_figure = "d_loss";

  /// Adam with lr 2e-4 and beta1 0.5: the DCGAN recipe, the default for both networks.
  static Adam<Scalar> default_adam() { return Adam<Scalar>(Scalar(2e-4), Scalar(0.5), Scalar(0.999)); }

  explicit GanTrainer(Model& model, GeneratorOptimizer generator_optimizer = default_adam(),
                      DiscriminatorOptimizer discriminator_optimizer = default_adam(), Options options = {})
      : model_(model),
        generator_optimizer_(std::move(generator_optimizer)),
        discriminator_optimizer_(std::move(discriminator_optimizer)),
        options_(options),
        generator_params_(model.generator_parameters()),
        discriminator_params_(model.discriminator_parameters()),
        rng_(options.seed, streams::training_noise),
        generator_gradients_(generator_params_, GradientSync<Scalar>::kBucketBytes, detail::sharding_for<GeneratorOptimizer, Scalar>()),
        discriminator_gradients_(discriminator_params_, GradientSync<Scalar>::kBucketBytes, detail::sharding_for<DiscriminatorOptimizer, Scalar>()) {
    if (options_.n_critic < 1) throw error("GanTrainer: n_critic must be at least 1, got " + std::to_string(options_.n_critic));
    detail::check_critic_options<Loss>("GanTrainer", options_.real_label, options_.clip_grad_norm);
    if (!(options_.real_label_spread >= 0 && options_.real_label_spread < options_.real_label))
      throw error("GanTrainer: the real labels' spread must be in [0, real label), got " +
                  std::to_string(options_.real_label_spread) + " below " + std::to_string(options_.real_label));
    if (options_.real_label_spread > 0 && !Loss::uses_labels)
      throw error(std::string("GanTrainer: a range of real labels needs a loss with targets; the ") + Loss::name +
                  " loss has none");
    options_.lipschitz.check();
  }

  /// One or n_critic discriminator steps (see Options) and, when due, one
  /// generator step, on the examples `batch` of `data`. Adds the steps'
  /// figures to `means` and returns a figure that is NaN or infinite when a
  /// loss is (then the network whose loss it is was not updated).
  double train_batch(const data::Dataset& data, const data::Batch& batch, RunningMeans& means) {
    const Slice slice = this->parallel().slice(batch.size());
    const Index n = slice.count;
    const double weight = static_cast<double>(n);
    model_.train();

    const int critic_steps = options_.fresh_critic_batches ? options_.n_critic : 1;
    data::Batch examples = slice.of(batch);
    Var<Scalar> fake, condition;
    double d_loss = 0;
    for (int k = 0; k < critic_steps; ++k) {
      if (k > 0) examples = slice.of(draw_fresh_batch(data, batch.size()));
      // G(z), recorded with G trainable: the generator's step backpropagates
      // through the last one. A rank without examples in this batch records
      // nothing but takes part in the sums (and the updates).
      generator_tape_.reset();
      Var<Scalar> z = generator_tape_.constant(model_.noise_dim(), n);
      this->parallel().draw_columns(slice, generator_tape_.value_of(z), [this](Matrix<Scalar>& mine, Index total, Index first) {
        sample_columns(model_.noise(), mine, rng_, total, first);
      });
      condition = detail::record_labels(generator_tape_, data, examples, model_.classes());
      if (n > 0) fake = model_.generate(z, condition);
      d_loss = critic_step(data, examples, slice, fake, means);
      if (!std::isfinite(d_loss)) return d_loss;
    }
    if (!options_.fresh_critic_batches && critic_steps_ % options_.n_critic != 0) return d_loss;

    // The generator's step through the updated discriminator, whose parameters
    // are frozen: the backward computes gradients for G's weights and the
    // activations between, never D's weight gradients.
    Var<Scalar> g_local;
    if (n > 0) {
      const FrozenParameters<Scalar> frozen(discriminator_params_);
      GanBatch<Scalar> step_batch = gan_batch(slice);
      // The real examples of the last critic step, for losses that score them here (relativistic ones).
      step_batch.real = detail::record_images<Scaling>(generator_tape_, data, examples);
      step_batch.fake = fake;
      g_local = model_.generator_loss(step_batch, condition, &discriminator_params_).loss;
    }
    const double g_loss = detail::global_backward(generator_gradients_, this->parallel(), slice, generator_tape_, g_local);
    if (!std::isfinite(g_loss)) return g_loss;
    means.add("g_grad_norm", detail::update(generator_optimizer_, generator_gradients_, this->parallel(), options_.clip_grad_norm), weight);
    means.add("g_loss", g_loss, weight);
    return d_loss + g_loss;
  }

  /// After an epoch, with the test set, in evaluation mode: the mean D(x) on it (next to the
  /// training figure, it shows a discriminator that memorizes), and the mode
  /// monitor's figures if one is set.
  void evaluate_into(const data::Dataset& test, EpochRecord& record) {
    const EvaluationMode evaluation(model_);
    const FrozenParameters<Scalar> frozen(discriminator_params_);
    data::BatchSampler sampler(test.size(), kEvaluationBlock);
    RunningMeans means;
    for (const data::Batch& batch : sampler.epoch(0)) {
      const Slice slice = this->parallel().slice(batch.size());
      if (slice.count == 0) continue;
      evaluation_tape_.reset();
      Var<Scalar> x = detail::record_images<Scaling>(evaluation_tape_, test, slice.of(batch));
      Var<Scalar> labels = detail::record_labels(evaluation_tape_, test, slice.of(batch), model_.classes());
      means.add_sum("d_real", static_cast<double>(Loss::output(model_.discriminate(x, labels).value().array()).sum()),
                    static_cast<double>(slice.count));
    }
    this->parallel().global_means(means).write_to(record, "test_");
    if (watch_.active()) watch_.log(monitor_images(), record, this->parallel().rank() == 0);
  }

  /// Watches for mode collapse after every epoch (see ModeMonitor). A
  /// conditional GAN draws the monitor's samples for the labels 0, 1, 2, ...
  /// in turn.
  void monitor_modes(ModeMonitor<Scalar> monitor) {
    watch_.start("GanTrainer", std::move(monitor), model_.noise_dim(),
                 [this](Matrix<Scalar>& z, Rng& rng) { model_.sample_noise(z, rng); });
    if (model_.classes() > 0) {
      std::vector<int> labels(static_cast<std::size_t>(watch_.noise().cols()));
      for (std::size_t j = 0; j < labels.size(); ++j) labels[j] = static_cast<int>(static_cast<Index>(j) % model_.classes());
      monitor_condition_ = data::one_hot<Scalar>(labels, model_.classes());
    }
  }

  /// The class histogram of the monitor's fixed batch of samples, now.
  ClassHistogram mode_histogram() {
    if (!watch_.active()) throw error("GanTrainer::mode_histogram: no mode monitor is set (monitor_modes)");
    return watch_.histogram(monitor_images());
  }

  /// The trainer's part of a checkpoint (see EpochTrainer::save_checkpoint):
  /// both networks ("gan.generator.*", "gan.discriminator.*"), both
  /// optimizers, the noise generator, the critic-step count.
  /// Makes the optimizers' state whole on every rank (see GradientSync::gather_state).
  void gather_sharded_state() {
    generator_gradients_.gather_state(this->parallel(), generator_optimizer_);
    discriminator_gradients_.gather_state(this->parallel(), discriminator_optimizer_);
  }

  void bind_state(Checkpointer& state) {
    state.add_model("gan", model_)
        .add_optimizer("generator_optimizer", generator_optimizer_, generator_params_)
        .add_optimizer("discriminator_optimizer", discriminator_optimizer_, discriminator_params_)
        .add_rng("noise_rng", rng_)
        .add_counter("critic_steps", critic_steps_);
  }

  Model& model() { return model_; }
  GeneratorOptimizer& generator_optimizer() { return generator_optimizer_; }
  DiscriminatorOptimizer& discriminator_optimizer() { return discriminator_optimizer_; }
  const Options& options() const { return options_; }
  Rng& rng() { return rng_; }

 private:
  /// One critic update on `examples` (this rank's slice of a batch) against
  /// the generated batch `fake` (invalid for an empty slice).
  double critic_step(const data::Dataset& data, const data::Batch& examples, const Slice& slice, Var<Scalar> fake,
                     RunningMeans& means) {
    ++critic_steps_;
    // A stream of this critic step's own: the same numbers on every rank, whatever its slice.
    loss_rng_ = Rng(critic_step_seed(), streams::loss_noise);
    const auto record = [&] {
      discriminator_tape_.reset();
      GanBatch<Scalar> batch = gan_batch(slice);
      batch.real = detail::record_images<Scaling>(discriminator_tape_, data, examples);
      batch.fake = discriminator_tape_.constant(fake.value());
      if (options_.real_label_spread > 0) batch.real_targets = draw_real_targets(batch, batch.real.cols());
      const Var<Scalar> labels = detail::record_labels(discriminator_tape_, data, examples, model_.classes());
      return model_.discriminator_loss(batch, labels, &discriminator_params_);
    };
    return detail::critic_update<Loss>(record, discriminator_tape_, this->parallel(), slice, discriminator_gradients_,
                                       discriminator_optimizer_, options_.lipschitz, options_.clip_grad_norm, means);
  }

  /// A GanBatch with what every loss may draw on: the label of real
  /// examples, the scratch tape, the critic step's numbers, and where this
  /// rank's slice lies in the global batch.
  GanBatch<Scalar> gan_batch(const Slice& slice) {
    GanBatch<Scalar> batch;
    batch.real_label = options_.real_label;
    batch.rng = &loss_rng_;
    batch.scratch = &scratch_tape_;
    batch.offset = slice.begin;
    batch.global_size = slice.total;
    return batch;
  }

  /// The seed of the numbers the current critic step draws.
  std::uint64_t critic_step_seed() const {
    return options_.seed + static_cast<std::uint64_t>(critic_steps_) * 0x9e3779b97f4a7c15ULL;
  }

  /// The targets of the real examples in this critic step, U(real_label -
  /// spread, real_label) each, as a constant on batch.real's tape: drawn for
  /// the global batch from a stream of the step's own, so that every rank
  /// and a resumed run draw the same.
  Var<Scalar> draw_real_targets(const GanBatch<Scalar>& batch, Index columns) {
    Rng label_rng(critic_step_seed(), streams::real_labels);
    GanBatch<Scalar> draw = batch;
    draw.rng = &label_rng;
    real_targets_.resize(1, columns);
    const double top = options_.real_label, spread = options_.real_label_spread;
    draw.for_each_uniform(columns, [&](Index j, double u) { real_targets_(0, j) = static_cast<Scalar>(top - spread * u); });
    return batch.real.tape().constant(real_targets_);
  }

  /// `size` examples drawn at random (with replacement) into fresh_: the
  /// same on every rank, which draw from the same stream.
  data::Batch draw_fresh_batch(const data::Dataset& data, Index size) {
    fresh_.resize(static_cast<std::size_t>(size));
    for (auto& index : fresh_) index = static_cast<Index>(rng_.below(static_cast<std::uint64_t>(data.size())));
    return data::Batch(fresh_.data(), size);
  }

  Matrix<Scalar> monitor_images() { return model_.generate(watch_.noise(), monitor_condition_); }

  Model& model_;
  GeneratorOptimizer generator_optimizer_;
  DiscriminatorOptimizer discriminator_optimizer_;
  Options options_;
  ParameterList<Scalar> generator_params_;
  ParameterList<Scalar> discriminator_params_;
  Rng rng_;
  GradientSync<Scalar> generator_gradients_;
  GradientSync<Scalar> discriminator_gradients_;
  std::int64_t critic_steps_ = 0;
  Tape<Scalar> generator_tape_;
  Tape<Scalar> discriminator_tape_;
  Tape<Scalar> scratch_tape_;
  Tape<Scalar> evaluation_tape_;
  Rng loss_rng_;
  std::vector<Index> fresh_;
  Matrix<Scalar> real_targets_;  ///< the real examples' targets of a critic step (Options::real_label_spread)
  detail::ModeWatch<Scalar> watch_;
  Matrix<Scalar> monitor_condition_;  ///< a conditional GAN's labels of the monitor's samples
};

}  // namespace latent
