// latent/random.hpp: the seeded random number generator every part of latent
// draws from. Same seed, same numbers, bit for bit, on every platform: the
// generator (xoshiro256++) and the normal transform (Box-Muller) are our own,
// not the standard library's implementation-defined distributions, and the
// whole state is four words that a checkpoint can store.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "latent/error.hpp"
#include "latent/matrix.hpp"
#include "latent/threads.hpp"

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
  /// batch's noise. A window of kPairsToSplit pairs or more is split over
  /// two of latent's threads (when it has two), with the numbers of one.
  template <class Derived>
  void fill_normal_columns(Eigen::DenseBase<Derived>& m, Index total_columns, Index first_column, double mean = 0,
                           double stddev = 1) {
    using S = typename Derived::Scalar;
    check_columns(m.cols(), total_columns, first_column);
    const Index rows = m.rows(), n = rows * total_columns;
    const Index window_begin = rows * first_column, window_end = rows * (first_column + m.cols());
    // Where numbers k, k + 1, ... of the whole matrix's column-major sequence
    // go, in turn: put_next() writes the next one if it is in the window.
    struct Cursor {
      Index at, row, col;  // at: k - window_begin
    };
    const auto start_at = [&](Index k) {
      const Index at = k - window_begin;
      return at > 0 ? Cursor{at, at % rows, at / rows} : Cursor{at, 0, 0};
    };
    const auto put_next = [&](Cursor& c, double z) {
      if (c.at >= 0 && c.at < window_end - window_begin) {
        m(c.row, c.col) = static_cast<S>(mean + stddev * z);
        if (++c.row == rows) {
          c.row = 0;
          ++c.col;
        }
      }
      ++c.at;
    };
    const auto put = [&](Index k, double z) {
      Cursor c = start_at(k);
      put_next(c, z);
    };
    const auto put_pair = [&](Cursor& c, double u1, double u2) {
      double first, second;
      box_muller(u1, u2, first, second);
      put_next(c, first);
      put_next(c, second);
    };
    const auto draw_and_put = [&](Cursor& c, Index pairs) {
      for (Index p = 0; p < pairs; ++p) {
        const double u1 = nonzero_uniform(), u2 = uniform();
        put_pair(c, u1, u2);
      }
    };
    const auto drop_pairs_before = [&](Index& k, Index end) {
      for (; k + 2 <= end; k += 2) {
        nonzero_uniform();
        uniform();
      }
    };

    Index k = 0;
    if (n > 0 && has_spare_) {
      has_spare_ = false;
      put(k++, spare_);
    }
    drop_pairs_before(k, window_begin);
    // The pairs k, k + 1 that reach into the window (all but the last number's).
    const Index last_pair = std::min(window_end - 1, n - 2);
    Index pairs = last_pair >= k ? (last_pair - k) / 2 + 1 : 0;
    Cursor cursor = start_at(k);
    // On two threads, a chunk's first pairs are drawn first, and transformed
    // on one thread while the other draws and transforms the rest: a draw
    // costs an eighth of a transform, so the first thread takes a little over
    // half the pairs. The numbers are those of one thread.
    std::vector<double>& uniforms = kept_uniforms();
    while (num_threads() > 1 && pairs >= kPairsToSplit) {
      const Index chunk = std::min(pairs, kPairsPerChunk), head = chunk / 2 + chunk / 32;
      uniforms.resize(std::size_t(2 * head));
      for (Index p = 0; p < head; ++p) {
        uniforms[std::size_t(2 * p)] = nonzero_uniform();
        uniforms[std::size_t(2 * p + 1)] = uniform();
      }
      Cursor tail = start_at(k + 2 * head);
      run_shares(2, [&](int share) {
        if (share == 1) return draw_and_put(tail, chunk - head);
        Cursor c = cursor;
        for (Index p = 0; p < head; ++p) put_pair(c, uniforms[std::size_t(2 * p)], uniforms[std::size_t(2 * p + 1)]);
      });
      cursor = tail;
      k += 2 * chunk;
      pairs -= chunk;
    }
    draw_and_put(cursor, pairs);
    k += 2 * pairs;
    drop_pairs_before(k, n);
    if (k < n) {  // the last number: its pair's second is the spare a later draw takes
      const double u1 = nonzero_uniform(), u2 = uniform();
      double first;
      box_muller(u1, u2, first, spare_);
      has_spare_ = true;
      put(k, first);
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

  /// Pairs of normals worth two threads (about 40 us), and the pairs split at
  /// a time (their first half's uniforms kept in a buffer of 128 KiB).
  static constexpr Index kPairsToSplit = 1024, kPairsPerChunk = Index(1) << 14;

  /// The uniforms of the pairs fill_normal_columns transforms; kept, so that
  /// a steady training step allocates nothing (the caller's: a pool thread
  /// sees it through a reference).
  static std::vector<double>& kept_uniforms() {
    thread_local std::vector<double> uniforms;
    return uniforms;
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
