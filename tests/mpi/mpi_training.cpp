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
//   latent_mpi_training sums        Communicator's sums, reduce-scatters and gathers, through shared memory (the
//                                   default with every rank on one machine) and through
//                                   MPI (LATENT_MPI_SHARED_SUMS=0): floats and doubles,
//                                   empty to larger than the shared segments, many in
//                                   flight, waited for out of order, rounds enough to
//                                   wrap the segments' rings; exact sums, on every rank
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

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
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
      std::printf(
          "ok: %s, global batch %ld on %d ranks, sums through %s: %d steps within %.2g (relative) of one process, ranks bit for "
          "bit equal\n",
          name, static_cast<long>(batch), world.size(), world.shares_memory() ? "shared memory" : "MPI", kSteps, worst);
  }
}

/// Rank r's value i: (i % 1000 + 1) (r + 1), so that every sum is exact.
template <class S>
void fill_for_rank(std::vector<S>& values, int rank) {
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<S>((i % 1000 + 1) * static_cast<std::size_t>(rank + 1));
}

/// Values [begin, end) (all by default) are the sums of fill_for_rank's values over `ranks` ranks.
template <class S>
void require_sums(const std::vector<S>& values, int ranks, const std::string& what, std::size_t begin = 0,
                  std::size_t end = std::size_t(-1)) {
  const std::size_t factor = static_cast<std::size_t>(ranks * (ranks + 1) / 2);
  for (std::size_t i = begin; i < std::min(end, values.size()); ++i)
    require(values[i] == static_cast<S>((i % 1000 + 1) * factor),
            what + ": value " + std::to_string(i) + " of " + std::to_string(values.size()) + " is " + std::to_string(values[i]) +
                ", want " + std::to_string((i % 1000 + 1) * factor));
}

/// In a gather's values, the part rank q owns holds (i % 1000 + 1) (q + 1):
/// on rank q before the gather (the rest -1), on every rank after.
template <class S>
void fill_parts(std::vector<S>& values, const latent::Communicator& comm, bool own_part_only) {
  const auto count = static_cast<Index>(values.size());
  for (int q = 0; q < comm.size(); ++q)
    for (Index i = comm.part_begin(count, q); i < comm.part_begin(count, q + 1); ++i)
      values[static_cast<std::size_t>(i)] = !own_part_only || q == comm.rank() ? static_cast<S>((i % 1000 + 1) * (q + 1)) : S(-1);
}

void check_sums(latent::mpi::Communicator& comm, const std::string& path) {
  // Sizes from empty to over the shared segments (8 MiB a rank for 2 ranks).
  const std::vector<std::size_t> float_sizes = {0, 1, 3, 17, 1000, 65537, 327680, 3000000};
  const std::vector<std::size_t> double_sizes = {2, 4099, 200000};
  for (int round = 0; round < 6; ++round) {  // 6 rounds of about 12 MB a rank: the rings wrap
    std::vector<std::vector<float>> floats, scattered, gathered;
    std::vector<std::vector<double>> doubles;
    std::vector<latent::Communicator::Request> requests;
    for (std::size_t k = 0; k < float_sizes.size(); ++k) {
      floats.emplace_back(float_sizes[k]);
      fill_for_rank(floats.back(), comm.rank());
      scattered.emplace_back(float_sizes[k]);
      gathered.emplace_back(float_sizes[k]);
      fill_for_rank(scattered.back(), comm.rank());
      fill_parts(gathered.back(), comm, true);
      if (k < double_sizes.size()) {
        doubles.emplace_back(double_sizes[k]);
        fill_for_rank(doubles.back(), comm.rank());
      }
    }
    // All in flight at once, floats and doubles, sums, reduce-scatters and gathers interleaved, as a step's are.
    for (std::size_t k = 0; k < floats.size(); ++k) {
      requests.push_back(comm.start_sum(floats[k].data(), static_cast<Index>(floats[k].size())));
      if (k < doubles.size()) requests.push_back(comm.start_sum(doubles[k].data(), static_cast<Index>(doubles[k].size())));
      requests.push_back(comm.start_reduce_scatter(scattered[k].data(), static_cast<Index>(scattered[k].size())));
      requests.push_back(comm.start_all_gather(gathered[k].data(), static_cast<Index>(gathered[k].size())));
    }
    // Waited for newest first in even rounds, tested oldest first in odd ones.
    if (round % 2 == 0) {
      for (std::size_t k = requests.size(); k-- > 0;) comm.wait(requests[k]);
    } else {
      for (auto request : requests)
        while (!comm.test(request)) {
        }
    }
    const std::string what = path + ", round " + std::to_string(round + 1);
    for (const auto& values : floats) require_sums(values, comm.size(), what + ", floats");
    for (const auto& values : doubles) require_sums(values, comm.size(), what + ", doubles");
    for (const auto& values : scattered) {
      const auto count = static_cast<Index>(values.size());
      require_sums(values, comm.size(), what + ", a reduce-scatter's part", static_cast<std::size_t>(comm.part_begin(count, comm.rank())),
                   static_cast<std::size_t>(comm.part_begin(count, comm.rank() + 1)));
    }
    for (const auto& values : gathered) {
      std::vector<float> expected(values.size());
      fill_parts(expected, comm, false);
      require(values == expected, what + ": a gather of " + std::to_string(values.size()) + " values differs");
    }
  }
  if (comm.rank() == 0)
    std::printf("ok: sums, reduce-scatters and gathers through %s on %d ranks: floats and doubles of 0 to 3000000 values, "
                "many in flight, exact\n",
                path.c_str(), comm.size());
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
      const auto make_trainer = [](Vae& vae) { return VaeTrainer(vae); };
      check_equivalence<Vae>(world, "VAE", make_vae, make_trainer);
      setenv("LATENT_MPI_SHARED_SUMS", "0", 1);
      latent::mpi::Communicator through_mpi;
      check_equivalence<Vae>(through_mpi, "VAE", make_vae, make_trainer);
    } else if (mode == "gan") {
      check_equivalence<Gan>(world, "GAN", make_gan, make_gan_trainer);
    } else if (mode == "resume" && argc > 2) {
      check_resume(world, argv[2]);
    } else if (mode == "sums") {
      // ctest starts every rank on this machine: the default is shared memory.
      require(world.shares_memory(), "the ranks of one machine do not sum through shared memory");
      check_sums(world, "shared memory");
      setenv("LATENT_MPI_SHARED_SUMS", "0", 1);
      latent::mpi::Communicator through_mpi;
      require(!through_mpi.shares_memory(), "LATENT_MPI_SHARED_SUMS=0 did not turn the shared-memory sums off");
      check_sums(through_mpi, "MPI");
    } else if (mode == "fail") {
      check_failure(world);
    } else {
      throw Failure("usage: latent_mpi_training vae | gan | sums | resume FOLDER | fail");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: rank %d of %d: %s\n", dynamic_cast<const Failure*>(&e) ? "FAILED" : "latent_mpi_training",
                 world.rank(), world.size(), e.what());
    std::fflush(stderr);
    world.abort(1);
  }
  return 0;
}
