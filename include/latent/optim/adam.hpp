// latent/optim/adam.hpp: Adam (Kingma & Ba), with optional decoupled weight
// decay (AdamW). The update runs piece by piece, split over latent's threads
// (detail::for_each_piece).
#pragma once

#include <cmath>

#include "latent/optim/optimizer.hpp"

namespace latent {

template <class S>
class Adam : public SlotOptimizer<S, 2> {
 public:
  explicit Adam(S lr = S(1e-3), S beta1 = S(0.9), S beta2 = S(0.999), S eps = S(1e-8), S weight_decay = S(0))
      : lr(lr), beta1(beta1), beta2(beta2), eps(eps), weight_decay(weight_decay) {}

  /// One update of every parameter from its grad (grads are left as they
  /// are, or cleared: AfterStep); given `only`, of those elements alone (the
  /// others, their gradients and their state are left as they are).
  void step(const ParameterList<S>& params, AfterStep after = AfterStep::keep_grads, const ElementRanges& only = {}) {
    this->bind(params);
    const auto t = static_cast<double>(++this->steps_);
    const S step_size = lr / S(1 - std::pow(double(beta1), t));
    const S inv_sqrt_bias2 = S(1 / std::sqrt(1 - std::pow(double(beta2), t)));
    this->update_pieces(params, after, only, [&](std::size_t i, Index begin, Index count) {
      auto w = detail::piece(params[i]->value, begin, count);
      const auto g = detail::piece(params[i]->grad, begin, count);
      auto m = detail::piece(this->slots_[0][i], begin, count);
      auto v = detail::piece(this->slots_[1][i], begin, count);
      if (weight_decay != S(0)) w *= S(1) - lr * weight_decay;
      m = beta1 * m + (S(1) - beta1) * g;
      v = beta2 * v + (S(1) - beta2) * g.square();
      w -= step_size * m / (v.sqrt() * inv_sqrt_bias2 + eps);
    });
  }

  std::vector<NamedTensor<S>> state_tensors() { return SlotOptimizer<S, 2>::state_tensors({"m", "v"}); }

  S lr, beta1, beta2, eps, weight_decay;
};

}  // namespace latent
