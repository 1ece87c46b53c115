// Data-parallel training without MPI: ranks are threads (thread_ranks.hpp).
// The tape's sweep observer; slices and noise columns; the bucketed gradient
// sum against one process's gradient; the checks that make ranks stop alike
// (settings, failures, states that drift apart); and both trainers on 2 and
// 3 ranks against one process, step by step (a GAN with BatchNorm among
// them), and across a resume. The same
// promises over MPI, in processes, are tested by tests/mpi/.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "conv_test_models.hpp"
#include "helpers.hpp"
#include "thread_ranks.hpp"
#include "training_helpers.hpp"
#include <latent/distributed/data_parallel.hpp>
#include <latent/distributed/gradient_sync.hpp>
#include <latent/distributed/launch.hpp>
#include <latent/models/gan.hpp>
#include <latent/train/gan_trainer.hpp>
#include <latent/train/vae_trainer.hpp>

namespace test_distributed {

using latent::Index;
using latent::Matrix;
using latent::Tape;
using latent::Var;

namespace {

latent::data::Dataset random_images(Index n, std::uint64_t seed) { return test::random_images(n, 8, seed); }

/// ||a - b|| / ||b||, the measure the data-parallel promises are stated in.
template <class S>
double relative_difference(const Matrix<S>& a, const Matrix<S>& b) {
  const double norm = static_cast<double>(b.norm());
  return static_cast<double>((a - b).norm()) / (norm > 0 ? norm : 1.0);
}

/// Runs body(rank) on `size` thread ranks and returns the message of the
/// latent::error each rank threw ("" for none).
template <class Body>
std::vector<std::string> errors_on_ranks(int size, const Body& body) {
  std::vector<std::string> messages(static_cast<std::size_t>(size));
  test::ThreadRanks::run(size, [&](test::ThreadRanks::Rank& rank) {
    try {
      body(rank);
    } catch (const latent::error& e) {
      messages[static_cast<std::size_t>(rank.rank())] = e.what();
    }
  });
  return messages;
}

// A small two-layer network's loss: the mean over the batch's columns of the
// squared outputs, so that a slice's loss is its examples' mean.
struct TinyNet {
  latent::Parameter<double> w1{test::random_matrix(6, 5, 1)}, b1{test::random_matrix(6, 1, 2)};
  latent::Parameter<double> w2{test::random_matrix(3, 6, 3)}, b2{test::random_matrix(3, 1, 4)};
  latent::ParameterList<double> parameters() { return {&w1, &b1, &w2, &b2}; }

  // Leaves are recorded one statement at a time: the order of a call's arguments is the compiler's.
  Var<double> loss(Tape<double>& tape, const Matrix<double>& x) {
    Var<double> input = tape.constant(x);
    Var<double> w1_leaf = tape.leaf(w1);
    Var<double> b1_leaf = tape.leaf(b1);
    Var<double> h = latent::tanh(latent::affine(w1_leaf, input, b1_leaf));
    // w2 is used twice: its gradient is final only after both its leaves are swept.
    Var<double> y = layer2(tape, h);
    y = y + 0.5 * layer2(tape, h);
    return latent::scale(latent::sum(latent::square(y)), 1.0 / static_cast<double>(x.cols()));
  }
  Var<double> layer2(Tape<double>& tape, Var<double> h) {
    Var<double> w2_leaf = tape.leaf(w2);
    Var<double> b2_leaf = tape.leaf(b2);
    return latent::affine(w2_leaf, h, b2_leaf);
  }
};

}  // namespace

TEST_CASE("the tape tells a sweep observer of every node swept and every trainable leaf passed", "[distributed][tape]") {
  struct Recorder : latent::SweepObserver<double> {
    std::vector<const latent::Parameter<double>*> leaves;
    int nodes = 0;
    void leaf_swept(latent::Parameter<double>& p) override { leaves.push_back(&p); }
    void node_swept() override { ++nodes; }
  };
  TinyNet net;
  Tape<double> tape;
  Var<double> loss;
  {
    const latent::ParameterList<double> frozen_list{&net.b1};
    const latent::FrozenParameters<double> frozen(frozen_list);
    loss = net.loss(tape, test::random_matrix(5, 4, 5));
  }
  Recorder recorder;
  tape.backward(loss, &recorder);
  // Leaves in reverse order of recording; the frozen b1 takes no gradient and is not reported.
  REQUIRE(recorder.leaves == std::vector<const latent::Parameter<double>*>{&net.b2, &net.w2, &net.b2, &net.w2, &net.w1});
  REQUIRE(recorder.nodes > 0);
}

TEST_CASE("DataParallel: slices cover a batch in order, differ by at most one example, and shares add to 1",
          "[distributed]") {
  for (int size = 1; size <= 5; ++size)
    for (Index total = 0; total <= 13; ++total) {
      test::ThreadRanks::run(size, [&](test::ThreadRanks::Rank& rank) {
        latent::DataParallel parallel(rank);
        const latent::Slice slice = parallel.slice(total);
        const std::string text = std::to_string(slice.begin) + " " + std::to_string(slice.count) + " " + std::to_string(slice.share());
        const auto all = rank.all_gather(text);
        if (rank.rank() != 0) return;
        Index next = 0, smallest = total, largest = 0;
        double shares = 0;
        for (const std::string& entry : all) {
          Index begin = 0, count = 0;
          double share = 0;
          std::sscanf(entry.c_str(), "%ld %ld %lf", &begin, &count, &share);
          if (begin != next) throw std::runtime_error("slices are not contiguous: " + entry);
          next += count;
          smallest = std::min(smallest, count);
          largest = std::max(largest, count);
          shares += share;
        }
        if (next != total || largest - smallest > 1 || (total > 0 && std::abs(shares - 1) > 1e-5))
          throw std::runtime_error("bad slices of " + std::to_string(total) + " on " + std::to_string(size) + " ranks");
      });
    }
}

TEST_CASE("DataParallel: each rank draws its columns of the global batch's noise, and every generator advances alike",
          "[distributed]") {
  latent::Rng reference(7);
  Matrix<float> global(3, 10);
  reference.fill_normal(global);
  const latent::Rng::State after = reference.state();
  std::vector<Matrix<float>> columns(3);
  std::vector<latent::Rng::State> states(3);
  test::ThreadRanks::run(3, [&](test::ThreadRanks::Rank& rank) {
    latent::DataParallel parallel(rank);
    latent::Rng rng(7);
    const latent::Slice slice = parallel.slice(10);
    Matrix<float> local(3, slice.count), windowed(3, slice.count);
    parallel.draw_columns(slice, local, [&](Matrix<float>& all) { rng.fill_normal(all); });
    // A draw of the slice's columns alone, from a generator at the same point.
    latent::Rng windowed_rng(7);
    parallel.draw_columns(slice, windowed, [&](Matrix<float>& mine, Index total, Index first) {
      windowed_rng.fill_normal_columns(mine, total, first);
    });
    if (windowed != local || windowed_rng.state() != rng.state()) throw std::runtime_error("the window differs");
    columns[static_cast<std::size_t>(rank.rank())] = local;
    states[static_cast<std::size_t>(rank.rank())] = rng.state();
  });
  REQUIRE(columns[0] == global.middleCols(0, 3));
  REQUIRE(columns[1] == global.middleCols(3, 3));
  REQUIRE(columns[2] == global.middleCols(6, 4));
  for (const auto& state : states) REQUIRE(state == after);
}

TEST_CASE("GradientSync: every rank ends with the whole batch's gradient and loss, bucketed or in place",
          "[distributed][gradients]") {
  const Matrix<double> x = test::random_matrix(5, 11, 9);
  TinyNet reference;
  Tape<double> tape;
  Var<double> loss = reference.loss(tape, x);
  const double expected_loss = loss.item();
  tape.backward(loss);

  const int size = GENERATE(1, 2, 3, 4);
  // 8 bytes: every parameter alone, in place; 1 KiB: all in one packed bucket.
  const Index bucket_bytes = GENERATE(Index(8), Index(1024));
  CAPTURE(size, bucket_bytes);
  std::vector<std::vector<Matrix<double>>> grads(static_cast<std::size_t>(size));
  std::vector<double> losses(static_cast<std::size_t>(size));
  std::vector<std::size_t> buckets(static_cast<std::size_t>(size));
  test::ThreadRanks::run(size, [&](test::ThreadRanks::Rank& rank) {
    latent::DataParallel parallel(rank);
    TinyNet net;
    latent::GradientSync<double> sync(net.parameters(), bucket_bytes);
    const latent::Slice slice = parallel.slice(x.cols());
    Tape<double> local_tape;
    Var<double> local_loss = net.loss(local_tape, x.middleCols(slice.begin, slice.count));
    const auto r = static_cast<std::size_t>(rank.rank());
    losses[r] = sync.backward(parallel, slice, local_tape, local_loss);
    for (auto* p : net.parameters()) grads[r].push_back(p->grad);
    buckets[r] = sync.buckets();
  });
  const auto expected = reference.parameters();
  for (int r = 0; r < size; ++r) {
    REQUIRE(losses[static_cast<std::size_t>(r)] == Approx(expected_loss).epsilon(1e-12));
    for (std::size_t k = 0; k < expected.size(); ++k) {
      REQUIRE(relative_difference(grads[static_cast<std::size_t>(r)][k], expected[k]->grad) < 1e-12);
      REQUIRE(grads[static_cast<std::size_t>(r)][k] == grads[0][k]);  // bit for bit
    }
  }
  // In place: one bucket per parameter, plus the one that carries the loss.
  REQUIRE(buckets[0] == (bucket_bytes == 8 ? 5u : 1u));
}

TEST_CASE("GradientSync sharding large parameters: each rank sums and updates its part, and every rank ends with the update",
          "[distributed][gradients]") {
  const Matrix<double> x = test::random_matrix(5, 11, 9);
  TinyNet reference;
  Tape<double> tape;
  tape.backward(reference.loss(tape, x));
  const double expected_norm = latent::grad_norm(reference.parameters());
  std::vector<Matrix<double>> expected_grads;
  for (auto* p : reference.parameters()) expected_grads.push_back(p->grad);
  const double clip = GENERATE(0.0, 0.5);  // 0.5 is below the norm: the update clips
  latent::Adam<double> reference_adam(0.1);
  latent::detail::update(reference_adam, reference.parameters(), clip, latent::detail::NormReport::always);

  const int size = GENERATE(2, 3, 4);
  // 8 bytes: every parameter is large, summed alone and sharded; 1 KiB: none is.
  const Index bucket_bytes = GENERATE(Index(8), Index(1024));
  CAPTURE(clip, size, bucket_bytes);
  std::vector<std::vector<Matrix<double>>> values(static_cast<std::size_t>(size));
  std::vector<double> norms(static_cast<std::size_t>(size));
  std::vector<int> gathers(static_cast<std::size_t>(size));
  test::ThreadRanks::run(size, [&](test::ThreadRanks::Rank& rank) {
    latent::DataParallel parallel(rank);
    TinyNet net;
    latent::GradientSync<double> sync(net.parameters(), bucket_bytes, latent::Sharding::large_parameters);
    const latent::Slice slice = parallel.slice(x.cols());
    Tape<double> local_tape;
    sync.backward(parallel, slice, local_tape, net.loss(local_tape, x.middleCols(slice.begin, slice.count)));
    if (!sync.sharded()) throw std::runtime_error("not sharded");
    const latent::ElementRanges& mine = sync.own_ranges();
    for (std::size_t k = 0; k < mine.size(); ++k) {
      const auto sums = latent::detail::piece(net.parameters()[k]->grad, mine[k].begin, mine[k].count);
      const auto expected = latent::detail::piece(expected_grads[k], mine[k].begin, mine[k].count);
      if (!((sums - expected).abs() <= 1e-12 * (1 + expected.abs())).all()) throw std::runtime_error("a part's sums differ");
      // Rank 0 holds the first part of a large parameter; a parameter that is not large is whole on every rank.
      if (mine[k].count != net.parameters()[k]->value.size() && bucket_bytes == 1024) throw std::runtime_error("a small parameter split");
    }
    latent::Adam<double> adam(0.1);
    const auto r = static_cast<std::size_t>(rank.rank());
    norms[r] = latent::detail::update(adam, sync, parallel, clip);
    for (auto* p : net.parameters()) {
      values[r].push_back(p->value);
      if (!p->grad.isZero(0)) throw std::runtime_error("a gradient was not cleared");
    }
    gathers[r] = rank.gathers();
  });
  const auto expected = reference.parameters();
  for (int r = 0; r < size; ++r) {
    const auto rank = static_cast<std::size_t>(r);
    REQUIRE(norms[rank] == Approx(expected_norm).epsilon(1e-12));
    REQUIRE(gathers[rank] == (bucket_bytes == 8 ? 4 : 0));  // one per large parameter
    for (std::size_t k = 0; k < expected.size(); ++k) {
      REQUIRE(relative_difference(values[rank][k], expected[k]->value) < 1e-12);
      REQUIRE(values[rank][k] == values[0][k]);  // bit for bit
    }
  }
}

TEST_CASE("GradientSync: a rank without examples takes part, and a loss that is not finite on one rank is not finite on all",
          "[distributed][gradients]") {
  const Matrix<double> x = test::random_matrix(5, 2, 10);
  SECTION("two examples on three ranks: the third rank has none") {
    TinyNet reference;
    Tape<double> tape;
    tape.backward(reference.loss(tape, x));
    std::vector<Matrix<double>> w1(3);
    test::ThreadRanks::run(3, [&](test::ThreadRanks::Rank& rank) {
      latent::DataParallel parallel(rank);
      TinyNet net;
      latent::GradientSync<double> sync(net.parameters());
      const latent::Slice slice = parallel.slice(x.cols());
      if (slice.count == 0) {
        sync.backward(parallel);
      } else {
        Tape<double> local;
        sync.backward(parallel, slice, local, net.loss(local, x.middleCols(slice.begin, slice.count)));
      }
      w1[static_cast<std::size_t>(rank.rank())] = net.w1.grad;
    });
    for (const auto& grad : w1) REQUIRE(relative_difference(grad, reference.w1.grad) < 1e-12);
  }
  SECTION("a NaN input on rank 1") {
    std::vector<double> losses(2);
    test::ThreadRanks::run(2, [&](test::ThreadRanks::Rank& rank) {
      latent::DataParallel parallel(rank);
      TinyNet net;
      latent::GradientSync<double> sync(net.parameters());
      Matrix<double> mine = x.middleCols(rank.rank(), 1);
      if (rank.rank() == 1) mine(0, 0) = std::nan("");
      Tape<double> local;
      losses[static_cast<std::size_t>(rank.rank())] = sync.backward(parallel, latent::Slice{rank.rank(), 1, 2}, local, net.loss(local, mine));
    });
    REQUIRE(std::isnan(losses[0]));
    REQUIRE(std::isnan(losses[1]));
  }
}

TEST_CASE("DataParallel: figures combine into the means over all ranks' examples", "[distributed]") {
  std::vector<latent::RunningMeans> global(2);
  test::ThreadRanks::run(2, [&](test::ThreadRanks::Rank& rank) {
    latent::DataParallel parallel(rank);
    latent::RunningMeans means;
    if (rank.rank() == 0) {
      means.add("loss", 1.0, 3);
      means.add("kl", 0.1, 3);
    } else {
      means.add("kl", 0.4, 1);
      means.add("loss", 5.0, 1);
      means.add("only_here", 7.0, 2);
    }
    global[static_cast<std::size_t>(rank.rank())] = parallel.global_means(means);
  });
  for (const auto& means : global) {
    REQUIRE(means.mean("loss") == Approx((3 * 1.0 + 5.0) / 4));
    REQUIRE(means.mean("kl") == Approx((3 * 0.1 + 0.4) / 4));
    REQUIRE(means.mean("only_here") == 7.0);
  }
  REQUIRE(global[0].mean("loss") == global[1].mean("loss"));
}

TEST_CASE("ranks stop alike: different settings name the setting, a failure names its rank", "[distributed]") {
  SECTION("settings") {
    const auto messages = errors_on_ranks(3, [](test::ThreadRanks::Rank& rank) {
      const std::string batch = rank.rank() == 1 ? "256" : "128";
      latent::require_same_settings(rank, {{"--seed", "1"}, {"--batch", batch}, {"--epochs", "3"}}, "vae_mnist");
    });
    for (const auto& message : messages)
      REQUIRE(message == "vae_mnist: the ranks were started with different settings: --batch is '128' on ranks 0 2, '256' "
                         "on rank 1; start every rank with the same settings");
  }
  SECTION("a task that throws on one rank") {
    const auto messages = errors_on_ranks(3, [](test::ThreadRanks::Rank& rank) {
      latent::DataParallel parallel(rank);
      parallel.all_or_none([&] {
        if (rank.rank() == 1) throw latent::io_error("data/mnist: no such folder");
      });
    });
    REQUIRE(messages[0] == "rank 1: data/mnist: no such folder");
    REQUIRE(messages[1] == "data/mnist: no such folder");
    REQUIRE(messages[2] == messages[0]);
  }
  SECTION("rank 0's result, or its error, reaches every rank") {
    std::vector<std::string> results(2);
    test::ThreadRanks::run(2, [&](test::ThreadRanks::Rank& rank) {
      const auto bytes = latent::from_rank_zero(rank, [&] { return std::vector<std::uint8_t>{1, 2, 3}; });
      results[static_cast<std::size_t>(rank.rank())] = std::to_string(bytes.size());
      try {
        latent::from_rank_zero(rank, [&]() -> std::vector<std::uint8_t> { throw latent::io_error("x.ckpt: truncated"); });
      } catch (const latent::error& e) {
        results[static_cast<std::size_t>(rank.rank())] += std::string(" ") + e.what();
      }
    });
    REQUIRE(results[0] == "3 x.ckpt: truncated");
    REQUIRE(results[1] == "3 rank 0: x.ckpt: truncated");
  }
}

TEST_CASE("threads per rank share the machine's cores", "[distributed]") {
  REQUIRE(latent::threads_per_rank(1) >= 1);
  REQUIRE(latent::threads_per_rank(1 << 20) == 1);
  REQUIRE(latent::threads_per_rank(2) <= std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / 2));
}

namespace {

using Encoder = latent::GaussianEncoder<latent::Mlp<float, latent::ReLU, latent::ReLU>>;
using Decoder = latent::Decoder<latent::Mlp<float, latent::ReLU, latent::Identity>>;
using TestVae = latent::Vae<Encoder, Decoder, latent::Bernoulli>;
using VaeTrainer = latent::VaeTrainer<TestVae>;

// A hidden layer of kLarge units makes the layers to and from it large
// enough (64 x 1100 floats, 275 KiB) to be summed alone and sharded.
constexpr Index kLarge = 1100;

TestVae make_vae(std::uint64_t seed, Index hidden = 32) {
  latent::Rng rng(seed);
  Encoder encoder({64, hidden}, 4, rng);
  Decoder decoder({4, hidden, 64}, rng);
  return TestVae(std::move(encoder), std::move(decoder));
}

using Generator = latent::Generator<latent::Mlp<float, latent::LeakyReLU, latent::Identity>>;
using Discriminator = latent::Discriminator<latent::Mlp<float, latent::LeakyReLU, latent::Identity>>;
using TestGan = latent::Gan<Generator, Discriminator, latent::NonSaturatingBce>;
using GanTrainer = latent::GanTrainer<TestGan>;

TestGan make_gan(std::uint64_t seed, Index hidden = 32) {
  latent::Rng rng(seed);
  Generator generator({8, hidden, 64}, rng);
  Discriminator discriminator({64, hidden, 1}, rng);
  return TestGan(std::move(generator), std::move(discriminator));
}

GanTrainer::Options gan_options(double real_label_spread = 0) {
  GanTrainer::Options options;
  options.real_label = 0.9;
  options.real_label_spread = real_label_spread;
  options.clip_grad_norm = 10;
  return options;
}

// A conditional WGAN-GP critic trained on fresh batches (n_critic 3): the
// penalty's interpolates and the fresh batches must not depend on the split.
using ConditionalGp = latent::Gan<Generator, Discriminator, latent::WassersteinGp>;
using ConditionalGpTrainer = latent::GanTrainer<ConditionalGp>;

ConditionalGp make_conditional_gp(std::uint64_t seed) {
  latent::Rng rng(seed);
  Generator generator({8 + 10, 32, 64}, rng);
  Discriminator discriminator({64 + 10, 32, 1}, rng);
  return ConditionalGp(std::move(generator), std::move(discriminator), {}, {}, latent::Conditioning{10});
}

// The Wasserstein critic loss is linear in D: where a hidden unit's slopes
// balance over the real and generated batches, its bias gradient is exactly
// 0 on one process and a rounding residue (1e-9) summed over ranks, which
// Adam's first steps, g / (|g| + eps), would blow up to a sizeable step
// (the biases start at 0). An eps of 1e-3 keeps such steps as small as the
// residues they come from.
ConditionalGpTrainer make_conditional_gp_trainer(ConditionalGp& gan) {
  ConditionalGpTrainer::Options options;
  options.n_critic = 3;
  options.fresh_critic_batches = true;
  const latent::Adam<float> adam(2e-4f, 0.5f, 0.9f, 1e-3f);
  return ConditionalGpTrainer(gan, adam, adam, options);
}

using ConditionalVae = latent::Vae<Encoder, Decoder, latent::Bernoulli>;

ConditionalVae make_conditional_vae(std::uint64_t seed) {
  latent::Rng rng(seed);
  Encoder encoder({64 + 10, 32}, 4, rng);
  Decoder decoder({4 + 10, 32, 64}, rng);
  return ConditionalVae(std::move(encoder), std::move(decoder), {}, {}, latent::Conditioning{10});
}

using VaeGanEncoder = latent::GaussianEncoder<latent::Mlp<float, latent::LeakyReLU, latent::LeakyReLU>>;
using VaeGanDecoder = latent::Decoder<latent::Mlp<float, latent::LeakyReLU, latent::Tanh>>;
using VaeGanCritic = latent::FeatureDiscriminator<latent::Mlp<float, latent::LeakyReLU, latent::LeakyReLU>>;
using TestVaeGan = latent::VaeGan<VaeGanEncoder, VaeGanDecoder, VaeGanCritic>;
using VaeGanTrainer = latent::VaeGanTrainer<TestVaeGan>;

TestVaeGan make_vae_gan(std::uint64_t seed) {
  latent::Rng rng(seed);
  VaeGanEncoder encoder({64, 32}, 4, rng);
  VaeGanDecoder decoder({4, 32, 64}, rng);
  VaeGanCritic critic({64, 16}, rng);
  return TestVaeGan(std::move(encoder), std::move(decoder), std::move(critic));
}

using test::quiet_fit;
using test::snapshot;
using test::Snapshot;
using test::train_steps;

/// Requires each step's parameters of every rank to be within 1e-5 (relative, per tensor) of one process's, and the ranks' bit for bit equal.
void require_same_training(const std::vector<Snapshot>& one, const std::vector<std::vector<Snapshot>>& ranks) {
  for (std::size_t step = 0; step < one.size(); ++step)
    for (std::size_t r = 0; r < ranks.size(); ++r) {
      REQUIRE(ranks[r].size() == one.size());
      for (std::size_t k = 0; k < one[step].size(); ++k) {
        CAPTURE(step, r, k);
        REQUIRE(relative_difference(ranks[r][step][k], one[step][k]) <= 1e-5);
        REQUIRE(ranks[r][step][k] == ranks[0][step][k]);
      }
    }
}

}  // namespace

namespace {

/// Trains 4 one-step epochs of a global batch of `batch` random images on
/// one process and on `size` thread ranks (whose models start from other
/// weights but for rank 0's), and requires the same training step by step
/// and the same epoch figures.
template <class MakeModel, class MakeTrainer>
void require_ranks_follow_one_process(int size, Index batch, std::uint64_t seed, const MakeModel& make_model,
                                      const MakeTrainer& make_trainer, std::initializer_list<const char*> figures) {
  const auto train = random_images(batch, seed);
  const auto test = random_images(20, seed + 1);
  auto model = make_model(seed + 2);
  auto one = make_trainer(model);
  latent::EpochRecord one_record;
  const auto expected = train_steps(model, one, train, test, 4, &one_record);

  std::vector<std::vector<Snapshot>> ranks(static_cast<std::size_t>(size));
  std::vector<latent::EpochRecord> records(static_cast<std::size_t>(size));
  test::ThreadRanks::run(size, [&](test::ThreadRanks::Rank& rank) {
    auto rank_model = make_model(rank.rank() == 0 ? seed + 2 : seed + 3);
    auto trainer = make_trainer(rank_model);
    trainer.distribute(rank);
    const auto r = static_cast<std::size_t>(rank.rank());
    ranks[r] = train_steps(rank_model, trainer, train, test, 4, &records[r]);
  });
  require_same_training(expected, ranks);
  for (const auto& record : records)
    for (const char* figure : figures) REQUIRE(record.get(figure) == Approx(one_record.get(figure)).epsilon(1e-5));
}

}  // namespace

TEST_CASE("VaeTrainer on 2 and 3 ranks follows one process step by step, even and uneven batches",
          "[distributed][vae][training]") {
  const int size = GENERATE(2, 3);
  const Index batch = GENERATE(Index(32), Index(31));
  const Index hidden = GENERATE(Index(32), kLarge);  // kLarge: the updates of two layers sharded over the ranks
  CAPTURE(size, batch, hidden);
  require_ranks_follow_one_process(size, batch, 21, [hidden](std::uint64_t seed) { return make_vae(seed, hidden); },
                                   [](TestVae& vae) { return VaeTrainer(vae, latent::Adam<float>(1e-3f)); },
                                   {"train_loss", "train_kl", "test_loss", "test_reconstruction"});
}

TEST_CASE("GanTrainer on 2 and 3 ranks follows one process step by step, even and uneven batches",
          "[distributed][gan][training]") {
  const int size = GENERATE(2, 3);
  const Index batch = GENERATE(Index(32), Index(31));
  const double spread = GENERATE(0.0, 0.2);  // 0.2: real targets drawn from U(0.7, 0.9), for the global batch
  const Index hidden = GENERATE(Index(32), kLarge);  // kLarge: sharded updates, clipped by the global norm
  CAPTURE(size, batch, spread, hidden);
  require_ranks_follow_one_process(
      size, batch, 31, [hidden](std::uint64_t seed) { return make_gan(seed, hidden); },
      [spread](TestGan& gan) {
        return GanTrainer(gan, GanTrainer::default_adam(), GanTrainer::default_adam(), gan_options(spread));
      },
      {"train_d_loss", "train_g_loss", "train_d_real", "train_d_grad_norm", "test_d_real"});
}

TEST_CASE("GanTrainer, conditional WGAN-GP on fresh critic batches, on 2 and 3 ranks follows one process step by step",
          "[distributed][gan][training]") {
  const int size = GENERATE(2, 3);
  const Index batch = GENERATE(Index(30), Index(31));
  CAPTURE(size, batch);
  require_ranks_follow_one_process(size, batch, 35, make_conditional_gp, make_conditional_gp_trainer,
                                   {"train_d_loss", "train_g_loss", "train_d_penalty", "train_d_real", "test_d_real"});
}

TEST_CASE("VaeTrainer of a conditional VAE on 2 ranks follows one process step by step", "[distributed][vae][training]") {
  const Index batch = GENERATE(Index(30), Index(31));
  CAPTURE(batch);
  require_ranks_follow_one_process(2, batch, 37, make_conditional_vae,
                                   [](ConditionalVae& vae) { return latent::VaeTrainer<ConditionalVae>(vae); },
                                   {"train_loss", "train_kl", "test_loss"});
}

TEST_CASE("VaeGanTrainer on 2 and 3 ranks follows one process step by step, even and uneven batches",
          "[distributed][vaegan][training]") {
  const int size = GENERATE(2, 3);
  const Index batch = GENERATE(Index(30), Index(31));
  CAPTURE(size, batch);
  require_ranks_follow_one_process(size, batch, 39, make_vae_gan, [](TestVaeGan& model) { return VaeGanTrainer(model); },
                                   {"train_kl", "train_feature_error", "train_g_loss", "train_d_loss", "train_d_real",
                                    "test_feature_error", "test_d_real"});
}

TEST_CASE("a GAN with BatchNorm on 2 and 3 ranks follows one process step by step: statistics over the global batch",
          "[distributed][gan][batch_norm][training]") {
  const int size = GENERATE(2, 3);
  const Index batch = GENERATE(Index(24), Index(25));
  CAPTURE(size, batch);
  const auto make_model = [](std::uint64_t seed) {
    latent::Rng rng(seed);
    return test::conv_gan::make_gan(rng);
  };
  using ConvGanTrainer = latent::GanTrainer<test::conv_gan::Gan>;
  require_ranks_follow_one_process(
      size, batch, 45, make_model, [](test::conv_gan::Gan& gan) { return ConvGanTrainer(gan); },
      {"train_d_loss", "train_g_loss", "train_d_real", "test_d_real"});
}

TEST_CASE("a batch smaller than the number of ranks: a rank without examples still takes every step",
          "[distributed][vae][training]") {
  const auto train = random_images(2, 41);
  auto vae = make_vae(42);
  VaeTrainer one(vae);
  const auto expected = train_steps(vae, one, train, latent::data::Dataset(), 3);
  std::vector<std::vector<Snapshot>> ranks(3);
  test::ThreadRanks::run(3, [&](test::ThreadRanks::Rank& rank) {
    auto model = make_vae(42);
    VaeTrainer trainer(model);
    trainer.distribute(rank);
    ranks[static_cast<std::size_t>(rank.rank())] = train_steps(model, trainer, train, latent::data::Dataset(), 3);
  });
  require_same_training(expected, ranks);

  SECTION("the GAN with a penalty and fresh critic batches, and the VAE-GAN, too") {
    auto gan = make_conditional_gp(43);
    auto one_gan = make_conditional_gp_trainer(gan);
    const auto expected_gan = train_steps(gan, one_gan, train, latent::data::Dataset(), 3);
    auto vae_gan = make_vae_gan(44);
    VaeGanTrainer one_vae_gan(vae_gan);
    const auto expected_vae_gan = train_steps(vae_gan, one_vae_gan, train, latent::data::Dataset(), 3);
    std::vector<std::vector<Snapshot>> gan_ranks(3), vae_gan_ranks(3);
    test::ThreadRanks::run(3, [&](test::ThreadRanks::Rank& rank) {
      const auto r = static_cast<std::size_t>(rank.rank());
      auto rank_gan = make_conditional_gp(43);
      auto gan_trainer = make_conditional_gp_trainer(rank_gan);
      gan_trainer.distribute(rank);
      gan_ranks[r] = train_steps(rank_gan, gan_trainer, train, latent::data::Dataset(), 3);
      auto rank_vae_gan = make_vae_gan(44);
      VaeGanTrainer vae_gan_trainer(rank_vae_gan);
      vae_gan_trainer.distribute(rank);
      vae_gan_ranks[r] = train_steps(rank_vae_gan, vae_gan_trainer, train, latent::data::Dataset(), 3);
    });
    require_same_training(expected_gan, gan_ranks);
    require_same_training(expected_vae_gan, vae_gan_ranks);
  }
}

TEST_CASE("a distributed run resumed from its checkpoint continues bit for bit, and only rank 0 reads and writes the file",
          "[distributed][checkpoint]") {
  const auto train = random_images(60, 51);
  std::vector<Snapshot> straight(2), resumed(2);
  test::ThreadRanks::run(2, [&](test::ThreadRanks::Rank& rank) {
    auto gan = make_gan(52, kLarge);
    GanTrainer trainer(gan, GanTrainer::default_adam(), GanTrainer::default_adam(), gan_options());
    trainer.distribute(rank);
    trainer.fit(train, latent::data::Dataset(), quiet_fit(3, 16));
    straight[static_cast<std::size_t>(rank.rank())] = snapshot(gan);
  });
  const auto path = std::filesystem::temp_directory_path() / ("latent_test_distributed_" + std::to_string(::getpid()) + ".ckpt");
  test::ThreadRanks::run(2, [&](test::ThreadRanks::Rank& rank) {
    // Rank 1 is given a path that does not exist: it never touches the file.
    // The optimizers' state, sharded over the ranks, is whole in the file.
    const std::string mine = rank.rank() == 0 ? path.string() : "/nonexistent/latent.ckpt";
    {
      auto gan = make_gan(52, kLarge);
      GanTrainer trainer(gan, GanTrainer::default_adam(), GanTrainer::default_adam(), gan_options());
      trainer.distribute(rank);
      trainer.fit(train, latent::data::Dataset(), quiet_fit(2, 16));
      trainer.save_checkpoint(mine);
    }
    auto gan = make_gan(97, kLarge);
    GanTrainer trainer(gan, GanTrainer::default_adam(), GanTrainer::default_adam(), gan_options());
    trainer.distribute(rank);
    trainer.load_checkpoint(mine);
    if (trainer.epochs_done() != 2) throw std::runtime_error("the resumed trainer is not after epoch 2");
    trainer.fit(train, latent::data::Dataset(), quiet_fit(3, 16));
    resumed[static_cast<std::size_t>(rank.rank())] = snapshot(gan);
  });
  std::filesystem::remove(path);
  for (int r = 0; r < 2; ++r) REQUIRE(resumed[static_cast<std::size_t>(r)] == straight[static_cast<std::size_t>(r)]);
  REQUIRE(straight[0] == straight[1]);
}

TEST_CASE("a checkpoint rank 0 cannot read stops every rank with rank 0's reason", "[distributed][checkpoint]") {
  const auto messages = errors_on_ranks(2, [](test::ThreadRanks::Rank& rank) {
    auto vae = make_vae(1);
    VaeTrainer trainer(vae);
    trainer.distribute(rank);
    trainer.load_checkpoint(rank.rank() == 0 ? "/nonexistent/rank0.ckpt" : "/nonexistent/rank1.ckpt");
  });
  REQUIRE_THAT(messages[0], Catch::Contains("/nonexistent/rank0.ckpt"));
  REQUIRE_THAT(messages[1], Catch::StartsWith("rank 0: ") && Catch::Contains("/nonexistent/rank0.ckpt"));
}

TEST_CASE("ranks given different fit options, or whose states drift apart, stop alike with the reason",
          "[distributed][training]") {
  const auto train = random_images(40, 61);
  SECTION("another batch size on rank 1") {
    const auto messages = errors_on_ranks(2, [&](test::ThreadRanks::Rank& rank) {
      auto vae = make_vae(62);
      VaeTrainer trainer(vae);
      trainer.distribute(rank);
      trainer.fit(train, latent::data::Dataset(), quiet_fit(1, rank.rank() == 0 ? 20 : 10));
    });
    for (const auto& message : messages) REQUIRE_THAT(message, Catch::Contains("batch size is '20' on rank 0, '10' on rank 1"));
  }
  SECTION("another learning rate on rank 1: the states differ after the first epoch") {
    const auto messages = errors_on_ranks(2, [&](test::ThreadRanks::Rank& rank) {
      auto vae = make_vae(63);
      VaeTrainer trainer(vae, latent::Adam<float>(rank.rank() == 0 ? 1e-3f : 2e-3f));
      trainer.distribute(rank);
      trainer.fit(train, latent::data::Dataset(), quiet_fit(2, 20));
    });
    for (const auto& message : messages)
      REQUIRE_THAT(message, Catch::StartsWith("after epoch 1, the training state of rank(s) 1 differs"));
  }
}

}  // namespace test_distributed
