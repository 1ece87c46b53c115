// bench/bench_common.hpp: what latent's benchmarks share: the thread count
// read from the environment, the FLOP/s and items/s counters (on wall-clock
// time), the images the training steps feed on, and the one place where the
// benchmarked models are built (the convolutional ones as the examples build
// them, examples/conv_models.hpp).
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <latent/latent.hpp>
#include <latent/models/vae.hpp>

#if __has_include(<latent/train/gan_trainer.hpp>)
#define LATENT_BENCH_HAS_GAN 1
#include <latent/models/gan.hpp>
#else
#define LATENT_BENCH_HAS_GAN 0
#endif

#include "../examples/conv_models.hpp"

namespace latent_bench {

using latent::Index;
using Matrix = latent::Matrix<float>;

/// Threads for latent's ops and the raw Eigen SGEMMs: LATENT_NUM_THREADS, else OMP_NUM_THREADS
/// (its first entry), else 1, latent's default.
inline int threads_from_environment() {
  for (const char* name : {"LATENT_NUM_THREADS", "OMP_NUM_THREADS"}) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') continue;
    char* end = nullptr;
    const long n = std::strtol(value, &end, 10);
    if (end == value || n < 1 || n > 1024) throw latent::error(std::string(name) + "=" + value + " is not a thread count");
    return static_cast<int>(n);
  }
  return 1;
}

/// FLOPs of one affine map's forward (2 in out batch: a multiply and an add per
/// weight per example); its backward counts twice that (dW and dX).
inline double affine_flops(Index in, Index out, Index batch) {
  return 2.0 * static_cast<double>(in) * static_cast<double>(out) * static_cast<double>(batch);
}

/// Sets "FLOP/s" and "items/s" from the wall-clock time of the benchmark loop.
/// Google Benchmark's own rates divide by the main thread's CPU time, which
/// says little about a step whose products run on several threads; and
/// UseRealTime() would rename every benchmark ("/real_time").
class WallRates {
 public:
  WallRates(benchmark::State& state, double flops_per_iteration, double items_per_iteration)
      : state_(state), flops_(flops_per_iteration), items_(items_per_iteration), start_(Clock::now()) {}
  WallRates(const WallRates&) = delete;
  WallRates& operator=(const WallRates&) = delete;
  ~WallRates() {
    const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    const auto iterations = static_cast<double>(state_.iterations());
    if (seconds <= 0 || iterations <= 0) return;
    if (flops_ > 0) state_.counters["FLOP/s"] = benchmark::Counter(flops_ * iterations / seconds);
    if (items_ > 0) state_.counters["items/s"] = benchmark::Counter(items_ * iterations / seconds);
  }

 private:
  using Clock = std::chrono::steady_clock;
  benchmark::State& state_;
  double flops_, items_;
  Clock::time_point start_;
};

/// Lets Eigen's own products use latent's thread count for a scope (latent
/// turns Eigen's product threading off; autodiff/linear.hpp splits products
/// itself): the raw SGEMM baselines are Eigen's products as Eigen runs them.
class EigenThreads {
 public:
  EigenThreads() : saved_(Eigen::nbThreads()) { Eigen::setNbThreads(latent::num_threads()); }
  ~EigenThreads() { Eigen::setNbThreads(saved_); }
  EigenThreads(const EigenThreads&) = delete;
  EigenThreads& operator=(const EigenThreads&) = delete;

 private:
  int saved_;
};

/// Uniform values in [lo, hi): inputs and weights for the kernels.
inline Matrix uniform(Index rows, Index cols, latent::Rng& rng, double lo = -1, double hi = 1) {
  Matrix m(rows, cols);
  rng.fill_uniform(m, lo, hi);
  return m;
}

/// The training images of the whole-step benchmarks: MNIST from
/// $LATENT_DATA_DIR (default: data/mnist in the source tree) when it is
/// there, else 10000 synthetic 28x28 images shaped like MNIST's (a blank
/// border, about a fifth of the pixels inked), so the benchmarks run anywhere.
/// Which one was used goes into the benchmark context ("images").
inline const latent::data::Dataset& training_images() {
  static const latent::data::Dataset images = [] {
    const char* dir = std::getenv("LATENT_DATA_DIR");
    const std::filesystem::path mnist = dir && *dir ? std::filesystem::path(dir) : std::filesystem::path(LATENT_SOURCE_DIR) / "data/mnist";
    std::error_code ec;
    if (std::filesystem::exists(mnist / "train-images-idx3-ubyte", ec) ||
        std::filesystem::exists(mnist / "train-images-idx3-ubyte.gz", ec)) {
      benchmark::AddCustomContext("images", "MNIST from " + mnist.string());
      return latent::data::load_mnist(mnist, latent::data::Split::train);
    }
    benchmark::AddCustomContext("images", "synthetic (no MNIST in " + mnist.string() + ")");
    const Index count = 10000, side = 28, margin = 4;
    std::vector<std::uint8_t> pixels(static_cast<std::size_t>(count * side * side), 0);
    std::vector<std::uint8_t> labels(static_cast<std::size_t>(count));
    latent::Rng rng(7);
    for (Index i = 0; i < count; ++i) {
      labels[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(rng.below(10));
      for (Index r = margin; r < side - margin; ++r)
        for (Index c = margin; c < side - margin; ++c)
          if (rng.uniform() < 0.3) pixels[static_cast<std::size_t>((i * side + r) * side + c)] = static_cast<std::uint8_t>(1 + rng.below(255));
    }
    return latent::data::Dataset(std::move(pixels), std::move(labels), side, side);
  }();
  return images;
}

/// Batches of `batch` examples drawn without end: a shuffled epoch after another.
class EndlessBatches {
 public:
  EndlessBatches(Index examples, Index batch)
      : sampler_(examples, batch, latent::data::Shuffle{1}, latent::data::LastBatch::drop), epoch_(sampler_.epoch(0)) {}

  latent::data::Batch next() {
    if (next_ == epoch_.size()) {
      epoch_ = sampler_.epoch(++epoch_number_);
      next_ = 0;
    }
    return epoch_[next_++];
  }

 private:
  latent::data::BatchSampler sampler_;
  latent::data::BatchSampler::Epoch epoch_;
  std::uint64_t epoch_number_ = 0;
  Index next_ = 0;
};

/// The three products of an affine map from `in` to `out` values over `batch`
/// columns, on operands of their own, through the gemm() the ops call (the
/// configured library, split over threads as gemm() splits it): forward
/// Y = W X, weight gradient dW += dY X^T (parameters' gradients add), input
/// gradient dX = W^T dY.
struct AffineProducts {
  Matrix w, x, dy, y, dw, dx;

  AffineProducts(Index in, Index out, Index batch, latent::Rng& rng)
      : w(uniform(out, in, rng)), x(uniform(in, batch, rng)), dy(uniform(out, batch, rng)), y(out, batch),
        dw(Matrix::Zero(out, in)), dx(in, batch) {}

  void forward() { latent::detail::gemm(y, w, x, false); }
  void weight_grad() { latent::detail::gemm(dw, dy, x.transpose(), true); }
  void input_grad() { latent::detail::gemm(dx, w.transpose(), dy, false); }
  void keep_results() {
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(dw.data());
    benchmark::DoNotOptimize(dx.data());
  }
};

/// One affine map of a training step, {in, out}, and how often the step runs
/// each of its products: forward (Y = W X), weight gradient (dW = dY X^T) and
/// input gradient (dX = W^T dY; none where the input is data or noise).
struct AffineUse {
  Index in, out;
  int forwards, weight_grads, input_grads;
};

/// A convolution as an AffineUse: its three products each multiply a
/// channels x patch weight by patch x (pixels * batch) windows, as an affine
/// map from `patch` inputs to channels * pixels outputs does per example.
/// The FLOPs are a dense map's; the shapes are not (AffineProducts of it
/// would multiply other matrices than the convolution does).
inline AffineUse conv_use(const latent::ConvGeometry& g, int forwards, int weight_grads, int input_grads) {
  return {g.patch_size(), Index(g.grid_channels) * g.grid_height * g.grid_width, forwards, weight_grads, input_grads};
}

/// FLOPs of the products a step performs: 2 in out batch each.
inline double step_flops(const std::vector<AffineUse>& uses, Index batch) {
  double flops = 0;
  for (const AffineUse& u : uses) flops += affine_flops(u.in, u.out, batch) * (u.forwards + u.weight_grads + u.input_grads);
  return flops;
}

/// The VAE of PyTorch's official example: 784-400-20, ReLU hidden layers,
/// Bernoulli decoder on logits.
struct VaeModel {
  using Encoder = latent::GaussianEncoder<latent::Mlp<float, latent::ReLU, latent::ReLU>>;
  using Decoder = latent::Decoder<latent::Mlp<float, latent::ReLU>>;
  using Model = latent::Vae<Encoder, Decoder, latent::Bernoulli>;

  static constexpr Index data = 784, hidden = 400, latent_size = 20;

  static Model make(latent::Rng& rng) {
    Encoder encoder({data, hidden}, latent_size, rng);
    Decoder decoder({latent_size, hidden, data}, rng);
    return Model(std::move(encoder), std::move(decoder));
  }

  /// A step: the encoder's first layer reads data (no dX); everything else
  /// runs forward, dW and dX once.
  static std::vector<AffineUse> affine_maps() {
    return {{data, hidden, 1, 1, 0},
            {hidden, latent_size, 1, 1, 1},
            {hidden, latent_size, 1, 1, 1},
            {latent_size, hidden, 1, 1, 1},
            {hidden, data, 1, 1, 1}};
  }
  static double flops(Index batch) { return step_flops(affine_maps(), batch); }
};

/// The convolutional VAE of examples/vae_mnist --arch conv
/// (examples/conv_models.hpp): encoder Conv2d(1, 32, k4, s2, p1) 14x14 ReLU,
/// Conv2d(32, 64, k4, s2, p1) 7x7 ReLU, flatten 3136, Dense 400 ReLU, mu and
/// logvar (20 each); decoder Dense 20 -> 400 ReLU, Dense 3136 ReLU, 64x7x7,
/// ConvTranspose2d(64, 32, k4, s2, p1) 14x14 ReLU, ConvTranspose2d(32, 1, k4,
/// s2, p1) 28x28 Bernoulli logits; biases everywhere.
struct ConvVaeModel {
  using Model = example::ConvVae::Model;

  static constexpr Index latent_size = 20, hidden = 400;
  static latent::Kernel down() { return latent::Kernel(4).stride(2).padding(1); }

  static Model make(latent::Rng& rng) { return example::ConvVae::make(rng, hidden, latent_size); }

  /// A step: the first convolution reads data (no input gradient); every
  /// other layer runs forward, weight and input gradients once.
  static double flops(Index batch) {
    using latent::ConvGeometry;
    return step_flops({conv_use(ConvGeometry::convolution("", {1, 28, 28}, 32, down()), 1, 1, 0),
                       conv_use(ConvGeometry::convolution("", {32, 14, 14}, 64, down()), 1, 1, 1),
                       {3136, hidden, 1, 1, 1},
                       {hidden, latent_size, 1, 1, 1},
                       {hidden, latent_size, 1, 1, 1},
                       {latent_size, hidden, 1, 1, 1},
                       {hidden, 3136, 1, 1, 1},
                       conv_use(ConvGeometry::transposed("", {64, 7, 7}, 32, down()), 1, 1, 1),
                       conv_use(ConvGeometry::transposed("", {32, 14, 14}, 1, down()), 1, 1, 1)},
                      batch);
  }
};

#if LATENT_BENCH_HAS_GAN
/// The DCGAN of gan_mnist --arch dcgan (examples/conv_models.hpp): the
/// libtorch C++ example's and dlib's dnn_dcgan_train_ex's, 28x28, no biases,
/// PyTorch's default initialization, non-saturating BCE:
/// G: z(100) as 100x1x1, ConvTranspose2d(100, 256, k4) 4x4, BN ReLU,
///    ConvTranspose2d(256, 128, k3, s2, p1) 7x7, BN ReLU,
///    ConvTranspose2d(128, 64, k4, s2, p1) 14x14, BN ReLU,
///    ConvTranspose2d(64, 1, k4, s2, p1) 28x28 tanh;
/// D: Conv2d(1, 64, k4, s2, p1) 14x14 LeakyReLU(0.2),
///    Conv2d(64, 128, k4, s2, p1) 7x7, BN LeakyReLU(0.2),
///    Conv2d(128, 256, k4, s2, p1) 3x3, BN LeakyReLU(0.2),
///    Conv2d(256, 1, k3) 1x1: one logit.
struct DcganModel {
  using Model = example::Dcgan::Model;

  static constexpr Index noise = 100;
  static latent::Kernel k(Index size) { return latent::Kernel(size).bias(false); }
  static latent::Kernel half(Index size) { return k(size).stride(2).padding(1); }

  static Model make(latent::Rng& rng) { return example::Dcgan::make(rng, noise); }

  /// A step as GanTrainer runs it (see GanModel::flops): G forward once; D on
  /// real and on fake (forward, weight gradients; input gradients above its
  /// first layer); D on fake again, frozen (forward, input gradients down to
  /// the images); G's backward (weight gradients; input gradients above the noise).
  static double flops(Index batch) {
    using latent::ConvGeometry;
    return step_flops({conv_use(ConvGeometry::transposed("", {noise, 1, 1}, 256, k(4)), 1, 1, 0),
                       conv_use(ConvGeometry::transposed("", {256, 4, 4}, 128, half(3)), 1, 1, 1),
                       conv_use(ConvGeometry::transposed("", {128, 7, 7}, 64, half(4)), 1, 1, 1),
                       conv_use(ConvGeometry::transposed("", {64, 14, 14}, 1, half(4)), 1, 1, 1),
                       conv_use(ConvGeometry::convolution("", {1, 28, 28}, 64, half(4)), 3, 2, 1),
                       conv_use(ConvGeometry::convolution("", {64, 14, 14}, 128, half(4)), 3, 2, 3),
                       conv_use(ConvGeometry::convolution("", {128, 7, 7}, 256, half(4)), 3, 2, 3),
                       conv_use(ConvGeometry::convolution("", {256, 3, 3}, 1, k(3)), 3, 2, 3)},
                      batch);
  }
};

/// The default MLP GAN of examples/gan_mnist: generator 100-256-512-784
/// (LeakyReLU 0.2, tanh output), discriminator 784-512-256-1 (LeakyReLU 0.2,
/// one logit), PyTorch's default initialization, non-saturating BCE loss,
/// normal noise.
struct GanModel {
  using Body = latent::Mlp<float, latent::LeakyReLU, latent::Identity, latent::FanInUniform>;
  using Generator = latent::Generator<Body>;
  using Discriminator = latent::Discriminator<Body>;
  using Model = latent::Gan<Generator, Discriminator, latent::NonSaturatingBce>;

  static constexpr Index noise = 100, data = 784;

  static Model make(latent::Rng& rng) {
    Generator generator({noise, 256, 512, data}, rng);
    Discriminator discriminator({data, 512, 256, 1}, rng);
    return Model(std::move(generator), std::move(discriminator));
  }

  /// A step as GanTrainer runs it: G forward once; D forward on real and on
  /// fake, its backward (dW for both, dX below the first layer); then D
  /// forward on fake again with D frozen (dX only) and G's backward (dW, and
  /// dX above the noise).
  static std::vector<AffineUse> affine_maps() {
    return {{noise, 256, 1, 1, 0}, {256, 512, 1, 1, 1}, {512, data, 1, 1, 1},
            {data, 512, 3, 2, 1},  {512, 256, 3, 2, 3}, {256, 1, 3, 2, 3}};
  }
  static double flops(Index batch) { return step_flops(affine_maps(), batch); }
};
#endif

}  // namespace latent_bench
