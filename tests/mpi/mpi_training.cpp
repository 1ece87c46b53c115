// Data-parallel training over MPI, in processes; ctest starts it through
// mpiexec on 2 ranks (tests/CMakeLists.txt):
//   latent_mpi_training vae | gan   the real MNIST models (784-400-20 VAE; the
//                                   MLP GAN) on random images, global batch 128 then
//                                   127 (uneven slices): after every step each
//                                   parameter tensor is within 1e-5 (relative) of
//                                   what one process computes at the same batch
//                                   (every rank also trains that reference), and the
//                                   ranks' parameters are equal bit for bit
//   latent_mpi_training resume DIR  a run checkpointed after epoch 2 and resumed
//                                   (rank 1 never sees the file) continues bit for
//                                   bit like one that never stopped
//   latent_mpi_training fail        rank 1 fails after epoch 1, while rank 0 goes on
//                                   into the next step's sums: the job must end with
//                                   a message naming rank 1 (tests/mpi/expect_failure.sh)
// Prints "ok: ..." on rank 0 and exits 0; a failed check prints "FAILED" with
// the rank and stops every rank (MPI_Abort).
#include <latent/distributed/mpi.hpp>
#include <latent/latent.hpp>
#include <latent/models/gan.hpp>
#include <latent/train/gan_trainer.hpp>

#include "training_helpers.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace {

using latent::Index;
using latent::Matrix;

using Encoder = latent::GaussianEncoder<latent::Mlp<float, latent::ReLU, latent::ReLU>>;
using Decoder = latent::Decoder<latent::Mlp<float, latent::ReLU, latent::Identity>>;
using Vae = latent::Vae<Encoder, Decoder, latent::Bernoulli>;
using VaeTrainer = latent::VaeTrainer<Vae>;

using Generator = latent::Generator<latent::Mlp<float, latent::LeakyReLU, latent::Identity, latent::FanInUniform>>;
using Discriminator = latent::Discriminator<latent::Mlp<float, latent::LeakyReLU, latent::Identity, latent::FanInUniform>>;
using Gan = latent::Gan<Generator, Discriminator, latent::NonSaturatingBce>;
using GanTrainer = latent::GanTrainer<Gan>;

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void require(bool condition, const std::string& what) {
  if (!condition) throw Failure(what);
}

latent::data::Dataset random_images(Index n, std::uint64_t seed) { return test::random_images(n, 28, seed); }

Vae make_vae(std::uint64_t seed) {
  latent::Rng rng(seed);
  Encoder encoder({784, 400}, 20, rng);
  Decoder decoder({20, 400, 784}, rng);
  return Vae(std::move(encoder), std::move(decoder));
}

Gan make_gan(std::uint64_t seed) {
  latent::Rng rng(seed);
  Generator generator({100, 256, 512, 784}, rng);
  Discriminator discriminator({784, 512, 256, 1}, rng);
  return Gan(std::move(generator), std::move(discriminator));
}

GanTrainer make_gan_trainer(Gan& gan) {
  GanTrainer::Options options;
  options.real_label = 0.9;
  return GanTrainer(gan, GanTrainer::default_adam(), GanTrainer::default_adam(), options);
}

using test::quiet_fit;
using test::snapshot;
using test::Snapshot;

/// A fingerprint of the parameters' bits (FNV-1a), to compare ranks.
std::string fingerprint(const Snapshot& values) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const auto& m : values) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(m.data());
    for (std::size_t i = 0; i < sizeof(float) * static_cast<std::size_t>(m.size()); ++i) hash = (hash ^ bytes[i]) * 0x100000001b3ULL;
  }
  return std::to_string(hash);
}

template <class Model, class MakeModel, class MakeTrainer>
void check_equivalence(latent::mpi::Communicator& world, const char* name, const MakeModel& make_model, const MakeTrainer& make_trainer) {
  constexpr int kSteps = 4;
  for (const Index batch : {Index(128), Index(127)}) {
    const auto data = random_images(batch, 1000 + static_cast<std::uint64_t>(batch));
    Model reference_model = make_model(7);
    auto reference = make_trainer(reference_model);
    const auto expected = test::train_steps(reference_model, reference, data, latent::data::Dataset(), kSteps);

    Model model = make_model(world.rank() == 0 ? 7 : 8);  // rank 0's weights are sent to all
    auto trainer = make_trainer(model);
    trainer.distribute(world);
    const auto got = test::train_steps(model, trainer, data, latent::data::Dataset(), kSteps);
    double worst = 0;
    for (int step = 0; step < kSteps; ++step) {
      for (std::size_t k = 0; k < expected[step].size(); ++k) {
        const double difference = static_cast<double>((got[step][k] - expected[step][k]).norm() / expected[step][k].norm());
        worst = std::max(worst, difference);
        require(difference <= 1e-5, std::string(name) + ", batch " + std::to_string(batch) + ": after step " + std::to_string(step + 1) +
                                        ", parameter " + std::to_string(k) + " differs from one process's by " +
                                        std::to_string(difference) + " (relative), more than 1e-5");
      }
      const auto prints = world.all_gather(fingerprint(got[step]));
      for (const auto& print : prints)
        require(print == prints[0], std::string(name) + ": after step " + std::to_string(step + 1) + " the ranks' parameters differ");
    }
    if (world.rank() == 0)
      std::printf("ok: %s, global batch %ld on %d ranks: %d steps within %.2g (relative) of one process, ranks bit for bit equal\n",
                  name, static_cast<long>(batch), world.size(), kSteps, worst);
  }
}

void check_resume(latent::mpi::Communicator& world, const std::string& folder) {
  const auto data = random_images(200, 2000);
  Gan straight = make_gan(11);
  GanTrainer straight_trainer = make_gan_trainer(straight);
  straight_trainer.distribute(world);
  straight_trainer.fit(data, latent::data::Dataset(), quiet_fit(3, 64));

  const std::string path = world.rank() == 0 ? folder + "/resume.ckpt" : "/nonexistent/rank1/resume.ckpt";
  {
    Gan first = make_gan(11);
    GanTrainer first_trainer = make_gan_trainer(first);
    first_trainer.distribute(world);
    first_trainer.fit(data, latent::data::Dataset(), quiet_fit(2, 64));
    first_trainer.save_checkpoint(path);
  }
  Gan resumed = make_gan(12);  // other weights: the checkpoint restores them all
  GanTrainer resumed_trainer = make_gan_trainer(resumed);
  resumed_trainer.distribute(world);
  resumed_trainer.load_checkpoint(path);
  require(resumed_trainer.epochs_done() == 2, "the resumed run does not start after epoch 2");
  resumed_trainer.fit(data, latent::data::Dataset(), quiet_fit(3, 64));
  const Snapshot a = snapshot(straight), b = snapshot(resumed);
  for (std::size_t k = 0; k < a.size(); ++k) require(a[k] == b[k], "the resumed run's parameter " + std::to_string(k) + " differs");
  if (world.rank() == 0) std::printf("ok: a 2-rank run resumed after epoch 2 continues bit for bit like one that never stopped\n");
}

void check_failure(latent::mpi::Communicator& world) {
  const auto data = random_images(256, 3000);
  Vae vae = make_vae(21);
  VaeTrainer trainer(vae);
  trainer.distribute(world);
  trainer.on_epoch_end([&](const latent::EpochRecord& record) {
    if (world.rank() == 1 && record.epoch == 1) throw latent::io_error("a failure on purpose, after epoch 1");
  });
  trainer.fit(data, latent::data::Dataset(), quiet_fit(1000, 64));
  throw Failure("rank " + std::to_string(world.rank()) + " trained to the end although rank 1 failed");
}

}  // namespace

int main(int argc, char** argv) {
  latent::mpi::Environment environment(argc, argv);
  latent::mpi::Communicator world;
  const std::string mode = argc > 1 ? argv[1] : "";
  try {
    if (world.size() < 2) throw Failure("needs 2 or more ranks (start with mpiexec -n 2), got " + std::to_string(world.size()));
    if (mode == "vae") {
      check_equivalence<Vae>(world, "VAE", make_vae, [](Vae& vae) { return VaeTrainer(vae); });
    } else if (mode == "gan") {
      check_equivalence<Gan>(world, "GAN", make_gan, make_gan_trainer);
    } else if (mode == "resume" && argc > 2) {
      check_resume(world, argv[2]);
    } else if (mode == "fail") {
      check_failure(world);
    } else {
      throw Failure("usage: latent_mpi_training vae | gan | resume FOLDER | fail");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: rank %d of %d: %s\n", dynamic_cast<const Failure*>(&e) ? "FAILED" : "latent_mpi_training",
                 world.rank(), world.size(), e.what());
    std::fflush(stderr);
    world.abort(1);
  }
  return 0;
}
