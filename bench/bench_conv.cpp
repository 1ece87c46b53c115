// bench/bench_conv.cpp: the convolutional kernels at the shapes of the DCGAN
// of examples/gan_mnist (28x28, batch 64), each beside what it is measured
// against:
//   BM_Conv2dForwardBackward, BM_ConvTranspose2dForwardBackward
//       one layer's forward and backward (weight and input gradients), as a
//       tape runs them: unfolding, three products, folding (no bias, no
//       activation: in the DCGAN, BatchNorm follows most of them)
//   BM_ConvGemms
//       the same three products alone, through the same gemm() (Eigen's
//       SGEMM kernel with a kept workspace, latent's thread split)
//   BM_ConvUnfold
//       the layer's im2col and col2im alone: with BM_ConvGemms, how a layer's
//       time splits between moving patches and multiplying them
//   BM_BatchNormForwardBackward
//       BatchNorm fused with ReLU at the generator's and discriminator's shapes
// FLOP/s counts the three products (2 m n k each).
#include "bench_common.hpp"

namespace {

using latent::ConvGeometry;
using latent::ImageShape;
using latent::Index;
using latent::Kernel;
using latent_bench::Matrix;
using latent_bench::uniform;
using latent_bench::WallRates;

constexpr Index kBatch = 64;

// {in channels, in size (square), out channels, kernel, stride, padding, transposed}
constexpr Index kDcganLayers[][7] = {
    {1, 28, 64, 4, 2, 1, 0},   {64, 14, 128, 4, 2, 1, 0}, {128, 7, 256, 4, 2, 1, 0}, {256, 3, 1, 3, 1, 0, 0},  // D
    {100, 1, 256, 4, 1, 0, 1}, {256, 4, 128, 3, 2, 1, 1}, {128, 7, 64, 4, 2, 1, 1},  {64, 14, 1, 4, 2, 1, 1},  // G
};

void layer_args(benchmark::internal::Benchmark* b, bool transposed) {
  b->ArgNames({"in", "size", "out", "kernel", "stride", "pad", "batch"});
  for (const auto& l : kDcganLayers)
    if ((l[6] != 0) == transposed) b->Args({l[0], l[1], l[2], l[3], l[4], l[5], kBatch});
}
void conv_layers(benchmark::internal::Benchmark* b) { layer_args(b, false); }
void transposed_layers(benchmark::internal::Benchmark* b) { layer_args(b, true); }
void all_layers(benchmark::internal::Benchmark* b) {
  b->ArgNames({"in", "size", "out", "kernel", "stride", "pad", "transposed", "batch"});
  for (const auto& l : kDcganLayers) b->Args({l[0], l[1], l[2], l[3], l[4], l[5], l[6], kBatch});
}

ImageShape in_shape(const benchmark::State& state) { return {state.range(0), state.range(1), state.range(1)}; }
Kernel kernel(const benchmark::State& state) {
  return Kernel(state.range(3)).stride(state.range(4)).padding(state.range(5)).bias(false);
}
ConvGeometry geometry(const benchmark::State& state, bool transposed) {
  return transposed ? ConvGeometry::transposed("bench", in_shape(state), state.range(2), kernel(state))
                    : ConvGeometry::convolution("bench", in_shape(state), state.range(2), kernel(state));
}

// The three products of a layer (forward, weight gradient, input gradient)
// have the same m n k: grid channels x patch x window positions.
double conv_flops(const ConvGeometry& g, Index batch) {
  return 3 * 2.0 * double(g.grid_channels) * double(g.patch_size()) * double(g.positions(batch));
}

// A layer and its input. The input is a parameter, so the tape reads it in
// place and the backward computes the input's gradient as well as W's: the
// products of a hidden layer.
template <class Layer>
void run_layer(benchmark::State& state, Layer& layer, const ConvGeometry& g) {
  const Index batch = state.range(6);
  latent::Rng rng(2);
  latent::Parameter<float> input(uniform(layer.in_features(), batch, rng));
  latent::Tape<float> tape;
  WallRates rates(state, conv_flops(g, batch), static_cast<double>(batch));
  for (auto _ : state) {
    tape.reset();
    tape.backward(latent::sum(layer(tape.leaf(input))));
    benchmark::DoNotOptimize(input.grad.data());
  }
}

void BM_Conv2dForwardBackward(benchmark::State& state) {
  latent::Rng rng(1);
  const ConvGeometry g = geometry(state, false);
  latent::Conv2d<float> layer(in_shape(state), state.range(2), kernel(state), rng);
  run_layer(state, layer, g);
}
BENCHMARK(BM_Conv2dForwardBackward)->Apply(conv_layers)->Unit(benchmark::kMicrosecond);

void BM_ConvTranspose2dForwardBackward(benchmark::State& state) {
  latent::Rng rng(1);
  const ConvGeometry g = geometry(state, true);
  latent::ConvTranspose2d<float> layer(in_shape(state), state.range(2), kernel(state), rng);
  run_layer(state, layer, g);
}
BENCHMARK(BM_ConvTranspose2dForwardBackward)->Apply(transposed_layers)->Unit(benchmark::kMicrosecond);

// The products alone. Conv2d: Y = W cols, dW += dY cols^T, dcols = W^T dY;
// ConvTranspose2d: cols = W^T X, dW += X dcols^T, dX = W dcols (the same
// shapes with the roles of image and grid swapped).
void BM_ConvGemms(benchmark::State& state) {
  const bool transposed = state.range(6) != 0;
  const Index batch = state.range(7);
  const ConvGeometry g = geometry(state, transposed);
  latent::Rng rng(1);
  // An affine map from a patch to the grid's channels over every window:
  // x the windows (cols), dy the grid.
  latent_bench::AffineProducts p(g.patch_size(), g.grid_channels, g.positions(batch), rng);
  WallRates rates(state, conv_flops(g, batch), static_cast<double>(batch));
  for (auto _ : state) {
    if (transposed) {
      p.input_grad();
      p.weight_grad();
      p.forward();
    } else {
      p.forward();
      p.weight_grad();
      p.input_grad();
    }
    p.keep_results();
  }
}
BENCHMARK(BM_ConvGemms)->Apply(all_layers)->Unit(benchmark::kMicrosecond);

// A layer's unfolding and folding: im2col of the image side (Conv2d's
// forward, ConvTranspose2d's backward) and col2im back onto it (Conv2d's
// input gradient, ConvTranspose2d's forward). A Conv2d whose weights train
// unfolds its input once more, in its backward (the patches are scratch, not
// kept: autodiff/convolution.hpp).
void BM_ConvUnfold(benchmark::State& state) {
  const bool transposed = state.range(6) != 0;
  const Index batch = state.range(7);
  const ConvGeometry g = geometry(state, transposed);
  latent::Rng rng(1);
  const Matrix images = uniform(g.image().size(), batch, rng);
  Matrix cols(g.patch_size(), g.positions(batch)), folded = Matrix::Zero(g.image().size(), batch);
  WallRates rates(state, 0, static_cast<double>(batch));
  for (auto _ : state) {
    latent::detail::im2col(g, images.data(), batch, cols.data());
    latent::detail::col2im(g, cols.data(), batch, folded.data());
    benchmark::DoNotOptimize(folded.data());
  }
}
BENCHMARK(BM_ConvUnfold)->Apply(all_layers)->Unit(benchmark::kMicrosecond);

// BatchNorm (training mode: batch statistics) fused with ReLU, forward and backward.
void BM_BatchNormForwardBackward(benchmark::State& state) {
  const ImageShape shape{state.range(0), state.range(1), state.range(1)};
  const Index batch = state.range(2);
  latent::Rng rng(1);
  latent::BatchNorm<float, latent::ReLU> norm(shape);
  latent::Parameter<float> input(uniform(shape.size(), batch, rng));
  latent::Tape<float> tape;
  WallRates rates(state, 0, static_cast<double>(batch));
  for (auto _ : state) {
    tape.reset();
    tape.backward(latent::sum(norm(tape.leaf(input))));
    benchmark::DoNotOptimize(input.grad.data());
  }
}
BENCHMARK(BM_BatchNormForwardBackward)
    ->ArgNames({"channels", "size", "batch"})
    ->Args({256, 4, kBatch})
    ->Args({128, 7, kBatch})
    ->Args({64, 14, kBatch})
    ->Args({256, 3, kBatch})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
