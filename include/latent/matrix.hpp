// latent/matrix.hpp: the matrix types every part of latent speaks in.
// A batch is features x batch, column-major: each column is one sample.
#pragma once

#include <Eigen/Dense>
#include <string>

// The oldest Eigen latent builds with: 3.4, the first with
// ArrayBase::logistic(), which the ops use (CMake's find_package asks for 3.4
// too). Refused here, an older Eigen gets one clear message.
#if !EIGEN_VERSION_AT_LEAST(3, 4, 0)
#error "latent needs Eigen 3.4 or later"
#endif

namespace latent {

using Index = Eigen::Index;

template <class S>
using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;

template <class S>
using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;

/// "RxC", for error messages.
template <class Derived>
std::string shape_string(const Eigen::EigenBase<Derived>& m) {
  return std::to_string(m.rows()) + "x" + std::to_string(m.cols());
}

inline std::string shape_string(Index rows, Index cols) {
  return std::to_string(rows) + "x" + std::to_string(cols);
}

}  // namespace latent
