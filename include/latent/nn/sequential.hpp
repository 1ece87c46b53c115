// latent/nn/sequential.hpp: networks as stacks of layers. Sequential<L...> is
// a flat compile-time stack (a tuple and a fold, never nested types); Mlp is
// a runtime stack of Dense layers whose depth and widths are data.
#pragma once

#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "latent/nn/dense.hpp"

namespace latent {

template <class First, class... Rest>
class Sequential : public Module<Sequential<First, Rest...>, typename First::Scalar> {
 public:
  using Scalar = typename First::Scalar;
  static_assert((std::is_same<typename Rest::Scalar, Scalar>::value && ...),
                "Sequential: every layer must use the same scalar type");

  explicit Sequential(First first, Rest... rest) : layers_(std::move(first), std::move(rest)...) {}

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

  NamedParameterList<Scalar> named_parameters() {
    NamedParameterList<Scalar> named;
    std::size_t index = 0;
    std::apply([&](auto&... layer) { ((append_prefixed(named, std::to_string(index++), layer.named_parameters())), ...); },
               layers_);
    return named;
  }

 private:
  std::tuple<First, Rest...> layers_;
};

/// Dense layers through the given sizes ({784, 400, 20}: two layers): every
/// layer applies Hidden except the last, which applies Output.
template <class S, class Hidden = ReLU, class Output = Hidden, class Init = GlorotUniform>
class Mlp : public Module<Mlp<S, Hidden, Output, Init>, S> {
 public:
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

  NamedParameterList<S> named_parameters() {
    NamedParameterList<S> named;
    for (std::size_t i = 0; i < hidden_.size(); ++i) append_prefixed(named, std::to_string(i), hidden_[i].named_parameters());
    append_prefixed(named, std::to_string(hidden_.size()), output_.named_parameters());
    return named;
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
