// bench/bench_kernels.cpp: the kernels under a training step, in float, each
// beside what it should be measured against: Dense/affine forward and
// forward+backward at the shapes of the example models next to the plain
// Eigen SGEMMs they perform; each activation alone and fused into Dense; the
// VAE's losses; the Adam update with and without flushing subnormals; and
// Eigen's 2048^3 SGEMM, the throughput a step is held to.
#include <optional>

#include "bench_common.hpp"

namespace {

using latent::Index;
using latent_bench::affine_flops;
using latent_bench::Matrix;
using latent_bench::uniform;
using latent_bench::WallRates;

// The Dense shapes {in, out} of the example models: the VAE (784-400-20 and
// back) and the MLP GAN (generator 100-256-512-784, discriminator 784-512-256-1).
constexpr Index kDenseShapes[][2] = {{784, 400}, {400, 20}, {20, 400}, {400, 784}, {100, 256},
                                     {256, 512}, {512, 784}, {784, 512}, {512, 256}, {256, 1}};
constexpr Index kBatches[] = {1, 32, 128, 512};

void dense_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"in", "out", "batch"});
  for (const auto& shape : kDenseShapes)
    for (Index batch : kBatches) b->Args({shape[0], shape[1], batch});
}

// A Dense layer and its input. The input is a parameter, so the tape reads it
// in place (no copy per iteration) and the backward computes dX as well as dW
// and db: the three products of a hidden layer.
template <class Act>
struct DenseSetup {
  latent::Rng rng{1};
  latent::Dense<float, Act> layer;
  latent::Parameter<float> input;
  latent::Tape<float> tape;

  DenseSetup(Index in, Index out, Index batch) : layer(in, out, rng), input(uniform(in, batch, rng)) {}

  latent::Var<float> forward() {
    tape.reset();
    return layer(tape.leaf(input));
  }
};

template <class Act>
void BM_DenseForward(benchmark::State& state) {
  const Index in = state.range(0), out = state.range(1), batch = state.range(2);
  DenseSetup<Act> s(in, out, batch);
  WallRates rates(state, affine_flops(in, out, batch), static_cast<double>(batch));
  for (auto _ : state) benchmark::DoNotOptimize(s.forward().value().data());
}

template <class Act>
void BM_DenseForwardBackward(benchmark::State& state) {
  const Index in = state.range(0), out = state.range(1), batch = state.range(2);
  DenseSetup<Act> s(in, out, batch);
  WallRates rates(state, 3 * affine_flops(in, out, batch), static_cast<double>(batch));
  for (auto _ : state) {
    s.tape.backward(latent::sum(s.forward()));
    benchmark::DoNotOptimize(s.input.grad.data());
  }
}

// The products Dense performs, in plain Eigen (with Eigen's own threading):
// Y = W X; and dW += dY X^T, dX += W^T dY (gradients accumulate, as on the tape).
struct SgemmSetup {
  latent_bench::EigenThreads eigen_threads;
  latent::Rng rng{1};
  Matrix w, x, y, dy, dw, dx;
  SgemmSetup(Index in, Index out, Index batch)
      : w(uniform(out, in, rng)), x(uniform(in, batch, rng)), y(out, batch), dy(Matrix::Ones(out, batch)),
        dw(Matrix::Zero(out, in)), dx(Matrix::Zero(in, batch)) {}
};

void BM_SgemmForward(benchmark::State& state) {
  const Index in = state.range(0), out = state.range(1), batch = state.range(2);
  SgemmSetup s(in, out, batch);
  WallRates rates(state, affine_flops(in, out, batch), static_cast<double>(batch));
  for (auto _ : state) {
    s.y.noalias() = s.w * s.x;
    benchmark::DoNotOptimize(s.y.data());
  }
}

void BM_SgemmForwardBackward(benchmark::State& state) {
  const Index in = state.range(0), out = state.range(1), batch = state.range(2);
  SgemmSetup s(in, out, batch);
  WallRates rates(state, 3 * affine_flops(in, out, batch), static_cast<double>(batch));
  for (auto _ : state) {
    s.y.noalias() = s.w * s.x;
    s.dw.noalias() += s.dy * s.x.transpose();
    s.dx.noalias() += s.w.transpose() * s.dy;
    benchmark::DoNotOptimize(s.y.data());
    benchmark::DoNotOptimize(s.dw.data());
    benchmark::DoNotOptimize(s.dx.data());
  }
}

BENCHMARK_TEMPLATE(BM_DenseForward, latent::Identity)->Name("BM_AffineForward")->Apply(dense_shapes);
BENCHMARK(BM_SgemmForward)->Apply(dense_shapes);
BENCHMARK_TEMPLATE(BM_DenseForwardBackward, latent::Identity)->Name("BM_AffineForwardBackward")->Apply(dense_shapes);
BENCHMARK(BM_SgemmForwardBackward)->Apply(dense_shapes);

// Dense fused with each activation, at the VAE's first layer.
#define LATENT_BENCH_DENSE_ACTIVATION(Act)                                                       \
  BENCHMARK_TEMPLATE(BM_DenseForward, latent::Act)                                               \
      ->Name("BM_DenseForward<" #Act ">")                                                        \
      ->ArgNames({"in", "out", "batch"})                                                         \
      ->Args({784, 400, 128});                                                                   \
  BENCHMARK_TEMPLATE(BM_DenseForwardBackward, latent::Act)                                       \
      ->Name("BM_DenseForwardBackward<" #Act ">")                                                \
      ->ArgNames({"in", "out", "batch"})                                                         \
      ->Args({784, 400, 128})

LATENT_BENCH_DENSE_ACTIVATION(ReLU);
LATENT_BENCH_DENSE_ACTIVATION(LeakyReLU);
LATENT_BENCH_DENSE_ACTIVATION(Sigmoid);
LATENT_BENCH_DENSE_ACTIVATION(Tanh);
LATENT_BENCH_DENSE_ACTIVATION(Softplus);

// Each activation as an op of its own (features x batch), forward and forward+backward.
template <class Act>
void BM_Activation(benchmark::State& state) {
  const Index features = state.range(0), batch = state.range(1);
  const bool backward = state.range(2) != 0;
  latent::Rng rng(1);
  latent::Parameter<float> x(uniform(features, batch, rng, -3, 3));
  latent::Tape<float> tape;
  WallRates rates(state, 0, static_cast<double>(batch));
  for (auto _ : state) {
    tape.reset();
    latent::Var<float> y = latent::activate(Act{}, tape.leaf(x));
    if (backward) tape.backward(latent::sum(y));
    benchmark::DoNotOptimize(y.value().data());
  }
}

#define LATENT_BENCH_ACTIVATION(Act)                                                              \
  BENCHMARK_TEMPLATE(BM_Activation, latent::Act)                                                  \
      ->Name("BM_Activation<" #Act ">")                                                           \
      ->ArgNames({"features", "batch", "backward"})                                               \
      ->ArgsProduct({{400, 784}, {128}, {0, 1}})

LATENT_BENCH_ACTIVATION(ReLU);
LATENT_BENCH_ACTIVATION(LeakyReLU);
LATENT_BENCH_ACTIVATION(Sigmoid);
LATENT_BENCH_ACTIVATION(Tanh);
LATENT_BENCH_ACTIVATION(Softplus);

// A constant node holding `source`: written on the first call only, since the
// tape keeps each slot's buffer across reset() and records the same nodes in
// the same order every iteration. Keeps an input copy out of a kernel's time.
latent::Var<float> reused_constant(latent::Tape<float>& tape, const Matrix& source, bool& written) {
  latent::Var<float> v = tape.constant(source.rows(), source.cols());
  if (!written) tape.value_of(v) = source;
  written = true;
  return v;
}

// The Bernoulli reconstruction term: 784 x batch logits against pixel targets.
void BM_BceWithLogits(benchmark::State& state) {
  const Index features = state.range(0), batch = state.range(1);
  const bool backward = state.range(2) != 0;
  latent::Rng rng(1);
  latent::Parameter<float> logits(uniform(features, batch, rng, -4, 4));
  const Matrix targets = uniform(features, batch, rng, 0, 1);
  latent::Tape<float> tape;
  bool written = false;
  WallRates rates(state, 0, static_cast<double>(batch));
  for (auto _ : state) {
    tape.reset();
    latent::Var<float> loss = latent::bce_with_logits(tape.leaf(logits), reused_constant(tape, targets, written));
    if (backward) tape.backward(loss);
    benchmark::DoNotOptimize(loss.value().data());
  }
}
BENCHMARK(BM_BceWithLogits)->ArgNames({"features", "batch", "backward"})->ArgsProduct({{784}, {32, 128, 512}, {0, 1}});

// The KL term of the ELBO: latent x batch mu and logvar.
void BM_KlStandardNormal(benchmark::State& state) {
  const Index latent_size = state.range(0), batch = state.range(1);
  const bool backward = state.range(2) != 0;
  latent::Rng rng(1);
  latent::Parameter<float> mu(uniform(latent_size, batch, rng)), logvar(uniform(latent_size, batch, rng));
  latent::Tape<float> tape;
  WallRates rates(state, 0, static_cast<double>(batch));
  for (auto _ : state) {
    tape.reset();
    latent::Var<float> kl = latent::kl_standard_normal(tape.leaf(mu), tape.leaf(logvar));
    if (backward) tape.backward(kl);
    benchmark::DoNotOptimize(kl.value().data());
  }
}
BENCHMARK(BM_KlStandardNormal)->ArgNames({"latent", "batch", "backward"})->ArgsProduct({{20}, {32, 128, 512}, {0, 1}});

// The Adam update of 1M parameters (1000 x 1000). With subnormal_percent > 0,
// that share of the entries is in the state Adam's moments reach for weights
// whose gradient has been zero for a while (the weights of MNIST's blank
// border pixels): m and v subnormal, g zero. They stay subnormal for
// thousands of updates (v decays by beta2 = 0.999 a step), longer than a run.
// With ftz, the update runs under the trainers' ScopedFlushDenormals.
void BM_AdamStep(benchmark::State& state) {
  const bool ftz = state.range(0) != 0;
  const Index subnormal_percent = state.range(1);
  const Index side = 1000;
  latent::Rng rng(1);
  latent::Parameter<float> weight(uniform(side, side, rng, -0.05, 0.05));
  weight.grad = uniform(side, side, rng, -1e-3, 1e-3);
  const latent::ParameterList<float> params{&weight};
  latent::Adam<float> adam(1e-3f);
  adam.step(params);  // binds the moments
  auto state_tensors = adam.state_tensors();
  Matrix& m = *state_tensors[0].tensor;
  Matrix& v = *state_tensors[1].tensor;
  const Index inactive = side * side * subnormal_percent / 100;
  for (Index i = 0; i < inactive; ++i) {
    weight.grad.data()[i] = 0.0f;
    m.data()[i] = 3e-39f;
    v.data()[i] = 5e-39f;
  }
  std::optional<latent::ScopedFlushDenormals> flush;
  if (ftz) flush.emplace();
  WallRates rates(state, 0, static_cast<double>(side * side));
  for (auto _ : state) {
    adam.step(params);
    benchmark::DoNotOptimize(weight.value.data());
  }
}
BENCHMARK(BM_AdamStep)->ArgNames({"ftz", "subnormal_percent"})->ArgsProduct({{0, 1}, {0, 100}})->Unit(benchmark::kMicrosecond);

// Eigen's square SGEMM (with Eigen's own threading): the throughput the
// training steps are compared to.
void BM_SgemmSquare(benchmark::State& state) {
  const latent_bench::EigenThreads eigen_threads;
  const Index n = state.range(0);
  latent::Rng rng(1);
  const Matrix a = uniform(n, n, rng), b = uniform(n, n, rng);
  Matrix c(n, n);
  WallRates rates(state, affine_flops(n, n, n), 0);
  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
  }
}
BENCHMARK(BM_SgemmSquare)->Arg(2048)->Unit(benchmark::kMillisecond);

}  // namespace
