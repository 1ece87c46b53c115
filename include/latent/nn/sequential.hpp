// latent/nn/sequential.hpp: networks as stacks of layers. Sequential<L...> is
// a flat compile-time stack (a tuple and a fold, never nested types); Mlp is
// a runtime stack of Dense layers whose depth and widths are data.
#pragma once

#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "latent/image_shape.hpp"
#include "latent/concepts.hpp"
#include "latent/nn/dense.hpp"

namespace latent {
namespace detail {

template <class L, class = void>
struct has_in_shape : std::false_type {};
template <class L>
struct has_in_shape<L, std::void_t<decltype(std::declval<const L&>().in_shape())>> : std::true_type {};
template <class L, class = void>
struct has_out_shape : std::false_type {};
template <class L>
struct has_out_shape<L, std::void_t<decltype(std::declval<const L&>().out_shape())>> : std::true_type {};
template <class L, class = void>
struct has_features : std::false_type {};
template <class L>
struct has_features<L, std::void_t<decltype(std::declval<const L&>().in_features() + std::declval<const L&>().out_features())>>
    : std::true_type {};
template <class L, class = void>
struct has_describe : std::false_type {};
template <class L>
struct has_describe<L, std::void_t<decltype(std::declval<const L&>().describe())>> : std::true_type {};

/// "layer 2 (Conv2d(64->128, kernel 4x4, stride 2, padding 1))", or "layer 2".
template <class L>
std::string layer_name(const L& layer, std::size_t index) {
  std::string name = "layer " + std::to_string(index);
  if constexpr (has_describe<L>::value) name += " (" + layer.describe() + ")";
  return name;
}

}  // namespace detail

template <class First, class... Rest>
class Sequential : public Module<Sequential<First, Rest...>, contract::scalar_of_t<First>> {
  static_assert((contract::Layer<First>::ok && ... && contract::Layer<Rest>::ok));

 public:
  using Scalar = contract::scalar_of_t<First>;
  static_assert((std::is_same<contract::scalar_of_t<Rest>, Scalar>::value && ...),
                "Sequential: every layer must use the same scalar type");

  /// Checks that each layer reads what the one before it writes: the same
  /// images where both know image shapes, else the same number of features.
  explicit Sequential(First first, Rest... rest) : layers_(std::move(first), std::move(rest)...) {
    check_adjacent(std::make_index_sequence<sizeof...(Rest)>{});
  }

  Var<Scalar> operator()(Var<Scalar> x) {
    std::apply([&x](auto&... layer) { ((x = layer(x)), ...); }, layers_);
    return x;
  }

  /// The stack and its directional derivative, layer by layer (autodiff/jvp.hpp).
  Dual<Scalar> jvp(Dual<Scalar> x) {
    std::apply([&x](auto&... layer) { ((x = layer.jvp(x)), ...); }, layers_);
    return x;
  }

  template <std::size_t I>
  auto& layer() {
    return std::get<I>(layers_);
  }
  static constexpr std::size_t size() { return 1 + sizeof...(Rest); }
  Index in_features() const { return std::get<0>(layers_).in_features(); }
  Index out_features() const { return std::get<sizeof...(Rest)>(layers_).out_features(); }

  /// The layers, named by position ("0", "1", ...).
  template <class Visit>
  void for_each_child(Visit&& visit) {
    std::size_t index = 0;
    std::apply([&](auto&... layer) { (visit(std::to_string(index++), layer), ...); }, layers_);
  }

 private:
  template <std::size_t... I>
  void check_adjacent(std::index_sequence<I...>) const {
    (check_pair(I, std::get<I>(layers_), std::get<I + 1>(layers_)), ...);
  }

  template <class A, class B>
  static void check_pair(std::size_t index, const A& a, const B& b) {
    if constexpr (detail::has_out_shape<A>::value && detail::has_in_shape<B>::value) {
      if (a.out_shape() != b.in_shape())
        throw shape_error("Sequential: " + detail::layer_name(a, index) + " writes images " + to_string(a.out_shape()) + " but " +
                          detail::layer_name(b, index + 1) + " reads images " + to_string(b.in_shape()));
    } else if constexpr (detail::has_features<A>::value && detail::has_features<B>::value) {
      if (a.out_features() != b.in_features())
        throw shape_error("Sequential: " + detail::layer_name(a, index) + " writes " + std::to_string(a.out_features()) +
                          " features but " + detail::layer_name(b, index + 1) + " reads " + std::to_string(b.in_features()));
    }
  }

  std::tuple<First, Rest...> layers_;
};

/// Dense layers through the given sizes ({784, 400, 20}: two layers): every
/// layer applies Hidden except the last, which applies Output, Identity
/// unless chosen: an MLP's last layer is linear (its logits, means or scores
/// go to a loss or a likelihood as they are), as in PyTorch's and Keras'
/// stacks. A body whose output feeds more layers (the body of a
/// GaussianEncoder or a Classifier, followed by linear heads) names its
/// activation: Mlp<S, ReLU, ReLU>.
template <class S, class Hidden = ReLU, class Output = Identity, class Init = GlorotUniform>
class Mlp : public Module<Mlp<S, Hidden, Output, Init>, S> {
 public:
  using HiddenActivation = Hidden;
  using OutputActivation = Output;

  Mlp(const std::vector<Index>& sizes, Rng& rng, Hidden hidden = {}, Output output = {}, Init init = {})
      // Members are built in declaration order, so the hidden layers draw from rng first.
      : hidden_(hidden_layers(sizes, rng, hidden, init)), output_(sizes.at(sizes.size() - 2), sizes.at(sizes.size() - 1), rng, output, init) {}

  Var<S> operator()(Var<S> x) {
    for (auto& layer : hidden_) x = layer(x);
    return output_(x);
  }

  /// The network and its directional derivative, layer by layer (autodiff/jvp.hpp).
  Dual<S> jvp(Dual<S> x) {
    for (auto& layer : hidden_) x = layer.jvp(x);
    return output_.jvp(x);
  }

  Index in_features() const { return hidden_.empty() ? output_.in_features() : hidden_.front().in_features(); }
  Index out_features() const { return output_.out_features(); }
  std::size_t depth() const { return hidden_.size() + 1; }

  /// The layers, named by position ("0", "1", ...).
  template <class Visit>
  void for_each_child(Visit&& visit) {
    for (std::size_t i = 0; i < hidden_.size(); ++i) visit(std::to_string(i), hidden_[i]);
    visit(std::to_string(hidden_.size()), output_);
  }

 private:
  std::vector<Dense<S, Hidden, Init>> hidden_;
  Dense<S, Output, Init> output_;

  static std::vector<Dense<S, Hidden, Init>> hidden_layers(const std::vector<Index>& sizes, Rng& rng, Hidden hidden, Init init) {
    if (sizes.size() < 2)
      throw shape_error("Mlp: needs at least two sizes (input and output), got " + std::to_string(sizes.size()));
    std::vector<Dense<S, Hidden, Init>> layers;
    for (std::size_t i = 0; i + 2 < sizes.size(); ++i) layers.emplace_back(sizes[i], sizes[i + 1], rng, hidden, init);
    return layers;
  }
};

}  // namespace latent
