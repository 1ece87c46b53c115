// latent/models/gan_loss.hpp: GAN loss policies. Each is a struct whose static
// functions carry its formula on the discriminator's raw outputs (logits, or
// critic scores), composed from tape ops:
//   discriminator(real, fake, real_label)  the loss the discriminator minimizes
//   generator(fake)                        the loss the generator minimizes
//   output(logits)                         what "D(x)" means for monitoring
// real and fake are 1 x batch; losses are means over the batch. real_label is
// the target of real examples for losses that have targets (one-sided label
// smoothing sets it below 1); losses without targets have uses_labels = false.
// default_weight_clip is the bound a trainer clips the critic's weights to
// after each of its steps (0: none), as the Wasserstein GAN requires.
#pragma once

#include "latent/autodiff/elementwise.hpp"
#include "latent/autodiff/losses.hpp"
#include "latent/autodiff/reduction.hpp"

namespace latent {
namespace detail {

/// A constant 1 x n row of `value` on x's tape: the targets of a BCE term.
template <class S>
Var<S> constant_like(Var<S> x, double value) {
  return x.tape().constant(Matrix<S>::Constant(x.rows(), x.cols(), static_cast<S>(value)));
}

/// The losses on raw scores (no sigmoid): "D(x)" is the score itself.
struct RawScoreLoss {
  static constexpr double default_weight_clip = 0;

  template <class A>
  static auto output(const A& scores) {
    return scores;
  }
};

/// The losses without targets, whose generator raises the critic's mean
/// score of its samples: G minimizes -E D(G(z)).
struct CriticLoss : RawScoreLoss {
  static constexpr bool uses_labels = false;

  template <class S>
  static Var<S> generator(Var<S> fake) {
    return -mean(fake);
  }
};

}  // namespace detail

/// The original GAN (Goodfellow et al. 2014): D(x) = sigmoid(logit), and the
/// value V(D, G) = E log D(x) + E log(1 - D(G(z))), which D maximizes and G
/// minimizes. On logits, log D = -softplus(-l) and log(1 - D) = -softplus(l):
/// the stable form of binary cross-entropy. G's gradient vanishes while D
/// rejects its samples confidently (d/dl log(1 - sigmoid(l)) = -sigmoid(l)),
/// which is why NonSaturatingBce is the default for training.
struct MinimaxBce {
  static constexpr const char* name = "minimax";
  static constexpr bool uses_labels = true;
  static constexpr double default_weight_clip = 0;

  /// -V(D, G) = BCE(real, 1) + BCE(fake, 0) (targets real_label and 0).
  template <class S>
  static Var<S> discriminator(Var<S> real, Var<S> fake, double real_label = 1.0) {
    return bce_with_logits(real, detail::constant_like(real, real_label)) +
           bce_with_logits(fake, detail::constant_like(fake, 0.0));
  }

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

  template <class A>
  static auto output(const A& logits) {
    return logits.logistic();
  }
};

/// The same discriminator, but G minimizes -E log D(G(z)) = BCE(fake, 1):
/// strong gradients exactly when D rejects G's samples.
struct NonSaturatingBce : MinimaxBce {
  static constexpr const char* name = "nonsaturating";

  template <class S>
  static Var<S> generator(Var<S> fake) {
    return bce_with_logits(fake, detail::constant_like(fake, 1.0));
  }
};

/// Least-squares GAN (Mao et al. 2017) on raw outputs, targets 0 (fake) and 1 (real):
/// D: 1/2 E (D(x) - 1)^2 + 1/2 E D(G(z))^2,  G: 1/2 E (D(G(z)) - 1)^2.
struct LeastSquares : detail::RawScoreLoss {
  static constexpr const char* name = "lsgan";
  static constexpr bool uses_labels = true;

  template <class S>
  static Var<S> discriminator(Var<S> real, Var<S> fake, double real_label = 1.0) {
    return 0.5 * mean(square(real - real_label)) + 0.5 * mean(square(fake));
  }

  template <class S>
  static Var<S> generator(Var<S> fake) {
    return 0.5 * mean(square(fake - 1.0));
  }
};

/// Hinge loss (Lim & Ye 2017; Miyato et al. 2018), on raw scores:
/// D: E relu(1 - D(x)) + E relu(1 + D(G(z))),  G: -E D(G(z)).
struct Hinge : detail::CriticLoss {
  static constexpr const char* name = "hinge";

  template <class S>
  static Var<S> discriminator(Var<S> real, Var<S> fake, double /*real_label*/ = 1.0) {
    return mean(relu(1.0 - real)) + mean(relu(1.0 + fake));
  }
};

/// Wasserstein GAN (Arjovsky et al. 2017): the critic estimates the
/// Earth-Mover distance E D(x) - E D(G(z)) and must stay Lipschitz, here by
/// clipping its weights to [-0.01, 0.01] after each of its steps (or by
/// spectral normalization; see nn/spectral_norm.hpp).
/// Critic: E D(G(z)) - E D(x),  G: -E D(G(z)).
struct Wasserstein : detail::CriticLoss {
  static constexpr const char* name = "wgan";
  static constexpr double default_weight_clip = 0.01;

  template <class S>
  static Var<S> discriminator(Var<S> real, Var<S> fake, double /*real_label*/ = 1.0) {
    return mean(fake) - mean(real);
  }
};

}  // namespace latent
