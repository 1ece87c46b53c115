// latent/autodiff/gemm.hpp: the matrix products of latent's ops, dst = A B or
// dst += A B, where A and B are matrices, transposes or blocks of them, on the
// library chosen when latent is configured (LATENT_GEMM, cmake/LatentGemm.cmake):
//
// - eigen (the default): Eigen's GEMM kernel, without allocation. Eigen's GEMM
//   packs blocks of A and B into a workspace that it allocates and frees in
//   every product larger than its stack limit (128 KB): hundreds of kilobytes
//   per product, a dozen products a step. When the C library hands that memory
//   back to the system between products (as glibc does, depending on the
//   process's history), every step pays for it in page faults: the VAE example
//   ran its epochs 1.7x slower. Here the workspace is kept from one product to
//   the next (one per thread), sized by Eigen's own blocking rule, and Eigen's
//   GEMM kernel is called with it. This uses Eigen 3.4's internal GEMM
//   interface; other Eigen versions, and builds where Eigen hands products to a
//   BLAS (EIGEN_USE_BLAS), take the plain Eigen expression.
//
// - blas (LATENT_GEMM_BLAS): cblas_sgemm and cblas_dgemm of any CBLAS. Eigen
//   3.4's kernel stops well short of what a core can do on some CPUs (on
//   AVX-512 ones about 60% of the FMA peak), a tuned BLAS does not. OpenBLAS
//   (LATENT_GEMM_OPENBLAS, or seen in its cblas.h) is set to one thread for
//   the whole program before the first product: it would otherwise start a
//   team of its own threads in every call, on top of latent's. BLIS runs one
//   thread unless told otherwise; MKL needs its sequential library.
//
// - onednn (LATENT_GEMM_ONEDNN): oneDNN's dnnl_sgemm for float (double stays
//   on Eigen). oneDNN built on OpenMP (as Debian's is) splits a product over a
//   team of omp_get_max_threads() threads started from the calling thread;
//   that count belongs to each thread, so every thread sets its own to 1
//   before its first product. An operand whose leading dimension is a
//   multiple of 1 KiB is read from a copy where the product walks across
//   it (kConflictingStrideBytes).
//
// Threads: with several (latent::set_num_threads), a product is split into
// one block of its result per thread, each a single-threaded call of the
// library, run on latent's thread pool (threads.hpp): one fork and one join
// per product, and a busy core costs what README says, whatever the library.
#pragma once

#include <algorithm>
#include <climits>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>

#include "latent/matrix.hpp"
#include "latent/threads.hpp"

#if defined(LATENT_GEMM_BLAS) && defined(LATENT_GEMM_ONEDNN)
#error "latent: LATENT_GEMM_BLAS and LATENT_GEMM_ONEDNN are both defined; configure one library (LATENT_GEMM)"
#endif

#if defined(LATENT_GEMM_BLAS)
#include <cblas.h>
#if defined(OPENBLAS_VERSION) && !defined(LATENT_GEMM_OPENBLAS)
#define LATENT_GEMM_OPENBLAS 1
#endif
#if defined(LATENT_GEMM_OPENBLAS)
// OpenBLAS's own functions, as its cblas.h declares them (which another
// vendor's cblas.h on the include path would not).
extern "C" {
void openblas_set_num_threads(int);
char* openblas_get_config(void);
char* openblas_get_corename(void);
}
#endif
#elif defined(LATENT_GEMM_ONEDNN)
#include <dlfcn.h>
#include <oneapi/dnnl/dnnl.h>
#endif

#if EIGEN_VERSION_AT_LEAST(3, 4, 0) && !EIGEN_VERSION_AT_LEAST(3, 4, 90) && !defined(EIGEN_USE_BLAS)
#define LATENT_GEMM_WORKSPACE 1
#else
#define LATENT_GEMM_WORKSPACE 0
#endif

namespace latent {

/// The library latent's products run on, as configured (LATENT_GEMM), with
/// its version and, for OpenBLAS, the kernel it picked for this CPU (see
/// README on OPENBLAS_CORETYPE): e.g. "eigen 3.4.0" or "blas: OpenBLAS
/// 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64; kernel Zen".
inline std::string gemm_library() {
#if defined(LATENT_GEMM_BLAS) && defined(LATENT_GEMM_OPENBLAS)
  return std::string("blas: ") + openblas_get_config() + "; kernel " + openblas_get_corename();
#elif defined(LATENT_GEMM_BLAS)
  return "blas: a CBLAS other than OpenBLAS";
#elif defined(LATENT_GEMM_ONEDNN)
  const dnnl_version_t* v = dnnl_version();
  return "onednn: oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) +
         " (float; double on Eigen)";
#else
  return "eigen " + std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
         std::to_string(EIGEN_MINOR_VERSION);
#endif
}

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
#endif

template <class Xpr>
constexpr bool is_row_major() {
  return (Eigen::internal::traits<Xpr>::Flags & Eigen::RowMajorBit) != 0;
}

/// Whether the configured library multiplies matrices of S (else Eigen does).
template <class S>
constexpr bool library_gemm_for() {
#if defined(LATENT_GEMM_BLAS)
  return std::is_same<S, float>::value || std::is_same<S, double>::value;
#elif defined(LATENT_GEMM_ONEDNN)
  return std::is_same<S, float>::value;
#else
  return false;
#endif
}

/// Makes the library run this thread's products on this thread alone (see
/// the file's comment).
inline void library_on_one_thread() {
#if defined(LATENT_GEMM_OPENBLAS)
  static const bool once = (openblas_set_num_threads(1), true);
  (void)once;
#elif defined(LATENT_GEMM_ONEDNN) && DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
  // Looked up at run time: the OpenMP runtime that oneDNN was loaded with,
  // while latent's own code needs no OpenMP to compile.
  thread_local const bool once = [] {
    if (void* symbol = dlsym(RTLD_DEFAULT, "omp_set_num_threads")) {
      void (*set_num_threads)(int) = nullptr;
      std::memcpy(&set_num_threads, &symbol, sizeof set_num_threads);
      set_num_threads(1);
    }
    return true;
  }();
  (void)once;
#endif
}

/// c = op(a) op(b), or c += op(a) op(b) when `add`, on the configured
/// library, where c is column-major m x n, op(a) m x k and op(b) k x n, and an
/// operand stored row-major is read transposed. False, with c untouched,
/// when the library did not do it (sizes beyond its integers, or oneDNN
/// failing to allocate): then Eigen does.
template <class S>
bool library_gemm(bool a_row_major, bool b_row_major, Index m, Index n, Index k, const S* a, Index lda, const S* b,
                  Index ldb, S* c, Index ldc, bool add) {
  static_assert(library_gemm_for<S>(), "library_gemm: the configured library has no product for this scalar type");
  for (Index size : {m, n, k, lda, ldb, ldc})
    if (size > INT_MAX) return false;
  library_on_one_thread();
#if defined(LATENT_GEMM_BLAS)
  const auto op_a = a_row_major ? CblasTrans : CblasNoTrans;
  const auto op_b = b_row_major ? CblasTrans : CblasNoTrans;
  const S beta = add ? S(1) : S(0);  // 0: c is written, never read (no clearing pass)
  if constexpr (std::is_same<S, float>::value)
    cblas_sgemm(CblasColMajor, op_a, op_b, int(m), int(n), int(k), 1.0f, a, int(lda), b, int(ldb), beta, c, int(ldc));
  else
    cblas_dgemm(CblasColMajor, op_a, op_b, int(m), int(n), int(k), 1.0, a, int(lda), b, int(ldb), beta, c, int(ldc));
  return true;
#elif defined(LATENT_GEMM_ONEDNN)
  // dnnl_sgemm is row-major: c's transpose = op(b)' op(a)', same leading dimensions.
  return dnnl_sgemm(b_row_major ? 'T' : 'N', a_row_major ? 'T' : 'N', n, m, k, 1.0f, b, ldb, a, lda, add ? 1.0f : 0.0f,
                    c, ldc) == dnnl_success;
#else
  (void)a_row_major, (void)b_row_major, (void)m, (void)n, (void)k, (void)a, (void)lda, (void)b, (void)ldb, (void)c, (void)ldc,
      (void)add;
  return false;
#endif
}

/// Leading dimensions (in bytes) whose multiples slow oneDNN's products
/// down when it walks an operand's inner dimension across its columns: a
/// dense layer's W in the forward (Y = W X) and both operands of its weight
/// gradient (dW = dZ X', whose inner dimension is the batch). At a multiple
/// of 1 KiB (256 or 512 rows of floats: common layer widths) the lines a
/// kernel's panel needs fall in a few of the cache's sets. On an AVX2 core
/// whose FMA peak is 101 GFLOP/s, with oneDNN 2.6 at batch 128 (each product
/// timed in place and from copies in turn, the copies included): the
/// 784->512 forward 1672 -> 1267-1300 us, 256->512 forward 530 -> 383, the
/// 256->512 and 512->256 weight gradients 580-722 -> 380-489 us; the 512->256
/// and 100->256 forwards (W 256 rows) neither gained nor lost. OpenBLAS ran
/// the weight gradients at 80-93 GFLOP/s and the forwards at 72-89 in place
/// and lost 5-9% to the copies, and Eigen gained nothing, so only the oneDNN
/// path copies (README: Speed).
constexpr Index kConflictingStrideBytes = 1024;

/// The other side of a product below which a copy of an operand costs more
/// than its product gains: copying is one pass over the operand, the product
/// reads it `other` times.
constexpr Index kCopyWorthyOtherSide = 32;

/// Where oneDNN reads a rows x cols operand stored by columns with leading
/// dimension `ld`, whose columns the product's inner dimension runs across,
/// for a product whose other side is `other`: in place, or, when walking its
/// columns conflicts (above), from a copy of this thread's whose leading
/// dimension is not a multiple of it. `which` names one of the two copies a
/// product may need.
template <class S>
const S* operand_for_library(const S* data, Index rows, Index cols, Index& ld, Index other, int which) {
  if ((ld * Index(sizeof(S))) % kConflictingStrideBytes != 0 || cols < 2 || other < kCopyWorthyOtherSide) return data;
  thread_local Vector<S> copies[2];
  Vector<S>& copy = copies[which];
  constexpr Index kLine = 64 / Index(sizeof(S));
  Index padded = (rows + kLine - 1) / kLine * kLine;
  if ((padded * Index(sizeof(S))) % kConflictingStrideBytes == 0) padded += kLine;
  if (copy.size() < padded * cols) copy.resize(padded * cols);
  using Strided = Eigen::Map<Matrix<S>, 0, Eigen::OuterStride<>>;
  using ConstStrided = Eigen::Map<const Matrix<S>, 0, Eigen::OuterStride<>>;
  Strided(copy.data(), rows, cols, Eigen::OuterStride<>(padded)) = ConstStrided(data, rows, cols, Eigen::OuterStride<>(ld));
  ld = padded;
  return copy.data();
}

/// dst = lhs rhs, or dst += lhs rhs when `add`, on this thread. dst is
/// column-major with unit inner stride (a matrix or a block of one); lhs and
/// rhs are matrices, transposes or blocks, with unit inner stride.
template <class Dst, class L, class R>
void gemm_block(Dst&& dst, const L& lhs, const R& rhs, bool add) {
  using S = typename std::decay_t<Dst>::Scalar;
  static_assert(L::InnerStrideAtCompileTime == 1 && R::InnerStrideAtCompileTime == 1 &&
                    std::decay_t<Dst>::InnerStrideAtCompileTime == 1 && !is_row_major<std::decay_t<Dst>>(),
                "gemm_block: operands with unit inner stride, a column-major result");
  const Index rows = dst.rows(), cols = dst.cols(), depth = lhs.cols();
  if (rows == 0 || cols == 0) return;
  if constexpr (library_gemm_for<S>()) {
    Index lhs_ld = lhs.outerStride(), rhs_ld = rhs.outerStride();
    const S* lhs_data = lhs.data();
    const S* rhs_data = rhs.data();
#if defined(LATENT_GEMM_ONEDNN)
    // The inner dimension runs across lhs's columns when lhs is stored by
    // columns, and across rhs's (as stored) when rhs is a transpose.
    if constexpr (!is_row_major<L>()) lhs_data = operand_for_library(lhs_data, rows, depth, lhs_ld, cols, 0);
    if constexpr (is_row_major<R>()) rhs_data = operand_for_library(rhs_data, cols, depth, rhs_ld, rows, 1);
#endif
    if (depth > 0 && library_gemm<S>(is_row_major<L>(), is_row_major<R>(), rows, cols, depth, lhs_data, lhs_ld, rhs_data,
                                     rhs_ld, dst.data(), dst.outerStride(), add))
      return;
  }
  // Eigen's kernels add into dst.
  if (!add) dst.setZero();
  if (depth == 0) return;
#if LATENT_GEMM_WORKSPACE
  // Vectors and tiny products: Eigen's GEMV and coefficient-wise paths,
  // which allocate nothing here (as Eigen itself decides).
  if (rows > 1 && cols > 1 && rows + cols + depth >= EIGEN_GEMM_TO_COEFFBASED_THRESHOLD) {
    GemmWorkspace<S>& workspace = gemm_workspace<S>();
    workspace.prepare(rows, cols, depth);
    constexpr int lhs_order = is_row_major<L>() ? Eigen::RowMajor : Eigen::ColMajor;
    constexpr int rhs_order = is_row_major<R>() ? Eigen::RowMajor : Eigen::ColMajor;
    Eigen::internal::general_matrix_matrix_product<Index, S, lhs_order, false, S, rhs_order, false, Eigen::ColMajor,
                                                   1>::run(rows, cols, depth, lhs.data(), lhs.outerStride(), rhs.data(),
                                                           rhs.outerStride(), dst.data(), 1, dst.outerStride(), S(1),
                                                           workspace, nullptr);
    return;
  }
#endif
  dst.noalias() += lhs * rhs;
}

/// Multiply-adds worth handing to another thread: 2^18, about 5 us of a
/// core's products, against a fork and join of 1-3 us. At 2^19, a VAE's
/// 400 -> 20 heads and 20 -> 400 layer (1.02M multiply-adds a product) ran
/// on one thread, and its two-thread step took 4-7% longer (README: Speed).
constexpr double kGemmShare = 1 << 18;

/// Threads to split a rows x cols result with this inner dimension over: one
/// per kGemmShare multiply-adds, at most latent::num_threads().
inline int gemm_threads(Index rows, Index cols, Index depth) {
  const int available = num_threads();
  if (available <= 1) return 1;
  const double shares = static_cast<double>(rows) * static_cast<double>(cols) * static_cast<double>(depth) / kGemmShare;
  return static_cast<int>(std::clamp(shares, 1.0, static_cast<double>(available)));
}

/// dst = lhs rhs, or dst += lhs rhs when `add`; dst is already lhs.rows() x
/// rhs.cols(), a matrix or a map of one (an image batch seen as channels x
/// pixels). Split over gemm_threads() along dst's longer side (rows in
/// multiples of kRowGranule, as element-wise work after it splits them). Each
/// share then calls after_block(first_row, first_col, block) on its block of
/// dst, while the block is in its cache (a layer's bias and activation).
template <class Dst, class L, class R, class AfterBlock>
void gemm(Dst&& dst, const L& lhs, const R& rhs, bool add, const AfterBlock& after_block) {
  const int threads = gemm_threads(dst.rows(), dst.cols(), lhs.cols());
  if (threads == 1) {
    gemm_block(dst, lhs, rhs, add);
    return after_block(Index(0), Index(0), dst);
  }
  const bool by_rows = dst.rows() >= dst.cols();
  const Index length = by_rows ? dst.rows() : dst.cols();
  const Index granule = by_rows ? kRowGranule : 1;
  run_shares(threads, [&](int part) {
    const Index begin = part_begin(length, part, threads, granule), end = part_begin(length, part + 1, threads, granule);
    if (end <= begin) return;
    // Each share clears its own block, where the kernel needs a clear result:
    // a serial clear of the whole result would take as long as a small product.
    if (by_rows) {
      gemm_block(dst.middleRows(begin, end - begin), lhs.middleRows(begin, end - begin), rhs, add);
      after_block(begin, Index(0), dst.middleRows(begin, end - begin));
    } else {
      gemm_block(dst.middleCols(begin, end - begin), lhs, rhs.middleCols(begin, end - begin), add);
      after_block(Index(0), begin, dst.middleCols(begin, end - begin));
    }
  });
}

template <class Dst, class L, class R>
void gemm(Dst&& dst, const L& lhs, const R& rhs, bool add) {
  gemm(std::forward<Dst>(dst), lhs, rhs, add, [](Index, Index, auto&&) {});
}

}  // namespace detail
}  // namespace latent
