// latent/models/interpolation.hpp: walks through a latent space. The codes
// of a row that morphs one sample into another, for any model that decodes
// or generates from codes (Vae::interpolate decodes them; a Gan's
// generate(codes) draws them).
#pragma once

#include <string>

#include "latent/error.hpp"
#include "latent/matrix.hpp"

namespace latent {

/// `steps` columns evenly spaced on the straight line from `from` to `to`
/// (both column vectors of one size, both ends included, steps >= 2).
template <class DerivedA, class DerivedB>
Matrix<typename DerivedA::Scalar> interpolation_path(const Eigen::MatrixBase<DerivedA>& from,
                                                     const Eigen::MatrixBase<DerivedB>& to, Index steps) {
  using S = typename DerivedA::Scalar;
  if (from.cols() != 1 || to.cols() != 1 || from.rows() != to.rows())
    throw shape_error("interpolation_path: endpoints " + shape_string(from) + " and " + shape_string(to) +
                      " must be columns of one size");
  if (steps < 2) throw shape_error("interpolation_path: needs at least 2 steps, got " + std::to_string(steps));
  Matrix<S> path(from.rows(), steps);
  for (Index j = 0; j < steps; ++j) {
    const S t = S(j) / S(steps - 1);
    path.col(j) = (S(1) - t) * from + t * to;
  }
  return path;
}

}  // namespace latent
