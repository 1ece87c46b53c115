// bench/bench_steps.cpp: whole training steps, run by the trainers exactly as
// fit() runs them (ScopedFlushDenormals held, a batch converted from the
// dataset's bytes each step, losses read back):
//   BM_VaeTrainStep/<batch>  the 784-400-20 VAE: forward, negative ELBO,
//                            backward, Adam
//   BM_GanTrainStep/<batch>  the default MLP GAN: one discriminator step on
//                            real + fake, one non-saturating generator step,
//                            both Adam
//   BM_ConvVaeTrainStep/<batch>  the convolutional VAE (vae_mnist --arch conv)
//   BM_DcganTrainStep/<batch>    the DCGAN (gan_mnist --arch dcgan)
//   BM_VaeStepGemms/<batch>, BM_GanStepGemms/<batch>  the products of the two
//                            MLP steps alone: what the GEMM allows the step
// FLOP/s counts the products each step performs (see bench_common.hpp).
#include <latent/train/vae_trainer.hpp>

#include "bench_common.hpp"

#if LATENT_BENCH_HAS_GAN
#include <latent/train/gan_trainer.hpp>
#endif

namespace {

using latent::Index;
using latent_bench::AffineUse;
using latent_bench::WallRates;

// Runs trainer.train_batch on batches of state.range(0) images, endlessly.
template <class Trainer>
void run_steps(benchmark::State& state, Trainer& trainer, double flops_per_step) {
  const Index batch = state.range(0);
  const latent::data::Dataset& images = latent_bench::training_images();
  latent_bench::EndlessBatches batches(images.size(), batch);
  latent::RunningMeans means;
  const latent::ScopedFlushDenormals flush;
  WallRates rates(state, flops_per_step, static_cast<double>(batch));
  for (auto _ : state) benchmark::DoNotOptimize(trainer.train_batch(images, batches.next(), means));
}

void BM_VaeTrainStep(benchmark::State& state) {
  using latent_bench::VaeModel;
  latent::Rng rng(1);
  VaeModel::Model vae = VaeModel::make(rng);
  latent::VaeTrainer<VaeModel::Model> trainer(vae, latent::Adam<float>(1e-3f));
  run_steps(state, trainer, VaeModel::flops(state.range(0)));
}
BENCHMARK(BM_VaeTrainStep)->Arg(128)->Arg(32)->Arg(512)->Unit(benchmark::kMillisecond);

void BM_ConvVaeTrainStep(benchmark::State& state) {
  using latent_bench::ConvVaeModel;
  latent::Rng rng(1);
  ConvVaeModel::Model vae = ConvVaeModel::make(rng);
  latent::VaeTrainer<ConvVaeModel::Model> trainer(vae, latent::Adam<float>(1e-3f));
  run_steps(state, trainer, ConvVaeModel::flops(state.range(0)));
}
BENCHMARK(BM_ConvVaeTrainStep)->Arg(128)->Unit(benchmark::kMillisecond);

#if LATENT_BENCH_HAS_GAN
void BM_GanTrainStep(benchmark::State& state) {
  using latent_bench::GanModel;
  latent::Rng rng(1);
  GanModel::Model gan = GanModel::make(rng);
  latent::GanTrainer<GanModel::Model> trainer(gan);
  run_steps(state, trainer, GanModel::flops(state.range(0)));
}
BENCHMARK(BM_GanTrainStep)->Arg(128)->Arg(32)->Arg(512)->Unit(benchmark::kMillisecond);

void BM_DcganTrainStep(benchmark::State& state) {
  using latent_bench::DcganModel;
  latent::Rng rng(1);
  DcganModel::Model gan = DcganModel::make(rng);
  latent::GanTrainer<DcganModel::Model> trainer(gan);
  run_steps(state, trainer, DcganModel::flops(state.range(0)));
}
BENCHMARK(BM_DcganTrainStep)->Arg(64)->Unit(benchmark::kMillisecond);
#endif

// Every product of a step, and nothing else: each affine map's forward,
// weight and input gradients (AffineProducts) as often as the step runs
// them, the forwards first, then the gradients from the last map back. Its
// rate is what the step would reach with these kernels at these shapes if
// nothing else took time, and the step's rate over it is about the share of
// the step the products take. It is not the step's memory traffic: a map
// reads one set of operands however often it runs (the GAN's discriminator
// sees a real and a fake batch), and no optimizer writes W in between. With
// two threads a step also runs a layer's two gradients side by side, one
// product a thread, where each is split here. Dense maps only (conv_use's
// shapes are not a convolution's).
class StepGemms {
 public:
  StepGemms(const std::vector<AffineUse>& maps, Index batch) {
    latent::Rng rng(1);
    for (const AffineUse& u : maps) maps_.push_back({u, latent_bench::AffineProducts(u.in, u.out, batch, rng)});
  }

  void run() {
    for (Map& m : maps_)
      for (int i = 0; i < m.use.forwards; ++i) m.products.forward();
    for (auto m = maps_.rbegin(); m != maps_.rend(); ++m) {
      for (int i = 0; i < m->use.weight_grads; ++i) m->products.weight_grad();
      for (int i = 0; i < m->use.input_grads; ++i) m->products.input_grad();
    }
    for (Map& m : maps_) m.products.keep_results();
  }

 private:
  struct Map {
    AffineUse use;
    latent_bench::AffineProducts products;
  };
  std::vector<Map> maps_;
};

template <class Model>
void BM_StepGemms(benchmark::State& state) {
  const Index batch = state.range(0);
  StepGemms products(Model::affine_maps(), batch);
  WallRates rates(state, Model::flops(batch), static_cast<double>(batch));
  for (auto _ : state) products.run();
}
BENCHMARK_TEMPLATE(BM_StepGemms, latent_bench::VaeModel)
    ->Name("BM_VaeStepGemms")
    ->Arg(128)
    ->Unit(benchmark::kMillisecond);
#if LATENT_BENCH_HAS_GAN
BENCHMARK_TEMPLATE(BM_StepGemms, latent_bench::GanModel)
    ->Name("BM_GanStepGemms")
    ->Arg(128)
    ->Unit(benchmark::kMillisecond);
#endif

}  // namespace
