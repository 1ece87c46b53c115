// Convolutions: conv2d and conv_transpose2d against direct loop-by-loop
// references and against finite differences (stride 1 and 2, padding 0 and 1,
// odd image sizes, batch 1 and 3, non-square kernels, output padding, with
// and without bias, fused activations); the Conv2d and ConvTranspose2d layers
// and their shape errors; Flatten and Reshape, which move no data.
#include <string>
#include <vector>

#include "helpers.hpp"

namespace test_convolution {

using latent::ConvGeometry;
using latent::ImageShape;
using latent::Index;
using latent::Kernel;
using latent::Matrix;
using latent::Tape;
using latent::Var;
using Vars = std::vector<Var<double>>;

namespace {

using test::project;

// Feature index of channel c of pixel (y, x) in an image column (latent/image_shape.hpp).
Index at(const ImageShape& s, Index c, Index y, Index x) { return (y * s.width + x) * s.channels + c; }

// conv2d by its definition, one output value at a time.
Matrix<double> reference_conv2d(const ConvGeometry& g, const Matrix<double>& w, const Matrix<double>& x, const Matrix<double>* b) {
  const ImageShape in = g.image(), out = g.grid();
  Matrix<double> y(out.size(), x.cols());
  for (Index n = 0; n < x.cols(); ++n)
    for (Index co = 0; co < out.channels; ++co)
      for (Index oy = 0; oy < out.height; ++oy)
        for (Index ox = 0; ox < out.width; ++ox) {
          double sum = b ? (*b)(co, 0) : 0.0;
          for (Index ky = 0; ky < g.kernel_height; ++ky)
            for (Index kx = 0; kx < g.kernel_width; ++kx)
              for (Index c = 0; c < in.channels; ++c) {
                const Index iy = oy * g.stride_height - g.padding_height + ky, ix = ox * g.stride_width - g.padding_width + kx;
                if (iy < 0 || iy >= in.height || ix < 0 || ix >= in.width) continue;
                sum += w(co, (ky * g.kernel_width + kx) * in.channels + c) * x(at(in, c, iy, ix), n);
              }
          y(at(out, co, oy, ox), n) = sum;
        }
  return y;
}

// conv_transpose2d by its definition: every input value spreads through the kernel.
Matrix<double> reference_conv_transpose2d(const ConvGeometry& g, const Matrix<double>& w, const Matrix<double>& x,
                                          const Matrix<double>* b) {
  const ImageShape in = g.grid(), out = g.image();
  Matrix<double> y(out.size(), x.cols());
  for (Index n = 0; n < x.cols(); ++n) {
    for (Index co = 0; co < out.channels; ++co)
      for (Index oy = 0; oy < out.height; ++oy)
        for (Index ox = 0; ox < out.width; ++ox) y(at(out, co, oy, ox), n) = b ? (*b)(co, 0) : 0.0;
    for (Index ci = 0; ci < in.channels; ++ci)
      for (Index iy = 0; iy < in.height; ++iy)
        for (Index ix = 0; ix < in.width; ++ix)
          for (Index ky = 0; ky < g.kernel_height; ++ky)
            for (Index kx = 0; kx < g.kernel_width; ++kx) {
              const Index oy = iy * g.stride_height - g.padding_height + ky, ox = ix * g.stride_width - g.padding_width + kx;
              if (oy < 0 || oy >= out.height || ox < 0 || ox >= out.width) continue;
              for (Index co = 0; co < out.channels; ++co)
                y(at(out, co, oy, ox), n) += w(ci, (ky * g.kernel_width + kx) * out.channels + co) * x(at(in, ci, iy, ix), n);
            }
  }
  return y;
}

struct Case {
  ImageShape in;
  Index out_channels;
  Kernel kernel;
  Index batch;
};

std::string describe(const Case& c) {
  return "images " + latent::to_string(c.in) + " -> " + std::to_string(c.out_channels) + " channels, " + c.kernel.describe() +
         ", batch " + std::to_string(c.batch);
}

// The shapes every convolution test runs: odd sizes, strides 1 and 2, padding
// 0 and 1, square and non-square kernels, batch 1 and 3.
const std::vector<Case>& conv_cases() {
  static const std::vector<Case> cases = {
      {{1, 5, 5}, 2, Kernel(3), 1},
      {{2, 5, 7}, 3, Kernel(3).padding(1), 3},
      {{3, 7, 5}, 2, Kernel(3, 2).stride(2), 3},
      {{2, 6, 5}, 2, Kernel(2, 3).stride(2).padding(1), 1},
      {{2, 5, 5}, 3, Kernel(4).stride(2).padding(1).bias(false), 3},
      {{1, 3, 3}, 2, Kernel(3), 3},  // the window covers the image: a 1x1 output, the patches are the images
      {{2, 3, 3}, 2, Kernel(3).bias(false), 1},
      {{1, 3, 3}, 2, Kernel(5).padding(1), 3},  // one window again, but over padding: unfolded
      // Kernel rows of more than detail::kShortRun values (width x channels):
      // unfolded window by window, the others a kernel row at a time.
      {{6, 5, 4}, 2, Kernel(3).stride(2).padding(1), 3},
      {{9, 4, 5}, 2, Kernel(2, 2), 1},
  };
  return cases;
}

const std::vector<Case>& transposed_cases() {
  static const std::vector<Case> cases = {
      {{2, 3, 3}, 1, Kernel(3), 1},
      {{2, 3, 2}, 3, Kernel(3).padding(1), 3},
      {{3, 2, 3}, 2, Kernel(2, 3).stride(2), 3},
      {{2, 3, 3}, 2, Kernel(3).stride(2).padding(1).output_padding(1), 1},
      {{2, 2, 3}, 2, Kernel(4, 3).stride(2, 3).padding(1, 0).output_padding(1, 2).bias(false), 3},
      {{3, 1, 1}, 2, Kernel(4), 3},  // a DCGAN generator's first layer: noise as 1x1 images
      {{3, 1, 1}, 2, Kernel(2, 3).bias(false), 1},
      {{2, 1, 1}, 2, Kernel(3).padding(1), 3},  // a 1x1 output of a padded window: folded
      {{2, 3, 3}, 6, Kernel(3).stride(2).padding(1), 3},  // image rows of 18 values
  };
  return cases;
}

template <class Act = latent::Identity>
Var<double> conv_op(const ConvGeometry& g, const Vars& v, bool bias, bool transposed, Act act = {}) {
  if (transposed) return bias ? latent::conv_transpose2d(act, v[0], v[1], v[2], g) : latent::conv_transpose2d(act, v[0], v[1], g);
  return bias ? latent::conv2d(act, v[0], v[1], v[2], g) : latent::conv2d(act, v[0], v[1], g);
}

// Inputs for a case: W, x (and b).
std::vector<Matrix<double>> inputs(const ConvGeometry& g, const Case& c, bool transposed) {
  const ImageShape in = transposed ? g.grid() : g.image();
  const Index out_channels = transposed ? g.image_channels : g.grid_channels;
  std::vector<Matrix<double>> values = {test::random_matrix(g.grid_channels, g.patch_size(), 11),
                                        test::random_matrix(in.size(), c.batch, 12)};
  if (c.kernel.has_bias) values.push_back(test::random_matrix(out_channels, 1, 13));
  return values;
}

}  // namespace

TEST_CASE("conv2d matches a loop-by-loop convolution", "[conv]") {
  for (const Case& c : conv_cases()) {
    INFO(describe(c));
    const auto g = ConvGeometry::convolution("test", c.in, c.out_channels, c.kernel);
    const auto values = inputs(g, c, false);
    Tape<double> tape;
    Vars v;
    for (const auto& value : values) v.push_back(tape.constant(value));
    const Matrix<double> y = conv_op(g, v, c.kernel.has_bias, false).value();
    const Matrix<double> expected = reference_conv2d(g, values[0], values[1], c.kernel.has_bias ? &values[2] : nullptr);
    REQUIRE(y.rows() == expected.rows());
    REQUIRE(y.isApprox(expected, 1e-12));
  }
}

TEST_CASE("conv_transpose2d matches a loop-by-loop transposed convolution", "[conv]") {
  for (const Case& c : transposed_cases()) {
    INFO(describe(c));
    const auto g = ConvGeometry::transposed("test", c.in, c.out_channels, c.kernel);
    const auto values = inputs(g, c, true);
    Tape<double> tape;
    Vars v;
    for (const auto& value : values) v.push_back(tape.constant(value));
    const Matrix<double> y = conv_op(g, v, c.kernel.has_bias, true).value();
    const Matrix<double> expected = reference_conv_transpose2d(g, values[0], values[1], c.kernel.has_bias ? &values[2] : nullptr);
    REQUIRE(y.rows() == expected.rows());
    REQUIRE(y.isApprox(expected, 1e-12));
  }
}

TEST_CASE("conv_transpose2d is the data gradient of conv2d", "[conv]") {
  // <conv(x), y> = <x, conv_transpose(y)> for the same geometry and weights.
  const auto g = ConvGeometry::convolution("test", {2, 7, 6}, 3, Kernel(3, 2).stride(2).padding(1));
  const Matrix<double> w = test::random_matrix(3, g.patch_size(), 1), x = test::random_matrix(g.image().size(), 2, 2),
                       y = test::random_matrix(g.grid().size(), 2, 3);
  Tape<double> tape;
  const double forward = latent::conv2d(latent::Identity{}, tape.constant(w), tape.constant(x), g).value().cwiseProduct(y).sum();
  const double adjoint = latent::conv_transpose2d(latent::Identity{}, tape.constant(w), tape.constant(y), g).value().cwiseProduct(x).sum();
  REQUIRE(forward == Approx(adjoint).epsilon(1e-12));
}

TEST_CASE("gradcheck: conv2d", "[gradcheck][op][conv]") {
  for (const Case& c : conv_cases()) {
    INFO(describe(c));
    const auto g = ConvGeometry::convolution("test", c.in, c.out_channels, c.kernel);
    REQUIRE_GRADCHECK(latent::gradcheck(
        [&](Tape<double>&, const Vars& v) { return project(conv_op(g, v, c.kernel.has_bias, false)); }, inputs(g, c, false)));
  }
}

TEST_CASE("gradcheck: conv_transpose2d", "[gradcheck][op][conv]") {
  for (const Case& c : transposed_cases()) {
    INFO(describe(c));
    const auto g = ConvGeometry::transposed("test", c.in, c.out_channels, c.kernel);
    REQUIRE_GRADCHECK(latent::gradcheck(
        [&](Tape<double>&, const Vars& v) { return project(conv_op(g, v, c.kernel.has_bias, true)); }, inputs(g, c, true)));
  }
}

TEMPLATE_TEST_CASE("gradcheck: conv2d and conv_transpose2d fused with an activation", "[gradcheck][op][conv]", latent::ReLU,
                   latent::LeakyReLU, latent::Tanh, latent::Sigmoid) {
  const Case c{{2, 5, 4}, 3, Kernel(3).stride(2).padding(1), 3};
  for (bool transposed : {false, true}) {
    CAPTURE(transposed);
    const auto g = transposed ? ConvGeometry::transposed("test", c.in, c.out_channels, c.kernel)
                              : ConvGeometry::convolution("test", c.in, c.out_channels, c.kernel);
    auto values = inputs(g, c, transposed);
    // No pre-activation within reach of the finite-difference step of a kink.
    Tape<double> tape;
    Vars v;
    for (const auto& value : values) v.push_back(tape.constant(value));
    REQUIRE(conv_op(g, v, true, transposed).value().cwiseAbs().minCoeff() > 1e-4);
    REQUIRE_GRADCHECK(latent::gradcheck(
        [&](Tape<double>&, const Vars& v) { return project(conv_op(g, v, true, transposed, TestType{})); }, values));
  }
}

namespace {

// A convolution's output and the gradients of <output, weights> with
// respect to W, x and b, for the given values.
std::vector<Matrix<double>> output_and_gradients(const ConvGeometry& g, bool transposed, const std::vector<Matrix<double>>& values,
                                                 const Matrix<double>& weights) {
  std::vector<latent::Parameter<double>> params;
  for (const auto& value : values) params.emplace_back(value);
  Tape<double> tape;
  Vars v;
  for (auto& p : params) v.push_back(tape.leaf(p));
  const Var<double> y = conv_op(g, v, true, transposed, latent::Tanh{});
  tape.backward(latent::sum(latent::mul(y, tape.constant(weights))));
  std::vector<Matrix<double>> results = {y.value()};
  for (const auto& p : params) results.push_back(p.grad);
  return results;
}

}  // namespace

TEST_CASE("a batch unfolded a block of images at a time gives what its images give one by one", "[conv]") {
  // Images large enough that their patches fill several blocks
  // (detail::over_unfold_blocks), and a batch of two full blocks and one image.
  for (bool transposed : {false, true}) {
    CAPTURE(transposed);
    const auto g = transposed ? ConvGeometry::transposed("test", {16, 16, 16}, 8, Kernel(4).stride(2).padding(1))
                              : ConvGeometry::convolution("test", {8, 16, 16}, 4, Kernel(3).padding(1));
    const Index image_bytes = g.patch_size() * g.positions(1) * Index(sizeof(double));
    const Index block = std::max({Index(1), latent::detail::kUnfoldBlockBytes * latent::num_threads() / image_bytes,
                                  (latent::detail::kMinBlockPatches + g.positions(1) - 1) / g.positions(1)});
    const Index batch = 2 * block + 1;
    CAPTURE(block, batch);
    const ImageShape in = transposed ? g.grid() : g.image(), out = transposed ? g.image() : g.grid();
    const std::vector<Matrix<double>> values = {test::random_matrix(g.grid_channels, g.patch_size(), 21),
                                                test::random_matrix(in.size(), batch, 22),
                                                test::random_matrix(out.channels, 1, 23)};
    const Matrix<double> weights = test::random_matrix(out.size(), batch, 24);
    const auto whole = output_and_gradients(g, transposed, values, weights);
    Matrix<double> dw = Matrix<double>::Zero(values[0].rows(), values[0].cols()), db = Matrix<double>::Zero(values[2].rows(), 1);
    for (Index b = 0; b < batch; ++b) {
      const auto one = output_and_gradients(g, transposed, {values[0], values[1].col(b), values[2]}, weights.col(b));
      REQUIRE(whole[0].col(b).isApprox(one[0], 1e-12));
      REQUIRE(whole[2].col(b).isApprox(one[2], 1e-12));
      dw += one[1];
      db += one[3];
    }
    REQUIRE(whole[1].isApprox(dw, 1e-12));
    REQUIRE(whole[3].isApprox(db, 1e-12));
  }
}

namespace {

// The shared layer test of test_nn_layers.cpp, for images: d(projected
// output) w.r.t. every parameter and the input.
template <class Layer>
void check_layer(Layer& layer, Index batch) {
  latent::Parameter<double> input(test::random_matrix(layer.in_features(), batch, 31));
  auto params = layer.parameters();
  params.push_back(&input);
  const Matrix<double> weights = test::random_matrix(layer.out_features(), batch, 32);
  REQUIRE_GRADCHECK(latent::gradcheck(
      [&](Tape<double>& tape) { return latent::sum(latent::mul(layer(tape.leaf(input)), tape.constant(weights))); }, params));
}

}  // namespace

TEST_CASE("layer gradcheck: Conv2d and ConvTranspose2d", "[gradcheck][layer][conv]") {
  latent::Rng rng(5);
  for (Index batch : {1, 3}) {
    CAPTURE(batch);
    latent::Conv2d<double> conv({2, 7, 5}, 3, Kernel(4, 3).stride(2).padding(1), rng);
    check_layer(conv, batch);
    latent::ConvTranspose2d<double> up({3, 3, 2}, 2, Kernel(4, 3).stride(2).padding(1).output_padding(1, 0), rng);
    check_layer(up, batch);
  }
}

TEST_CASE("Conv2d and ConvTranspose2d: shapes, parameters and initialization", "[layer][conv]") {
  latent::Rng rng(6);
  SECTION("the DCGAN discriminator's first layer") {
    latent::Conv2d<float, latent::LeakyReLU> conv({1, 28, 28}, 64, Kernel(4).stride(2).padding(1).bias(false), rng);
    REQUIRE(conv.out_shape() == ImageShape{64, 14, 14});
    REQUIRE(conv.in_features() == 784);
    REQUIRE(conv.out_features() == 64 * 14 * 14);
    REQUIRE(conv.named_parameters().size() == 1);
    REQUIRE(conv.weight.value.rows() == 64);
    REQUIRE(conv.weight.value.cols() == 16);
  }
  SECTION("the DCGAN generator's layers") {
    latent::ConvTranspose2d<float> first({100, 1, 1}, 256, Kernel(4).bias(false), rng);
    REQUIRE(first.out_shape() == ImageShape{256, 4, 4});
    latent::ConvTranspose2d<float> second({256, 4, 4}, 128, Kernel(3).stride(2).padding(1).bias(false), rng);
    REQUIRE(second.out_shape() == ImageShape{128, 7, 7});
    latent::ConvTranspose2d<float> third({128, 7, 7}, 64, Kernel(4).stride(2).padding(1).bias(false), rng);
    REQUIRE(third.out_shape() == ImageShape{64, 14, 14});
    REQUIRE(third.weight.value.rows() == 128);
    REQUIRE(third.weight.value.cols() == 64 * 16);
  }
  SECTION("output padding picks the larger of two sizes") {
    latent::ConvTranspose2d<float> up({4, 7, 7}, 2, Kernel(3).stride(2).padding(1).output_padding(1), rng);
    REQUIRE(up.out_shape() == ImageShape{2, 14, 14});
  }
  SECTION("PyTorch's default initialization: U(+-1/sqrt(fan_in)), fan_in = in channels x kernel area") {
    latent::Conv2d<double> conv({32, 8, 8}, 64, Kernel(4), rng);
    const double bound = 1 / std::sqrt(32.0 * 16);
    REQUIRE(conv.weight.value.cwiseAbs().maxCoeff() <= bound);
    REQUIRE(conv.weight.value.cwiseAbs().maxCoeff() > 0.99 * bound);
    REQUIRE(conv.bias.value.cwiseAbs().maxCoeff() <= bound);
    REQUIRE(conv.bias.value.cwiseAbs().maxCoeff() > 0.5 * bound);
    // A transposed convolution's fan_in, as PyTorch counts it: its out channels x kernel area.
    latent::ConvTranspose2d<double> up({64, 4, 4}, 32, Kernel(4), rng);
    REQUIRE(up.weight.value.cwiseAbs().maxCoeff() <= 1 / std::sqrt(32.0 * 16));
    REQUIRE(up.weight.value.cwiseAbs().maxCoeff() > 0.99 / std::sqrt(32.0 * 16));
  }
  SECTION("DCGAN's N(0, 0.02), and Glorot with a convolution's fans") {
    latent::Conv2d<double, latent::Identity, latent::Normal> normal({64, 8, 8}, 128, Kernel(4), rng);
    REQUIRE(std::sqrt(normal.weight.value.array().square().mean()) == Approx(0.02).epsilon(0.02));
    REQUIRE(normal.bias.value.isZero());
    latent::Conv2d<double, latent::Identity, latent::GlorotUniform> glorot({64, 8, 8}, 128, Kernel(4), rng);
    REQUIRE(glorot.weight.value.cwiseAbs().maxCoeff() <= std::sqrt(6.0 / (64 * 16 + 128 * 16)));
    REQUIRE(glorot.weight.value.cwiseAbs().maxCoeff() > 0.99 * std::sqrt(6.0 / (64 * 16 + 128 * 16)));
  }
}

TEST_CASE("convolutions refuse shapes they cannot take, naming the layer and both shapes", "[layer][conv]") {
  latent::Rng rng(7);
  latent::Conv2d<float> conv({1, 28, 28}, 64, Kernel(4).stride(2).padding(1), rng);
  Tape<float> tape;
  SECTION("an input of other images") {
    REQUIRE_THROWS_AS(conv(tape.constant(Matrix<float>::Zero(100, 8))), latent::shape_error);
    REQUIRE_THROWS_WITH(conv(tape.constant(Matrix<float>::Zero(100, 8))),
                        Catch::Contains("Conv2d(1->64, kernel 4x4, stride 2, padding 1)") && Catch::Contains("1x28x28") &&
                            Catch::Contains("100x8"));
    latent::ConvTranspose2d<float> up({64, 7, 7}, 32, Kernel(4).stride(2).padding(1), rng);
    REQUIRE_THROWS_WITH(up(tape.constant(Matrix<float>::Zero(3136 + 1, 2))),
                        Catch::Contains("ConvTranspose2d(64->32") && Catch::Contains("64x7x7") && Catch::Contains("3137x2"));
  }
  SECTION("a kernel larger than the padded image") {
    REQUIRE_THROWS_WITH((latent::Conv2d<float>({1, 3, 3}, 2, Kernel(5).padding(0), rng)),
                        Catch::Contains("Conv2d") && Catch::Contains("1x3x3") && Catch::Contains("kernel 5x5"));
  }
  SECTION("sizes that are not positive, and output padding where it means nothing") {
    REQUIRE_THROWS_AS((latent::Conv2d<float>({0, 3, 3}, 2, Kernel(1), rng)), latent::shape_error);
    REQUIRE_THROWS_AS((latent::Conv2d<float>({1, 3, 3}, 0, Kernel(1), rng)), latent::shape_error);
    REQUIRE_THROWS_AS((latent::Conv2d<float>({1, 3, 3}, 2, Kernel(1).stride(0), rng)), latent::shape_error);
    REQUIRE_THROWS_AS((latent::Conv2d<float>({1, 3, 3}, 2, Kernel(1).output_padding(1), rng)), latent::shape_error);
    REQUIRE_THROWS_WITH((latent::ConvTranspose2d<float>({1, 3, 3}, 2, Kernel(3).stride(2).output_padding(2), rng)),
                        Catch::Contains("less than the stride"));
  }
  SECTION("the ops check W and b too") {
    const auto g = conv.geometry();
    auto x = tape.constant(Matrix<float>::Zero(784, 2));
    REQUIRE_THROWS_WITH(latent::conv2d(latent::Identity{}, tape.constant(Matrix<float>::Zero(64, 15)), x, g),
                        Catch::Contains("conv2d") && Catch::Contains("64x15") && Catch::Contains("64x16"));
    REQUIRE_THROWS_WITH(latent::conv2d(latent::Identity{}, tape.constant(Matrix<float>::Zero(64, 16)), x,
                                       tape.constant(Matrix<float>::Zero(63, 1)), g),
                        Catch::Contains("b is 63x1") && Catch::Contains("64x1"));
  }
}

TEST_CASE("Flatten and Reshape move no data and check what they are given", "[layer][conv]") {
  Tape<float> tape;
  auto x = tape.constant(Matrix<float>::Ones(3136, 4));
  latent::Flatten<float> flatten({64, 7, 7});
  latent::Reshape<float> reshape({64, 7, 7});
  REQUIRE(flatten(x).value().data() == x.value().data());
  REQUIRE(reshape(x).value().data() == x.value().data());
  REQUIRE(tape.size() == 1);  // no node recorded
  auto wrong = tape.constant(Matrix<float>::Ones(3000, 4));
  REQUIRE_THROWS_WITH(flatten(wrong), Catch::Contains("Flatten(64x7x7)") && Catch::Contains("3136") && Catch::Contains("3000x4"));
  REQUIRE_THROWS_WITH(reshape(wrong), Catch::Contains("Reshape(64x7x7)") && Catch::Contains("3000x4"));
}

TEST_CASE("Sequential checks that each layer reads what the one before writes", "[layer][conv]") {
  latent::Rng rng(8);
  using Conv = latent::Conv2d<float, latent::ReLU>;
  using Stack = latent::Sequential<Conv, latent::Flatten<float>, latent::Dense<float>>;
  SECTION("images of the same size but another shape") {
    REQUIRE_THROWS_WITH(Stack(Conv({1, 28, 28}, 64, Kernel(4).stride(2).padding(1), rng), latent::Flatten<float>({14, 14, 64}),
                              latent::Dense<float>(12544, 10, rng)),
                        Catch::Contains("layer 0 (Conv2d(1->64") && Catch::Contains("64x14x14") && Catch::Contains("14x14x64"));
  }
  SECTION("features") {
    REQUIRE_THROWS_WITH(Stack(Conv({1, 28, 28}, 64, Kernel(4).stride(2).padding(1), rng), latent::Flatten<float>({64, 14, 14}),
                              latent::Dense<float>(12545, 10, rng)),
                        Catch::Contains("layer 1 (Flatten(64x14x14)) writes 12544 features") && Catch::Contains("reads 12545"));
  }
  SECTION("a stack that fits") {
    Stack stack(Conv({1, 28, 28}, 64, Kernel(4).stride(2).padding(1), rng), latent::Flatten<float>({64, 14, 14}),
                latent::Dense<float>(12544, 10, rng));
    REQUIRE(stack.in_features() == 784);
    REQUIRE(stack.out_features() == 10);
    REQUIRE(stack.named_parameters().size() == 4);
    REQUIRE(stack.named_parameters()[2].name == "2.weight");
  }
}

}  // namespace test_convolution
