// latent/error.hpp: the exceptions latent throws. Every failure a user can cause
// (wrong shapes, bad files, diverging losses) is one of these, with a message
// that names the operation or file and what was wrong.
#pragma once

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

}  // namespace latent
