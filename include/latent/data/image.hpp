// latent/data/image.hpp: looking at what a model makes. write_png_grid turns
// a batch (features x batch, one grayscale image per column, pixels row by
// row as in MNIST) into one PNG of rows x cols tiles; interleave_columns lays
// inputs beside their reconstructions.
//
// The PNG is encoded in memory, then written atomically (io/file.hpp): a
// picture is the old one or the new one, whole, even if the run dies.
//
// PNG encoding is stb_image_write's, compiled into each translation unit with
// internal linkage (STB_IMAGE_WRITE_STATIC), so this header needs no library
// and cannot clash with another copy of stb linked into the program. A file
// that includes this header must not also define STB_IMAGE_WRITE_IMPLEMENTATION;
// one that includes stb_image_write.h before it gets stb's usual external
// declarations, and the program then links stb's implementation itself.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "latent/error.hpp"
#include "latent/io/file.hpp"
#include "latent/matrix.hpp"

#ifndef INCLUDE_STB_IMAGE_WRITE_H
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#if __has_include(<stb/stb_image_write.h>)
#include <stb/stb_image_write.h>
#elif __has_include(<stb_image_write.h>)
#include <stb_image_write.h>
#else
#error "latent/data/image.hpp needs stb_image_write.h (Debian: libstb-dev)"
#endif
#pragma GCC diagnostic pop
#undef STB_IMAGE_WRITE_IMPLEMENTATION
#undef STB_IMAGE_WRITE_STATIC
#endif

namespace latent {
namespace data {

/// The range of pixel values in a batch: [0, 1] (sigmoid outputs, MNIST as
/// loaded) or [-1, 1] (tanh outputs). Values outside are clamped, NaN is black.
enum class PixelRange { zero_to_one, minus_one_to_one };

namespace detail {

/// Tiles are separated by this many pixels of kSeparatorGray: mid gray stands
/// out from both black backgrounds and white strokes.
inline constexpr Index kSeparatorPixels = 1;
inline constexpr std::uint8_t kSeparatorGray = 128;

template <class S>
std::uint8_t to_gray(S value, PixelRange range) {
  if (std::isnan(value)) return 0;
  const double unit = range == PixelRange::zero_to_one ? double(value) : (double(value) + 1) / 2;
  const double clamped = unit < 0 ? 0 : unit > 1 ? 1 : unit;
  return static_cast<std::uint8_t>(std::lround(clamped * 255));
}

inline void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<std::uint8_t>*>(context);
  const auto* first = static_cast<const std::uint8_t*>(data);
  out->insert(out->end(), first, first + size);
}

/// Encodes row-major 8-bit grayscale pixels as a PNG and writes it to `path`, atomically.
inline void write_gray_png(const std::string& path, const std::uint8_t* pixels, int height, int width) {
  std::vector<std::uint8_t> png;
  if (stbi_write_png_to_func(append_bytes, &png, width, height, 1, pixels, width) == 0 || png.empty())
    throw io_error(path + ": cannot encode a " + std::to_string(width) + "x" + std::to_string(height) + " image as PNG");
  io::write_file_atomically(path, png);
}

}  // namespace detail

/// Writes `images` (features x batch, features = height * width, each column
/// one image with its pixels row by row) as one grayscale PNG: a grid of
/// `rows` x `cols` tiles filled row by row, one gray separator line between
/// neighbouring tiles, unused tiles black. The batch may hold fewer images
/// than tiles, not more. Throws shape_error for sizes that do not fit and
/// io_error when the file cannot be written.
template <class Derived>
void write_png_grid(const std::string& path, const Eigen::MatrixBase<Derived>& images, Index height, Index width, Index rows,
                    Index cols, PixelRange range = PixelRange::zero_to_one) {
  using S = typename Derived::Scalar;
  const std::string where = "write_png_grid(" + path + "): ";
  if (height <= 0 || width <= 0 || rows <= 0 || cols <= 0)
    throw shape_error(where + "image " + shape_string(height, width) + " and grid " + shape_string(rows, cols) +
                      " must be positive");
  if (images.rows() != height * width)
    throw shape_error(where + "images have " + std::to_string(images.rows()) + " features, a " + shape_string(height, width) +
                      " image has " + std::to_string(height * width));
  if (images.cols() > rows * cols)
    throw shape_error(where + std::to_string(images.cols()) + " images do not fit a grid of " + shape_string(rows, cols));
  const Index canvas_height = rows * height + (rows - 1) * detail::kSeparatorPixels;
  const Index canvas_width = cols * width + (cols - 1) * detail::kSeparatorPixels;
  constexpr Index kLargestSide = 1 << 24;  // far below int overflow in stb's row arithmetic
  if (canvas_height > kLargestSide || canvas_width > kLargestSide)
    throw shape_error(where + "a " + shape_string(canvas_height, canvas_width) + " image is too large for a PNG");

  using Gray = Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic>;
  using RowMajorGray = Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Gray pixels = images.unaryExpr([range](S value) { return detail::to_gray(value, range); });
  RowMajorGray canvas = RowMajorGray::Constant(canvas_height, canvas_width, 0);
  for (Index r = 1; r < rows; ++r)
    canvas.middleRows(r * (height + detail::kSeparatorPixels) - detail::kSeparatorPixels, detail::kSeparatorPixels)
        .setConstant(detail::kSeparatorGray);
  for (Index c = 1; c < cols; ++c)
    canvas.middleCols(c * (width + detail::kSeparatorPixels) - detail::kSeparatorPixels, detail::kSeparatorPixels)
        .setConstant(detail::kSeparatorGray);
  for (Index k = 0; k < pixels.cols(); ++k) {
    const Index top = (k / cols) * (height + detail::kSeparatorPixels);
    const Index left = (k % cols) * (width + detail::kSeparatorPixels);
    canvas.block(top, left, height, width) = Eigen::Map<const RowMajorGray>(pixels.col(k).data(), height, width);
  }
  detail::write_gray_png(path, canvas.data(), static_cast<int>(canvas_height), static_cast<int>(canvas_width));
}

/// Columns a0, b0, a1, b1, ...: with an even number of grid columns, each
/// input sits left of its reconstruction.
template <class DerivedA, class DerivedB>
Matrix<typename DerivedA::Scalar> interleave_columns(const Eigen::MatrixBase<DerivedA>& a, const Eigen::MatrixBase<DerivedB>& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols())
    throw shape_error("interleave_columns: " + shape_string(a) + " and " + shape_string(b) + " differ");
  Matrix<typename DerivedA::Scalar> out(a.rows(), 2 * a.cols());
  for (Index j = 0; j < a.cols(); ++j) {
    out.col(2 * j) = a.col(j);
    out.col(2 * j + 1) = b.col(j);
  }
  return out;
}

}  // namespace data
}  // namespace latent
