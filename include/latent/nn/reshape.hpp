// latent/nn/reshape.hpp: the layers between convolutional and dense ones.
// A column of an image batch already is that image's features, and a dense
// layer's output column can be read as an image (latent/image_shape.hpp), so
// neither layer records a node or moves data: each only checks the shape and
// says, for the layer stack, what it hands on.
//   Flatten({64, 7, 7})   images -> 3136 features (for a Dense after a Conv2d)
//   Reshape({64, 7, 7})   3136 features -> images (for a ConvTranspose2d after a Dense)
#pragma once

#include <string>

#include "latent/autodiff/tape.hpp"
#include "latent/error.hpp"
#include "latent/image_shape.hpp"
#include "latent/nn/module.hpp"

namespace latent {
namespace detail {

inline ImageShape checked_image_shape(const char* layer, const ImageShape& shape) {
  if (!shape.valid()) throw shape_error(std::string(layer) + ": the shape " + to_string(shape) + " has a size that is not positive");
  return shape;
}

// The layer describes itself only when the check fails: a forward pass
// builds no string.
template <class Layer, class S>
void check_features(const Layer& layer, const ImageShape& shape, const Var<S>& x) {
  if (x.rows() != shape.size())
    throw shape_error(layer.describe() + ": expects " + std::to_string(shape.size()) + " features a column (images " + to_string(shape) +
                      "), got " + shape_string(x.value()));
}

}  // namespace detail

/// Images of shape `in` as flat features: in.size() features a column.
template <class S>
class Flatten : public Module<Flatten<S>, S> {
 public:
  explicit Flatten(const ImageShape& in) : in_(detail::checked_image_shape("Flatten", in)) {}

  Var<S> operator()(Var<S> x) {
    detail::check_features(*this, in_, x);
    return x;
  }

  ImageShape in_shape() const { return in_; }
  Index in_features() const { return in_.size(); }
  Index out_features() const { return in_.size(); }
  std::string describe() const { return "Flatten(" + to_string(in_) + ")"; }

 private:
  ImageShape in_;
};

/// Flat features (out.size() a column) as images of shape `out`.
template <class S>
class Reshape : public Module<Reshape<S>, S> {
 public:
  explicit Reshape(const ImageShape& out) : out_(detail::checked_image_shape("Reshape", out)) {}

  Var<S> operator()(Var<S> x) {
    detail::check_features(*this, out_, x);
    return x;
  }

  ImageShape out_shape() const { return out_; }
  Index in_features() const { return out_.size(); }
  Index out_features() const { return out_.size(); }
  std::string describe() const { return "Reshape(" + to_string(out_) + ")"; }

 private:
  ImageShape out_;
};

}  // namespace latent
