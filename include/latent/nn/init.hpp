// latent/nn/init.hpp: weight initializer policies. Each fills an out x in
// weight matrix from the library's seeded Rng; fan_in = in (the matrix's
// columns), fan_out = out. A convolution's weight is a matrix too, a filter
// (or, transposed, an input channel's contributions) a row, so fan_in is
// still its columns (PyTorch's fan_in, for Conv2d and ConvTranspose2d alike);
// its fan_out is rows x kernel area, which it passes as Fans to the policies
// that use it (GlorotUniform).
#pragma once

#include <cmath>
#include <type_traits>
#include <utility>

#include "latent/matrix.hpp"
#include "latent/random.hpp"

namespace latent {

/// A weight's fan-in and fan-out, where they are not its columns and rows.
struct Fans {
  Index in, out;
};

/// Glorot/Xavier uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)).
struct GlorotUniform {
  template <class S>
  void operator()(Matrix<S>& w, Rng& rng) const {
    (*this)(w, Fans{w.cols(), w.rows()}, rng);
  }
  template <class S>
  void operator()(Matrix<S>& w, Fans fans, Rng& rng) const {
    const double limit = std::sqrt(6.0 / static_cast<double>(fans.in + fans.out));
    rng.fill_uniform(w, -limit, limit);
  }
};

/// He/Kaiming normal: N(0, 2 / fan_in), for ReLU layers.
struct HeNormal {
  template <class S>
  void operator()(Matrix<S>& w, Rng& rng) const {
    rng.fill_normal(w, 0.0, std::sqrt(2.0 / static_cast<double>(w.cols())));
  }
};

/// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases alike: the
/// default of PyTorch's nn.Linear, Conv2d and ConvTranspose2d
/// (kaiming_uniform_ with a = sqrt(5) is this bound).
struct FanInUniform {
  template <class S>
  void operator()(Matrix<S>& w, Rng& rng) const {
    fill(w, w.cols(), rng);
  }
  template <class S>
  void bias(Matrix<S>& b, Index fan_in, Rng& rng) const {
    fill(b, fan_in, rng);
  }

 private:
  template <class S>
  static void fill(Matrix<S>& m, Index fan_in, Rng& rng) {
    const double limit = 1.0 / std::sqrt(static_cast<double>(fan_in));
    rng.fill_uniform(m, -limit, limit);
  }
};

/// N(0, sigma^2), e.g. sigma = 0.02 as in DCGAN.
struct Normal {
  double sigma = 0.02;
  template <class S>
  void operator()(Matrix<S>& w, Rng& rng) const {
    rng.fill_normal(w, 0.0, sigma);
  }
};

struct Zeros {
  template <class S>
  void operator()(Matrix<S>& w, Rng&) const {
    w.setZero();
  }
};

namespace detail {
template <class Init, class S, class = void>
struct takes_fans : std::false_type {};
template <class Init, class S>
struct takes_fans<Init, S, std::void_t<decltype(std::declval<const Init&>()(std::declval<Matrix<S>&>(), Fans{}, std::declval<Rng&>()))>>
    : std::true_type {};

template <class Init, class S, class = void>
struct has_bias_rule : std::false_type {};
template <class Init, class S>
struct has_bias_rule<Init, S, std::void_t<decltype(std::declval<const Init&>().bias(std::declval<Matrix<S>&>(), Index{}, std::declval<Rng&>()))>>
    : std::true_type {};
}  // namespace detail

/// Fills a weight whose fans differ from its shape: policies that use fan_out
/// take the fans; the others see only the matrix (its columns are fan_in).
template <class Init, class S>
void init_weight(const Init& init, Matrix<S>& w, Fans fans, Rng& rng) {
  if constexpr (detail::takes_fans<Init, S>::value)
    init(w, fans, rng);
  else
    init(w, rng);
}

/// Biases start at zero, unless the weight policy has a rule of its own (a
/// member bias(b, fan_in, rng), as FanInUniform has).
template <class Init, class S>
void init_bias(const Init& init, Matrix<S>& b, Index fan_in, Rng& rng) {
  if constexpr (detail::has_bias_rule<Init, S>::value)
    init.bias(b, fan_in, rng);
  else
    b.setZero();
}

}  // namespace latent
