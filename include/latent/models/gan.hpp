// latent/models/gan.hpp: the generative adversarial network as a composition
// of policies: Gan<Generator, Discriminator, Loss, Noise>. The generator maps
// noise z ~ Noise to images, the discriminator maps images to one score each,
// and the Loss policy (models/gan_loss.hpp) says what each network minimizes.
// The two networks keep separate parameter sets (generator_parameters(),
// discriminator_parameters()) for two optimizers: a GAN is a game, not one
// objective.
#pragma once

#include <string>
#include <type_traits>
#include <utility>

#include "latent/autodiff/autodiff.hpp"
#include "latent/models/gan_loss.hpp"
#include "latent/models/noise.hpp"
#include "latent/nn/discriminator.hpp"
#include "latent/nn/generator.hpp"

namespace latent {

template <class Generator, class Discriminator, class Loss = NonSaturatingBce, class Noise = NormalNoise>
class Gan : public Module<Gan<Generator, Discriminator, Loss, Noise>, typename Generator::Scalar> {
 public:
  using Scalar = typename Generator::Scalar;
  using LossPolicy = Loss;
  using NoisePolicy = Noise;
  static_assert(std::is_same<Scalar, typename Discriminator::Scalar>::value,
                "Gan: the generator and discriminator must use the same scalar type");

  /// The discriminator's loss and the scores it was computed from (1 x batch each).
  struct DiscriminatorTerms {
    Var<Scalar> loss;
    Var<Scalar> real_scores;
    Var<Scalar> fake_scores;
  };

  /// The generator's loss and the discriminator's scores of its samples.
  struct GeneratorTerms {
    Var<Scalar> loss;
    Var<Scalar> fake_scores;
  };

  Gan(Generator generator, Discriminator discriminator, Loss loss = {}, Noise noise = {})
      : generator_(std::move(generator)), discriminator_(std::move(discriminator)), loss_(loss), noise_(noise) {
    if (generator_.out_features() != discriminator_.in_features())
      throw shape_error("Gan: the generator writes " + std::to_string(generator_.out_features()) +
                        " features but the discriminator reads " + std::to_string(discriminator_.in_features()));
  }

  /// Records G(z): images, features x batch.
  Var<Scalar> generate(Var<Scalar> z) { return generator_(z); }
  /// Records D(x): one score per column of x, 1 x batch.
  Var<Scalar> discriminate(Var<Scalar> x) { return discriminator_(x); }

  /// Records the discriminator's loss on a real batch and a generated one
  /// (features x batch each; pass the generated batch as a constant to train
  /// D alone). real_label < 1 is one-sided label smoothing.
  DiscriminatorTerms discriminator_loss(Var<Scalar> real, Var<Scalar> fake, double real_label = 1.0) {
    Var<Scalar> real_scores = discriminator_(real);
    Var<Scalar> fake_scores = discriminator_(fake);
    return {loss_.discriminator(real_scores, fake_scores, real_label), real_scores, fake_scores};
  }

  /// Records the generator's loss on generated images (features x batch).
  /// Freeze the discriminator's parameters (FrozenParameters) to train G
  /// alone without computing D's weight gradients.
  GeneratorTerms generator_loss(Var<Scalar> fake) {
    Var<Scalar> fake_scores = discriminator_(fake);
    return {loss_.generator(fake_scores), fake_scores};
  }

  /// Fills z (noise x batch) with noise.
  void sample_noise(Matrix<Scalar>& z, Rng& rng) const { noise_.sample(z, rng); }

  /// G(z) for plain matrices (evaluation: evaluation mode, a tape of its own, G frozen).
  Matrix<Scalar> generate(const Matrix<Scalar>& z) {
    const EvaluationMode evaluation(generator_);
    const ParameterList<Scalar> params = generator_.parameters();
    const FrozenParameters<Scalar> frozen(params);
    Tape<Scalar> tape;
    return generator_(tape.constant(z)).value();
  }

  /// n samples: z ~ Noise, then G(z).
  Matrix<Scalar> sample(Index n, Rng& rng) {
    Matrix<Scalar> z(noise_dim(), n);
    sample_noise(z, rng);
    return generate(z);
  }

  /// D's scores for plain matrices (evaluation: evaluation mode, a tape of
  /// its own, D frozen, so a spectrally normalized layer does not advance its
  /// power iteration).
  Matrix<Scalar> discriminate(const Matrix<Scalar>& x) {
    const EvaluationMode evaluation(discriminator_);
    const ParameterList<Scalar> params = discriminator_.parameters();
    const FrozenParameters<Scalar> frozen(params);
    Tape<Scalar> tape;
    return discriminator_(tape.constant(x)).value();
  }

  Index noise_dim() const { return generator_.noise_dim(); }
  Index data_dim() const { return discriminator_.in_features(); }
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
};

}  // namespace latent
