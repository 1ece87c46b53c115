// latent/threads.hpp: how many threads Eigen's matrix products use. Threads
// exist only when the program is built with OpenMP (LATENT_OPENMP); otherwise
// these calls are harmless no-ops and products run on one thread.
#pragma once

#include <Eigen/Core>

namespace latent {

/// Sets the number of threads for products (n >= 1). One thread is the
/// default: Eigen's parallel products spin-wait, and on a shared or small
/// machine a second thread competing with another process slows a step by
/// an order of magnitude.
inline void set_num_threads(int n) { Eigen::setNbThreads(n < 1 ? 1 : n); }

inline int num_threads() { return Eigen::nbThreads(); }

}  // namespace latent
