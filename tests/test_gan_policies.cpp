// GAN loss policies that see the critic and both batches: WGAN-GP's critic
// loss (its penalty's gradient included) against finite differences, its
// value against the formula, its refusals; a relativistic loss written as a
// policy like the others; the trainer's fresh critic batches; and a WGAN-GP
// that moves its generator onto the data.
#include <cmath>
#include <vector>

#include "helpers.hpp"
#include "point_data.hpp"
#include "training_helpers.hpp"

namespace test_gan_policies {

using latent::Index;
using latent::Matrix;
using latent::Tape;
using latent::Var;
using test::quiet_fit;

namespace {

template <class S, class Loss>
using TestGan = test::MlpGan<S, Loss>;

// G: noise -> hidden -> features; the critic: features -> hidden -> hidden -> 1.
template <class S, class Loss>
TestGan<S, Loss> make_gan(Index noise, Index features, Index hidden, std::uint64_t seed) {
  return test::make_mlp_gan<S, Loss>({noise, hidden, features}, {features, hidden, hidden, 1}, seed);
}

// n points of one Gaussian blob at (0.5, 0.25), standard deviation 0.05, as
// 1x2 "images" of bytes that data::MinusOneToOne maps back to [-1, 1]^2.
latent::data::Dataset blob(Index n, std::uint64_t seed) {
  return test::point_data(n, seed, [](latent::Rng& rng) {
    const double x = 0.5 + 0.05 * rng.normal();
    const double y = 0.25 + 0.05 * rng.normal();
    return test::Point{x, y, 0};
  });
}

// The relativistic average GAN (Jolicoeur-Martineau 2018), written here as a
// user would: its generator's loss scores the real batch too.
// D: BCE(r - mean f, 1) + BCE(f - mean r, 0); G: BCE(f - mean r, 1) + BCE(r - mean f, 0).
struct RelativisticAverage : latent::detail::RawScores {
  static constexpr const char* name = "ragan";
  static constexpr bool uses_labels = false;
  static constexpr bool takes_input_gradients = false;

  template <class Critic, class S>
  static latent::GanTerms<S> terms(Critic& critic, const latent::GanBatch<S>& batch, double real_target) {
    Var<S> real = critic(batch.real), fake = critic(batch.fake);
    // r - mean(f) and f - mean(r), differentiable in both: a mean spread over the batch's row by a product.
    Var<S> spread = real.tape().constant(Matrix<S>::Ones(1, real.cols()));
    Var<S> real_relative = real - latent::matmul(latent::mean(fake), spread);
    Var<S> fake_relative = fake - latent::matmul(latent::mean(real), spread);
    Var<S> loss = latent::bce_with_logits(real_relative, latent::detail::constant_like(real, real_target)) +
                  latent::bce_with_logits(fake_relative, latent::detail::constant_like(fake, 1.0 - real_target));
    return {loss, real, fake, {}};
  }

  template <class Critic, class S>
  latent::GanTerms<S> discriminator_terms(Critic& critic, const latent::GanBatch<S>& batch) const {
    return terms(critic, batch, 1.0);
  }
  template <class Critic, class S>
  latent::GanTerms<S> generator_terms(Critic& critic, const latent::GanBatch<S>& batch) const {
    return terms(critic, batch, 0.0);
  }
};

}  // namespace

TEST_CASE("gradcheck: WGAN-GP's critic loss, penalty included, w.r.t. the critic's parameters",
          "[gradcheck][gan][penalty]") {
  auto gan = make_gan<double, latent::WassersteinGp>(2, 3, 5, 61);
  const auto params = gan.discriminator_parameters();
  const Matrix<double> real = test::random_matrix(3, 4, 62), fake = test::random_matrix(3, 4, 63);
  Tape<double> scratch;
  REQUIRE_GRADCHECK(latent::gradcheck(
      [&](Tape<double>& tape) {
        latent::Rng rng(64);  // the same interpolates at every evaluation
        latent::GanBatch<double> batch;
        batch.real = tape.constant(real);
        batch.fake = tape.constant(fake);
        batch.rng = &rng;
        batch.scratch = &scratch;
        return gan.discriminator_loss(batch).loss;
      },
      params));
}

TEST_CASE("WGAN-GP's critic loss is E D(fake) - E D(real) + lambda mean (|grad D| - 1)^2 at random interpolates",
          "[gan][penalty]") {
  auto gan = make_gan<double, latent::WassersteinGp>(2, 3, 5, 71);
  const Matrix<double> real = test::random_matrix(3, 4, 72), fake = test::random_matrix(3, 4, 73);
  Tape<double> tape, scratch;
  latent::Rng rng(74);
  latent::GanBatch<double> batch;
  batch.real = tape.constant(real);
  batch.fake = tape.constant(fake);
  batch.rng = &rng;
  batch.scratch = &scratch;
  const latent::GanTerms<double> terms = gan.discriminator_loss(batch);

  // The same interpolates by hand, and each one's input gradient by finite differences.
  latent::Rng same(74);
  double penalty = 0;
  for (Index j = 0; j < 4; ++j) {
    const double e = same.uniform();
    const Matrix<double> point = e * real.col(j) + (1 - e) * fake.col(j);
    double squared = 0;
    for (Index i = 0; i < 3; ++i) {
      Matrix<double> up = point, down = point;
      up(i, 0) += 1e-6;
      down(i, 0) -= 1e-6;
      const double derivative = (gan.discriminate(up)(0, 0) - gan.discriminate(down)(0, 0)) / 2e-6;
      squared += derivative * derivative;
    }
    penalty += std::pow(std::sqrt(squared) - 1, 2) / 4;
  }
  REQUIRE(terms.penalty.item() == Approx(penalty).epsilon(1e-6));
  const double wasserstein = gan.discriminate(fake).mean() - gan.discriminate(real).mean();
  REQUIRE(terms.loss.item() == Approx(wasserstein + 10 * penalty).epsilon(1e-6));

  SECTION("it refuses batches it cannot pair and a step without noise or scratch tape") {
    latent::GanBatch<double> uneven = batch;
    uneven.fake = tape.constant(test::random_matrix(3, 5, 75));
    REQUIRE_THROWS_WITH(gan.discriminator_loss(uneven), Catch::Contains("3x4") && Catch::Contains("3x5"));
    latent::GanBatch<double> bare = batch;
    bare.scratch = nullptr;
    REQUIRE_THROWS_WITH(gan.discriminator_loss(bare), Catch::Contains("WassersteinGp") && Catch::Contains("scratch"));
  }
}

TEST_CASE("a relativistic loss is a policy like the others: its generator's loss scores the real batch",
          "[gan][loss]") {
  auto gan = make_gan<double, RelativisticAverage>(2, 3, 5, 81);
  const Matrix<double> real = test::random_matrix(3, 4, 82), z = test::random_matrix(2, 4, 83);
  const auto params = gan.parameters();
  REQUIRE_GRADCHECK(latent::gradcheck(
      [&](Tape<double>& tape) {
        latent::GanBatch<double> batch;
        batch.real = tape.constant(real);
        batch.fake = gan.generate(tape.constant(z));
        return gan.generator_loss(batch).loss;
      },
      params));
  // The trainer hands the generator's step the real batch: it trains.
  auto trained = make_gan<float, RelativisticAverage>(2, 2, 8, 84);
  latent::GanTrainer<TestGan<float, RelativisticAverage>> trainer(trained);
  const auto history = trainer.fit(blob(64, 85), latent::data::Dataset(), quiet_fit(1, 16));
  REQUIRE(std::isfinite(history.back().get("train_g_loss")));
}

TEST_CASE("GanTrainer with fresh critic batches: each batch is n_critic critic steps, then one generator step",
          "[gan][training][penalty]") {
  auto gan = make_gan<float, latent::WassersteinGp>(2, 2, 8, 91);
  using Trainer = latent::GanTrainer<TestGan<float, latent::WassersteinGp>>;
  Trainer::Options options;
  options.n_critic = 5;
  options.fresh_critic_batches = true;
  Trainer trainer(gan, Trainer::default_adam(), Trainer::default_adam(), options);
  const auto history = trainer.fit(blob(64, 92), blob(32, 93), quiet_fit(2, 16));  // 4 batches an epoch
  REQUIRE(trainer.generator_optimizer().steps() == 8);
  REQUIRE(trainer.discriminator_optimizer().steps() == 40);
  for (const char* figure : {"train_d_loss", "train_d_penalty", "train_g_loss", "test_d_real"}) {
    CAPTURE(figure);
    REQUIRE(std::isfinite(history.back().get(figure)));
  }
}

TEST_CASE("WGAN-GP moves its generator onto the data: the critic's estimate of the distance falls to 0, the mean arrives",
          "[gan][training][penalty]") {
  const auto data = blob(512, 101);
  auto gan = make_gan<float, latent::WassersteinGp>(2, 2, 16, 102);
  using Trainer = latent::GanTrainer<TestGan<float, latent::WassersteinGp>>;
  Trainer::Options options;
  options.n_critic = 5;
  options.fresh_critic_batches = true;
  options.seed = 103;
  // A critic that learns faster than the generator moves: it keeps up.
  Trainer trainer(gan, latent::Adam<float>(4e-4f, 0.5f, 0.9f), latent::Adam<float>(2e-3f, 0.5f, 0.9f), options);
  const auto mean_offset = [&gan](std::uint64_t seed) {
    latent::Rng rng(seed);
    const Matrix<float> samples = gan.sample(500, rng);
    return std::hypot(samples.row(0).mean() - 0.5, samples.row(1).mean() - 0.25);
  };
  const double offset_before = mean_offset(104);
  const auto history = trainer.fit(data, latent::data::Dataset(), quiet_fit(40, 32));  // 16 generator steps an epoch
  // The critic's estimate E D(x) - E D(G(z)) = -(d_loss - lambda d_penalty), per epoch.
  const auto distance = [&](std::size_t epoch) {
    const auto& record = history.epochs()[epoch - 1];
    return -(record.get("train_d_loss") - 10 * record.get("train_d_penalty"));
  };
  double late = 0;
  for (std::size_t epoch = 36; epoch <= 40; ++epoch) late += std::abs(distance(epoch)) / 5;
  const double offset_after = mean_offset(104);
  INFO("distance estimate: epoch 3 " << distance(3) << ", epochs 36-40 " << late << "; the sample mean's distance from the data's "
                                     << offset_before << " -> " << offset_after);
  // A fivefold fall at least: the exact trajectory depends on the rounding
  // of the product library (OpenBLAS or Eigen), the fall does not.
  REQUIRE(distance(3) > 0.5);
  REQUIRE(late < 0.2 * distance(3));
  // The samples' mean covers most of its way to the data's: where exactly it
  // ends swings with the rounding too (0.007 to 0.17 from 0.88, by product
  // library and thread count), as the generator circles the blob.
  REQUIRE(offset_after < 0.3 * offset_before);
}

}  // namespace test_gan_policies
