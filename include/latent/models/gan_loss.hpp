// latent/models/gan_loss.hpp: GAN loss policies. A loss sees what a step
// has: the critic (the discriminator, callable on images on any tape, with
// jvp() and parameters(): GanCritic in models/gan.hpp) and a GanBatch (the
// real batch, a generated batch, and what a loss may draw on besides), and
// records what each network minimizes:
//   discriminator_terms(critic, batch)  the discriminator's (critic's) loss
//   generator_terms(critic, batch)      the generator's loss
//   output(scores)                      what "D(x)" means for monitoring
//   name, uses_labels                   uses_labels: real examples have a
//                                       target (one-sided label smoothing
//                                       sets GanBatch::real_label below 1,
//                                       or GanBatch::real_targets per example)
//   takes_input_gradients               the loss differentiates the critic
//                                       with respect to its input, column by
//                                       column (a critic that mixes the
//                                       columns of a batch is refused)
// So a gradient penalty (WassersteinGp) or a relativistic loss, which
// scores the real batch in the generator's step, is a policy like the
// others. Most losses are formulas of the two score rows: they derive from
// detail::ScoreLoss<Self> and write only static discriminator(real, fake,
// real_label) and generator(fake) on 1 x batch scores (means over the
// batch), which stay callable on scores; a loss with targets takes
// real_label as a number or as a 1 x batch row of targets.
//
// Keeping the critic Lipschitz is not a loss's business unless the loss does
// it by what it computes (the gradient penalty): weight clipping is a
// trainer policy (train/lipschitz.hpp), spectral normalization a layer
// (nn/spectral_norm.hpp).
#pragma once

#include <string>

#include "latent/autodiff/elementwise.hpp"
#include "latent/autodiff/losses.hpp"
#include "latent/autodiff/reduction.hpp"
#include "latent/models/gradient_penalty.hpp"
#include "latent/random.hpp"

namespace latent {

/// What a GAN loss records in one step, each 1x1 or 1 x batch.
template <class S>
struct GanTerms {
  Var<S> loss;         ///< what the network being trained minimizes
  Var<S> real_scores;  ///< the critic's scores of the real batch (invalid if the loss did not score it)
  Var<S> fake_scores;  ///< the critic's scores of the generated batch
  Var<S> penalty;      ///< a penalty the loss includes, unweighted (invalid if none)
};

/// The batches a loss sees in one step, on the tape being recorded: real
/// and fake are features x batch (the generated batch is a constant in the
/// critic's step, G's output in the generator's step; their column counts
/// may differ). real_label is the target of real examples (losses with
/// targets); real_targets, when valid, gives each real example its own
/// (1 x cols: DCGAN's targets drawn from U(0.8, 1) every step) and
/// overrides it. rng and scratch serve losses that draw numbers or take input
/// gradients; a trainer gives both. Data-parallel, the batch is one rank's
/// columns [offset, offset + cols) of a global batch of global_size columns
/// (0: the batch is whole), and a loss draws its numbers for the global
/// batch (for_each_uniform), so that they do not depend on the split.
template <class S>
struct GanBatch {
  Var<S> real;
  Var<S> fake;
  double real_label = 1.0;
  Var<S> real_targets;
  Rng* rng = nullptr;
  Tape<S>* scratch = nullptr;
  Index offset = 0;
  Index global_size = 0;

  /// visit(j, u) for each column j of this batch's `columns`, u uniform in
  /// [0, 1): one number is drawn for every column of the global batch, in
  /// order, and this batch's columns get theirs.
  template <class Visit>
  void for_each_uniform(Index columns, const Visit& visit) const {
    const Index total = global_size > 0 ? global_size : columns;
    if (offset < 0 || offset + columns > total)
      throw error("GanBatch: columns [" + std::to_string(offset) + ", " + std::to_string(offset + columns) +
                  ") are not in a global batch of " + std::to_string(total));
    for (Index j = 0; j < total; ++j) {
      const double u = rng->uniform();
      if (j >= offset && j < offset + columns) visit(j - offset, u);
    }
  }
};

namespace detail {

/// A constant 1 x n row of `value` on x's tape: the targets of a BCE term.
template <class S>
Var<S> constant_like(Var<S> x, double value) {
  return x.tape().constant(Matrix<S>::Constant(x.rows(), x.cols(), static_cast<S>(value)));
}

/// The targets of the scores x: a row of one number, or a row given whole.
template <class S>
Var<S> targets_like(Var<S> x, double value) {
  return constant_like(x, value);
}
template <class S>
Var<S> targets_like(Var<S> x, Var<S> targets) {
  if (targets.rows() != x.rows() || targets.cols() != x.cols())
    throw shape_error("GAN loss: the real examples' targets are " + shape_string(targets.value()) + " for scores " +
                      shape_string(x.value()));
  return targets;
}

/// A loss that is a formula of the critic's scores: it scores the batches
/// its formulas read and applies Self::discriminator / Self::generator.
template <class Self>
struct ScoreLoss {
  static constexpr bool takes_input_gradients = false;

  template <class Critic, class S>
  GanTerms<S> discriminator_terms(Critic& critic, const GanBatch<S>& batch) const {
    Var<S> real = critic(batch.real);
    Var<S> fake = critic(batch.fake);
    if constexpr (Self::uses_labels) {
      if (batch.real_targets.valid()) return {Self::discriminator(real, fake, batch.real_targets), real, fake, {}};
    }
    return {Self::discriminator(real, fake, batch.real_label), real, fake, {}};
  }

  template <class Critic, class S>
  GanTerms<S> generator_terms(Critic& critic, const GanBatch<S>& batch) const {
    Var<S> fake = critic(batch.fake);
    return {Self::generator(fake), {}, fake, {}};
  }
};

/// The losses on raw scores (no sigmoid): "D(x)" is the score itself.
struct RawScores {
  template <class A>
  static auto output(const A& scores) {
    return scores;
  }
};

/// The losses without targets, whose generator raises the critic's mean
/// score of its samples: G minimizes -E D(G(z)).
struct CriticGenerator : RawScores {
  static constexpr bool uses_labels = false;

  template <class S>
  static Var<S> generator(Var<S> fake) {
    return -mean(fake);
  }
};

/// The discriminator of the original GAN on logits, D(x) = sigmoid(logit):
/// BCE(real, real_label) + BCE(fake, 0).
struct BceDiscriminator {
  static constexpr bool uses_labels = true;

  template <class S, class Target = double>
  static Var<S> discriminator(Var<S> real, Var<S> fake, Target real_label = 1.0) {
    return bce_with_logits(real, targets_like(real, real_label)) + bce_with_logits(fake, constant_like(fake, 0.0));
  }

  template <class A>
  static auto output(const A& logits) {
    return logits.logistic();
  }
};

}  // namespace detail

/// The original GAN (Goodfellow et al. 2014): D(x) = sigmoid(logit), and the
/// value V(D, G) = E log D(x) + E log(1 - D(G(z))), which D maximizes and G
/// minimizes. On logits, log D = -softplus(-l) and log(1 - D) = -softplus(l):
/// the stable form of binary cross-entropy. G's gradient vanishes while D
/// rejects its samples confidently (d/dl log(1 - sigmoid(l)) = -sigmoid(l)),
/// which is why NonSaturatingBce is the default for training.
/// D: -V(D, G) = BCE(real, 1) + BCE(fake, 0) (targets real_label and 0).
struct MinimaxBce : detail::ScoreLoss<MinimaxBce>, detail::BceDiscriminator {
  static constexpr const char* name = "minimax";

  /// E log(1 - D(G(z))) = -BCE(fake, 0).
  template <class S>
  static Var<S> generator(Var<S> fake) {
    return -bce_with_logits(fake, detail::constant_like(fake, 0.0));
  }

  /// The value V(D, G) itself (at real_label 1): -log 4 where D outputs 1/2.
  template <class S>
  static Var<S> value(Var<S> real, Var<S> fake) {
    return -discriminator(real, fake);
  }
};

/// The same discriminator, but G minimizes -E log D(G(z)) = BCE(fake, 1):
/// strong gradients exactly when D rejects G's samples.
struct NonSaturatingBce : detail::ScoreLoss<NonSaturatingBce>, detail::BceDiscriminator {
  static constexpr const char* name = "nonsaturating";

  template <class S>
  static Var<S> generator(Var<S> fake) {
    return bce_with_logits(fake, detail::constant_like(fake, 1.0));
  }
};

/// Least-squares GAN (Mao et al. 2017) on raw outputs, targets 0 (fake) and 1 (real):
/// D: 1/2 E (D(x) - 1)^2 + 1/2 E D(G(z))^2,  G: 1/2 E (D(G(z)) - 1)^2.
struct LeastSquares : detail::ScoreLoss<LeastSquares>, detail::RawScores {
  static constexpr const char* name = "lsgan";
  static constexpr bool uses_labels = true;

  template <class S, class Target = double>
  static Var<S> discriminator(Var<S> real, Var<S> fake, Target real_label = 1.0) {
    return 0.5 * mean(square(real - detail::targets_like(real, real_label))) + 0.5 * mean(square(fake));
  }

  template <class S>
  static Var<S> generator(Var<S> fake) {
    return 0.5 * mean(square(fake - 1.0));
  }
};

/// Hinge loss (Lim & Ye 2017; Miyato et al. 2018), on raw scores:
/// D: E relu(1 - D(x)) + E relu(1 + D(G(z))),  G: -E D(G(z)).
struct Hinge : detail::ScoreLoss<Hinge>, detail::CriticGenerator {
  static constexpr const char* name = "hinge";

  template <class S>
  static Var<S> discriminator(Var<S> real, Var<S> fake, double /*real_label*/ = 1.0) {
    return mean(relu(1.0 - real)) + mean(relu(1.0 + fake));
  }
};

/// Wasserstein GAN (Arjovsky et al. 2017): the critic estimates the
/// Earth-Mover distance E D(x) - E D(G(z)) and must stay Lipschitz: by
/// weight clipping (WeightClip{0.01}, the paper's recipe; train/lipschitz.hpp),
/// by spectral normalization (SpectralDense), or by the penalty of
/// WassersteinGp. Critic: E D(G(z)) - E D(x),  G: -E D(G(z)).
struct Wasserstein : detail::ScoreLoss<Wasserstein>, detail::CriticGenerator {
  static constexpr const char* name = "wgan";

  template <class S>
  static Var<S> discriminator(Var<S> real, Var<S> fake, double /*real_label*/ = 1.0) {
    return mean(fake) - mean(real);
  }
};

/// WGAN-GP (Gulrajani et al. 2017): the Wasserstein critic loss plus
/// lambda * mean_i (|grad_x D(x_i)| - 1)^2 at random interpolates
/// x_i = e_i real_i + (1 - e_i) fake_i, e_i ~ U(0, 1) per example, whose
/// gradient with respect to the critic's parameters is exact
/// (models/gradient_penalty.hpp). The interpolates pair the columns of the
/// two batches, which must be equally many. The penalty is per example, so
/// a critic whose output for one column depends on the others (batch
/// normalization) is refused. The authors' recipe for MNIST: lambda 10,
/// five critic steps per generator step, Adam 1e-4 with betas (0.5, 0.9).
struct WassersteinGp : detail::CriticGenerator {
  static constexpr const char* name = "wgan-gp";
  static constexpr bool takes_input_gradients = true;

  double lambda = 10;

  template <class S>
  static Var<S> discriminator(Var<S> real, Var<S> fake, double real_label = 1.0) {
    return Wasserstein::discriminator(real, fake, real_label);
  }

  template <class Critic, class S>
  GanTerms<S> discriminator_terms(Critic& critic, const GanBatch<S>& batch) const {
    if (batch.rng == nullptr || batch.scratch == nullptr)
      throw error("WassersteinGp: the penalty needs the step's Rng and a scratch tape (GanBatch::rng, GanBatch::scratch)");
    if (batch.real.rows() != batch.fake.rows() || batch.real.cols() != batch.fake.cols())
      throw shape_error("WassersteinGp: interpolates pair real and generated examples, but the real batch is " +
                        shape_string(batch.real.value()) + " and the generated one " + shape_string(batch.fake.value()));
    Var<S> real_scores = critic(batch.real);
    Var<S> fake_scores = critic(batch.fake);
    Var<S> points = batch.real.tape().constant(batch.real.rows(), batch.real.cols());
    // Values are read after the last node is recorded: recording may move them.
    Matrix<S>& x = batch.real.tape().value_of(points);
    const Matrix<S>& real = batch.real.value();
    const Matrix<S>& fake = batch.fake.value();
    batch.for_each_uniform(x.cols(), [&](Index j, double u) {
      const S e = static_cast<S>(u);
      x.col(j) = e * real.col(j) + (S(1) - e) * fake.col(j);
    });
    Var<S> penalty = gradient_penalty(critic, critic.parameters(), points, *batch.scratch);
    return {discriminator(real_scores, fake_scores) + lambda * penalty, real_scores, fake_scores, penalty};
  }

  template <class Critic, class S>
  GanTerms<S> generator_terms(Critic& critic, const GanBatch<S>& batch) const {
    Var<S> fake = critic(batch.fake);
    return {generator(fake), {}, fake, {}};
  }
};

}  // namespace latent
