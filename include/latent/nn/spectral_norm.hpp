// latent/nn/spectral_norm.hpp: spectral normalization (Miyato et al. 2018),
// one of the two ways the GAN literature keeps a critic Lipschitz without
// second derivatives: a layer uses W / sigma(W), sigma the largest singular
// value, estimated by power iteration, one step per training step, with the
// gradient taken through W / sigma(W) (u, v held fixed, as in the paper):
// SpectralDense, built on the op spectral_normalize. (The other way, weight
// clipping, is a parameter-space operation: clip_weights in optim/clip.hpp.)
// Dense itself is untouched: a spectrally normalized layer is a layer type
// of its own.
#pragma once

#include <cstdint>
#include <string>

#include "latent/autodiff/linear.hpp"
#include "latent/nn/dense.hpp"
#include "latent/random.hpp"

namespace latent {

/// W / sigma with sigma = u^T W v, for given unit vectors u (out x 1) and
/// v (in x 1), held constant: d/dW = (G - <G, W / sigma> u v^T) / sigma for the
/// incoming gradient G. With u and v from power iteration on W, sigma is W's
/// largest singular value.
template <class S>
Var<S> spectral_normalize(Var<S> w, const Matrix<S>& u, const Matrix<S>& v) {
  const Index out = w.rows(), in = w.cols();
  if (u.rows() != out || u.cols() != 1 || v.rows() != in || v.cols() != 1)
    throw shape_error("spectral_normalize: W is " + shape_string(w.value()) + ", u is " + shape_string(u) + ", v is " +
                      shape_string(v) + " (want " + shape_string(out, 1) + " and " + shape_string(in, 1) + ")");
  Tape<S>& tape = w.tape();
  Var<S> result = tape.record(out, in, {w}, [](Tape<S>& t, Node<S>& n) {
    const S sigma = n.template load<S>();
    const Index rows = n.value.rows(), cols = n.value.cols();
    const auto u_saved = n.cache.col(0).head(rows);
    const auto v_saved = n.cache.col(0).segment(rows, cols);
    const S projection = (n.grad.array() * n.value.array()).sum();
    t.accumulate(n, 0, (n.grad - projection * u_saved.lazyProduct(v_saved.transpose())) / sigma);
  });
  Node<S>& node = tape.node(result);
  // cache = [u; v; W v]: the backward's constants and the forward's scratch, reused step after step.
  node.cache.resize(out + in + out, 1);
  node.cache.col(0).head(out) = u;
  node.cache.col(0).segment(out, in) = v;
  auto w_v = node.cache.col(0).tail(out);
  w_v.noalias() = w.value() * v;
  const S sigma = u.col(0).dot(w_v);
  if (!(sigma > S(0)))
    throw numeric_error("spectral_normalize: the estimate u^T W v of the largest singular value is " + std::to_string(sigma) +
                        " (W is zero, NaN, or u and v do not fit W)");
  node.store(sigma);
  node.value = w.value() / sigma;
  return result;
}

/// y = act((W / sigma(W)) x + b): Dense with a spectrally normalized weight.
/// u and v (the singular vector estimates) live in the layer; one power
/// iteration runs per recording in training mode in which the weight is
/// trainable (one per critic step, however many batches the step feeds
/// through the layer), none where it is frozen (the generator's step) or in
/// evaluation mode, which use the estimate as it stands. u and v are buffers
/// (named_buffers): a checkpoint saves and restores them, so a resumed run
/// continues bit for bit.
template <class S, class Act = Identity, class Init = GlorotUniform>
class SpectralDense : public detail::AffineLayer<SpectralDense<S, Act, Init>, S, Act, Init> {
  using Base = detail::AffineLayer<SpectralDense<S, Act, Init>, S, Act, Init>;

 public:
  SpectralDense(Index in, Index out, Rng& rng, Act act = {}, Init init = {})
      : Base("SpectralDense", in, out, rng, act, init), u_(out, 1), v_(in, 1) {
    rng.fill_normal(u_);
    u_ /= u_.norm();
    power_iteration();
  }

  using Base::bias;
  using Base::weight;

  Var<S> operator()(Var<S> x) {
    Tape<S>& tape = x.tape();
    const Var<S> w = normalized_weight(tape);
    return dense(this->act_, w, x, tape.leaf(bias));
  }

  /// The layer and its directional derivative (autodiff/jvp.hpp), through
  /// the same normalized weight as the recording's other calls.
  Dual<S> jvp(const Dual<S>& x) {
    Tape<S>& tape = x.value.tape();
    const Var<S> w = normalized_weight(tape);
    return dense_jvp(this->act_, w, x, tape.leaf(bias));
  }

  /// One step of power iteration on W: v = W^T u / |W^T u|, u = W v / |W v|.
  void power_iteration() {
    v_.noalias() = weight.value.transpose() * u_;
    v_ /= v_.norm() + kTiny;
    u_.noalias() = weight.value * v_;
    u_ /= u_.norm() + kTiny;
  }

  /// The singular-vector estimates u (out x 1) and v (in x 1).
  NamedBufferList<S> named_buffers() { return {{"u", &u_}, {"v", &v_}}; }

  /// Runs `steps` power iterations (after changing the weight by hand).
  void refine_estimate(int steps = 20) {
    for (int i = 0; i < steps; ++i) power_iteration();
  }

  /// The current estimate u^T W v of W's largest singular value.
  S sigma() const { return u_.col(0).dot(weight.value * v_.col(0)); }

 private:
  static constexpr S kTiny = S(1e-12);

  // W / sigma(W) on `tape`. While the weight is trainable, it is recorded
  // once per recording (after one power iteration) and shared by every call
  // in it (real and generated batches, a penalty's tangent), so their
  // gradients meet in one node. A frozen weight is recorded afresh on each
  // call and leaves the shared one alone: a frozen recording in between (a
  // penalty's scratch tape) neither iterates nor makes the trainable one
  // record a second time.
  Var<S> normalized_weight(Tape<S>& tape) {
    if (!weight.requires_grad) return spectral_normalize(tape.leaf(weight), u_, v_);
    if (cached_tape_ != &tape || cached_recording_ != tape.recording()) {
      if (this->training()) power_iteration();
      normalized_ = spectral_normalize(tape.leaf(weight), u_, v_);
      cached_tape_ = &tape;
      cached_recording_ = tape.recording();
    }
    return normalized_;
  }

  Matrix<S> u_, v_;
  Var<S> normalized_;
  const Tape<S>* cached_tape_ = nullptr;
  std::uint64_t cached_recording_ = 0;
};

}  // namespace latent
