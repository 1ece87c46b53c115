// latent/optim/optimizer.hpp: what optimizers share: per-parameter state
// slots (momentum, Adam's moments) bound to a parameter list on the first
// step, checked against it on every later step, and exposed by name for
// checkpoints.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "latent/autodiff/parameter.hpp"
#include "latent/error.hpp"

namespace latent {

/// What an optimizer step leaves in the gradients it reads: kept (for a
/// caller that looks at them after), or cleared as it goes, which spares the
/// next step's zero_grad a pass of its own over every gradient (2% of an MLP
/// VAE step).
enum class AfterStep { keep_grads, clear_grads };

namespace detail {

/// True for an optimizer whose step takes an AfterStep (latent's do; the
/// Optimizer contract asks only for step(params)).
template <class Optimizer, class S, class = void>
struct steps_clearing_grads : std::false_type {};
template <class Optimizer, class S>
struct steps_clearing_grads<Optimizer, S,
                            std::void_t<decltype(std::declval<Optimizer&>().step(std::declval<const ParameterList<S>&>(),
                                                                                 AfterStep::clear_grads))>>
    : std::true_type {};

/// True for an optimizer that can update parts of its parameters
/// (step(params, after, ElementRanges)) and keeps all its per-element state in
/// slots (SlotOptimizer's slot(s, i)), so that a data-parallel run can shard
/// its updates over the ranks (GradientSync's Sharding::large_parameters).
template <class Optimizer, class S, class = void>
struct steps_element_ranges : std::false_type {};
template <class Optimizer, class S>
struct steps_element_ranges<
    Optimizer, S,
    std::void_t<decltype(std::declval<Optimizer&>().step(std::declval<const ParameterList<S>&>(), AfterStep::clear_grads,
                                                         std::declval<const ElementRanges&>())),
                decltype(std::declval<Optimizer&>().slot(std::size_t{}, std::size_t{})), decltype(Optimizer::kSlots)>>
    : std::true_type {};

}  // namespace detail

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
    detail::check_grad_shapes(params, "optimizer");
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

  /// The number of state matrices a parameter has (Adam's moments: 2).
  static constexpr std::size_t kSlots = Slots;
  /// Whether the state exists (after the first step or a restore).
  bool bound() const { return !slots_[0].empty(); }
  /// Slot s's state of parameter i (bound() first).
  Matrix<S>& slot(std::size_t s, std::size_t i) { return slots_.at(s).at(i); }

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
  /// update(i, begin, count) for every piece of every parameter, or of its
  /// range in `only` (split over latent's threads), each piece's gradient
  /// cleared right after its update when asked, while it is still in cache.
  template <class Update>
  static void update_pieces(const ParameterList<S>& params, AfterStep after, const ElementRanges& only, const Update& update) {
    detail::for_each_piece(
        params,
        [&](std::size_t i, Index begin, Index count) {
          update(i, begin, count);
          if (after == AfterStep::clear_grads) detail::piece(params[i]->grad, begin, count).setZero();
        },
        only);
  }

  std::array<std::vector<Matrix<S>>, Slots> slots_;
  std::int64_t steps_ = 0;
};

}  // namespace latent
