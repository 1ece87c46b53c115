// latent/data/samples.hpp: exports generated images in the format of the
// inputs: an IDX3 unsigned-byte file (N x height x width), so any MNIST tool
// reads a model's samples. Pixel = round(255 * x) for [0, 1] images and
// round(255 * (x + 1) / 2) for [-1, 1] images, clamped.
#pragma once

#include <filesystem>
#include <vector>

#include "latent/data/idx.hpp"
#include "latent/data/image.hpp"

namespace latent::data {

/// Writes the columns of `images` (height * width x N) as an IDX3 ubyte file, atomically.
template <class Derived>
void write_samples_idx(const std::filesystem::path& path, const Eigen::MatrixBase<Derived>& images, Index height, Index width,
                       PixelRange range) {
  if (images.rows() != height * width)
    throw shape_error("write_samples_idx: images are " + shape_string(images) + ", expected " + std::to_string(height * width) +
                      " rows for " + std::to_string(height) + "x" + std::to_string(width) + " images");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(images.size()));
  std::size_t k = 0;
  for (Index j = 0; j < images.cols(); ++j)
    for (Index i = 0; i < images.rows(); ++i) bytes[k++] = detail::to_gray(images(i, j), range);
  write_idx_ubyte(path, {static_cast<std::size_t>(images.cols()), static_cast<std::size_t>(height), static_cast<std::size_t>(width)},
                  bytes);
}

}  // namespace latent::data
