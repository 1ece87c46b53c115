// The random number generator: the one hash mix is SplitMix64's, streams of
// one seed are reproducible and share nothing with the plain seed's numbers;
// a matrix of normals is normal()'s numbers in column-major order, and a
// window of its columns is computed alone with the generator left alike.
#include <algorithm>
#include <cstdint>
#include <vector>

#include <catch2/catch.hpp>
#include "helpers.hpp"
#include <latent/error.hpp>
#include <latent/random.hpp>

namespace test_random {

TEST_CASE("mix64 is SplitMix64's output function", "[rng]") {
  // SplitMix64 seeded with 0: its first output, from the reference implementation.
  STATIC_REQUIRE(latent::mix64(0x9e3779b97f4a7c15ULL) == 0xe220a8397b1dcdafULL);
  REQUIRE(latent::mix64(1) != latent::mix64(2));
}

TEST_CASE("an Rng stream is reproducible and shares nothing with the plain seed's numbers", "[rng]") {
  latent::Rng weights(7), noise(7, latent::streams::training_noise), again(7, latent::streams::training_noise);
  std::vector<std::uint64_t> drawn;
  for (int i = 0; i < 1000; ++i) drawn.push_back(weights());
  std::sort(drawn.begin(), drawn.end());
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t x = noise();
    REQUIRE(x == again());
    REQUIRE_FALSE(std::binary_search(drawn.begin(), drawn.end(), x));
  }
}

TEST_CASE("fill_normal writes normal()'s numbers in column-major order, a pair's second kept across calls", "[rng]") {
  latent::Rng filled(3), drawn(3);
  // 7 x 5 is odd: the last pair's second number is kept, and the 3 x 3 fill starts with it.
  for (const latent::Index rows : {7, 3}) {
    latent::Matrix<double> m(rows, rows == 7 ? 5 : 3);
    filled.fill_normal(m, 0.0, 0.5);
    for (latent::Index j = 0; j < m.cols(); ++j)
      for (latent::Index i = 0; i < m.rows(); ++i) REQUIRE(m(i, j) == drawn.normal(0.0, 0.5));
    REQUIRE(filled.state() == drawn.state());
  }
}

TEST_CASE("fill_normal_columns and fill_uniform_columns: a window of columns, the generator left as by the whole", "[rng]") {
  for (const latent::Index rows : {3, 4}) {
    for (const bool spare_first : {false, true}) {
      const latent::Index total = 7;
      for (latent::Index first = 0; first <= total; ++first) {
        for (latent::Index count = 0; first + count <= total; ++count) {
          CAPTURE(rows, spare_first, first, count);
          latent::Rng whole_rng(11), window_rng(11);
          if (spare_first) {
            whole_rng.normal();
            window_rng.normal();
          }
          latent::Matrix<float> whole(rows, total), window(rows, count);
          whole_rng.fill_normal(whole);
          window_rng.fill_normal_columns(window, total, first);
          REQUIRE(window == whole.middleCols(first, count));
          REQUIRE(window_rng.state() == whole_rng.state());
          whole_rng.fill_uniform(whole, -1, 1);
          window_rng.fill_uniform_columns(window, total, first, -1, 1);
          REQUIRE(window == whole.middleCols(first, count));
          REQUIRE(window_rng.state() == whole_rng.state());
        }
      }
    }
  }
  latent::Rng rng(1);
  latent::Matrix<float> three(2, 3);
  REQUIRE_THROWS_AS(rng.fill_normal_columns(three, 4, 2), latent::shape_error);
  REQUIRE_THROWS_AS(rng.fill_uniform_columns(three, 3, -1), latent::shape_error);
}

TEST_CASE("a large fill, split in chunks over two threads, has the numbers of normal() and of its windows", "[rng]") {
  const test::ThreadSettings restore;
  // 101 x 701 is odd: a spare is left. 35,400 pairs: three chunks (16,384, 16,384, 2,632), each split over the threads.
  const latent::Index rows = 101, total = 701;
  latent::Rng drawn(5);
  std::vector<double> numbers;
  for (latent::Index k = 0; k < rows * total; ++k) numbers.push_back(drawn.normal());
  for (const int threads : {1, 2}) {
    latent::set_num_threads(threads);
    latent::Rng filled(5);
    latent::Matrix<double> whole(rows, total);
    filled.fill_normal(whole);
    for (latent::Index k = 0; k < whole.size(); ++k) REQUIRE(whole(k) == numbers[static_cast<std::size_t>(k)]);
    REQUIRE(filled.state() == drawn.state());
    // Windows of 20,200 pairs, two chunks split over the threads: at the start, inside, at the end (with the
    // last pair's first number).
    for (const latent::Index first : {0, 150, 301}) {
      CAPTURE(threads, first);
      latent::Rng window_rng(5);
      latent::Matrix<double> window(rows, 400);
      window_rng.fill_normal_columns(window, total, first);
      REQUIRE(window == whole.middleCols(first, 400));
      REQUIRE(window_rng.state() == drawn.state());
    }
  }
}

}  // namespace test_random
