// latent/optim/optimizer.hpp: what optimizers share: per-parameter state
// slots (momentum, Adam's moments) bound to a parameter list on the first
// step, checked against it on every later step, and exposed by name for
// checkpoints; and the loop that applies an update element by element, split
// over latent's threads.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "latent/autodiff/parameter.hpp"
#include "latent/error.hpp"
#include "latent/threads.hpp"

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
  /// Allocates zeroed state for params (first call), or checks that params
  /// match the list the state was made for.
  void bind(const ParameterList<S>& params) {
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
  using Piece = Eigen::Map<Eigen::Array<S, Eigen::Dynamic, 1>>;

  /// Elements begin .. begin + count - 1 of `m` (column-major), as an array.
  static Piece piece(Matrix<S>& m, Index begin, Index count) { return Piece(m.data() + begin, count); }

  /// Calls update(i, begin, count) on pieces that cover every element of
  /// every parameter once: split over latent's threads (one share per 2^15
  /// elements at least) and cut into pieces that fit in L1 cache together, so
  /// that an update written as several Eigen statements reads its operands
  /// from memory once.
  template <class Update>
  static void for_each_piece(const ParameterList<S>& params, const Update& update) {
    constexpr Index kPiece = 1024, kMinShare = Index(1) << 15;
    Index total = 0;
    for (const auto* p : params) total += p->value.size();
    const int shares = static_cast<int>(std::clamp<Index>(total / kMinShare, 1, num_threads()));
    run_shares(shares, [&](int share) {
      const Index begin = total * share / shares, end = total * (share + 1) / shares;
      Index offset = 0;  // of params[i]'s first element in the concatenation
      for (std::size_t i = 0; i < params.size() && offset < end; offset += params[i]->value.size(), ++i) {
        const Index first = std::max(begin, offset) - offset;
        const Index last = std::min(end, offset + params[i]->value.size()) - offset;
        for (Index at = first; at < last; at += kPiece) update(i, at, std::min(kPiece, last - at));
      }
    });
  }

  std::array<std::vector<Matrix<S>>, Slots> slots_;
  std::int64_t steps_ = 0;
};

}  // namespace latent
