// latent/models/vae.hpp: the variational autoencoder as a composition of
// policies: Vae<Encoder, Decoder, Likelihood, Prior>. Its objective is the
// negative ELBO, -E_q[log p(x|z)] + beta KL(q(z|x) || p(z)), with the
// reparameterization z = mu + e^{logvar/2} eps, in nats per example.
//
// With Conditioning{classes} the VAE is conditional (Sohn et al. 2015): the
// encoder reads [x; y] and the decoder [z; y], y the one-hot labels
// (models/condition.hpp), so the encoder's input is features + classes wide
// and the decoder's latent + classes; samples are drawn for given labels.
#pragma once

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "latent/autodiff/autodiff.hpp"
#include "latent/models/condition.hpp"
#include "latent/concepts.hpp"
#include "latent/models/interpolation.hpp"
#include "latent/models/likelihood.hpp"
#include "latent/models/prior.hpp"
#include "latent/nn/decoder.hpp"
#include "latent/nn/encoder.hpp"

namespace latent {

template <class Encoder, class Decoder, class Likelihood = Bernoulli, class Prior = StandardNormal>
class Vae : public Module<Vae<Encoder, Decoder, Likelihood, Prior>, contract::scalar_of_t<Encoder>> {
 public:
  using Scalar = contract::scalar_of_t<Encoder>;

 private:
  static_assert(contract::Encoder<Encoder>::ok && contract::Decoder<Decoder>::ok);
  static_assert(std::is_same<Scalar, contract::scalar_of_t<Decoder>>::value,
                "Vae: the encoder and decoder must use the same scalar type");
  static_assert(contract::Likelihood<Likelihood, Scalar>::ok && contract::Prior<Prior, Scalar>::ok);

 public:

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

  Vae(Encoder encoder, Decoder decoder, Likelihood likelihood = Likelihood(), Prior prior = Prior(), Conditioning conditioning = Conditioning())
      : encoder_(std::move(encoder)),
        decoder_(std::move(decoder)),
        likelihood_(std::move(likelihood)),
        prior_(std::move(prior)),
        classes_(conditioning.classes) {
    if (classes_ < 0) throw error("Vae: " + std::to_string(classes_) + " classes");
    const std::string condition = classes_ > 0 ? " + " + std::to_string(classes_) + " classes" : "";
    if (encoder_.latent_dim() + classes_ != decoder_.latent_dim())
      throw shape_error("Vae: the encoder's latent size " + std::to_string(encoder_.latent_dim()) + condition +
                        " differs from the decoder's input size " + std::to_string(decoder_.latent_dim()));
    if (encoder_.in_features() != decoder_.out_features() + classes_)
      throw shape_error("Vae: the encoder reads " + std::to_string(encoder_.in_features()) + " features but the decoder writes " +
                        std::to_string(decoder_.out_features()) + condition);
    likelihood_.bind(decoder_.out_features());
  }

  /// Records the negative ELBO of the batch x (features x batch) with the
  /// noise eps (latent x batch) given, so a caller can hold it fixed.
  Terms negative_elbo(Var<Scalar> x, Var<Scalar> eps, double beta = 1.0) { return negative_elbo(x, Var<Scalar>(), eps, beta); }

  /// The same for a conditional VAE, given the batch's one-hot labels
  /// (classes x batch; an invalid Var for an unconditional VAE).
  Terms negative_elbo(Var<Scalar> x, Var<Scalar> condition, Var<Scalar> eps, double beta = 1.0) {
    detail::check_condition("Vae::negative_elbo", classes_, x.cols(), condition);
    auto q = encoder_(detail::with_condition(x, condition));
    Var<Scalar> z = reparameterize(q.mu, q.logvar, eps);
    Var<Scalar> reconstruction = likelihood_.negative_log_likelihood(decoder_(detail::with_condition(z, condition)), x);
    Var<Scalar> kl = prior_.kl(q.mu, q.logvar);
    return {beta == 1.0 ? reconstruction + kl : reconstruction + beta * kl, reconstruction, kl};
  }

  /// q(z | x) for plain matrices (evaluation mode, a tape of its own), and
  /// the one-hot labels of x for a conditional VAE.
  Posterior posterior(const Matrix<Scalar>& x, const Matrix<Scalar>& condition = Matrix<Scalar>()) {
    const EvaluationMode evaluation(*this);
    Tape<Scalar> tape;
    auto q = encoder_(detail::with_condition(tape.constant(x), checked_condition(tape, "Vae::posterior", x.cols(), condition)));
    return {q.mu.value(), q.logvar.value()};
  }

  /// The means of q(z | x).
  Matrix<Scalar> encode(const Matrix<Scalar>& x, const Matrix<Scalar>& condition = Matrix<Scalar>()) { return posterior(x, condition).mu; }

  /// The decoder's raw output for codes z (e.g. Bernoulli logits), in
  /// evaluation mode; decode, sample, reconstruct and interpolate use it.
  Matrix<Scalar> decoder_output(const Matrix<Scalar>& z, const Matrix<Scalar>& condition = Matrix<Scalar>()) {
    const EvaluationMode evaluation(*this);
    return evaluate_in_blocks(z, condition, [this, &z](Var<Scalar> z_block, Var<Scalar> condition_block) {
      detail::check_condition("Vae::decode", classes_, condition_block.valid() ? z_block.cols() : z.cols(), condition_block);
      return decoder_(detail::with_condition(z_block, condition_block));
    });
  }

  /// The mean of p(x | z) (pixel intensities for Bernoulli).
  Matrix<Scalar> decode(const Matrix<Scalar>& z, const Matrix<Scalar>& condition = Matrix<Scalar>()) {
    return likelihood_.mean(decoder_output(z, condition));
  }

  /// decode(encode(x)), with x's labels for a conditional VAE.
  Matrix<Scalar> reconstruct(const Matrix<Scalar>& x, const Matrix<Scalar>& condition = Matrix<Scalar>()) {
    return decode(encode(x, condition), condition);
  }

  /// n samples from an unconditional model: z ~ p(z), then the mean of p(x | z).
  Matrix<Scalar> sample(Index n, Rng& rng) {
    if (classes_ > 0)
      throw error("Vae::sample: the VAE is conditioned on " + std::to_string(classes_) +
                  " classes; ask for samples of given labels (sample(labels, rng))");
    Matrix<Scalar> z(latent_dim(), n);
    prior_.sample(z, rng);
    return decode(z);
  }

  /// One sample of a conditional model for each label (0..classes-1).
  Matrix<Scalar> sample(const std::vector<int>& labels, Rng& rng) {
    const Matrix<Scalar> condition = detail::condition_matrix<Scalar>("Vae::sample", classes_, labels);
    Matrix<Scalar> z(latent_dim(), condition.cols());
    prior_.sample(z, rng);
    return decode(z, condition);
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
  Index data_dim() const { return decoder_.out_features(); }
  /// The classes a conditional VAE is conditioned on; 0: unconditional.
  Index classes() const { return classes_; }
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
  Index classes_;

  // A plain condition matrix as a constant on `tape` (checked against the
  // model and the batch), or an invalid Var for none.
  Var<Scalar> checked_condition(Tape<Scalar>& tape, const char* who, Index batch, const Matrix<Scalar>& condition) const {
    const Var<Scalar> var = condition.size() > 0 ? tape.constant(condition) : Var<Scalar>();
    detail::check_condition(who, classes_, batch, var);
    return var;
  }
};

}  // namespace latent
