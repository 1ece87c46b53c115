// Two-dimensional data sets of the GAN tests: labelled points stored as 1x2
// byte "images" that data::MinusOneToOne maps back to [-1, 1]^2.
#pragma once

#include <latent/data/dataset.hpp>
#include <latent/random.hpp>

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace test {

struct Point {
  double x, y;
  int label;
};

/// n points drawn by point(rng) (a Point each, in order), as a Dataset.
template <class Draw>
latent::data::Dataset point_data(latent::Index n, std::uint64_t seed, const Draw& point) {
  latent::Rng rng(seed);
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(2 * n)), labels(static_cast<std::size_t>(n));
  const auto to_byte = [](double v) {
    const double b = std::round((v + 1) * 255 / 2);
    return static_cast<std::uint8_t>(b < 0 ? 0 : b > 255 ? 255 : b);
  };
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const Point p = point(rng);
    labels[i] = static_cast<std::uint8_t>(p.label);
    pixels[2 * i] = to_byte(p.x);
    pixels[2 * i + 1] = to_byte(p.y);
  }
  return latent::data::Dataset(std::move(pixels), std::move(labels), 1, 2);
}

}  // namespace test
