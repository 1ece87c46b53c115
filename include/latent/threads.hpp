// latent/threads.hpp: how many threads latent's matrix products use. Threads
// exist only when the program is built with OpenMP (LATENT_OPENMP); otherwise
// these calls are harmless no-ops and products run on one thread.
//
// latent splits each large product of its ops into one block per thread
// itself (autodiff/linear.hpp) and switches Eigen's own parallel GEMM off:
// Eigen's threads spin-wait on each other many times within a product, and
// with another process busy on the machine a step on two threads ran 15x
// slower than on one. Split products cost one fork and one join each and
// degrade to about one thread's speed instead.
#pragma once

#include <Eigen/Core>

namespace latent {
namespace detail {

/// The count set by set_num_threads; 0 until then.
inline int& requested_threads() {
  static int threads = 0;
  return threads;
}

}  // namespace detail

/// Sets the number of threads for latent's products (n >= 1; smaller means 1)
/// and turns Eigen's own product threading off (Eigen::setNbThreads(1)), for
/// the program's other Eigen products too. One thread is the right choice on a
/// shared or small machine, and what the examples and benchmarks use unless
/// told otherwise. Until this is called, products follow Eigen's default (in
/// an OpenMP build: OMP_NUM_THREADS, else every core).
inline void set_num_threads(int n) {
  detail::requested_threads() = n < 1 ? 1 : n;
  Eigen::setNbThreads(1);
}

/// The number of threads latent's products use.
inline int num_threads() {
  const int requested = detail::requested_threads();
  return requested > 0 ? requested : Eigen::nbThreads();
}

}  // namespace latent
