// latent/train/step_parts.hpp: what the trainers' steps are built from, so
// that a new model family's trainer composes them instead of copying another
// trainer's step: a batch's images and labels recorded on a tape, one
// network's gradient summed over the ranks, one optimizer update of one
// network, and one update of a GAN's critic (shared by the GAN and the
// VAE-GAN). None allocates once shapes are steady.
#pragma once

#include <cmath>
#include <limits>
#include <string>

#include "latent/autodiff/tape.hpp"
#include "latent/data/dataset.hpp"
#include "latent/data/one_hot.hpp"
#include "latent/distributed/data_parallel.hpp"
#include "latent/distributed/gradient_sync.hpp"
#include "latent/error.hpp"
#include "latent/models/gan_loss.hpp"
#include "latent/optim/clip.hpp"
#include "latent/optim/optimizer.hpp"
#include "latent/train/history.hpp"

namespace latent::detail {

/// The options of a critic's step that both GAN trainers take, checked alike:
/// the real examples' target in (0, 1], below 1 only for a loss with targets,
/// and a gradient-norm bound of at least 0. `trainer` names the trainer.
template <class Loss>
void check_critic_options(const std::string& trainer, double real_label, double clip_grad_norm) {
  if (!(real_label > 0 && real_label <= 1))
    throw error(trainer + ": the real label must be in (0, 1], got " + std::to_string(real_label));
  if (real_label != 1.0 && !Loss::uses_labels)
    throw error(trainer + ": label smoothing needs a loss with targets; the " + Loss::name + " loss has none");
  if (clip_grad_norm < 0) throw error(trainer + ": the gradient-norm bound must be positive (or 0 for none)");
}

/// The images `indices` of `data`, scaled by Scaling, as a constant on
/// `tape` (features x indices.size()), filled in place.
template <class Scaling, class S, class Indices>
Var<S> record_images(Tape<S>& tape, const data::Dataset& data, const Indices& indices) {
  Var<S> x = tape.constant(data.features(), static_cast<Index>(indices.size()));
  data.template fill_batch<Scaling>(tape.value_of(x), indices);
  return x;
}

/// The labels of the examples `indices` of `data`, one-hot (classes x
/// indices.size()), as a constant on `tape`; an invalid Var when classes is
/// 0 (an unconditional model).
template <class S, class Indices>
Var<S> record_labels(Tape<S>& tape, const data::Dataset& data, const Indices& indices, Index classes) {
  if (classes == 0) return Var<S>();
  Var<S> labels = tape.constant(classes, static_cast<Index>(indices.size()));
  data::fill_one_hot_labels(tape.value_of(labels), data, indices);
  return labels;
}

/// Sweeps `loss`, this rank's loss on its `slice` of the global batch (an
/// invalid Var for a rank without examples in it), and leaves the global
/// batch's gradient in the parameters of `gradients` on every rank (see
/// GradientSync). Returns the global batch's loss; when it is NaN or
/// infinite, the gradients are cleared and nothing may be updated.
template <class S>
double global_backward(GradientSync<S>& gradients, DataParallel& parallel, const Slice& slice, Tape<S>& tape, Var<S> loss) {
  const double global = loss.valid() ? gradients.backward(parallel, slice, tape, loss) : gradients.backward(parallel);
  if (!std::isfinite(global)) zero_grad(gradients.parameters());
  return global;
}

/// Whether update() measures the gradient norm when it does not clip (a pass
/// over every gradient: 1.6% of an MLP VAE step).
enum class NormReport { always, when_clipping };

/// One update of one network from the gradients its parameters hold: clips
/// them to a global norm (if clip_norm > 0), steps the optimizer and clears
/// them. Returns the gradient norm before clipping; NaN when it was not
/// measured (no clipping, NormReport::when_clipping).
template <class Optimizer, class S>
double update(Optimizer& optimizer, const ParameterList<S>& params, double clip_norm, NormReport report) {
  const double norm = clip_norm > 0                      ? clip_grad_norm(params, clip_norm)
                      : report == NormReport::always ? grad_norm(params)
                                                     : std::numeric_limits<double>::quiet_NaN();
  if constexpr (steps_clearing_grads<Optimizer, S>::value) {
    optimizer.step(params, AfterStep::clear_grads);
  } else {
    optimizer.step(params);
    zero_grad(params);
  }
  return norm;
}

/// How a trainer's GradientSync for an Optimizer shards: the large
/// parameters' updates, when the optimizer can step parts of its parameters.
template <class Optimizer, class S>
constexpr Sharding sharding_for() {
  return steps_element_ranges<Optimizer, S>::value ? Sharding::large_parameters : Sharding::none;
}

/// The same for the parameters of `gradients` after its backward: sharded
/// over the ranks when it was (see GradientSync), each rank clipping and
/// updating its part and then receiving the others'.
template <class Optimizer, class S>
double update(Optimizer& optimizer, GradientSync<S>& gradients, DataParallel& parallel, double clip_norm,
              NormReport report = NormReport::always) {
  if (!gradients.sharded()) return update(optimizer, gradients.parameters(), clip_norm, report);
  if constexpr (steps_element_ranges<Optimizer, S>::value) {
    const ElementRanges& mine = gradients.own_ranges();
    double norm = std::numeric_limits<double>::quiet_NaN();
    if (clip_norm > 0 || report == NormReport::always) norm = std::sqrt(gradients.squared_norm());
    if (clip_norm > 0) scale_grads_to_norm(gradients.parameters(), norm, clip_norm, mine);
    optimizer.step(gradients.parameters(), AfterStep::clear_grads, mine);
    gradients.finish_update(parallel);
    return norm;
  } else {
    throw error("update: the gradients are sharded, but the optimizer cannot update parts of its parameters");
  }
}

/// One update of a GAN's critic on this rank's `slice` of a batch:
/// record_loss() records its loss (GanTerms) on `tape` (not called for an
/// empty slice); unless the global loss is NaN or infinite, the critic is
/// updated and kept Lipschitz, and d_loss, d_grad_norm, d_real, d_fake (the
/// loss's output of the scores) and, for a loss with a penalty, d_penalty
/// join the means, weighted by the slice's examples. Returns the global loss.
template <class Loss, class S, class RecordLoss, class Optimizer, class Lipschitz>
double critic_update(const RecordLoss& record_loss, Tape<S>& tape, DataParallel& parallel, const Slice& slice,
                     GradientSync<S>& gradients, Optimizer& optimizer, const Lipschitz& lipschitz, double clip_norm,
                     RunningMeans& means) {
  const double weight = static_cast<double>(slice.count);
  GanTerms<S> terms;
  if (slice.count > 0) terms = record_loss();
  const double loss = global_backward(gradients, parallel, slice, tape, terms.loss);
  if (!std::isfinite(loss)) return loss;
  means.add("d_grad_norm", update(optimizer, gradients, parallel, clip_norm), weight);
  lipschitz.after_critic_update(gradients.parameters());
  means.add("d_loss", loss, weight);
  if (slice.count == 0) return loss;
  means.add("d_real", Loss::output(terms.real_scores.value().array()).mean(), weight);
  means.add("d_fake", Loss::output(terms.fake_scores.value().array()).mean(), weight);
  if (terms.penalty.valid()) means.add("d_penalty", terms.penalty.item(), weight);
  return loss;
}

}  // namespace latent::detail
