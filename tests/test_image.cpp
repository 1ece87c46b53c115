// PNG grids: the written file decodes to the promised size, each image sits
// in its tile pixel for pixel, values map from their range to 0..255, and a
// file that cannot be written is an io_error.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>

#include "helpers.hpp"

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

using Catch::Matchers::Contains;
using latent::Index;
using latent::Matrix;
using latent::data::PixelRange;

namespace {

/// A decoded grayscale PNG; removes its file when done.
struct DecodedPng {
  int width = 0, height = 0, channels = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> pixels{nullptr, stbi_image_free};

  explicit DecodedPng(const std::string& path) : pixels(stbi_load(path.c_str(), &width, &height, &channels, 0), stbi_image_free) {
    std::remove(path.c_str());
  }
  int at(Index row, Index col) const { return pixels.get()[row * width + col]; }
};

std::string scratch_png(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("latent-image-" + std::to_string(::getpid()) + "-" + name + ".png")).string();
}

/// Image k of a batch of 3x2 images: pixel (r, c) = (10 k + 2 r + c) / 255, so every pixel says where it came from.
Matrix<float> labelled_batch(Index count) {
  Matrix<float> batch(6, count);
  for (Index k = 0; k < count; ++k)
    for (Index i = 0; i < 6; ++i) batch(i, k) = float(10 * k + i) / 255.0f;
  return batch;
}

}  // namespace

TEST_CASE("png grid: tiles row by row with one gray line between them", "[image]") {
  const std::string path = scratch_png("grid");
  // 5 images of 3 rows x 2 cols in a 2 x 3 grid: the sixth tile stays black.
  latent::data::write_png_grid(path, labelled_batch(5), 3, 2, 2, 3);
  const DecodedPng png(path);
  REQUIRE(png.pixels != nullptr);
  REQUIRE(png.channels == 1);
  REQUIRE(png.width == 3 * 2 + 2);
  REQUIRE(png.height == 2 * 3 + 1);

  SECTION("each image in its tile, pixels row by row") {
    for (Index k = 0; k < 5; ++k)
      for (Index r = 0; r < 3; ++r)
        for (Index c = 0; c < 2; ++c) {
          CAPTURE(k, r, c);
          REQUIRE(png.at((k / 3) * 4 + r, (k % 3) * 3 + c) == 10 * k + 2 * r + c);
        }
  }
  SECTION("separators are mid gray, the unused tile black") {
    for (Index row = 0; row < png.height; ++row) {
      REQUIRE(png.at(row, 2) == 128);
      REQUIRE(png.at(row, 5) == 128);
    }
    for (Index col = 0; col < png.width; ++col) REQUIRE(png.at(3, col) == 128);
    for (Index r = 4; r < 7; ++r)
      for (Index c = 6; c < 8; ++c) REQUIRE(png.at(r, c) == 0);
  }
}

TEMPLATE_TEST_CASE("png grid: values map from their range to 0..255, clamped", "[image]", float, double) {
  const std::string path = scratch_png("range");
  const TestType nan = std::numeric_limits<TestType>::quiet_NaN();
  Matrix<TestType> values(6, 1);
  SECTION("[0, 1]") {
    values << 0, 0.5, 1, -0.2, 1.7, nan;
    latent::data::write_png_grid(path, values, 2, 3, 1, 1, PixelRange::zero_to_one);
  }
  SECTION("[-1, 1]") {
    values << -1, 0, 1, -3, 2, nan;
    latent::data::write_png_grid(path, values, 2, 3, 1, 1, PixelRange::minus_one_to_one);
  }
  const DecodedPng png(path);
  REQUIRE(png.pixels != nullptr);
  const int expected[] = {0, 128, 255, 0, 255, 0};
  for (int i = 0; i < 6; ++i) {
    CAPTURE(i);
    REQUIRE(png.at(i / 3, i % 3) == expected[i]);
  }
}

TEST_CASE("png grid: sizes that do not fit are shape errors", "[image]") {
  const std::string path = scratch_png("sizes");
  REQUIRE_THROWS_AS(latent::data::write_png_grid(path, Matrix<float>::Zero(784, 2), 28, 27, 1, 2), latent::shape_error);
  REQUIRE_THROWS_WITH(latent::data::write_png_grid(path, Matrix<float>::Zero(784, 2), 28, 27, 1, 2),
                      Contains("784 features") && Contains("28x27"));
  REQUIRE_THROWS_AS(latent::data::write_png_grid(path, Matrix<float>::Zero(4, 7), 2, 2, 2, 3), latent::shape_error);
  REQUIRE_THROWS_AS(latent::data::write_png_grid(path, Matrix<float>::Zero(4, 1), 2, 2, 0, 3), latent::shape_error);
  REQUIRE_FALSE(std::filesystem::exists(path));
}

TEST_CASE("png grid: a file that cannot be written is an io_error naming it", "[image]") {
  const std::string path = "/nonexistent-folder/grid.png";
  REQUIRE_THROWS_AS(latent::data::write_png_grid(path, labelled_batch(1), 3, 2, 1, 1), latent::io_error);
  REQUIRE_THROWS_WITH(latent::data::write_png_grid(path, labelled_batch(1), 3, 2, 1, 1), Contains(path) && Contains("No such file"));
}

TEST_CASE("png grid: the layout of inputs beside their reconstructions", "[image]") {
  SECTION("interleave_columns puts each input beside its reconstruction") {
    const Matrix<float> inputs = labelled_batch(3), reconstructions = labelled_batch(3) * 2;
    const Matrix<float> pairs = latent::data::interleave_columns(inputs, reconstructions);
    REQUIRE(pairs.cols() == 6);
    for (Index j = 0; j < 3; ++j) {
      REQUIRE(pairs.col(2 * j) == inputs.col(j));
      REQUIRE(pairs.col(2 * j + 1) == reconstructions.col(j));
    }
    REQUIRE_THROWS_AS(latent::data::interleave_columns(inputs, labelled_batch(2)), latent::shape_error);
  }
}
