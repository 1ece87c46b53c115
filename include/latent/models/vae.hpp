// latent/models/vae.hpp: the variational autoencoder as a composition of
// policies: Vae<Encoder, Decoder, Likelihood, Prior>. Its objective is the
// negative ELBO, -E_q[log p(x|z)] + beta KL(q(z|x) || p(z)), with the
// reparameterization z = mu + e^{logvar/2} eps, in nats per example.
#pragma once

#include <string>
#include <type_traits>
#include <utility>

#include "latent/autodiff/autodiff.hpp"
#include "latent/models/interpolation.hpp"
#include "latent/models/likelihood.hpp"
#include "latent/models/prior.hpp"
#include "latent/nn/decoder.hpp"
#include "latent/nn/encoder.hpp"

namespace latent {

template <class Encoder, class Decoder, class Likelihood = Bernoulli, class Prior = StandardNormal>
class Vae : public Module<Vae<Encoder, Decoder, Likelihood, Prior>, typename Encoder::Scalar> {
 public:
  using Scalar = typename Encoder::Scalar;
  static_assert(std::is_same<Scalar, typename Decoder::Scalar>::value, "Vae: the encoder and decoder must use the same scalar type");

  /// The negative ELBO and its two parts, each 1x1, nats per example.
  struct Terms {
    Var<Scalar> loss;            ///< reconstruction + beta * kl
    Var<Scalar> reconstruction;  ///< -E_q[log p(x | z)], one sample of z
    Var<Scalar> kl;              ///< KL(q(z | x) || p(z))
  };

  /// mu and logvar of q(z | x), latent x batch.
  struct Posterior {
    Matrix<Scalar> mu, logvar;
  };

  Vae(Encoder encoder, Decoder decoder, Likelihood likelihood = {}, Prior prior = {})
      : encoder_(std::move(encoder)), decoder_(std::move(decoder)), likelihood_(std::move(likelihood)), prior_(std::move(prior)) {
    if (encoder_.latent_dim() != decoder_.latent_dim())
      throw shape_error("Vae: the encoder's latent size " + std::to_string(encoder_.latent_dim()) +
                        " differs from the decoder's input size " + std::to_string(decoder_.latent_dim()));
    if (encoder_.in_features() != decoder_.out_features())
      throw shape_error("Vae: the encoder reads " + std::to_string(encoder_.in_features()) + " features but the decoder writes " +
                        std::to_string(decoder_.out_features()));
    likelihood_.bind(decoder_.out_features());
  }

  /// Records the negative ELBO of the batch x (features x batch) with the
  /// noise eps (latent x batch) given, so a caller can hold it fixed.
  Terms negative_elbo(Var<Scalar> x, Var<Scalar> eps, double beta = 1.0) {
    auto q = encoder_(x);
    Var<Scalar> z = reparameterize(q.mu, q.logvar, eps);
    Var<Scalar> reconstruction = likelihood_.negative_log_likelihood(decoder_(z), x);
    Var<Scalar> kl = prior_.kl(q.mu, q.logvar);
    return {beta == 1.0 ? reconstruction + kl : reconstruction + beta * kl, reconstruction, kl};
  }

  /// q(z | x) for plain matrices (evaluation mode, a tape of its own).
  Posterior posterior(const Matrix<Scalar>& x) {
    const EvaluationMode evaluation(*this);
    Tape<Scalar> tape;
    auto q = encoder_(tape.constant(x));
    return {q.mu.value(), q.logvar.value()};
  }

  /// The means of q(z | x).
  Matrix<Scalar> encode(const Matrix<Scalar>& x) { return posterior(x).mu; }

  /// The decoder's raw output for codes z (e.g. Bernoulli logits), in
  /// evaluation mode; decode, sample, reconstruct and interpolate use it.
  Matrix<Scalar> decoder_output(const Matrix<Scalar>& z) {
    const EvaluationMode evaluation(*this);
    Tape<Scalar> tape;
    return decoder_(tape.constant(z)).value();
  }

  /// The mean of p(x | z) (pixel intensities for Bernoulli).
  Matrix<Scalar> decode(const Matrix<Scalar>& z) { return likelihood_.mean(decoder_output(z)); }

  /// decode(encode(x)).
  Matrix<Scalar> reconstruct(const Matrix<Scalar>& x) { return decode(encode(x)); }

  /// n samples from the model: z ~ p(z), then the mean of p(x | z).
  Matrix<Scalar> sample(Index n, Rng& rng) {
    Matrix<Scalar> z(latent_dim(), n);
    prior_.sample(z, rng);
    return decode(z);
  }

  /// `steps` codes on the straight line from z0 to z1 (latent x 1 each, both
  /// ends included, steps >= 2: interpolation_path), decoded.
  Matrix<Scalar> interpolate(const Matrix<Scalar>& z0, const Matrix<Scalar>& z1, Index steps) {
    if (z0.rows() != latent_dim() || z1.rows() != latent_dim() || z0.cols() != 1 || z1.cols() != 1)
      throw shape_error("Vae::interpolate: codes must be " + shape_string(latent_dim(), 1) + ", got " + shape_string(z0) +
                        " and " + shape_string(z1));
    return decode(interpolation_path(z0, z1, steps));
  }

  Index latent_dim() const { return encoder_.latent_dim(); }
  Index data_dim() const { return encoder_.in_features(); }
  Encoder& encoder() { return encoder_; }
  Decoder& decoder() { return decoder_; }
  Likelihood& likelihood() { return likelihood_; }
  const Prior& prior() const { return prior_; }

  template <class Visit>
  void for_each_child(Visit&& visit) {
    visit("encoder", encoder_);
    visit("decoder", decoder_);
  }

  /// The encoder's and decoder's parameters, then the likelihood's (a learned variance).
  NamedParameterList<Scalar> named_parameters() {
    NamedParameterList<Scalar> named = Module<Vae, Scalar>::named_parameters();
    append_prefixed(named, "likelihood", likelihood_.template named_parameters<Scalar>());
    return named;
  }

 private:
  Encoder encoder_;
  Decoder decoder_;
  Likelihood likelihood_;
  Prior prior_;
};

}  // namespace latent
