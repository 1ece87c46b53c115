// latent/models/vae_gan.hpp: the VAE-GAN of Larsen et al. 2016
// ("Autoencoding beyond pixels using a learned similarity metric"): a VAE
// whose decoder is also a GAN's generator, and whose reconstruction error is
// measured in a hidden layer of the GAN's discriminator instead of in pixels,
// so reconstructions and prior samples are judged by features the
// discriminator learned rather than by a blurring pixel likelihood.
//
// VaeGan<Encoder, Decoder, Discriminator, Loss, Prior>: the encoder gives
// q(z | x) (GaussianEncoder), the decoder maps codes to images (its output
// activation makes them images, tanh for [-1, 1]), the discriminator has
// features() and a head (FeatureDiscriminator), the Loss is a GAN loss
// policy (models/gan_loss.hpp). Three networks, three losses (paper, eq. 9):
//   encoder        beta * KL(q(z|x) || p(z)) + E_feat
//   decoder        gamma * E_feat + the GAN generator loss on reconstructions
//                  and prior samples
//   discriminator  the GAN discriminator loss on real images, reconstructions
//                  and prior samples
// where E_feat = 1/2 |D_l(x) - D_l(x~)|^2 per example (summed over the
// features, averaged over the batch): -log N(D_l(x); D_l(x~), I) up to a
// constant, x~ the reconstruction of x. The discriminator does not learn
// from E_feat. A trainer records each loss on a tape of its own with the
// other networks frozen (train/vae_gan_trainer.hpp).
#pragma once

#include <string>
#include <type_traits>
#include <utility>

#include "latent/autodiff/autodiff.hpp"
#include "latent/models/gan.hpp"
#include "latent/models/interpolation.hpp"
#include "latent/models/prior.hpp"

namespace latent {

template <class Encoder, class Decoder, class Discriminator, class Loss = NonSaturatingBce, class Prior = StandardNormal>
class VaeGan : public Module<VaeGan<Encoder, Decoder, Discriminator, Loss, Prior>, typename Encoder::Scalar> {
 public:
  using Scalar = typename Encoder::Scalar;
  using LossPolicy = Loss;
  using Critic = GanCritic<Discriminator>;
  static_assert(std::is_same<Scalar, typename Decoder::Scalar>::value && std::is_same<Scalar, typename Discriminator::Scalar>::value,
                "VaeGan: the encoder, decoder and discriminator must use the same scalar type");

  /// The encoder's loss and its parts (1x1 each); z and the reconstruction
  /// it was computed from (latent x batch, features x batch).
  struct EncoderTerms {
    Var<Scalar> loss;           ///< kl_weight * kl + feature_error
    Var<Scalar> kl;             ///< KL(q(z | x) || p(z)), nats per example
    Var<Scalar> feature_error;  ///< 1/2 |D_l(x) - D_l(x~)|^2 per example
    Var<Scalar> z;
    Var<Scalar> reconstruction;
  };

  /// The decoder's loss and its parts; the GAN terms (scores of the
  /// reconstructions and prior samples, side by side).
  struct DecoderTerms {
    Var<Scalar> loss;           ///< gamma * feature_error + gan.loss
    Var<Scalar> feature_error;
    GanTerms<Scalar> gan;
    Var<Scalar> reconstruction;  ///< x~ = decoder(z), features x batch
    Var<Scalar> prior_samples;   ///< decoder(z_prior)
  };

  VaeGan(Encoder encoder, Decoder decoder, Discriminator discriminator, Loss loss = Loss(), Prior prior = Prior())
      : encoder_(std::move(encoder)),
        decoder_(std::move(decoder)),
        discriminator_(std::move(discriminator)),
        loss_(loss),
        prior_(prior) {
    if (encoder_.latent_dim() != decoder_.latent_dim())
      throw shape_error("VaeGan: the encoder's latent size " + std::to_string(encoder_.latent_dim()) +
                        " differs from the decoder's input size " + std::to_string(decoder_.latent_dim()));
    if (encoder_.in_features() != decoder_.out_features() || discriminator_.in_features() != decoder_.out_features())
      throw shape_error("VaeGan: the encoder reads " + std::to_string(encoder_.in_features()) + " features, the decoder writes " +
                        std::to_string(decoder_.out_features()) + ", the discriminator reads " +
                        std::to_string(discriminator_.in_features()));
    detail::check_critic_for_loss<Loss>("VaeGan", discriminator_);
  }

  /// Records the encoder's loss for the batch x (features x batch, scaled as
  /// the decoder writes images) with the noise eps (latent x batch):
  /// kl_weight * KL + the feature error. Freeze the decoder and the
  /// discriminator to train the encoder alone.
  EncoderTerms encoder_loss(Var<Scalar> x, Var<Scalar> eps, double kl_weight = 1.0) {
    auto q = encoder_(x);
    Var<Scalar> z = reparameterize(q.mu, q.logvar, eps);
    Var<Scalar> reconstruction = decoder_(z);
    Var<Scalar> kl = prior_.kl(q.mu, q.logvar);
    Var<Scalar> error = feature_error(x, reconstruction);
    return {kl_weight == 1.0 ? kl + error : kl_weight * kl + error, kl, error, z, reconstruction};
  }

  /// Records the decoder's loss: codes z of x (from the encoder's step, as a
  /// constant) and codes z_prior drawn from the prior; gamma weighs the
  /// feature error against the GAN loss. Freeze the discriminator to train
  /// the decoder alone; `discriminator_parameters` is what the critic's
  /// parameters() returns (see GanCritic).
  DecoderTerms decoder_loss(Var<Scalar> x, Var<Scalar> z, Var<Scalar> z_prior, double gamma,
                            const ParameterList<Scalar>* discriminator_parameters = nullptr) {
    Var<Scalar> reconstruction = decoder_(z);
    Var<Scalar> prior_samples = decoder_(z_prior);
    Var<Scalar> error = feature_error(x, reconstruction);
    GanBatch<Scalar> batch;
    batch.real = x;
    batch.fake = concat_columns(reconstruction, prior_samples);
    Critic critic(discriminator_, {}, discriminator_parameters);
    GanTerms<Scalar> gan = loss_.generator_terms(critic, batch);
    return {gamma == 1.0 ? error + gan.loss : gamma * error + gan.loss, error, gan, reconstruction, prior_samples};
  }

  /// Records the discriminator's loss: batch.real the real images, batch.fake
  /// the reconstructions and prior samples side by side (a constant).
  GanTerms<Scalar> discriminator_loss(const GanBatch<Scalar>& batch, const ParameterList<Scalar>* discriminator_parameters = nullptr) {
    Critic critic(discriminator_, {}, discriminator_parameters);
    return loss_.discriminator_terms(critic, batch);
  }

  /// 1/2 |D_l(x) - D_l(x~)|^2 per example, averaged over the batch (1x1).
  Var<Scalar> feature_error(Var<Scalar> x, Var<Scalar> reconstruction) {
    Var<Scalar> difference = discriminator_.features(x) - discriminator_.features(reconstruction);
    return (0.5 / static_cast<double>(x.cols())) * sum(square(difference));
  }

  /// The means of q(z | x), in evaluation mode.
  Matrix<Scalar> encode(const Matrix<Scalar>& x) {
    const EvaluationMode evaluation(encoder_);
    Tape<Scalar> tape;
    return encoder_(tape.constant(x)).mu.value();
  }

  /// Images for codes z (latent x batch), in evaluation mode.
  Matrix<Scalar> decode(const Matrix<Scalar>& z) {
    const EvaluationMode evaluation(decoder_);
    return evaluate_in_blocks(z, Matrix<Scalar>(), [this](Var<Scalar> z_block, Var<Scalar>) { return decoder_(z_block); });
  }

  /// decode(encode(x)).
  Matrix<Scalar> reconstruct(const Matrix<Scalar>& x) { return decode(encode(x)); }

  /// n samples: z ~ p(z), then the decoder's images.
  Matrix<Scalar> sample(Index n, Rng& rng) {
    Matrix<Scalar> z(latent_dim(), n);
    prior_.sample(z, rng);
    return decode(z);
  }

  /// `steps` codes on the straight line from z0 to z1, decoded.
  Matrix<Scalar> interpolate(const Matrix<Scalar>& z0, const Matrix<Scalar>& z1, Index steps) {
    return decode(interpolation_path(z0, z1, steps));
  }

  /// D's scores for plain matrices (evaluation: evaluation mode, a tape of its own, D frozen).
  Matrix<Scalar> discriminate(const Matrix<Scalar>& x) {
    const EvaluationMode evaluation(discriminator_);
    const ParameterList<Scalar> params = discriminator_.parameters();
    const FrozenParameters<Scalar> frozen(params);
    Tape<Scalar> tape;
    return discriminator_(tape.constant(x)).value();
  }

  Index latent_dim() const { return encoder_.latent_dim(); }
  Index data_dim() const { return decoder_.out_features(); }
  Encoder& encoder() { return encoder_; }
  Decoder& decoder() { return decoder_; }
  Discriminator& discriminator() { return discriminator_; }
  const Loss& loss() const { return loss_; }
  const Prior& prior() const { return prior_; }

  ParameterList<Scalar> encoder_parameters() { return encoder_.parameters(); }
  ParameterList<Scalar> decoder_parameters() { return decoder_.parameters(); }
  ParameterList<Scalar> discriminator_parameters() { return discriminator_.parameters(); }

  template <class Visit>
  void for_each_child(Visit&& visit) {
    visit("encoder", encoder_);
    visit("decoder", decoder_);
    visit("discriminator", discriminator_);
  }

 private:
  Encoder encoder_;
  Decoder decoder_;
  Discriminator discriminator_;
  Loss loss_;
  Prior prior_;
};

}  // namespace latent
