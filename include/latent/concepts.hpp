// latent/concepts.hpp: the contracts of latent's customization points, in
// one place: what a type must offer to be used as a layer, an encoder or
// decoder, a generator or discriminator, a likelihood, a prior, a noise, a
// GAN loss or an optimizer. Each contract is a list of detection traits and
// a check that static_asserts them one by one, so a type that misses a
// member fails to compile with a message naming that member, at the template
// that needed it (Sequential, Vae, Gan, the trainers), not pages of errors
// from deep inside. C++17 has no concepts; these are their written form.
//
// In the contracts, S is the scalar type (float or double), x a Var<S>, m a
// Matrix<S>, rng an Rng, params a ParameterList<S>:
//
//   Layer (anything Sequential stacks, and the body of an encoder, decoder,
//   generator, discriminator or classifier):
//     typename T::Scalar                    S
//     t(x)                                  -> Var<S>, records the layer on x's tape
//     t.named_parameters()                  -> NamedParameterList<S>, in checkpoint order
//     t.in_features(), t.out_features()     -> Index
//     t.named_buffers()                     -> NamedBufferList<S> (state that is not a parameter)
//     t.set_training(bool)                  training or evaluation mode
//   (Deriving from Module<T, S> gives the last two, and parameters(),
//   parameter_count(), zero_grad(), train() and eval(); a layer writes
//   named_parameters(), or a network for_each_child(visit).)
//
//   Encoder of a Vae: Scalar; t(x) -> an object with Var<S> members mu and
//     logvar; latent_dim(), in_features(); named_parameters().
//   Decoder of a Vae: Scalar; t(z) -> Var<S>; latent_dim(), out_features();
//     named_parameters().
//   Generator of a Gan: Scalar; t(z) -> Var<S>; noise_dim(), out_features();
//     named_parameters(), parameters().
//   Discriminator of a Gan: Scalar; t(x) -> Var<S> (1 x batch scores);
//     in_features(); named_parameters(), parameters().
//
//   Likelihood p(x | z) of a Vae, for scalar S:
//     l.negative_log_likelihood(output, x)  -> Var<S>, nats per example
//     l.mean(m) const                       -> Matrix<S>, for pictures
//     l.bind(features)                      sizes any parameters for the decoder's output
//     l.template named_parameters<S>()      -> NamedParameterList<S> (may be empty)
//     l.log_likelihood(m, m) const          -> Matrix<S> row, for metrics (IWAE)
//   Prior p(z) of a Vae: p.kl(mu, logvar) const -> Var<S>; p.sample(m, rng) const;
//     p.log_density(m) const -> Matrix<S> row, for metrics (IWAE).
//   Noise of a Gan: n.sample(m, rng) const.
//   GAN loss (models/gan_loss.hpp), given the critic (GanCritic) and the
//   step's batches (GanBatch<S>):
//     l.discriminator_terms(critic, batch) const -> GanTerms<S>
//     l.generator_terms(critic, batch) const     -> GanTerms<S>
//     L::output(scores.array())                  what "D(x)" means, for monitoring
//     L::name (const char*), L::uses_labels (bool), L::takes_input_gradients (bool)
//   Optimizer: o.step(params); o.state_tensors() -> std::vector<NamedTensor<S>>;
//     o.steps(), o.set_steps(n); a member lr (a trainer's schedule writes it).
//     Optional: o.step(params, AfterStep::clear_grads), which the trainers
//     then call instead of a step and zero_grad (optim/optimizer.hpp).
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>

#include "latent/autodiff/parameter.hpp"
#include "latent/autodiff/tape.hpp"
#include "latent/matrix.hpp"
#include "latent/random.hpp"

namespace latent {
namespace contract {

/// T::Scalar, or float where T has none (so that a check can go on and name
/// what is missing instead of failing on the missing type first).
template <class T, class = void>
struct scalar_of {
  using type = float;
};
template <class T>
struct scalar_of<T, std::void_t<typename T::Scalar>> {
  using type = typename T::Scalar;
};
template <class T>
using scalar_of_t = typename scalar_of<T>::type;

// Detection: each trait is true when the expression in its name compiles
// (and, where a type is given, converts to it).
#define LATENT_DETECT(trait, Expr, Result)                                                 \
  template <class T, class S, class = void>                                                \
  struct trait : std::false_type {};                                                       \
  template <class T, class S>                                                              \
  struct trait<T, S, std::void_t<decltype(Expr)>> : std::is_convertible<decltype(Expr), Result> {}

template <class T>
T& obj();

LATENT_DETECT(has_scalar_member, std::declval<typename T::Scalar>(), S);
LATENT_DETECT(has_call, obj<T>()(std::declval<Var<S>>()), Var<S>);
LATENT_DETECT(has_named_parameters, obj<T>().named_parameters(), NamedParameterList<S>);
LATENT_DETECT(has_parameters, obj<T>().parameters(), ParameterList<S>);
LATENT_DETECT(has_named_buffers, obj<T>().named_buffers(), NamedBufferList<S>);
LATENT_DETECT(has_set_training, (obj<T>().set_training(true), 0), int);
LATENT_DETECT(has_in_features, std::declval<const T&>().in_features(), Index);
LATENT_DETECT(has_out_features, std::declval<const T&>().out_features(), Index);
LATENT_DETECT(has_latent_dim, std::declval<const T&>().latent_dim(), Index);
LATENT_DETECT(has_noise_dim, std::declval<const T&>().noise_dim(), Index);
LATENT_DETECT(has_posterior_mu, obj<T>()(std::declval<Var<S>>()).mu, Var<S>);
LATENT_DETECT(has_posterior_logvar, obj<T>()(std::declval<Var<S>>()).logvar, Var<S>);

LATENT_DETECT(has_negative_log_likelihood, obj<T>().negative_log_likelihood(std::declval<Var<S>>(), std::declval<Var<S>>()), Var<S>);
LATENT_DETECT(has_mean, std::declval<const T&>().mean(std::declval<const Matrix<S>&>()), Matrix<S>);
LATENT_DETECT(has_bind, (obj<T>().bind(Index{}), 0), int);
LATENT_DETECT(has_template_named_parameters, obj<T>().template named_parameters<S>(), NamedParameterList<S>);
LATENT_DETECT(has_log_likelihood,
              std::declval<const T&>().log_likelihood(std::declval<const Matrix<S>&>(), std::declval<const Matrix<S>&>()),
              Matrix<S>);

LATENT_DETECT(has_kl, std::declval<const T&>().kl(std::declval<Var<S>>(), std::declval<Var<S>>()), Var<S>);
LATENT_DETECT(has_sample, (std::declval<const T&>().sample(obj<Matrix<S>>(), obj<Rng>()), 0), int);
LATENT_DETECT(has_log_density, std::declval<const T&>().log_density(std::declval<const Matrix<S>&>()), Matrix<S>);

// The terms of a GAN loss, given the critic and batch types of the Gan that
// checks it (the contract does not depend on the models' headers).
template <class T, class S, class Critic, class Batch, class = void>
struct has_discriminator_terms : std::false_type {};
template <class T, class S, class Critic, class Batch>
struct has_discriminator_terms<
    T, S, Critic, Batch, std::void_t<decltype(std::declval<const T&>().discriminator_terms(obj<Critic>(), std::declval<const Batch&>()))>>
    : std::true_type {};
template <class T, class S, class Critic, class Batch, class = void>
struct has_generator_terms : std::false_type {};
template <class T, class S, class Critic, class Batch>
struct has_generator_terms<
    T, S, Critic, Batch, std::void_t<decltype(std::declval<const T&>().generator_terms(obj<Critic>(), std::declval<const Batch&>()))>>
    : std::true_type {};
LATENT_DETECT(has_static_output, (T::output(std::declval<const Matrix<S>&>().array()), 0), int);
LATENT_DETECT(has_name, T::name, const char*);
LATENT_DETECT(has_uses_labels, T::uses_labels, bool);
LATENT_DETECT(has_takes_input_gradients, T::takes_input_gradients, bool);

LATENT_DETECT(has_step, (obj<T>().step(std::declval<const ParameterList<S>&>()), 0), int);
LATENT_DETECT(has_state_tensors, (obj<T>().state_tensors(), 0), int);
LATENT_DETECT(has_steps, std::declval<const T&>().steps(), std::int64_t);
LATENT_DETECT(has_set_steps, (obj<T>().set_steps(std::int64_t{}), 0), int);
LATENT_DETECT(has_lr, obj<T>().lr = S(1), S);

#undef LATENT_DETECT

/// True for a layer stack that says its last layer applies no activation
/// (an Mlp whose OutputActivation is Identity).
template <class T, class = void>
struct ends_linear : std::false_type {};
template <class T>
struct ends_linear<T, std::void_t<typename T::OutputActivation>> : std::bool_constant<T::OutputActivation::is_identity> {};

template <class T>
constexpr bool has_scalar = has_scalar_member<T, double>::value &&
                            (std::is_same<scalar_of_t<T>, float>::value || std::is_same<scalar_of_t<T>, double>::value);

// The checks. Each static_assert names the member its contract misses; a
// check is a type so that it can be instantiated where the contract is needed
// (`static_assert(contract::Layer<Body>::ok)`).

template <class T, class S = scalar_of_t<T>>
struct Layer {
  static_assert(has_scalar<T>, "latent Layer contract: needs a member type Scalar (float or double)");
  static_assert(has_call<T, S>::value, "latent Layer contract: needs operator()(Var<Scalar>) returning Var<Scalar>");
  static_assert(has_named_parameters<T, S>::value,
                "latent Layer contract: needs named_parameters() returning NamedParameterList<Scalar>");
  static_assert(has_in_features<T, S>::value, "latent Layer contract: needs in_features() const returning Index");
  static_assert(has_out_features<T, S>::value, "latent Layer contract: needs out_features() const returning Index");
  static_assert(has_named_buffers<T, S>::value && has_set_training<T, S>::value,
                "latent Layer contract: needs named_buffers() and set_training(bool) (derive from Module<T, Scalar>, "
                "which gives both)");
  static constexpr bool ok = true;
};

template <class T, class S = scalar_of_t<T>>
struct Encoder {
  static_assert(has_scalar<T>, "latent Encoder contract: needs a member type Scalar (float or double)");
  static_assert(has_posterior_mu<T, S>::value && has_posterior_logvar<T, S>::value,
                "latent Encoder contract: needs operator()(Var<Scalar>) returning an object with Var<Scalar> members mu and "
                "logvar");
  static_assert(has_latent_dim<T, S>::value, "latent Encoder contract: needs latent_dim() const returning Index");
  static_assert(has_in_features<T, S>::value, "latent Encoder contract: needs in_features() const returning Index");
  static_assert(has_named_parameters<T, S>::value,
                "latent Encoder contract: needs named_parameters() returning NamedParameterList<Scalar>");
  static constexpr bool ok = true;
};

template <class T, class S = scalar_of_t<T>>
struct Decoder {
  static_assert(has_scalar<T>, "latent Decoder contract: needs a member type Scalar (float or double)");
  static_assert(has_call<T, S>::value, "latent Decoder contract: needs operator()(Var<Scalar>) returning Var<Scalar>");
  static_assert(has_latent_dim<T, S>::value, "latent Decoder contract: needs latent_dim() const returning Index");
  static_assert(has_out_features<T, S>::value, "latent Decoder contract: needs out_features() const returning Index");
  static_assert(has_named_parameters<T, S>::value,
                "latent Decoder contract: needs named_parameters() returning NamedParameterList<Scalar>");
  static constexpr bool ok = true;
};

template <class T, class S = scalar_of_t<T>>
struct Generator {
  static_assert(has_scalar<T>, "latent Generator contract: needs a member type Scalar (float or double)");
  static_assert(has_call<T, S>::value, "latent Generator contract: needs operator()(Var<Scalar>) returning Var<Scalar>");
  static_assert(has_noise_dim<T, S>::value, "latent Generator contract: needs noise_dim() const returning Index");
  static_assert(has_out_features<T, S>::value, "latent Generator contract: needs out_features() const returning Index");
  static_assert(has_named_parameters<T, S>::value,
                "latent Generator contract: needs named_parameters() returning NamedParameterList<Scalar>");
  static_assert(has_parameters<T, S>::value,
                "latent Generator contract: needs parameters() returning ParameterList<Scalar> (derive from Module)");
  static constexpr bool ok = true;
};

template <class T, class S = scalar_of_t<T>>
struct Discriminator {
  static_assert(has_scalar<T>, "latent Discriminator contract: needs a member type Scalar (float or double)");
  static_assert(has_call<T, S>::value, "latent Discriminator contract: needs operator()(Var<Scalar>) returning Var<Scalar>");
  static_assert(has_in_features<T, S>::value, "latent Discriminator contract: needs in_features() const returning Index");
  static_assert(has_named_parameters<T, S>::value,
                "latent Discriminator contract: needs named_parameters() returning NamedParameterList<Scalar>");
  static_assert(has_parameters<T, S>::value,
                "latent Discriminator contract: needs parameters() returning ParameterList<Scalar> (derive from Module)");
  static constexpr bool ok = true;
};

/// What a Vae needs of its likelihood; LikelihoodForMetrics adds what the IWAE needs.
template <class T, class S>
struct Likelihood {
  static_assert(has_negative_log_likelihood<T, S>::value,
                "latent Likelihood contract: needs negative_log_likelihood(Var<S> output, Var<S> x) returning Var<S>");
  static_assert(has_mean<T, S>::value, "latent Likelihood contract: needs mean(const Matrix<S>&) const returning Matrix<S>");
  static_assert(has_bind<T, S>::value, "latent Likelihood contract: needs bind(Index features)");
  static_assert(has_template_named_parameters<T, S>::value,
                "latent Likelihood contract: needs template <class S> named_parameters() returning NamedParameterList<S>");
  static constexpr bool ok = true;
};

template <class T, class S>
struct LikelihoodForMetrics : Likelihood<T, S> {
  static_assert(has_log_likelihood<T, S>::value,
                "latent Likelihood contract: needs log_likelihood(const Matrix<S>& output, const Matrix<S>& x) const "
                "returning Matrix<S> (per example)");
};

template <class T, class S>
struct Prior {
  static_assert(has_kl<T, S>::value, "latent Prior contract: needs kl(Var<S> mu, Var<S> logvar) const returning Var<S>");
  static_assert(has_sample<T, S>::value, "latent Prior contract: needs sample(Matrix<S>& z, Rng& rng) const");
  static constexpr bool ok = true;
};

template <class T, class S>
struct PriorForMetrics : Prior<T, S> {
  static_assert(has_log_density<T, S>::value,
                "latent Prior contract: needs log_density(const Matrix<S>& z) const returning Matrix<S> (per example)");
};

template <class T, class S>
struct Noise {
  static_assert(has_sample<T, S>::value, "latent Noise contract: needs sample(Matrix<S>& z, Rng& rng) const");
  static constexpr bool ok = true;
};

template <class T, class S, class Critic, class Batch>
struct GanLoss {
  static_assert(has_discriminator_terms<T, S, Critic, Batch>::value,
                "latent GanLoss contract: needs discriminator_terms(critic, batch) const returning GanTerms<S> "
                "(derive from detail::ScoreLoss<L> to write static discriminator(real, fake, real_label) instead)");
  static_assert(has_generator_terms<T, S, Critic, Batch>::value,
                "latent GanLoss contract: needs generator_terms(critic, batch) const returning GanTerms<S> "
                "(derive from detail::ScoreLoss<L> to write static generator(fake) instead)");
  static_assert(has_static_output<T, S>::value,
                "latent GanLoss contract: needs static output(scores) on an Eigen array (what D(x) means)");
  static_assert(has_name<T, S>::value, "latent GanLoss contract: needs static constexpr const char* name");
  static_assert(has_uses_labels<T, S>::value, "latent GanLoss contract: needs static constexpr bool uses_labels");
  static_assert(has_takes_input_gradients<T, S>::value,
                "latent GanLoss contract: needs static constexpr bool takes_input_gradients");
  static constexpr bool ok = true;
};

template <class T, class S>
struct Optimizer {
  static_assert(has_step<T, S>::value, "latent Optimizer contract: needs step(const ParameterList<S>&)");
  static_assert(has_state_tensors<T, S>::value,
                "latent Optimizer contract: needs state_tensors(), its state by name (for checkpoints)");
  static_assert(has_steps<T, S>::value && has_set_steps<T, S>::value,
                "latent Optimizer contract: needs steps() const and set_steps(std::int64_t) (for checkpoints)");
  static constexpr bool ok = true;
};

/// An optimizer whose learning rate a schedule can set.
template <class T, class S>
struct ScheduledOptimizer : Optimizer<T, S> {
  static_assert(has_lr<T, S>::value, "latent Optimizer contract: needs a member lr of type S (a schedule writes it)");
};

}  // namespace contract
}  // namespace latent
