// latent/error.hpp: the exceptions latent throws. Every failure a user can cause
// (wrong shapes, bad files, diverging losses) is one of these, with a message
// that names the operation or file and what was wrong.
#pragma once

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace latent {

/// Base of every latent exception.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Operands of incompatible shapes; the message names the op and both shapes.
class shape_error : public error {
 public:
  using error::error;
};

/// A file that cannot be read or written, or whose contents are malformed;
/// the message names the file and the problem.
class io_error : public error {
 public:
  using error::error;
};

/// A loss or gradient that became NaN or infinite during training.
class numeric_error : public error {
 public:
  using error::error;
};

/// The guard of every training loop (the trainers' and a hand-written one):
/// call it with the loss of step `step` (counted from 1) before that step
/// updates anything. A NaN or infinite loss throws a numeric_error, so a
/// diverged run stops with its parameters as they were instead of spreading
/// NaN through them. An epoch above 0 is named in the message too.
inline void check_finite_loss(double loss, std::int64_t step, int epoch = 0) {
  if (std::isfinite(loss)) return;
  throw numeric_error("training diverged: the loss is " + std::to_string(loss) + " at step " + std::to_string(step) +
                      (epoch > 0 ? " (epoch " + std::to_string(epoch) + ")" : std::string()) +
                      "; the parameters were not updated by that step");
}

}  // namespace latent
