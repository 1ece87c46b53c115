// Products (autodiff/gemm.hpp) on the configured library (LATENT_GEMM: Eigen,
// a CBLAS or oneDNN) agree with the same product computed in double by plain
// Eigen, within float (or double) rounding: every combination of transposed
// and plain operands, assigned or added, into a matrix and into a block of
// one; vectors, tiny and split-sized shapes; one thread and two (the split
// blocks are row blocks with a leading dimension other than their height, or
// column blocks).
#include <array>
#include <cmath>
#include <limits>
#include <string>

#include "helpers.hpp"

namespace test_gemm {

using latent::Index;
using latent::Matrix;

namespace {

template <class S>
Matrix<S> random_of(Index rows, Index cols, std::uint64_t seed) {
  return test::random_matrix(rows, cols, seed).cast<S>();
}

// Rounding allowed for a sum of `depth` products of entries in [-1, 1].
template <class S>
double tolerance(Index depth) {
  return 4.0 * static_cast<double>(std::numeric_limits<S>::epsilon()) * static_cast<double>(depth + 1);
}

// dst (= or +=) op(A) op(B) through detail::gemm, against the double reference.
template <class S>
void check_product(Index m, Index n, Index k, bool a_transposed, bool b_transposed, bool add) {
  CAPTURE(m, n, k, a_transposed, b_transposed, add);
  const Matrix<S> a = a_transposed ? random_of<S>(k, m, 1) : random_of<S>(m, k, 1);
  const Matrix<S> b = b_transposed ? random_of<S>(n, k, 2) : random_of<S>(k, n, 2);
  const Matrix<S> start = random_of<S>(m, n, 3);
  Matrix<S> dst = start;
  if (a_transposed && b_transposed)
    latent::detail::gemm(dst, a.transpose(), b.transpose(), add);
  else if (a_transposed)
    latent::detail::gemm(dst, a.transpose(), b, add);
  else if (b_transposed)
    latent::detail::gemm(dst, a, b.transpose(), add);
  else
    latent::detail::gemm(dst, a, b, add);

  const Matrix<double> a64 = a.template cast<double>(), b64 = b.template cast<double>();
  Matrix<double> expected = (a_transposed ? Matrix<double>(a64.transpose()) : a64) *
                            (b_transposed ? Matrix<double>(b64.transpose()) : b64);
  if (add) expected += start.template cast<double>();
  REQUIRE(dst.rows() == m);
  REQUIRE(dst.cols() == n);
  const double error = (dst.template cast<double>() - expected).cwiseAbs().maxCoeff();
  INFO("largest error " << error << ", allowed " << tolerance<S>(k));
  REQUIRE(error <= tolerance<S>(k));
}

template <class S>
void check_all_products() {
  const test::ThreadSettings restore;
  // {m, n, k}: tiny, vectors both ways, a depth of one, non-square, and
  // large enough to be split over two threads by rows (m >= n) or columns.
  // 256 rows: a leading dimension of 1 KiB or 2 KiB, which oneDNN reads
  // from a copy when the inner dimension runs across it (kConflictingStrideBytes).
  const std::array<Index, 3> shapes[] = {{3, 5, 4}, {1, 7, 6}, {6, 1, 7}, {1, 1, 9}, {8, 9, 1},
                                         {70, 50, 90}, {600, 130, 300}, {120, 700, 300}, {256, 256, 24}};
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    latent::set_num_threads(threads);
    for (const auto& shape : shapes)
      for (int ops = 0; ops < 4; ++ops)
        for (bool add : {false, true}) check_product<S>(shape[0], shape[1], shape[2], (ops & 1) != 0, (ops & 2) != 0, add);
  }
}

}  // namespace

TEST_CASE("products on the configured library agree with Eigen's, float", "[gemm]") {
  INFO("library: " << latent::gemm_library());
  check_all_products<float>();
}

TEST_CASE("products on the configured library agree with Eigen's, double", "[gemm]") {
  INFO("library: " << latent::gemm_library());
  check_all_products<double>();
}

TEST_CASE("an operand whose leading dimension conflicts is read from a copy with another", "[gemm]") {
  using latent::detail::operand_for_library;
  const Matrix<float> big = random_of<float>(256, 9, 8);  // 1 KiB a column
  const Index rows = 100;                                  // a block of it: its leading dimension is still 256
  Index ld = big.outerStride();
  const float* copy = operand_for_library(big.data(), rows, big.cols(), ld, 64, 0);
  REQUIRE(copy != big.data());
  REQUIRE(ld >= rows);
  REQUIRE((ld * Index(sizeof(float))) % latent::detail::kConflictingStrideBytes != 0);
  using Strided = Eigen::Map<const Matrix<float>, 0, Eigen::OuterStride<>>;
  REQUIRE(Strided(copy, rows, big.cols(), Eigen::OuterStride<>(ld)) == big.topRows(rows));

  SECTION("a product too narrow to repay the copy reads it in place") {
    Index narrow_ld = big.outerStride();
    REQUIRE(operand_for_library(big.data(), rows, big.cols(), narrow_ld, 1, 0) == big.data());
    REQUIRE(narrow_ld == 256);
  }
  SECTION("another leading dimension is read in place") {
    const Matrix<float> other = random_of<float>(250, 9, 9);
    Index other_ld = other.outerStride();
    REQUIRE(operand_for_library(other.data(), other.rows(), other.cols(), other_ld, 64, 1) == other.data());
    REQUIRE(other_ld == 250);
  }
}

TEST_CASE("a product into a block of a larger matrix writes that block only", "[gemm]") {
  // The leading dimension of the result is the larger matrix's height.
  const Matrix<float> a = random_of<float>(40, 30, 4), b = random_of<float>(30, 20, 5);
  const Matrix<float> start = random_of<float>(100, 60, 6);
  for (bool add : {false, true}) {
    CAPTURE(add);
    Matrix<float> big = start;
    latent::detail::gemm_block(big.block(10, 25, 40, 20), a, b, add);
    Matrix<float> expected = start;
    expected.block(10, 25, 40, 20) = a * b;
    if (add) expected.block(10, 25, 40, 20) += start.block(10, 25, 40, 20);
    REQUIRE((big - expected).cwiseAbs().maxCoeff() <= tolerance<float>(30));
    big.block(10, 25, 40, 20) = start.block(10, 25, 40, 20);
    REQUIRE(big == start);
  }
}

TEST_CASE("a product with an inner dimension of 0 is a zero matrix, or adds nothing", "[gemm]") {
  const Matrix<float> a(7, 0), b(0, 5);
  const Matrix<float> start = random_of<float>(7, 5, 7);
  Matrix<float> dst = start;
  latent::detail::gemm(dst, a, b, true);
  REQUIRE(dst == start);
  latent::detail::gemm(dst, a, b, false);
  REQUIRE(dst.isZero(0));
}

TEST_CASE("gemm_library names the library LATENT_GEMM chose", "[gemm]") {
  const std::string library = latent::gemm_library();
  INFO(library);
#if defined(LATENT_GEMM_BLAS)
  REQUIRE(library.rfind("blas", 0) == 0);
#if defined(LATENT_GEMM_OPENBLAS)
  REQUIRE(library.find("kernel ") != std::string::npos);
#endif
#elif defined(LATENT_GEMM_ONEDNN)
  REQUIRE(library.rfind("onednn: oneDNN ", 0) == 0);
#else
  REQUIRE(library.rfind("eigen 3.", 0) == 0);
#endif
}

}  // namespace test_gemm
