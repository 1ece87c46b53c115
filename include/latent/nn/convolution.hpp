// latent/nn/convolution.hpp: the convolutional layers, each one fused tape
// node (autodiff/convolution.hpp):
//   Conv2d           images in_shape -> out_channels x H' x W'
//   ConvTranspose2d  its transpose, the usual way up in a generator or decoder
// Both know the shape of the images they read (ImageShape, set when they are
// built), check it on every call, and take an activation policy (fused) and
// an initializer policy: PyTorch's default, U(+-1/sqrt(fan_in)) for weights and
// biases (FanInUniform), unless another is given (Normal{0.02}, DCGAN's).
// Batches are laid out as latent/image_shape.hpp says: one image a column,
// channels fastest.
#pragma once

#include <string>

#include "latent/autodiff/activation.hpp"
#include "latent/autodiff/convolution.hpp"
#include "latent/nn/init.hpp"
#include "latent/nn/module.hpp"

namespace latent {
namespace detail {

/// What both convolutional layers hold: the geometry, W (rows: the channels
/// on the grid side; columns: a patch), b (one per output channel) unless the
/// kernel says no bias, and the activation. Derived records the op.
template <class Derived, class S, class Act, class Init>
class ConvLayer : public Module<Derived, S> {
 public:
  using Activation = Act;

  ImageShape in_shape() const { return in_; }
  ImageShape out_shape() const { return out_; }
  Index in_features() const { return in_.size(); }
  Index out_features() const { return out_.size(); }
  const ConvGeometry& geometry() const { return geometry_; }
  const Kernel& kernel() const { return kernel_; }
  bool has_bias() const { return kernel_.has_bias; }
  const Act& activation() const { return act_; }

  /// "Conv2d(1->64, kernel 4x4, stride 2, padding 1)", as error messages name the layer.
  std::string describe() const {
    return std::string(name_) + "(" + std::to_string(in_.channels) + "->" + std::to_string(out_.channels) + ", " +
           kernel_.describe() + ")";
  }

  NamedParameterList<S> named_parameters() {
    if (!has_bias()) return {{"weight", &weight}};
    return {{"weight", &weight}, {"bias", &bias}};
  }

  Parameter<S> weight;
  Parameter<S> bias;  ///< out_channels x 1; empty without a bias

 protected:
  ConvLayer(const char* name, const ConvGeometry& geometry, const ImageShape& in, const ImageShape& out, const Kernel& kernel,
            Rng& rng, Act act, Init init)
      : weight(geometry.grid_channels, geometry.patch_size()),
        geometry_(geometry),
        in_(in),
        out_(out),
        kernel_(kernel),
        act_(act),
        name_(name) {
    const Index area = kernel.height * kernel.width;
    init_weight(init, weight.value, Fans{weight.value.cols(), weight.value.rows() * area}, rng);
    if (kernel.has_bias) {
      bias = Parameter<S>(out.channels, 1);
      init_bias(init, bias.value, weight.value.cols(), rng);
    }
  }

  /// Throws shape_error naming the layer, the images it reads and what it got.
  void check_input(const Var<S>& x) const {
    if (x.rows() != in_.size())
      throw shape_error(describe() + ": expects images " + to_string(in_) + " (" + std::to_string(in_.size()) +
                        " features a column), got " + shape_string(x.value()));
  }

  ConvGeometry geometry_;
  ImageShape in_, out_;
  Kernel kernel_;
  Act act_;

 private:
  const char* name_;
};

}  // namespace detail

/// y = act(conv(W, x) + b) over images of shape `in`: W is out_channels x
/// (in.channels * kernel area), b out_channels x 1.
///   latent::Conv2d<float, latent::LeakyReLU> conv({1, 28, 28}, 64, latent::Kernel(4).stride(2).padding(1), rng);
template <class S, class Act = Identity, class Init = FanInUniform>
class Conv2d : public detail::ConvLayer<Conv2d<S, Act, Init>, S, Act, Init> {
  using Base = detail::ConvLayer<Conv2d<S, Act, Init>, S, Act, Init>;

 public:
  Conv2d(const ImageShape& in, Index out_channels, const Kernel& kernel, Rng& rng, Act act = {}, Init init = {})
      : Conv2d(ConvGeometry::convolution("Conv2d", in, out_channels, kernel), kernel, rng, act, init) {}

  Var<S> operator()(Var<S> x) {
    this->check_input(x);
    Tape<S>& tape = x.tape();
    if (this->has_bias()) return conv2d(this->act_, tape.leaf(this->weight), x, tape.leaf(this->bias), this->geometry_);
    return conv2d(this->act_, tape.leaf(this->weight), x, this->geometry_);
  }

 private:
  Conv2d(const ConvGeometry& g, const Kernel& kernel, Rng& rng, Act act, Init init)
      : Base("Conv2d", g, g.image(), g.grid(), kernel, rng, act, init) {}
};

/// y = act(conv_transpose(W, x) + b) over images of shape `in`: W is
/// in.channels x (out_channels * kernel area) (PyTorch's ConvTranspose2d
/// weight), b out_channels x 1. The output is (in - 1) stride - 2 padding +
/// kernel + output padding each way.
///   latent::ConvTranspose2d<float, latent::ReLU> up({64, 7, 7}, 32, latent::Kernel(4).stride(2).padding(1), rng);
template <class S, class Act = Identity, class Init = FanInUniform>
class ConvTranspose2d : public detail::ConvLayer<ConvTranspose2d<S, Act, Init>, S, Act, Init> {
  using Base = detail::ConvLayer<ConvTranspose2d<S, Act, Init>, S, Act, Init>;

 public:
  ConvTranspose2d(const ImageShape& in, Index out_channels, const Kernel& kernel, Rng& rng, Act act = {}, Init init = {})
      : ConvTranspose2d(ConvGeometry::transposed("ConvTranspose2d", in, out_channels, kernel), kernel, rng, act, init) {}

  Var<S> operator()(Var<S> x) {
    this->check_input(x);
    Tape<S>& tape = x.tape();
    if (this->has_bias())
      return conv_transpose2d(this->act_, tape.leaf(this->weight), x, tape.leaf(this->bias), this->geometry_);
    return conv_transpose2d(this->act_, tape.leaf(this->weight), x, this->geometry_);
  }

 private:
  ConvTranspose2d(const ConvGeometry& g, const Kernel& kernel, Rng& rng, Act act, Init init)
      : Base("ConvTranspose2d", g, g.grid(), g.image(), kernel, rng, act, init) {}
};

}  // namespace latent
