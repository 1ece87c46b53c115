// latent/autodiff/tape.hpp: the reverse-mode core. A Tape records one forward
// computation as a flat list of nodes (a Wengert list); backward(loss) walks
// that list once in reverse, each node adding its local gradient into its
// parents'. reset() rewinds the list but keeps every node's buffers, so a step
// of the same shapes as the previous one allocates nothing.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "latent/autodiff/parameter.hpp"
#include "latent/error.hpp"
#include "latent/matrix.hpp"

namespace latent {

template <class S>
class Tape;

/// One recorded value. Ops fill `value` (and what they save) in their
/// forward and read it in their backward. The backward is a plain function
/// pointer taking the tape and the node: everything it needs lives on the
/// node (see "Writing an op" in README and Tape::record). It computes
/// numbers into gradient matrices: the core is first order, and a recording
/// is swept once. Second derivatives are taken by recording directional
/// derivatives forward as ordinary ops and sweeping those once
/// (autodiff/jvp.hpp); recording a backward itself on a tape would need
/// gradients held as nodes and is not what this layout does.
template <class S>
struct Node {
  using Backward = void (*)(Tape<S>&, Node&);
  /// Parents an op may have (its inputs that take a gradient: x, W and b at most).
  static constexpr int kMaxParents = 3;
  /// Bytes of small trivially-copyable state an op may keep (store/load):
  /// an activation policy, a scalar, a convolution's geometry.
  static constexpr std::size_t kStateBytes = 64;

  Matrix<S> value;             ///< unused for parameter leaves (they read the parameter)
  Matrix<S> grad;              ///< d(loss)/d(value); valid once has_grad
  Matrix<S> cache;             ///< an op's saved intermediate (e.g. sigmoid of logits)
  /// More matrices an op keeps: further saved intermediates, or its backward's
  /// scratch (a convolution's unfolded patches). Like every buffer of a node,
  /// they keep their memory across reset(), so a step of the same shapes as the
  /// last one allocates nothing.
  std::array<Matrix<S>, 2> workspace;
  Parameter<S>* parameter = nullptr;
  std::array<Index, kMaxParents> parents{};
  int parent_count = 0;
  Backward backward = nullptr;
  bool requires_grad = false;  ///< some parameter or variable leaf lies upstream
  bool has_grad = false;       ///< a gradient reached this node during backward
  alignas(std::max_align_t) unsigned char state[kStateBytes];  ///< an op's small parameters

  /// Saves an op's small trivially-copyable parameters (an activation policy, a scalar).
  template <class T>
  void store(const T& object) {
    static_assert(std::is_trivially_copyable<T>::value, "Node::store: node state must be trivially copyable");
    static_assert(sizeof(T) <= kStateBytes,
                  "Node::store: node state must fit in Node::kStateBytes; keep larger state in a matrix (cache, workspace)");
    std::memcpy(state, &object, sizeof(T));
  }

  template <class T>
  T load() const {
    static_assert(std::is_trivially_copyable<T>::value && sizeof(T) <= kStateBytes, "Node::load: not a type store() accepts");
    T object;
    std::memcpy(&object, state, sizeof(T));
    return object;
  }
};

/// Told by Tape::backward where its sweep stands, for work that can start as
/// soon as part of the gradient is final (a data-parallel run sums each
/// parameter's gradient over its processes while the sweep goes on).
template <class S>
class SweepObserver {
 public:
  /// The sweep has passed a leaf of `parameter`: nothing adds to the
  /// parameter's gradient through that leaf any more.
  virtual void leaf_swept(Parameter<S>& parameter) = 0;
  /// A node's backward has run (between two of them, other work can progress).
  virtual void node_swept() = 0;

 protected:
  ~SweepObserver() = default;
};

/// A handle to a node on a tape: a tape pointer and an index, cheap to copy.
template <class S>
class Var {
 public:
  Var() = default;
  Var(Tape<S>* tape, Index index) : tape_(tape), index_(index) {}

  const Matrix<S>& value() const { return tape_->value(index_); }
  /// d(loss)/d(this) after backward; throws if no gradient reached this node.
  const Matrix<S>& grad() const { return tape_->grad(index_); }
  /// The value of a 1x1 var.
  S item() const;
  Index rows() const { return value().rows(); }
  Index cols() const { return value().cols(); }
  Tape<S>& tape() const { return *tape_; }
  Index index() const { return index_; }
  bool valid() const { return tape_ != nullptr; }

 private:
  Tape<S>* tape_ = nullptr;
  Index index_ = 0;
};

template <class S>
class Tape {
  static_assert(std::is_floating_point<S>::value, "Tape<S>: S must be float or double");

 public:
  using Scalar = S;

  Tape() = default;
  // Vars hold a pointer to their tape: a moved or copied tape would strand them.
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  /// A value that receives no gradient (a data batch, noise, targets).
  template <class Derived>
  Var<S> constant(const Eigen::MatrixBase<Derived>& value) {
    return leaf(value, false);
  }

  /// A value that receives a gradient of its own (read it with Var::grad()).
  template <class Derived>
  Var<S> variable(const Eigen::MatrixBase<Derived>& value) {
    return leaf(value, true);
  }

  /// A constant filled by the caller through `value_of` (saves a copy, e.g. a batch).
  Var<S> constant(Index rows, Index cols) {
    Node<S>& node = allocate(false);
    node.value.resize(rows, cols);
    return Var<S>(this, count_ - 1);
  }

  /// A parameter's leaf: reads its value in place, adds into its gradient
  /// (unless the parameter is frozen: parameter.requires_grad == false).
  Var<S> leaf(Parameter<S>& parameter) {
    Node<S>& node = allocate(parameter.requires_grad);
    node.parameter = &parameter;
    return Var<S>(this, count_ - 1);
  }

  /// Records an op's output node: rows x cols, with these parents (1 to
  /// Node::kMaxParents, counted at compile time: `{x}`, `{w, x, b}`) and this
  /// backward, a function or a lambda that captures nothing (a capture would
  /// dangle by the time the tape sweeps back; keep state on the node instead).
  /// The op then fills value_of(result), and whatever its backward reads:
  /// node(result).store(...), cache, workspace.
  template <std::size_t N, class BackwardFunction>
  Var<S> record(Index rows, Index cols, const Var<S> (&parents)[N], BackwardFunction backward) {
    static_assert(N >= 1 && N <= static_cast<std::size_t>(Node<S>::kMaxParents),
                  "Tape::record: an op has 1 to Node::kMaxParents (3) parents");
    static_assert(std::is_convertible<BackwardFunction, typename Node<S>::Backward>::value,
                  "Tape::record: the backward must be a function void(Tape<S>&, Node<S>&) or a lambda that captures "
                  "nothing; keep what it needs on the node (Node::store, cache, workspace)");
    if constexpr (std::is_convertible<BackwardFunction, typename Node<S>::Backward>::value) {
      bool requires_grad = false;
      for (const Var<S>& p : parents) {
        check_owned(p);
        requires_grad = requires_grad || nodes_[static_cast<std::size_t>(p.index())].requires_grad;
      }
      Node<S>& node = allocate(requires_grad);
      node.value.resize(rows, cols);
      node.backward = backward;
      for (const Var<S>& p : parents) node.parents[static_cast<std::size_t>(node.parent_count++)] = p.index();
    }
    return Var<S>(this, count_ - 1);
  }

  Node<S>& node(Var<S> v) { return nodes_[static_cast<std::size_t>(v.index())]; }
  const Node<S>& node(Index i) const { return nodes_[static_cast<std::size_t>(i)]; }

  const Matrix<S>& value(Index i) const {
    const Node<S>& n = node(i);
    return n.parameter ? n.parameter->value : n.value;
  }
  Matrix<S>& value_of(Var<S> v) { return node(v).value; }
  Matrix<S>& cache_of(Var<S> v) { return node(v).cache; }

  const Matrix<S>& grad(Index i) const {
    const Node<S>& n = node(i);
    if (n.parameter && n.requires_grad) return n.parameter->grad;
    if (!n.has_grad) throw error("Var::grad: no gradient reached this node (call backward on a loss that depends on it)");
    return n.grad;
  }

  /// The value of the i-th parent of a node, for use in backward functions.
  const Matrix<S>& parent_value(const Node<S>& n, int i) const { return value(n.parents[static_cast<std::size_t>(i)]); }
  bool parent_requires_grad(const Node<S>& n, int i) const { return node(n.parents[static_cast<std::size_t>(i)]).requires_grad; }

  /// Adds `contribution` to the gradient of parent i of n. The first contribution
  /// to a node assigns (no zeroing pass); parameter leaves always add.
  template <class Expr>
  void accumulate(const Node<S>& n, int i, const Expr& contribution) {
    Node<S>& target = nodes_[static_cast<std::size_t>(n.parents[static_cast<std::size_t>(i)])];
    if (!target.requires_grad) return;
    if (target.parameter) {
      target.parameter->grad.noalias() += contribution;
    } else if (target.has_grad) {
      target.grad.noalias() += contribution;
    } else {
      target.grad.noalias() = contribution;
      target.has_grad = true;
    }
  }

  /// Where a backward that writes parent i's gradient itself (a product, a
  /// contribution of another shape) writes it, by accumulate()'s
  /// rules: `grad` is nullptr if the parent takes no gradient; `add` is true
  /// for a parameter or a node that has a gradient already, false for a
  /// node's first contribution, whose gradient is then sized like its value
  /// and to be written, not cleared first.
  struct GradientTarget {
    Matrix<S>* grad;
    bool add;
  };
  GradientTarget gradient_to_write(const Node<S>& n, int i) {
    Node<S>& target = nodes_[static_cast<std::size_t>(n.parents[static_cast<std::size_t>(i)])];
    if (!target.requires_grad) return {nullptr, false};
    if (target.parameter) return {&target.parameter->grad, true};
    const bool add = target.has_grad;
    if (!add) {
      target.grad.resize(target.value.rows(), target.value.cols());
      target.has_grad = true;
    }
    return {&target.grad, add};
  }

  /// accumulate() for a contribution of another shape than parent i with as
  /// many elements (an image batch's gradient computed in its channels x
  /// pixels view): it is added over the gradient seen in its shape.
  template <class Expr>
  void accumulate_reshaped(const Node<S>& n, int i, const Expr& contribution) {
    const GradientTarget target = gradient_to_write(n, i);
    if (!target.grad) return;
    Eigen::Map<Matrix<S>> view(target.grad->data(), contribution.rows(), contribution.cols());
    if (target.add)
      view.noalias() += contribution;
    else
      view.noalias() = contribution;
  }

  /// The matrix that parent i's gradient adds into, for a backward that
  /// scatters its contribution in place (a transposed convolution's col2im)
  /// rather than handing accumulate() one expression: the parameter's
  /// gradient, the node's gradient, or, for a node's first contribution, its
  /// gradient sized like its value and zeroed. nullptr if the parent takes no
  /// gradient.
  Matrix<S>* gradient_to_add(const Node<S>& n, int i) {
    const GradientTarget target = gradient_to_write(n, i);
    if (target.grad && !target.add) target.grad->setZero();
    return target.grad;
  }

  /// Seeds d(loss)/d(loss) = 1 and sweeps the tape in reverse (a loop, never
  /// recursion, so depth cannot overflow the stack). Gradients add into the
  /// parameters' grad: call zero_grad between steps. An observer, if given,
  /// hears of every node swept and every trainable parameter leaf passed.
  void backward(Var<S> loss, SweepObserver<S>* observer = nullptr) {
    check_owned(loss);
    const Matrix<S>& v = loss.value();
    if (v.rows() != 1 || v.cols() != 1)
      throw shape_error("Tape::backward: the loss must be 1x1, got " + shape_string(v));
    if (backward_done_) throw error("Tape::backward: this recording was already swept; reset() and record again");
    backward_done_ = true;
    Node<S>& seed = node(loss);
    if (!seed.requires_grad) return;  // nothing upstream is trainable
    if (seed.parameter) {
      seed.parameter->grad.array() += S(1);
      return;
    }
    seed.grad.setOnes(1, 1);
    seed.has_grad = true;
    for (Index i = loss.index(); i >= 0; --i) {
      Node<S>& n = nodes_[static_cast<std::size_t>(i)];
      if (n.backward && n.has_grad) {
        n.backward(*this, n);
        if (observer) observer->node_swept();
      } else if (observer && n.parameter && n.requires_grad) {
        observer->leaf_swept(*n.parameter);
      }
    }
  }

  /// Forgets the recording but keeps every node's buffers for the next one.
  void reset() {
    count_ = 0;
    backward_done_ = false;
    recording_ = next_recording_id();
  }

  /// Which recording this is: an id no other recording in the process has
  /// (of this tape or any other), renewed by every reset(). A layer can key
  /// work shared by several calls within one recording (a spectrally
  /// normalized weight applied to real and to generated batches alike).
  std::uint64_t recording() const { return recording_; }

  /// Number of nodes recorded since the last reset.
  Index size() const { return count_; }

 private:
  template <class Derived>
  Var<S> leaf(const Eigen::MatrixBase<Derived>& value, bool requires_grad) {
    Node<S>& node = allocate(requires_grad);
    node.value = value;
    return Var<S>(this, count_ - 1);
  }

  Node<S>& allocate(bool requires_grad) {
    if (static_cast<std::size_t>(count_) == nodes_.size()) nodes_.emplace_back();
    Node<S>& node = nodes_[static_cast<std::size_t>(count_++)];
    node.parameter = nullptr;
    node.parent_count = 0;
    node.backward = nullptr;
    node.requires_grad = requires_grad;
    node.has_grad = false;
    return node;
  }

  void check_owned(const Var<S>& v) const {
    if (!v.valid() || &v.tape() != this || v.index() >= count_)
      throw error("Tape: a Var from another tape (or from before reset()) was used");
  }

  std::vector<Node<S>> nodes_;  // the arena: slots are reused after reset()
  Index count_ = 0;
  bool backward_done_ = false;
  std::uint64_t recording_ = next_recording_id();

  static std::uint64_t next_recording_id() {
    static std::atomic<std::uint64_t> last{0};
    return ++last;
  }
};

template <class S>
S Var<S>::item() const {
  const Matrix<S>& v = value();
  if (v.rows() != 1 || v.cols() != 1) throw shape_error("Var::item: the value is " + shape_string(v) + ", not 1x1");
  return v(0, 0);
}

namespace detail {

/// Throws shape_error unless a and b have the same shape; the message names the op.
template <class S>
void require_same_shape(const char* op, const Var<S>& a, const Var<S>& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols())
    throw shape_error(std::string(op) + ": shapes differ: " + shape_string(a.value()) + " vs " + shape_string(b.value()));
}

template <class S>
void require_same_tape(const char* op, const Var<S>& a, const Var<S>& b) {
  if (&a.tape() != &b.tape()) throw error(std::string(op) + ": operands live on different tapes");
}

}  // namespace detail

}  // namespace latent
