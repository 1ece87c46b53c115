// latent/optim/sgd.hpp: stochastic gradient descent with optional momentum
// (heavy ball or Nesterov), as PyTorch defines them.
#pragma once

#include "latent/optim/optimizer.hpp"

namespace latent {

template <class S>
class Sgd : public SlotOptimizer<S, 1> {
 public:
  explicit Sgd(S lr = S(1e-2), S momentum = S(0), bool nesterov = false) : lr(lr), momentum(momentum), nesterov(nesterov) {
    if (nesterov && momentum <= S(0)) throw error("Sgd: Nesterov momentum needs momentum > 0");
  }

  /// One update of every parameter from its grad (grads are left as they
  /// are, or cleared: AfterStep); given `only`, of those elements alone (the
  /// others, their gradients and their state are left as they are).
  void step(const ParameterList<S>& params, AfterStep after = AfterStep::keep_grads, const ElementRanges& only = {}) {
    this->bind(params);
    ++this->steps_;
    this->update_pieces(params, after, only, [&](std::size_t i, Index begin, Index count) {
      auto w = detail::piece(params[i]->value, begin, count);
      const auto g = detail::piece(params[i]->grad, begin, count);
      if (momentum == S(0)) {
        w -= lr * g;
        return;
      }
      auto velocity = detail::piece(this->slots_[0][i], begin, count);
      velocity = momentum * velocity + g;
      if (nesterov)
        w -= lr * (g + momentum * velocity);
      else
        w -= lr * velocity;
    });
  }

  std::vector<NamedTensor<S>> state_tensors() { return SlotOptimizer<S, 1>::state_tensors({"velocity"}); }

  S lr, momentum;
  bool nesterov;
};

}  // namespace latent
