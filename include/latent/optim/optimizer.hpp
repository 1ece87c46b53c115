// latent/optim/optimizer.hpp: what optimizers share: per-parameter state
// slots (momentum, Adam's moments) bound to a parameter list on the first
// step, checked against it on every later step, and exposed by name for
// checkpoints.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "latent/autodiff/parameter.hpp"
#include "latent/error.hpp"

namespace latent {

/// A matrix of optimizer state seen from a checkpoint.
template <class S>
struct NamedTensor {
  std::string name;
  Matrix<S>* tensor;
};

template <class S, std::size_t Slots>
class SlotOptimizer {
 public:
  using Scalar = S;

  /// Checks that every gradient has its parameter's shape; allocates zeroed
  /// state for params (first call), or checks that params match the list the
  /// state was made for.
  void bind(const ParameterList<S>& params) {
    for (std::size_t i = 0; i < params.size(); ++i)
      if (!params[i]->grad_has_value_shape())
        throw shape_error("optimizer: parameter " + std::to_string(i) + " is " + shape_string(params[i]->value) +
                          " but its gradient is " + shape_string(params[i]->grad));
    if (slots_[0].empty()) {
      for (auto& slot : slots_)
        for (const auto* p : params) slot.push_back(Matrix<S>::Zero(p->value.rows(), p->value.cols()));
      return;
    }
    if (params.size() != slots_[0].size())
      throw shape_error("optimizer: bound to " + std::to_string(slots_[0].size()) + " parameters, stepped with " +
                        std::to_string(params.size()));
    for (std::size_t i = 0; i < params.size(); ++i)
      if (params[i]->value.rows() != slots_[0][i].rows() || params[i]->value.cols() != slots_[0][i].cols())
        throw shape_error("optimizer: parameter " + std::to_string(i) + " is " + shape_string(params[i]->value) +
                          " but its state is " + shape_string(slots_[0][i]));
  }

  /// Number of steps taken.
  std::int64_t steps() const { return steps_; }
  void set_steps(std::int64_t steps) { steps_ = steps; }

  /// The state matrices, named "<slot>.<parameter index>" (call bind first).
  std::vector<NamedTensor<S>> state_tensors(const std::array<const char*, Slots>& slot_names) {
    std::vector<NamedTensor<S>> named;
    for (std::size_t s = 0; s < Slots; ++s)
      for (std::size_t i = 0; i < slots_[s].size(); ++i)
        named.push_back({std::string(slot_names[s]) + "." + std::to_string(i), &slots_[s][i]});
    return named;
  }

 protected:
  std::array<std::vector<Matrix<S>>, Slots> slots_;
  std::int64_t steps_ = 0;
};

}  // namespace latent
