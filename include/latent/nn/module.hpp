// latent/nn/module.hpp: what every layer and network offers. A module is
// callable on a Var (the tape travels inside the Var) and returns a Var. It
// names its parameters (what optimizers train) and its buffers (state that
// is not trained but belongs to the model and its checkpoints: BatchNorm's
// running statistics, spectral normalization's singular vectors), and has a
// training and an evaluation mode (BatchNorm normalizes with the batch's
// statistics in training, with its running ones in evaluation). In
// data-parallel training a module learns which ranks' slices make up its
// batch (set_batch_group), so that what is computed over the batch is the
// whole batch's.
//
// A layer writes named_parameters() (and named_buffers() if it has any). A
// network made of modules writes for_each_child(visit) instead, calling
// visit(name, child) for each of them in a fixed order; its parameters,
// buffers and mode changes are then its children's, names prefixed
// "<name>." ("encoder.body.0.weight"). evaluate_in_blocks runs an
// evaluation over a large batch a block of columns at a time.
#pragma once

#include <algorithm>
#include <string>
#include <type_traits>
#include <utility>

#include "latent/autodiff/parameter.hpp"
#include "latent/autodiff/tape.hpp"

namespace latent {

class Communicator;

namespace detail {

template <class M, class = void>
struct has_named_buffers : std::false_type {};
template <class M>
struct has_named_buffers<M, std::void_t<decltype(std::declval<M&>().named_buffers())>> : std::true_type {};

template <class M, class = void>
struct has_set_training : std::false_type {};
template <class M>
struct has_set_training<M, std::void_t<decltype(std::declval<M&>().set_training(true))>> : std::true_type {};

template <class M, class = void>
struct has_set_batch_group : std::false_type {};
template <class M>
struct has_set_batch_group<M, std::void_t<decltype(std::declval<M&>().set_batch_group(nullptr))>> : std::true_type {};

template <class M, class = void>
struct has_mixes_columns : std::false_type {};
template <class M>
struct has_mixes_columns<M, std::void_t<decltype(bool(std::declval<M&>().mixes_columns()))>> : std::true_type {};

/// Whether m's output for one column may depend on the batch's other columns;
/// a type that does not say is taken to treat columns apart.
template <class M>
bool mixes_columns(M& m) {
  if constexpr (has_mixes_columns<M>::value)
    return m.mixes_columns();
  else
    return false;
}

}  // namespace detail

template <class Derived, class S>
class Module {
 public:
  using Scalar = S;

  /// A network calls visit(name, child) for each module it is made of; a
  /// layer has none.
  template <class Visit>
  void for_each_child(Visit&&) {}

  /// Every parameter with its checkpoint name, in a fixed order: the
  /// children's (a layer writes its own).
  NamedParameterList<S> named_parameters() {
    NamedParameterList<S> named;
    self().for_each_child([&](const std::string& name, auto& child) { append_prefixed(named, name, child.named_parameters()); });
    return named;
  }

  /// Every buffer with its checkpoint name: the children's (a layer with
  /// buffers writes its own). Children that are not latent modules may have none.
  NamedBufferList<S> named_buffers() {
    NamedBufferList<S> named;
    self().for_each_child([&](const std::string& name, auto& child) {
      if constexpr (detail::has_named_buffers<std::decay_t<decltype(child)>>::value)
        append_prefixed(named, name, child.named_buffers());
    });
    return named;
  }

  /// Every parameter, in checkpoint order (allocates a list: keep it, do not
  /// call it per step).
  ParameterList<S> parameters() { return parameters_of(self().named_parameters()); }
  Index parameter_count() { return count_parameters(parameters()); }
  void zero_grad() { latent::zero_grad(parameters()); }

  /// Training mode (on) or evaluation mode (off), for this module and every
  /// module inside it. Modules start in training mode. Allocates nothing.
  void set_training(bool on) {
    training_ = on;
    self().for_each_child([on](const std::string&, auto& child) {
      if constexpr (detail::has_set_training<std::decay_t<decltype(child)>>::value) child.set_training(on);
    });
  }
  /// Whether the output for one column may depend on the batch's other
  /// columns in the current mode: a layer that normalizes over the batch
  /// says so (BatchNorm in training mode), a network when a child does. A
  /// loss that differentiates each column's score by its own input (a
  /// gradient penalty) needs a critic that does not.
  bool mixes_columns() {
    bool mixes = false;
    self().for_each_child([&](const std::string&, auto& child) { mixes = mixes || detail::mixes_columns(child); });
    return mixes;
  }

  /// The ranks whose slices together make each batch this module sees
  /// (data-parallel training; the trainers set it), for this module and
  /// every module inside it: a layer that computes over the batch
  /// (BatchNorm's statistics) computes over all the ranks' slices.
  /// nullptr (the start): this process's batch alone.
  void set_batch_group(Communicator* group) {
    self().for_each_child([group](const std::string&, auto& child) {
      if constexpr (detail::has_set_batch_group<std::decay_t<decltype(child)>>::value) child.set_batch_group(group);
    });
  }

  void train() { self().set_training(true); }
  void eval() { self().set_training(false); }
  bool training() const { return training_; }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }

  bool training_ = true;
};

/// Puts a module (and everything in it) in training or evaluation mode for a
/// scope, and when the scope ends, on every path out of it, puts it back in
/// the mode the module itself had (set_training(previous), for everything in it).
template <class M>
class ScopedMode {
 public:
  ScopedMode(M& module, bool training) : module_(module), was_training_(module.training()) { module_.set_training(training); }
  ~ScopedMode() { module_.set_training(was_training_); }
  ScopedMode(const ScopedMode&) = delete;
  ScopedMode& operator=(const ScopedMode&) = delete;

 private:
  M& module_;
  bool was_training_;
};

/// Evaluation mode for a scope: `const EvaluationMode eval(model);`.
template <class M>
class EvaluationMode : public ScopedMode<M> {
 public:
  explicit EvaluationMode(M& module) : ScopedMode<M>(module, false) {}
};

/// How many examples an evaluation (test losses, samples, reconstructions)
/// takes at once: enough columns for the products to run at full speed, few
/// enough that a convolutional network's unfolded patches stay near a
/// training step's size (at 500 a DCGAN critic's evaluation unfolded 100 MB,
/// at 10000 samples a generator 5 GB).
inline constexpr Index kEvaluationBlock = 64;

/// The result of `evaluate(x_block, condition_block)` on blocks of at
/// most `block` columns of x (and of condition, unless it is empty), each
/// recorded on the same tape after a reset, side by side: for evaluations
/// that treat columns independently (evaluation mode). A condition whose
/// column count differs from x's goes whole, for `evaluate` to refuse with
/// its own message.
template <class S, class Evaluate>
Matrix<S> evaluate_in_blocks(const Matrix<S>& x, const Matrix<S>& condition, const Evaluate& evaluate,
                             Index block = kEvaluationBlock) {
  const bool split = condition.size() == 0 || condition.cols() == x.cols();
  const Index step = split ? std::max<Index>(block, 1) : std::max<Index>(x.cols(), 1);
  Tape<S> tape;
  Matrix<S> out;
  Index begin = 0;
  do {
    const Index count = std::min(step, x.cols() - begin);
    tape.reset();
    const Var<S> x_block = tape.constant(x.middleCols(begin, count));
    const Var<S> condition_block =
        condition.size() == 0 ? Var<S>() : split ? tape.constant(condition.middleCols(begin, count)) : tape.constant(condition);
    const Matrix<S>& y = evaluate(x_block, condition_block).value();
    if (begin == 0) out.resize(y.rows(), x.cols());
    out.middleCols(begin, count) = y;
    begin += count;
  } while (begin < x.cols());
  return out;
}

}  // namespace latent
