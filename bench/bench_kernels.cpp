// bench/bench_kernels.cpp: the kernels under a training step, in float, each
// beside what it should be measured against: Dense/affine forward and
// forward+backward at the shapes of the example models next to the plain
// Eigen SGEMMs they perform; each activation alone and fused into Dense; the
// VAE's losses; a batch's images and noise; the Adam update with and without
// flushing subnormals; Eigen's 2048^3 SGEMM; and the core's FMA peak, the
// ceiling every throughput here is a share of (and all cores' at once).
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

// A training batch of shuffled images converted to floats (the step
// benchmarks' images: MNIST when it is there), one batch after another
// through epochs, as a trainer reads them: each image a cache miss away.
void BM_FillBatch(benchmark::State& state) {
  const latent::data::Dataset& images = latent_bench::training_images();
  const Index batch_size = state.range(0);
  latent::data::BatchSampler sampler(images.size(), batch_size, latent::data::Shuffle{1}, latent::data::LastBatch::drop);
  Matrix batch(images.features(), batch_size);
  WallRates rates(state, 0, static_cast<double>(batch_size));
  std::uint64_t epoch = 0;
  latent::data::BatchSampler::Epoch batches = sampler.epoch(epoch);
  Index next = 0;
  for (auto _ : state) {
    if (next == batches.size()) {
      batches = sampler.epoch(++epoch);  // timed too, as in a trainer: once in 468 batches
      next = 0;
    }
    images.fill_batch(batch, batches[next++]);
    benchmark::DoNotOptimize(batch.data());
  }
}
BENCHMARK(BM_FillBatch)->ArgName("batch")->Arg(128)->Unit(benchmark::kMicrosecond);

// A batch's noise: the MLP GAN's z (100 x batch) and the VAE's eps (20 x
// batch) of standard normals, in float, as the trainers draw them.
void BM_FillNormal(benchmark::State& state) {
  const Index rows = state.range(0), batch = state.range(1);
  latent::Rng rng(1);
  Matrix noise(rows, batch);
  WallRates rates(state, 0, static_cast<double>(batch));
  for (auto _ : state) {
    rng.fill_normal(noise);
    benchmark::DoNotOptimize(noise.data());
  }
}
BENCHMARK(BM_FillNormal)->ArgNames({"rows", "batch"})->ArgsProduct({{100, 20}, {128}})->Unit(benchmark::kMicrosecond);

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

// The core's own ceiling: fused multiply-adds of the widest vectors the
// build targets, on independent accumulators that stay in registers, so
// nothing but the FMA units limits the rate. The loop is written in
// assembly because compilers keep a dozen vector accumulators in memory
// when they are an array (GCC 12 spilled them and ran at a third of the
// peak). Enough accumulators cover the FMA latency on two FMA pipes (4
// cycles x 2 pipes needs 8; 12 of 16 ymm, 24 of 32 zmm or NEON registers).
// Builds without FMA vectors (no -march) run a portable loop and say so in
// the label: its rate is not this CPU's peak.
struct FmaKernel {
  const char* name;
  double flops_per_round;
  void (*run)(long rounds);
};

// One FMA instruction per accumulator register, 0..11 or 0..23.
#define LATENT_FMA_12(fma) fma(0) fma(1) fma(2) fma(3) fma(4) fma(5) fma(6) fma(7) fma(8) fma(9) fma(10) fma(11)
#define LATENT_FMA_24(fma) \
  LATENT_FMA_12(fma) fma(12) fma(13) fma(14) fma(15) fma(16) fma(17) fma(18) fma(19) fma(20) fma(21) fma(22) fma(23)

#if defined(__AVX512F__)
#define LATENT_FMA_ACCUMULATE(reg) "vfmadd231ps %%zmm24, %%zmm25, %%zmm" #reg "\n\t"
void fma_rounds(long rounds) {
  static const float one = 1.0f, tiny = 1e-9f;
  __asm__ __volatile__(
      "vbroadcastss %[one], %%zmm24\n\t"
      "vbroadcastss %[tiny], %%zmm25\n\t"
      "1:\n\t" LATENT_FMA_24(LATENT_FMA_ACCUMULATE)
      "dec %[rounds]\n\t"
      "jnz 1b\n\t"
      : [rounds] "+r"(rounds)
      : [one] "m"(one), [tiny] "m"(tiny)
      : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
        "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24",
        "xmm25");
}
constexpr FmaKernel kFma{"avx512: 24 zmm accumulators", 24 * 16 * 2, fma_rounds};
#elif defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)
#define LATENT_FMA_ACCUMULATE(reg) "vfmadd231ps %%ymm12, %%ymm13, %%ymm" #reg "\n\t"
void fma_rounds(long rounds) {
  static const float one = 1.0f, tiny = 1e-9f;
  __asm__ __volatile__(
      "vbroadcastss %[one], %%ymm12\n\t"
      "vbroadcastss %[tiny], %%ymm13\n\t"
      "1:\n\t" LATENT_FMA_12(LATENT_FMA_ACCUMULATE)
      "dec %[rounds]\n\t"
      "jnz 1b\n\t"
      "vzeroupper\n\t"
      : [rounds] "+r"(rounds)
      : [one] "m"(one), [tiny] "m"(tiny)
      : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
        "xmm13");
}
constexpr FmaKernel kFma{"avx2: 12 ymm accumulators", 12 * 8 * 2, fma_rounds};
#elif defined(__aarch64__)
#define LATENT_FMA_ACCUMULATE(reg) "fmla v" #reg ".4s, v24.4s, v25.4s\n\t"
void fma_rounds(long rounds) {
  __asm__ __volatile__(
      "dup v24.4s, %w[one]\n\t"
      "dup v25.4s, %w[tiny]\n\t"
      "1:\n\t" LATENT_FMA_24(LATENT_FMA_ACCUMULATE)
      "subs %[rounds], %[rounds], #1\n\t"
      "b.ne 1b\n\t"
      : [rounds] "+r"(rounds)
      : [one] "r"(0x3f800000), [tiny] "r"(0x3089705f)
      : "cc", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15",
        "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25");
}
constexpr FmaKernel kFma{"neon: 24 q accumulators", 24 * 4 * 2, fma_rounds};
#else
void fma_rounds(long rounds) {
  float acc[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  for (long r = 0; r < rounds; ++r)
    for (float& a : acc) a = a * 1.0f + 1e-9f;
  benchmark::DoNotOptimize(acc);
}
constexpr FmaKernel kFma{"portable loop, built without FMA vectors (configure with -march): not this CPU's peak", 8 * 2,
                         fma_rounds};
#endif
#undef LATENT_FMA_ACCUMULATE
#undef LATENT_FMA_24
#undef LATENT_FMA_12

void BM_FmaPeak(benchmark::State& state) {
  constexpr long kRounds = 1L << 16;
  WallRates rates(state, kFma.flops_per_round * kRounds, 0);
  for (auto _ : state) kFma.run(kRounds);
  state.SetLabel(kFma.name);
}
BENCHMARK(BM_FmaPeak)->Unit(benchmark::kMicrosecond);
// The same loop on every core at once, their rates summed: what the machine
// gives a multithreaded step right now. On a shared machine this falls below
// the cores times BM_FmaPeak when a neighbour takes a core: a quick probe of
// whether the moment suits a multithreaded figure (bench/threads.sh makes
// the same check for a whole step with one-thread copies of it).
BENCHMARK(BM_FmaPeak)->Name("BM_FmaPeakAllCores")->ThreadPerCpu()->Unit(benchmark::kMicrosecond);

}  // namespace
