// latent/matrix.hpp: the matrix types every part of latent speaks in.
// A batch is features x batch, column-major: each column is one sample.
#pragma once

#include <Eigen/Dense>
#include <string>

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
