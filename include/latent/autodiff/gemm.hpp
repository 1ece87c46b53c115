// latent/autodiff/gemm.hpp: the matrix products of latent's ops, dst = A B or
// dst += A B, where A and B are matrices, transposes or blocks of them. Two
// things set them apart from writing `dst.noalias() += A * B`:
//
// - No allocation. Eigen's GEMM packs blocks of A and B into a workspace that
//   it allocates and frees in every product larger than its stack limit
//   (128 KB): hundreds of kilobytes per product, a dozen products a step. When
//   the C library hands that memory back to the system between products (as
//   glibc does, depending on the process's history), every step pays for it
//   in page faults: the VAE example ran its epochs 1.7x slower. Here the
//   workspace is kept from one product to the next (one per thread), sized
//   by Eigen's own blocking rule, and Eigen's GEMM kernel is called with it.
//   This uses Eigen 3.4's internal GEMM interface; other Eigen versions, and
//   builds where Eigen hands products to a BLAS (EIGEN_USE_BLAS), take the
//   plain Eigen expression.
//
// - Threads. With several (latent::set_num_threads), a product is split into
//   one block of its result per thread, each a single-threaded GEMM, run on
//   latent's thread pool (threads.hpp): one fork and one join per product.
#pragma once

#include <algorithm>
#include <type_traits>

#include "latent/matrix.hpp"
#include "latent/threads.hpp"

#if EIGEN_VERSION_AT_LEAST(3, 4, 0) && !EIGEN_VERSION_AT_LEAST(3, 4, 90) && !defined(EIGEN_USE_BLAS)
#define LATENT_GEMM_WORKSPACE 1
#else
#define LATENT_GEMM_WORKSPACE 0
#endif

namespace latent {
namespace detail {

#if LATENT_GEMM_WORKSPACE
/// Eigen's GEMM blocking (cache block sizes and packing buffers) whose
/// buffers outlive the product: they grow to the largest product seen and
/// are then reused.
template <class S>
class GemmWorkspace : public Eigen::internal::level3_blocking<S, S> {
 public:
  void prepare(Index rows, Index cols, Index depth) {
    this->m_mc = rows;
    this->m_nc = cols;
    this->m_kc = depth;
    Eigen::internal::computeProductBlockingSizes<S, S, 1>(this->m_kc, this->m_mc, this->m_nc, Index(1));
    this->m_blockA = grow(a_, this->m_mc * this->m_kc);
    this->m_blockB = grow(b_, this->m_kc * this->m_nc);
  }

 private:
  static S* grow(Vector<S>& buffer, Index size) {
    if (buffer.size() < size) buffer.resize(size);
    return buffer.data();
  }
  Vector<S> a_, b_;  // Eigen-aligned, as the packing routines expect
};

/// This thread's workspace.
template <class S>
GemmWorkspace<S>& gemm_workspace() {
  thread_local GemmWorkspace<S> workspace;
  return workspace;
}

template <class Xpr>
constexpr int storage_order() {
  return (Eigen::internal::traits<Xpr>::Flags & Eigen::RowMajorBit) ? Eigen::RowMajor : Eigen::ColMajor;
}
#endif

/// dst += lhs rhs on this thread. dst is column-major with unit inner stride
/// (a matrix or a block of one); lhs and rhs are matrices, transposes or
/// blocks, with unit inner stride.
template <class Dst, class L, class R>
void gemm_add(Dst&& dst, const L& lhs, const R& rhs) {
  using S = typename std::decay_t<Dst>::Scalar;
  const Index rows = dst.rows(), cols = dst.cols(), depth = lhs.cols();
  if (rows == 0 || cols == 0 || depth == 0) return;
#if LATENT_GEMM_WORKSPACE
  // Vectors and tiny products: Eigen's GEMV and coefficient-wise paths,
  // which allocate nothing here (as Eigen itself decides).
  if (rows > 1 && cols > 1 && rows + cols + depth >= EIGEN_GEMM_TO_COEFFBASED_THRESHOLD) {
    GemmWorkspace<S>& workspace = gemm_workspace<S>();
    workspace.prepare(rows, cols, depth);
    Eigen::internal::general_matrix_matrix_product<Index, S, storage_order<L>(), false, S, storage_order<R>(), false,
                                                   Eigen::ColMajor, 1>::run(rows, cols, depth, lhs.data(), lhs.outerStride(),
                                                                            rhs.data(), rhs.outerStride(), dst.data(), 1,
                                                                            dst.outerStride(), S(1), workspace, nullptr);
    return;
  }
#endif
  dst.noalias() += lhs * rhs;
}

/// Multiply-adds worth handing to another thread.
constexpr double kGemmShare = 1 << 19;

/// Threads to split a rows x cols result with this inner dimension over: one
/// per kGemmShare multiply-adds, at most latent::num_threads().
inline int gemm_threads(Index rows, Index cols, Index depth) {
  const int available = num_threads();
  if (available <= 1) return 1;
  const double shares = static_cast<double>(rows) * static_cast<double>(cols) * static_cast<double>(depth) / kGemmShare;
  return static_cast<int>(std::clamp(shares, 1.0, static_cast<double>(available)));
}

/// dst = lhs rhs, or dst += lhs rhs when `add`; dst is already lhs.rows() x
/// rhs.cols(). Split over gemm_threads() along dst's longer side (rows in
/// multiples of 16, a cache line of floats).
template <class S, class L, class R>
void gemm(Matrix<S>& dst, const L& lhs, const R& rhs, bool add) {
  const int threads = gemm_threads(dst.rows(), dst.cols(), lhs.cols());
  if (threads == 1) {
    if (!add) dst.setZero();
    return gemm_add(dst, lhs, rhs);
  }
  const bool by_rows = dst.rows() >= dst.cols();
  const Index length = by_rows ? dst.rows() : dst.cols();
  const Index granule = by_rows ? 16 : 1;
  const auto boundary = [&](Index part) {
    return part == threads ? length : std::min(length, (length * part / threads + granule - 1) / granule * granule);
  };
  run_shares(threads, [&](int part) {
    const Index begin = boundary(part), end = boundary(part + 1);
    if (end <= begin) return;
    // Each share clears its own block: a serial clear of the whole result
    // would take as long as a small product.
    if (by_rows) {
      auto block = dst.middleRows(begin, end - begin);
      if (!add) block.setZero();
      gemm_add(block, lhs.middleRows(begin, end - begin), rhs);
    } else {
      auto block = dst.middleCols(begin, end - begin);
      if (!add) block.setZero();
      gemm_add(block, lhs, rhs.middleCols(begin, end - begin));
    }
  });
}

}  // namespace detail
}  // namespace latent
