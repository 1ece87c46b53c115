// latent/image_shape.hpp: how a batch of images lies in a matrix. A batch is
// features x batch, one image a column, as every other batch in latent. Inside
// a column the channels of a pixel are adjacent, then the pixels of a row,
// then the rows: memory order (C, W, H), fastest first, the layout
// TensorFlow's CPU convolutions use (NHWC for the whole batch):
//
//   feature index of channel c of pixel (y, x) = (y * width + x) * channels + c
//
// Why this order: a one-channel image is plain row-major (MNIST's pixels go in
// as they are); the whole batch, seen as a channels x (height * width * batch)
// matrix, holds one pixel a column, so a convolution over the batch is one
// unfolding (im2col) and one matrix product whose result already is the next
// layer's features x batch matrix, and per-channel statistics (BatchNorm) are
// row-wise reductions of that view. Flattening an image batch for a dense
// layer, or shaping a dense layer's output into images, moves no data.
#pragma once

#include <string>

#include "latent/matrix.hpp"

namespace latent {

/// The shape of one image: channels x height x width.
struct ImageShape {
  Index channels = 0;
  Index height = 0;
  Index width = 0;

  /// Features in a column: channels * height * width.
  Index size() const { return channels * height * width; }
  /// Pixels of one channel: height * width.
  Index pixels() const { return height * width; }
  bool valid() const { return channels > 0 && height > 0 && width > 0; }

  friend bool operator==(const ImageShape& a, const ImageShape& b) {
    return a.channels == b.channels && a.height == b.height && a.width == b.width;
  }
  friend bool operator!=(const ImageShape& a, const ImageShape& b) { return !(a == b); }
};

/// "CxHxW", e.g. "1x28x28", for error messages.
inline std::string to_string(const ImageShape& shape) {
  return std::to_string(shape.channels) + "x" + std::to_string(shape.height) + "x" + std::to_string(shape.width);
}

/// A batch (features x batch, channels fastest) seen as channels x (pixels *
/// batch): one pixel a column. No copy; the batch must hold whole pixels.
template <class S>
Eigen::Map<const Matrix<S>> as_pixels(const Matrix<S>& batch, Index channels) {
  return Eigen::Map<const Matrix<S>>(batch.data(), channels, batch.size() / channels);
}
template <class S>
Eigen::Map<Matrix<S>> as_pixels(Matrix<S>& batch, Index channels) {
  return Eigen::Map<Matrix<S>>(batch.data(), channels, batch.size() / channels);
}

}  // namespace latent
