// Counts heap allocations in steady-state training steps: a 3-layer MLP, a
// stack of convolutions with BatchNorm, and a DCGAN-shaped GAN's trainer step.
// A binary of its own: it replaces the global operator new (latent's own
// containers), routes Eigen's heap checks to a counter (Eigen's matrices
// and its product kernels' workspace, which bypass operator new) and, with
// glibc and no AddressSanitizer (which owns malloc), replaces malloc and its
// kin too, which also counts what the library under latent's products (a
// BLAS, LATENT_GEMM) allocates.
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

namespace {
std::atomic<long> new_calls{0};
std::atomic<long> eigen_heap_calls{0};
std::atomic<long> c_heap_calls{0};

void on_eigen_assert(bool ok, const char* what) {
  if (ok) return;
  if (std::strstr(what, "heap allocation is forbidden")) {
    ++eigen_heap_calls;
    return;
  }
  std::fprintf(stderr, "Eigen assertion failed: %s\n", what);
  std::abort();
}
}  // namespace

#define EIGEN_RUNTIME_NO_MALLOC
#define eigen_assert(x) on_eigen_assert(static_cast<bool>(x), #x)

#include <catch2/catch.hpp>
#include <latent/latent.hpp>

#include "../../examples/conv_models.hpp"
#include "training_helpers.hpp"

// The replacements pair malloc with free by design; GCC cannot see that
// through inlining into the standard allocators.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define LATENT_COUNTS_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LATENT_COUNTS_MALLOC 0
#endif
#endif
#if !defined(LATENT_COUNTS_MALLOC) && defined(__GLIBC__)
#define LATENT_COUNTS_MALLOC 1
#elif !defined(LATENT_COUNTS_MALLOC)
#define LATENT_COUNTS_MALLOC 0
#endif

#if LATENT_COUNTS_MALLOC
// glibc lets a program replace malloc; these count and hand on to glibc's own
// (free stays glibc's, which takes back what these return).
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);

void* malloc(std::size_t size) {
  ++c_heap_calls;
  return __libc_malloc(size);
}
void* calloc(std::size_t count, std::size_t size) {
  ++c_heap_calls;
  return __libc_calloc(count, size);
}
void* realloc(void* p, std::size_t size) {
  ++c_heap_calls;
  return __libc_realloc(p, size);
}
void* memalign(std::size_t alignment, std::size_t size) {
  ++c_heap_calls;
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(std::size_t alignment, std::size_t size) { return memalign(alignment, size); }
int posix_memalign(void** p, std::size_t alignment, std::size_t size) {
  *p = memalign(alignment, size);
  return *p ? 0 : ENOMEM;
}
}
#endif

// Every form that the replaced deletes may free comes from malloc (Catch2
// allocates with the nothrow form; AddressSanitizer checks the pairing).
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  ++new_calls;
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new(std::size_t size) {
  if (void* p = operator new(size, std::nothrow)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept { return operator new(size, tag); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace {

struct Counts {
  long new_calls, eigen_heap_calls, c_heap_calls;
};

// Allocations per call of step() over `steps` calls, after two that set the shapes.
template <class Step>
Counts per_step_allocations(const Step& step, int steps) {
  step();
  step();
  const long new_before = new_calls.load();
  const long eigen_before = eigen_heap_calls.load();
  const long c_before = c_heap_calls.load();
  Eigen::internal::set_is_malloc_allowed(false);
  for (int i = 0; i < steps; ++i) step();
  Eigen::internal::set_is_malloc_allowed(true);
  return {(new_calls.load() - new_before) / steps, (eigen_heap_calls.load() - eigen_before) / steps,
          (c_heap_calls.load() - c_before) / steps};
}

void require_none(const Counts& counts) {
  INFO("products on " << latent::gemm_library() << "; per step: operator new " << counts.new_calls << ", Eigen heap "
                      << counts.eigen_heap_calls << ", malloc and kin " << counts.c_heap_calls
                      << (LATENT_COUNTS_MALLOC ? "" : " (not counted in this build)"));
  REQUIRE(counts.new_calls == 0);
  REQUIRE(counts.eigen_heap_calls == 0);
#if defined(LATENT_GEMM_ONEDNN)
  // oneDNN's sgemm allocates its packing buffers in every call (README says so).
  WARN("malloc and kin per step, in oneDNN: " << counts.c_heap_calls);
#else
  REQUIRE(counts.c_heap_calls == 0);
#endif
}

// Allocations per step of a network trained with Adam on a BCE loss.
template <class Net>
Counts per_step_allocations(Net& net, latent::Index batch, int steps) {
  latent::Rng rng(1);
  latent::Adam<float> adam;
  const auto params = net.parameters();
  latent::Matrix<float> inputs(net.in_features(), batch), targets(net.out_features(), batch);
  rng.fill_uniform(inputs);
  rng.fill_uniform(targets);
  latent::Tape<float> tape;
  return per_step_allocations(
      [&] {
        tape.reset();
        auto loss = latent::bce_with_logits(net(tape.constant(inputs)), tape.constant(targets));
        tape.backward(loss);
        adam.step(params);
        latent::zero_grad(params);
      },
      steps);
}

// The same for an MLP with these sizes.
Counts per_step_allocations(const std::vector<latent::Index>& sizes, latent::Index batch, int steps) {
  latent::Rng rng(1);
  latent::Mlp<float, latent::ReLU, latent::Identity> net(sizes, rng);
  return per_step_allocations(net, batch, steps);
}

}  // namespace

TEST_CASE("a steady-state step of a small 3-layer MLP allocates nothing", "[allocations]") {
  require_none(per_step_allocations({64, 48, 32, 10}, 32, 10));
}

TEST_CASE("a steady-state step of an MNIST-sized 3-layer MLP allocates nothing", "[allocations]") {
  // Products large enough that Eigen's GEMM packs its blocks on the heap: the
  // tape keeps that workspace between steps.
  require_none(per_step_allocations({784, 400, 400, 10}, 128, 5));
}

TEST_CASE("a steady-state step of convolutions with BatchNorm allocates nothing", "[allocations][conv]") {
  using latent::Kernel;
  latent::Rng rng(2);
  latent::Sequential<latent::Conv2d<float, latent::LeakyReLU>, latent::Conv2d<float>, latent::BatchNorm<float, latent::ReLU>,
                     latent::ConvTranspose2d<float>, latent::BatchNorm<float, latent::Tanh>, latent::Flatten<float>, latent::Dense<float>>
      net(latent::Conv2d<float, latent::LeakyReLU>({1, 28, 28}, 16, Kernel(4).stride(2).padding(1), rng),
          latent::Conv2d<float>({16, 14, 14}, 32, Kernel(4).stride(2).padding(1).bias(false), rng),
          latent::BatchNorm<float, latent::ReLU>(latent::ImageShape{32, 7, 7}),
          latent::ConvTranspose2d<float>({32, 7, 7}, 8, Kernel(3).stride(2).padding(1).output_padding(1), rng),
          latent::BatchNorm<float, latent::Tanh>(latent::ImageShape{8, 14, 14}), latent::Flatten<float>({8, 14, 14}),
          latent::Dense<float>(8 * 14 * 14, 10, rng));
  require_none(per_step_allocations(net, 32, 5));
}

TEST_CASE("a steady-state DCGAN step of GanTrainer allocates nothing", "[allocations][conv]") {
  // The DCGAN of gan_mnist --arch dcgan at a quarter of its channels, batch 16,
  // on its recipe (each real target drawn from U(0.8, 1) every step).
  using Model = example::Dcgan::Model;
  latent::Rng rng(3);
  Model gan = example::Dcgan::make(rng, 100, 16);
  const latent::data::Dataset images = test::random_images(64, 28, 4);
  std::vector<latent::Index> order(16);
  for (latent::Index i = 0; i < 16; ++i) order[static_cast<std::size_t>(i)] = i;
  latent::GanTrainer<Model>::Options options;
  options.real_label_spread = 0.2;
  latent::GanTrainer<Model> trainer(gan, latent::GanTrainer<Model>::default_adam(), latent::GanTrainer<Model>::default_adam(), options);
  latent::RunningMeans means;
  require_none(per_step_allocations([&] { trainer.train_batch(images, latent::data::Batch(order.data(), 16), means); }, 3));
}

namespace {

// Allocations per step over `steps` steady-state steps of a trainer (its
// train_batch on one batch of `data`, as fit runs it).
template <class Trainer>
Counts per_step_allocations(Trainer& trainer, const latent::data::Dataset& data, latent::Index batch_size, int steps) {
  latent::data::BatchSampler sampler(data.size(), batch_size);
  const auto epoch = sampler.epoch(0);
  const latent::data::Batch batch = epoch[0];
  latent::RunningMeans means;
  return per_step_allocations([&] { trainer.train_batch(data, batch, means); }, steps);
}

// 64 labelled 8x8 images of noise, 4 classes.
latent::data::Dataset noise_images() {
  latent::Rng rng(2);
  std::vector<std::uint8_t> pixels(64 * 64), labels(64);
  for (auto& p : pixels) p = static_cast<std::uint8_t>(rng.below(256));
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::uint8_t>(i % 4);
  return latent::data::Dataset(std::move(pixels), std::move(labels), 8, 8);
}

}  // namespace

TEST_CASE("a steady-state step of every trainer allocates nothing: conditional VAE, conditional WGAN-GP, VAE-GAN",
          "[allocations]") {
  const latent::data::Dataset data = noise_images();
  latent::Rng rng(3);
  SECTION("conditional VAE") {
    using Encoder = latent::GaussianEncoder<latent::Mlp<float, latent::ReLU, latent::ReLU>>;
    using Decoder = latent::Decoder<latent::Mlp<float, latent::ReLU, latent::Identity>>;
    latent::Vae<Encoder, Decoder> vae(Encoder({68, 32}, 4, rng), Decoder({8, 32, 64}, rng), {}, {}, latent::Conditioning{4});
    latent::VaeTrainer<decltype(vae)> trainer(vae);
    require_none(per_step_allocations(trainer, data, 16, 5));
  }
  SECTION("conditional WGAN-GP with fresh critic batches") {
    using Generator = latent::Generator<latent::Mlp<float, latent::LeakyReLU, latent::Identity>>;
    using Critic = latent::Discriminator<latent::Mlp<float, latent::LeakyReLU, latent::Identity>>;
    latent::Gan<Generator, Critic, latent::WassersteinGp> gan(Generator({12, 32, 64}, rng), Critic({68, 32, 1}, rng), {}, {},
                                                              latent::Conditioning{4});
    using Trainer = latent::GanTrainer<decltype(gan)>;
    Trainer::Options options;
    options.n_critic = 3;
    options.fresh_critic_batches = true;
    Trainer trainer(gan, Trainer::default_adam(), Trainer::default_adam(), options);
    require_none(per_step_allocations(trainer, data, 16, 5));
  }
  SECTION("VAE-GAN") {
    using Encoder = latent::GaussianEncoder<latent::Mlp<float, latent::LeakyReLU, latent::LeakyReLU>>;
    using Decoder = latent::Decoder<latent::Mlp<float, latent::LeakyReLU, latent::Tanh>>;
    using Critic = latent::FeatureDiscriminator<latent::Mlp<float, latent::LeakyReLU, latent::LeakyReLU>>;
    latent::VaeGan<Encoder, Decoder, Critic> model(Encoder({64, 32}, 4, rng), Decoder({4, 32, 64}, rng), Critic({64, 32, 16}, rng));
    latent::VaeGanTrainer<decltype(model)> trainer(model);
    require_none(per_step_allocations(trainer, data, 16, 5));
  }
}
