// latent/random.hpp: the seeded random number generator every part of latent
// draws from. Same seed, same numbers, bit for bit, on every platform: the
// generator (xoshiro256++) and the normal transform (Box-Muller) are our own,
// not the standard library's implementation-defined distributions, and the
// whole state is four words that a checkpoint can store.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "latent/matrix.hpp"

namespace latent {

/// SplitMix64's output function, the one hash mix of the library: nearby
/// inputs (seeds, stream numbers, epochs) give unrelated 64-bit outputs.
constexpr std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Rng {
 public:
  using result_type = std::uint64_t;
  using State = std::array<std::uint64_t, 6>;  // generator words, cached normal, its flag

  explicit Rng(std::uint64_t seed = 0x5eed) { reseed(seed); }

  /// A generator for one purpose (`stream`) under a seed the whole program
  /// shares: a trainer drawing its noise from Rng(seed, streams::training_noise) does
  /// not repeat the numbers that Rng(seed) gave the initial weights.
  Rng(std::uint64_t seed, std::uint64_t stream) { reseed(seed ^ mix64(stream + 0x9e3779b97f4a7c15ULL)); }

  void reseed(std::uint64_t seed) {
    // SplitMix64 spreads any seed (0 included) over the 256-bit state.
    for (auto& word : s_) {
      seed += 0x9e3779b97f4a7c15ULL;
      word = mix64(seed);
    }
    has_spare_ = false;
  }

  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }

  result_type operator()() {
    const std::uint64_t result = rotl(s_[0] + s_[3], 23) + s_[0];
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  /// Uniform in [0, 1), 53 random bits.
  double uniform() { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }

  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

  /// Uniform integer in [0, n).
  std::uint64_t below(std::uint64_t n) {
    // Rejection keeps the result unbiased for every n.
    const std::uint64_t limit = max() - max() % n;
    std::uint64_t x;
    do {
      x = (*this)();
    } while (x >= limit);
    return x % n;
  }

  /// Standard normal (Box-Muller; the second value of each pair is kept).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1;
    do {
      u1 = uniform();
    } while (u1 <= 0.0);
    const double u2 = uniform();
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 6.283185307179586476925 * u2;
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

  double normal(double mean, double stddev) { return mean + stddev * normal(); }

  template <class Derived>
  void fill_normal(Eigen::DenseBase<Derived>& m, double mean = 0, double stddev = 1) {
    using S = typename Derived::Scalar;
    for (Index j = 0; j < m.cols(); ++j)
      for (Index i = 0; i < m.rows(); ++i) m(i, j) = static_cast<S>(normal(mean, stddev));
  }

  template <class Derived>
  void fill_uniform(Eigen::DenseBase<Derived>& m, double lo = 0, double hi = 1) {
    using S = typename Derived::Scalar;
    for (Index j = 0; j < m.cols(); ++j)
      for (Index i = 0; i < m.rows(); ++i) m(i, j) = static_cast<S>(uniform(lo, hi));
  }

  /// The whole state, for checkpoints: restoring it continues the exact sequence.
  State state() const {
    std::uint64_t spare_bits = 0;
    std::memcpy(&spare_bits, &spare_, sizeof spare_bits);
    return {s_[0], s_[1], s_[2], s_[3], spare_bits, has_spare_ ? 1ULL : 0ULL};
  }

  void set_state(const State& state) {
    for (int i = 0; i < 4; ++i) s_[i] = state[i];
    std::memcpy(&spare_, &state[4], sizeof spare_);
    has_spare_ = state[5] != 0;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  std::array<std::uint64_t, 4> s_{};
  double spare_ = 0;
  bool has_spare_ = false;
};

/// Stream numbers of latent's own generators (see Rng(seed, stream)).
namespace streams {
inline constexpr std::uint64_t training_noise = 1;  ///< a trainer's noise: VAE eps, GAN z
inline constexpr std::uint64_t evaluation_noise = 2;  ///< noise of an evaluation that must not disturb training's
inline constexpr std::uint64_t loss_noise = 3;  ///< numbers a loss draws (WGAN-GP's interpolates), under a seed of each step's own
inline constexpr std::uint64_t real_labels = 4;  ///< the real examples' targets drawn at each critic step, under a seed of its own
}  // namespace streams

}  // namespace latent
