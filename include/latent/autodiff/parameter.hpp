// latent/autodiff/parameter.hpp: a trainable tensor whose value and gradient
// outlive any tape. Layers own parameters; optimizers and checkpoints see only
// parameters; a tape refers to a parameter through a leaf node that
// accumulates into the parameter's gradient. Also the loop that visits every
// element of a parameter list, split over latent's threads, for optimizers
// and zero_grad.
#pragma once

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "latent/error.hpp"
#include "latent/matrix.hpp"
#include "latent/threads.hpp"

namespace latent {

template <class S>
struct Parameter {
  Matrix<S> value;
  Matrix<S> grad;  ///< same shape as value; backward adds to it, zero_grad clears it
  /// When false, a tape reads the value as usual but records a leaf that takes
  /// no gradient: ops skip the products that would only feed it (a GAN's
  /// discriminator during the generator's step). See FrozenParameters.
  bool requires_grad = true;

  Parameter() = default;
  explicit Parameter(Matrix<S> initial) : value(std::move(initial)), grad(Matrix<S>::Zero(value.rows(), value.cols())) {}
  Parameter(Index rows, Index cols) : value(Matrix<S>::Zero(rows, cols)), grad(Matrix<S>::Zero(rows, cols)) {}

  Index size() const { return value.size(); }
  bool grad_has_value_shape() const { return grad.rows() == value.rows() && grad.cols() == value.cols(); }
  void zero_grad() { grad.setZero(); }
};

/// A parameter seen from outside its owner: checkpoint name plus the parameter.
template <class S>
struct NamedParameter {
  std::string name;
  Parameter<S>* parameter;
};

/// A buffer seen from outside its owner: state of a layer that is not
/// trained (no gradient, no optimizer) but belongs to the model, so that a
/// checkpoint saves and restores it: BatchNorm's running statistics,
/// spectral normalization's singular-vector estimates.
template <class S>
struct NamedBuffer {
  std::string name;
  Matrix<S>* value;
};

template <class S>
using ParameterList = std::vector<Parameter<S>*>;

template <class S>
using NamedParameterList = std::vector<NamedParameter<S>>;

template <class S>
using NamedBufferList = std::vector<NamedBuffer<S>>;

/// The parameters alone, in the order of their names.
template <class S>
ParameterList<S> parameters_of(const NamedParameterList<S>& named) {
  ParameterList<S> list;
  list.reserve(named.size());
  for (const auto& entry : named) list.push_back(entry.parameter);
  return list;
}

/// Elements begin .. begin + count - 1 of one parameter (column-major).
struct ElementRange {
  Index begin = 0;
  Index count = 0;
};

/// One ElementRange per parameter of a list, in its order: the part of each
/// parameter that an update touches. Empty: every element of every parameter.
using ElementRanges = std::vector<ElementRange>;

namespace detail {

/// Elements begin .. begin + count - 1 of `m` (column-major), as an array.
template <class S>
Eigen::Map<Eigen::Array<S, Eigen::Dynamic, 1>> piece(Matrix<S>& m, Index begin, Index count) {
  return Eigen::Map<Eigen::Array<S, Eigen::Dynamic, 1>>(m.data() + begin, count);
}

/// Throws shape_error, naming `who`, unless every gradient has its
/// parameter's shape (a gradient resized by hand, or never sized).
template <class S>
void check_grad_shapes(const ParameterList<S>& params, const char* who) {
  for (std::size_t i = 0; i < params.size(); ++i)
    if (!params[i]->grad_has_value_shape())
      throw shape_error(std::string(who) + ": parameter " + std::to_string(i) + " is " + shape_string(params[i]->value) +
                        " but its gradient is " + shape_string(params[i]->grad));
}

/// The part of each parameter's value or gradient (`matrix`) that `only`
/// names, or all of it when `only` is empty; checked once, here: a count of
/// ranges other than the parameters' or a range outside its matrix throws
/// shape_error. Refers to both lists, which must outlive it.
template <class S>
class CheckedRanges {
 public:
  CheckedRanges(const ParameterList<S>& params, const ElementRanges& only, Matrix<S> Parameter<S>::*matrix)
      : params_(params), only_(only), matrix_(matrix) {
    if (!only.empty() && only.size() != params.size())
      throw shape_error("element ranges: " + std::to_string(only.size()) + " ranges for " +
                        std::to_string(params.size()) + " parameters");
    for (std::size_t i = 0; i < params.size(); ++i) {
      const ElementRange range = (*this)[i];
      const Index size = (params[i]->*matrix).size();
      if (range.begin < 0 || range.count < 0 || range.begin + range.count > size)
        throw shape_error("element ranges: elements " + std::to_string(range.begin) + " .. " +
                          std::to_string(range.begin + range.count - 1) + " of parameter " + std::to_string(i) +
                          ", which has " + std::to_string(size));
      total_ += range.count;
    }
  }

  ElementRange operator[](std::size_t i) const {
    return only_.empty() ? ElementRange{0, (params_[i]->*matrix_).size()} : only_[i];
  }
  std::size_t size() const { return params_.size(); }
  /// Elements in all the ranges together.
  Index total() const { return total_; }

 private:
  const ParameterList<S>& params_;
  const ElementRanges& only_;
  Matrix<S> Parameter<S>::*matrix_;
  Index total_ = 0;
};

/// Calls visit(i, begin, count) on pieces that cover every element of every
/// parameter (elements begin .. begin + count - 1 of params[i], column-major),
/// or of its range in `only` when given, once: split over element_shares()
/// threads and cut into pieces small enough that an update written as several
/// Eigen statements finds its operands in L1 cache after the first.
template <class S, class Visit>
void for_each_piece(const ParameterList<S>& params, const Visit& visit, const ElementRanges& only = {}) {
  constexpr Index kPiece = 1024;
  const CheckedRanges<S> ranges(params, only, &Parameter<S>::value);
  const Index total = ranges.total();
  const int shares = element_shares(total);
  run_shares(shares, [&](int share) {
    const Index begin = total * share / shares, end = total * (share + 1) / shares;
    Index offset = 0;  // of params[i]'s range in the concatenation of the ranges
    for (std::size_t i = 0; i < ranges.size() && offset < end; ++i) {
      const ElementRange range = ranges[i];
      const Index first = std::max(begin, offset) - offset;
      const Index last = std::min(end, offset + range.count) - offset;
      for (Index at = first; at < last; at += kPiece) visit(i, range.begin + at, std::min(kPiece, last - at));
      offset += range.count;
    }
  });
}

/// The squared L2 norm of every parameter's gradient (or of its range in
/// `only`), split over latent's threads. Blocks of a fixed size are summed in
/// a fixed order, so the bits do not depend on the number of threads.
template <class S>
double squared_grad_norm(const ParameterList<S>& params, const ElementRanges& only = {}) {
  constexpr Index kBlock = Index(1) << 15;
  const CheckedRanges<S> ranges(params, only, &Parameter<S>::grad);
  Index blocks = 0;
  for (std::size_t i = 0; i < ranges.size(); ++i) blocks += (ranges[i].count + kBlock - 1) / kBlock;
  // Kept from call to call, so that a steady training step allocates nothing
  // (the caller's; a pool thread sees it through this reference).
  thread_local std::vector<double> kept_sums;
  std::vector<double>& sums = kept_sums;
  sums.assign(static_cast<std::size_t>(blocks), 0.0);
  const int shares = static_cast<int>(std::min<Index>(element_shares(ranges.total()), blocks));
  if (shares > 0) run_shares(shares, [&](int share) {
    const Index first = blocks * share / shares, last = blocks * (share + 1) / shares;
    Index block = 0;
    for (std::size_t i = 0; i < ranges.size() && block < last; ++i) {
      const ElementRange range = ranges[i];
      for (Index at = 0; at < range.count && block < last; at += kBlock, ++block)
        if (block >= first)
          sums[static_cast<std::size_t>(block)] = static_cast<double>(
              piece(params[i]->grad, range.begin + at, std::min(kBlock, range.count - at)).matrix().squaredNorm());
    }
  });
  double squared = 0;
  for (const double sum : sums) squared += sum;
  return squared;
}

}  // namespace detail

/// Clears every parameter's gradient (split over latent's threads).
template <class S>
void zero_grad(const ParameterList<S>& params) {
  for (auto* p : params)
    if (!p->grad_has_value_shape()) p->grad.resize(p->value.rows(), p->value.cols());
  detail::for_each_piece(params, [&](std::size_t i, Index begin, Index count) {
    detail::piece(params[i]->grad, begin, count).setZero();
  });
}

/// Sets requires_grad on every parameter of a list.
template <class S>
void set_requires_grad(const ParameterList<S>& params, bool requires_grad) {
  for (auto* p : params) p->requires_grad = requires_grad;
}

/// Freezes a parameter list for a scope: recordings made meanwhile read the
/// parameters but give them no gradient (and skip computing one). When the
/// scope ends, on every path out of it, they require gradients again (keep
/// parameters frozen for good out of the list). Allocates nothing.
template <class S>
class FrozenParameters {
 public:
  /// A list that outlives the guard (a trainer's, made once) is referred to.
  explicit FrozenParameters(const ParameterList<S>& params) : params_(&params) { set_requires_grad(*params_, false); }
  /// A temporary list (`frozen(model.parameters())`) is kept here, since it
  /// would be gone before the scope ends.
  explicit FrozenParameters(ParameterList<S>&& params) : owned_(std::move(params)), params_(&owned_) {
    set_requires_grad(*params_, false);
  }
  ~FrozenParameters() { set_requires_grad(*params_, true); }
  FrozenParameters(const FrozenParameters&) = delete;
  FrozenParameters& operator=(const FrozenParameters&) = delete;

 private:
  ParameterList<S> owned_;
  const ParameterList<S>* params_;
};

/// Total number of scalars in a parameter list.
template <class S>
Index count_parameters(const ParameterList<S>& params) {
  Index n = 0;
  for (const auto* p : params) n += p->size();
  return n;
}

/// Appends `inner`'s entries (named parameters or buffers) to `out`, each
/// name prefixed with `prefix` + ".".
template <class Named>
void append_prefixed(std::vector<Named>& out, const std::string& prefix, std::vector<Named> inner) {
  for (auto& entry : inner) {
    if (!prefix.empty()) entry.name = prefix + "." + entry.name;
    out.push_back(std::move(entry));
  }
}

}  // namespace latent
