// latent/models/gan.hpp: the generative adversarial network as a composition
// of policies: Gan<Generator, Discriminator, Loss, Noise>. The generator maps
// noise z ~ Noise to images, the discriminator maps images to one score each,
// and the Loss policy (models/gan_loss.hpp) says what each network minimizes,
// seeing the critic and both batches. The two networks keep separate
// parameter sets (generator_parameters(), discriminator_parameters()) for two
// optimizers: a GAN is a game, not one objective.
//
// With Conditioning{classes} the GAN is conditional (Mirza & Osindero 2014):
// the generator reads [z; y] and the critic [x; y], y the one-hot labels
// (models/condition.hpp), so G's input is noise + classes wide and D's
// input images + classes.
#pragma once

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "latent/autodiff/autodiff.hpp"
#include "latent/models/condition.hpp"
#include "latent/concepts.hpp"
#include "latent/models/gan_loss.hpp"
#include "latent/models/noise.hpp"
#include "latent/nn/discriminator.hpp"
#include "latent/nn/generator.hpp"

namespace latent {

/// The discriminator as a loss sees it in one step: callable on images on
/// any tape (scores, 1 x batch), with the batch's condition attached; jvp()
/// for penalties; parameters() for losses that freeze it. It refers to the
/// discriminator, the condition and (if given) a parameter list kept by the
/// caller, which must outlive it.
template <class Discriminator>
class GanCritic {
 public:
  using Scalar = typename Discriminator::Scalar;
  
  GanCritic(Discriminator& discriminator, Var<Scalar> condition, const ParameterList<Scalar>* parameters)
      : discriminator_(discriminator), condition_(condition), parameters_(parameters) {}

  Var<Scalar> operator()(Var<Scalar> x) { return discriminator_(detail::with_condition(x, condition_)); }

  /// The scores and their derivative along x's tangent; the condition is a
  /// constant (its tangent is zero).
  Dual<Scalar> jvp(const Dual<Scalar>& x) {
    if (!condition_.valid()) return discriminator_.jvp(x);
    Tape<Scalar>& tape = x.value.tape();
    Var<Scalar> zeros = tape.constant(condition_.rows(), x.value.cols());
    tape.value_of(zeros).setZero();
    return discriminator_.jvp(Dual<Scalar>{detail::with_condition(x.value, condition_), concat(x.tangent, zeros)});
  }

  /// The discriminator's parameters (the caller's list, else one made now).
  const ParameterList<Scalar>& parameters() {
    if (parameters_ == nullptr) {
      own_parameters_ = discriminator_.parameters();
      parameters_ = &own_parameters_;
    }
    return *parameters_;
  }

 private:
  Discriminator& discriminator_;
  Var<Scalar> condition_;
  const ParameterList<Scalar>* parameters_;
  ParameterList<Scalar> own_parameters_;
};

namespace detail {

/// A loss that differentiates each example's score by that example's input
/// (a gradient penalty) is refused a discriminator whose scores depend on the
/// whole batch.
template <class Loss, class Discriminator>
void check_critic_for_loss(const char* model, Discriminator& discriminator) {
  if constexpr (Loss::takes_input_gradients)
    if (mixes_columns(discriminator))
      throw error(std::string(model) + ": the " + Loss::name +
                  " loss differentiates each example's score by that example's input, but the discriminator normalizes "
                  "over the batch (BatchNorm in training mode), so each score depends on the whole batch; use a "
                  "discriminator without batch normalization");
}

}  // namespace detail

template <class Generator, class Discriminator, class Loss = NonSaturatingBce, class Noise = NormalNoise>
class Gan : public Module<Gan<Generator, Discriminator, Loss, Noise>, contract::scalar_of_t<Generator>> {
 public:
  using Scalar = contract::scalar_of_t<Generator>;
  using LossPolicy = Loss;
  using NoisePolicy = Noise;
  using Terms = GanTerms<Scalar>;
  using Critic = GanCritic<Discriminator>;

 private:
  static_assert(contract::Generator<Generator>::ok && contract::Discriminator<Discriminator>::ok);
  static_assert(std::is_same<Scalar, contract::scalar_of_t<Discriminator>>::value,
                "Gan: the generator and discriminator must use the same scalar type");
  static_assert(contract::GanLoss<Loss, Scalar, Critic, GanBatch<Scalar>>::ok && contract::Noise<Noise, Scalar>::ok);

 public:

  Gan(Generator generator, Discriminator discriminator, Loss loss = Loss(), Noise noise = Noise(), Conditioning conditioning = Conditioning())
      : generator_(std::move(generator)),
        discriminator_(std::move(discriminator)),
        loss_(loss),
        noise_(noise),
        classes_(conditioning.classes) {
    if (classes_ < 0) throw error("Gan: " + std::to_string(classes_) + " classes");
    const std::string condition = classes_ > 0 ? " + " + std::to_string(classes_) + " classes" : "";
    if (generator_.noise_dim() <= classes_)
      throw shape_error("Gan: the generator reads " + std::to_string(generator_.noise_dim()) + " features, no room for noise" +
                        condition);
    if (discriminator_.in_features() <= classes_ || generator_.out_features() != discriminator_.in_features() - classes_)
      throw shape_error("Gan: the generator writes " + std::to_string(generator_.out_features()) +
                        " features but the discriminator reads " + std::to_string(discriminator_.in_features()) +
                        (classes_ > 0 ? " (images" + condition + ")" : ""));
    detail::check_critic_for_loss<Loss>("Gan", discriminator_);
  }

  /// Records G(z), images (features x batch); a conditional GAN reads the
  /// batch's one-hot labels too (classes x batch).
  Var<Scalar> generate(Var<Scalar> z, Var<Scalar> condition = {}) {
    detail::check_condition("Gan::generate", classes_, z.cols(), condition);
    return generator_(detail::with_condition(z, condition));
  }
  /// Records D(x): one score per column of x, 1 x batch.
  Var<Scalar> discriminate(Var<Scalar> x, Var<Scalar> condition = {}) {
    detail::check_condition("Gan::discriminate", classes_, x.cols(), condition);
    return discriminator_(detail::with_condition(x, condition));
  }

  /// The discriminator as the loss sees it, with `condition` attached.
  /// `discriminator_parameters` (a list the caller keeps, so a step
  /// allocates nothing) is what the critic's parameters() returns.
  Critic critic(Var<Scalar> condition = {}, const ParameterList<Scalar>* discriminator_parameters = nullptr) {
    return Critic(discriminator_, condition, discriminator_parameters);
  }

  /// Records the discriminator's loss for a batch (GanBatch: the real batch,
  /// a generated one, the labels of a conditional model, ...). Pass the
  /// generated batch as a constant to train D alone.
  Terms discriminator_loss(const GanBatch<Scalar>& batch, Var<Scalar> condition = {},
                           const ParameterList<Scalar>* discriminator_parameters = nullptr) {
    detail::check_condition("Gan::discriminator_loss", classes_, batch.real.cols(), condition);
    Critic d = critic(condition, discriminator_parameters);
    return loss_.discriminator_terms(d, batch);
  }

  /// Records the generator's loss for a batch whose fake member is G's
  /// output. Freeze the discriminator's parameters (FrozenParameters) to
  /// train G alone without computing D's weight gradients.
  Terms generator_loss(const GanBatch<Scalar>& batch, Var<Scalar> condition = {},
                       const ParameterList<Scalar>* discriminator_parameters = nullptr) {
    detail::check_condition("Gan::generator_loss", classes_, batch.fake.cols(), condition);
    Critic d = critic(condition, discriminator_parameters);
    return loss_.generator_terms(d, batch);
  }

  /// The discriminator's loss of an unconditional GAN on a real and a
  /// generated batch; real_label < 1 is one-sided label smoothing.
  Terms discriminator_loss(Var<Scalar> real, Var<Scalar> fake, double real_label = 1.0) {
    GanBatch<Scalar> batch;
    batch.real = real;
    batch.fake = fake;
    batch.real_label = real_label;
    return discriminator_loss(batch);
  }

  /// The generator's loss of an unconditional GAN on generated images.
  Terms generator_loss(Var<Scalar> fake) {
    GanBatch<Scalar> batch;
    batch.fake = fake;
    return generator_loss(batch);
  }

  /// Fills z (noise x batch) with noise.
  void sample_noise(Matrix<Scalar>& z, Rng& rng) const { noise_.sample(z, rng); }

  /// G(z) for plain matrices (evaluation: evaluation mode, a tape of its own,
  /// G frozen); a conditional GAN takes the one-hot labels too (classes x batch).
  Matrix<Scalar> generate(const Matrix<Scalar>& z, const Matrix<Scalar>& condition = Matrix<Scalar>()) {
    const EvaluationMode evaluation(generator_);
    const ParameterList<Scalar> params = generator_.parameters();
    const FrozenParameters<Scalar> frozen(params);
    return evaluate_in_blocks(z, condition, [this](Var<Scalar> z_block, Var<Scalar> condition_block) {
      return generate(z_block, condition_block);
    });
  }

  /// n samples of an unconditional GAN: z ~ Noise, then G(z).
  Matrix<Scalar> sample(Index n, Rng& rng) {
    if (classes_ > 0)
      throw error("Gan::sample: the GAN is conditioned on " + std::to_string(classes_) +
                  " classes; ask for samples of given labels (sample(labels, rng))");
    Matrix<Scalar> z(noise_dim(), n);
    sample_noise(z, rng);
    return generate(z);
  }

  /// One sample of a conditional GAN for each label (0..classes-1).
  Matrix<Scalar> sample(const std::vector<int>& labels, Rng& rng) {
    const Matrix<Scalar> condition = detail::condition_matrix<Scalar>("Gan::sample", classes_, labels);
    Matrix<Scalar> z(noise_dim(), condition.cols());
    sample_noise(z, rng);
    return generate(z, condition);
  }

  /// D's scores for plain matrices (evaluation: evaluation mode, a tape of
  /// its own, D frozen, so a spectrally normalized layer does not advance its
  /// power iteration).
  Matrix<Scalar> discriminate(const Matrix<Scalar>& x, const Matrix<Scalar>& condition = Matrix<Scalar>()) {
    const EvaluationMode evaluation(discriminator_);
    const ParameterList<Scalar> params = discriminator_.parameters();
    const FrozenParameters<Scalar> frozen(params);
    Tape<Scalar> tape;
    return discriminate(tape.constant(x), condition.size() > 0 ? tape.constant(condition) : Var<Scalar>()).value();
  }

  /// The noise's dimensions (the generator reads these plus classes()).
  Index noise_dim() const { return generator_.noise_dim() - classes_; }
  /// The images' features (the discriminator reads these plus classes()).
  Index data_dim() const { return discriminator_.in_features() - classes_; }
  /// The classes a conditional GAN is conditioned on; 0: unconditional.
  Index classes() const { return classes_; }
  Generator& generator() { return generator_; }
  Discriminator& discriminator() { return discriminator_; }
  const Loss& loss() const { return loss_; }
  const Noise& noise() const { return noise_; }

  ParameterList<Scalar> generator_parameters() { return generator_.parameters(); }
  ParameterList<Scalar> discriminator_parameters() { return discriminator_.parameters(); }

  template <class Visit>
  void for_each_child(Visit&& visit) {
    visit("generator", generator_);
    visit("discriminator", discriminator_);
  }

 private:
  Generator generator_;
  Discriminator discriminator_;
  Loss loss_;
  Noise noise_;
  Index classes_;
};

}  // namespace latent
