// latent/train/gan_trainer.hpp: trains a Gan: the model (with its loss
// policy) and two optimizers, one per network (Adam, lr 2e-4, beta1 0.5 by
// default, as DCGAN). Each batch is one discriminator (critic) step; every
// n_critic-th batch is also a generator step. Options: one-sided label
// smoothing, gradient-norm clipping, weight clipping of the critic. Per epoch
// the history holds both losses, the means of D(x) and D(G(z)), the gradient
// norms reaching each network (before clipping: vanishing gradients show up
// here), and, with a mode monitor, the class histogram of a fixed batch of
// samples and its entropy, with a warning when it falls below a threshold.
//
// A step allocates nothing once shapes are steady: the generator's forward
// pass is recorded once, on the generator's tape, and reused by both steps;
// the discriminator's step runs on a tape of its own that sees the samples as
// a constant (no gradient can reach G from there); the generator's step runs
// through the discriminator with D's parameters frozen, so no weight
// gradient of D is ever computed in it.
//
// Distributed (EpochTrainer::distribute), a step records this rank's slice
// of the global batch, with its columns of the global batch's noise; each
// network's gradient is averaged over the ranks before its update.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "latent/data/dataset.hpp"
#include "latent/distributed/gradient_sync.hpp"
#include "latent/metrics/class_histogram.hpp"
#include "latent/models/gan.hpp"
#include "latent/optim/adam.hpp"
#include "latent/optim/clip.hpp"
#include "latent/random.hpp"
#include "latent/train/checkpointer.hpp"
#include "latent/train/trainer.hpp"

namespace latent {

/// Watches a GAN for mode collapse. After every epoch the trainer generates
/// `samples` images from noise drawn once (from `seed`), classifies them with
/// `classify` (images as the generator makes them, features x n -> one class
/// per column), logs the class fractions ("mode_class_k") and their entropy
/// ("mode_entropy"), and warns on stderr when the entropy falls below
/// warn_below_fraction * ln(classes).
template <class S>
struct ModeMonitor {
  std::function<std::vector<int>(const Matrix<S>&)> classify;
  int classes = 10;
  Index samples = 1000;
  double warn_below_fraction = 0.9;
  std::uint64_t seed = 0x6d6f646573;
};

template <class Model, class GeneratorOptimizer = Adam<typename Model::Scalar>, class DiscriminatorOptimizer = GeneratorOptimizer,
          class Scaling = data::MinusOneToOne>
class GanTrainer
    : public EpochTrainer<GanTrainer<Model, GeneratorOptimizer, DiscriminatorOptimizer, Scaling>> {
 public:
  using Scalar = typename Model::Scalar;
  using Loss = typename Model::LossPolicy;

  struct Options {
    int n_critic = 1;          ///< discriminator steps per generator step
    double real_label = 1.0;   ///< < 1: one-sided label smoothing (e.g. 0.9; losses with targets only)
    double clip_grad_norm = 0; ///< bound on each network's gradient norm; 0 = no clipping
    double weight_clip = Loss::default_weight_clip;  ///< clamp D's parameters to [-c, c] after its steps; 0 = never
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
        generator_gradients_(generator_params_),
        discriminator_gradients_(discriminator_params_) {
    if (options_.n_critic < 1) throw error("GanTrainer: n_critic must be at least 1, got " + std::to_string(options_.n_critic));
    if (!(options_.real_label > 0 && options_.real_label <= 1))
      throw error("GanTrainer: the real label must be in (0, 1], got " + std::to_string(options_.real_label));
    if (options_.real_label != 1.0 && !Loss::uses_labels)
      throw error(std::string("GanTrainer: label smoothing needs a loss with targets; the ") + Loss::name + " loss has none");
    if (options_.clip_grad_norm < 0 || options_.weight_clip < 0)
      throw error("GanTrainer: clipping bounds must be positive (or 0 for none)");
  }

  /// One discriminator step on the examples `batch` of `data` and, every
  /// n_critic-th call, one generator step. Adds the steps' figures to `means`
  /// and returns a figure that is NaN or infinite when either loss is (then
  /// the network whose loss it is was not updated).
  double train_batch(const data::Dataset& data, const data::Batch& batch, RunningMeans& means) {
    const Slice slice = this->parallel().slice(batch.size());
    const Index n = slice.count;
    const double weight = static_cast<double>(n);
    model_.train();

    // G(z), recorded with G trainable: the generator's step backpropagates through it.
    generator_tape_.reset();
    Var<Scalar> z = generator_tape_.constant(model_.noise_dim(), n);
    this->parallel().draw_columns(slice, generator_tape_.value_of(z), [this](Matrix<Scalar>& all) { model_.sample_noise(all, rng_); });

    // The discriminator's step, on its own tape, where the samples are a
    // constant. A rank without examples in this batch records nothing but
    // takes part in the sums (and the updates).
    Var<Scalar> fake;
    double d_loss = 0, d_real = 0, d_fake = 0;
    if (n > 0) {
      fake = model_.generate(z);
      discriminator_tape_.reset();
      Var<Scalar> real = discriminator_tape_.constant(data.features(), n);
      data.template fill_batch<Scaling>(discriminator_tape_.value_of(real), slice.of(batch));
      const auto d_terms = model_.discriminator_loss(real, discriminator_tape_.constant(fake.value()), options_.real_label);
      d_real = Loss::output(d_terms.real_scores.value().array()).mean();
      d_fake = Loss::output(d_terms.fake_scores.value().array()).mean();
      d_loss = discriminator_gradients_.backward(this->parallel(), slice, discriminator_tape_, d_terms.loss);
    } else {
      d_loss = discriminator_gradients_.backward(this->parallel());
    }
    if (!std::isfinite(d_loss)) {
      zero_grad(discriminator_params_);
      return d_loss;
    }
    means.add("d_grad_norm", step(discriminator_optimizer_, discriminator_params_), weight);
    if (options_.weight_clip > 0) clip_weights(discriminator_params_, options_.weight_clip);
    // The global loss is the same on every rank; weighted by this rank's
    // examples, the ranks' figures combine into the global batch's.
    means.add("d_loss", d_loss, weight);
    if (n > 0) {
      means.add("d_real", d_real, weight);
      means.add("d_fake", d_fake, weight);
    }
    if (++critic_steps_ % options_.n_critic != 0) return d_loss;

    // The generator's step through the updated discriminator, whose parameters
    // are frozen: the backward computes gradients for G's weights and the
    // activations between, never D's weight gradients.
    double g_loss = 0;
    if (n > 0) {
      const FrozenParameters<Scalar> frozen(discriminator_params_);
      const auto g_terms = model_.generator_loss(fake);
      g_loss = generator_gradients_.backward(this->parallel(), slice, generator_tape_, g_terms.loss);
    } else {
      g_loss = generator_gradients_.backward(this->parallel());
    }
    if (!std::isfinite(g_loss)) {
      zero_grad(generator_params_);
      return g_loss;
    }
    means.add("g_grad_norm", step(generator_optimizer_, generator_params_), weight);
    means.add("g_loss", g_loss, weight);
    return d_loss + g_loss;
  }

  /// After an epoch, with the test set, in evaluation mode: the mean D(x) on it (next to the
  /// training figure, it shows a discriminator that memorizes), and the mode
  /// monitor's figures if one is set.
  void evaluate_into(const data::Dataset& test, EpochRecord& record) {
    const EvaluationMode evaluation(model_);
    const FrozenParameters<Scalar> frozen(discriminator_params_);
    data::BatchSampler sampler(test.size(), 500);
    RunningMeans means;
    for (const data::Batch& batch : sampler.epoch(0)) {
      const Slice slice = this->parallel().slice(batch.size());
      if (slice.count == 0) continue;
      evaluation_tape_.reset();
      Var<Scalar> x = evaluation_tape_.constant(test.features(), slice.count);
      test.template fill_batch<Scaling>(evaluation_tape_.value_of(x), slice.of(batch));
      means.add_sum("d_real", static_cast<double>(Loss::output(model_.discriminate(x).value().array()).sum()),
                    static_cast<double>(slice.count));
    }
    this->parallel().global_means(means).write_to(record, "test_");
    if (monitor_.classify) monitor_into(record);
  }

  /// Watches for mode collapse after every epoch (see ModeMonitor).
  void monitor_modes(ModeMonitor<Scalar> monitor) {
    if (!monitor.classify) throw error("GanTrainer::monitor_modes: the monitor has no classifier");
    if (monitor.classes < 2 || monitor.samples < 1) throw error("GanTrainer::monitor_modes: needs 2+ classes and 1+ samples");
    monitor_ = std::move(monitor);
    monitor_noise_.resize(model_.noise_dim(), monitor_.samples);
    Rng rng(monitor_.seed);
    model_.sample_noise(monitor_noise_, rng);
  }

  /// The class histogram of the monitor's fixed batch of samples, now.
  ClassHistogram mode_histogram() {
    if (!monitor_.classify) throw error("GanTrainer::mode_histogram: no mode monitor is set (monitor_modes)");
    return ClassHistogram::of(monitor_.classify(model_.generate(monitor_noise_)), monitor_.classes);
  }

  /// The trainer's part of a checkpoint (see EpochTrainer::save_checkpoint):
  /// both networks ("gan.generator.*", "gan.discriminator.*"), both
  /// optimizers, the noise generator, the critic-step count.
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
  /// Clips (if asked) and applies one network's gradients, then clears them;
  /// returns the gradient norm before clipping.
  template <class Optimizer>
  double step(Optimizer& optimizer, const ParameterList<Scalar>& params) {
    const double norm = options_.clip_grad_norm > 0 ? clip_grad_norm(params, options_.clip_grad_norm) : grad_norm(params);
    optimizer.step(params);
    zero_grad(params);
    return norm;
  }

  void monitor_into(EpochRecord& record) {
    const ClassHistogram histogram = mode_histogram();
    for (int k = 0; k < monitor_.classes; ++k) record.set("mode_class_" + std::to_string(k), histogram.fraction(k));
    const double entropy = histogram.entropy();
    record.set("mode_entropy", entropy);
    const double threshold = monitor_.warn_below_fraction * std::log(static_cast<double>(monitor_.classes));
    if (entropy < threshold && this->parallel().rank() == 0) {
      std::string fractions;
      for (int k = 0; k < monitor_.classes; ++k)
        fractions += (k ? " " : "") + std::to_string(k) + ":" + std::to_string(static_cast<int>(std::lround(100 * histogram.fraction(k)))) + "%";
      std::fprintf(stderr,
                   "warning: epoch %d: the class entropy of generated samples is %.3f nats, below %.3f: the generator "
                   "may be collapsing onto a few modes (classes %s)\n",
                   record.epoch, entropy, threshold, fractions.c_str());
    }
  }

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
  Tape<Scalar> evaluation_tape_;
  ModeMonitor<Scalar> monitor_;
  Matrix<Scalar> monitor_noise_;
};

}  // namespace latent
