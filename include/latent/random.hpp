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
#include <string>

#include "latent/error.hpp"
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
    const double u1 = nonzero_uniform(), u2 = uniform();
    double first;
    box_muller(u1, u2, first, spare_);
    has_spare_ = true;
    return first;
  }

  double normal(double mean, double stddev) { return mean + stddev * normal(); }

  /// m's elements, in column-major order, from normal(mean, stddev).
  template <class Derived>
  void fill_normal(Eigen::DenseBase<Derived>& m, double mean = 0, double stddev = 1) {
    fill_normal_columns(m, m.cols(), 0, mean, stddev);
  }

  /// What fill_normal would write into columns first_column ..
  /// first_column + m.cols() - 1 of an m.rows() x total_columns matrix, and
  /// the generator left where it would leave it; only these columns' normals
  /// are computed (the other pairs' uniforms are drawn and dropped), so that
  /// each rank of a data-parallel run pays for its own columns of a global
  /// batch's noise.
  template <class Derived>
  void fill_normal_columns(Eigen::DenseBase<Derived>& m, Index total_columns, Index first_column, double mean = 0,
                           double stddev = 1) {
    using S = typename Derived::Scalar;
    check_columns(m.cols(), total_columns, first_column);
    const Index rows = m.rows(), n = rows * total_columns;
    const Index window_begin = rows * first_column, window_end = rows * (first_column + m.cols());
    Index row = 0, col = 0;  // where the window's next number goes: numbers come in order
    const auto put = [&](Index k, double z) {
      if (k < window_begin || k >= window_end) return;
      m(row, col) = static_cast<S>(mean + stddev * z);
      if (++row == rows) {
        row = 0;
        ++col;
      }
    };
    Index k = 0;
    if (n > 0 && has_spare_) {
      has_spare_ = false;
      put(k++, spare_);
    }
    for (; k < n; k += 2) {
      const double u1 = nonzero_uniform(), u2 = uniform();
      // A pair outside the window is dropped, unless its second number is the spare a later draw takes.
      if (k + 1 < n && (k + 2 <= window_begin || k >= window_end)) continue;
      double first, second;
      box_muller(u1, u2, first, second);
      put(k, first);
      if (k + 1 < n) {
        put(k + 1, second);
      } else {
        spare_ = second;
        has_spare_ = true;
      }
    }
  }

  /// m's elements, in column-major order, from uniform(lo, hi).
  template <class Derived>
  void fill_uniform(Eigen::DenseBase<Derived>& m, double lo = 0, double hi = 1) {
    fill_uniform_columns(m, m.cols(), 0, lo, hi);
  }

  /// fill_normal_columns for fill_uniform.
  template <class Derived>
  void fill_uniform_columns(Eigen::DenseBase<Derived>& m, Index total_columns, Index first_column, double lo = 0, double hi = 1) {
    using S = typename Derived::Scalar;
    check_columns(m.cols(), total_columns, first_column);
    const Index rows = m.rows();
    for (Index k = 0; k < rows * first_column; ++k) (*this)();
    for (Index j = 0; j < m.cols(); ++j)
      for (Index i = 0; i < rows; ++i) m(i, j) = static_cast<S>(uniform(lo, hi));
    for (Index k = rows * (first_column + m.cols()); k < rows * total_columns; ++k) (*this)();
  }

  /// The whole state, for checkpoints: restoring it continues the exact sequence.
  State state() const {
    // A spare already taken is no part of the state: its bits are 0.
    std::uint64_t spare_bits = 0;
    if (has_spare_) std::memcpy(&spare_bits, &spare_, sizeof spare_bits);
    return {s_[0], s_[1], s_[2], s_[3], spare_bits, has_spare_ ? 1ULL : 0ULL};
  }

  void set_state(const State& state) {
    for (int i = 0; i < 4; ++i) s_[i] = state[i];
    std::memcpy(&spare_, &state[4], sizeof spare_);
    has_spare_ = state[5] != 0;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  /// Uniform in (0, 1): Box-Muller's first number, whose logarithm is taken.
  double nonzero_uniform() {
    double u;
    do {
      u = uniform();
    } while (u <= 0.0);
    return u;
  }

  static void box_muller(double u1, double u2, double& first, double& second) {
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 6.283185307179586476925 * u2;
    first = radius * std::cos(angle);
    second = radius * std::sin(angle);
  }

  static void check_columns(Index columns, Index total_columns, Index first_column) {
    if (first_column < 0 || columns < 0 || first_column + columns > total_columns)
      throw shape_error("Rng: columns " + std::to_string(first_column) + " .. " + std::to_string(first_column + columns - 1) +
                        " of a matrix of " + std::to_string(total_columns));
  }

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
