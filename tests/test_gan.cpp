// The GAN: the loss policies' gradients and values, the minimax value at D = 1/2, spectral normalization and weight clipping, the
// trainer's schedule, checkpoints and mode monitor, and a GAN that learns a mixture of 8 Gaussians.
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "gan_test_helpers.hpp"
#include "helpers.hpp"
#include "point_data.hpp"
#include "training_helpers.hpp"
#include <latent/models/gan.hpp>
#include <latent/nn/spectral_norm.hpp>
#include <latent/train/gan_trainer.hpp>

namespace test_gan {

using latent::Index;
using latent::Matrix;
using latent::Tape;
using latent::Var;

namespace {

template <class S>
using TestGenerator = test::MlpGenerator<S>;
template <class S>
using TestDiscriminator = test::MlpCritic<S>;
template <class S, class Loss>
using TestGan = test::MlpGan<S, Loss>;
using test::make_mlp_gan;

// n points of a mixture of 8 Gaussians (standard deviation `spread`) centred
// on a circle of radius `radius`, stored as 1x2 "images" of bytes that
// data::MinusOneToOne maps back to [-1, 1]^2.
latent::data::Dataset ring_of_gaussians(Index n, double radius, double spread, std::uint64_t seed) {
  return test::point_data(n, seed, [radius, spread](latent::Rng& rng) {
    const auto mode = rng.below(8);
    const double angle = 2 * M_PI * static_cast<double>(mode) / 8;
    const double x = radius * std::cos(angle) + spread * rng.normal();
    const double y = radius * std::sin(angle) + spread * rng.normal();
    return test::Point{x, y, static_cast<int>(mode)};
  });
}

using test::quiet_fit;

}  // namespace

TEST_CASE("UniformNoise fills codes uniformly from low up to (not including) high, reproducibly, as a Gan's noise", "[gan][noise]") {
  const latent::UniformNoise noise{-2.0, 3.0};
  latent::Rng rng(8), again(8);
  Matrix<double> z(4, 5000), z_again(4, 5000);
  noise.sample(z, rng);
  noise.sample(z_again, again);
  REQUIRE(z == z_again);
  REQUIRE(z.minCoeff() >= -2.0);
  REQUIRE(z.maxCoeff() < 3.0);
  REQUIRE(z.mean() == Approx(0.5).margin(0.05));                     // (low + high) / 2
  REQUIRE((z.array() - z.mean()).square().mean() == Approx(25.0 / 12).epsilon(0.03));  // (high - low)^2 / 12
  REQUIRE((z.array() < 0.5).count() == Approx(10000).epsilon(0.03));  // half below the middle

  latent::Rng init(9);
  latent::Gan<TestGenerator<double>, TestDiscriminator<double>, latent::NonSaturatingBce, latent::UniformNoise> gan(
      TestGenerator<double>({3, 4, 2}, init), TestDiscriminator<double>({2, 4, 1}, init), latent::NonSaturatingBce{},
      latent::UniformNoise{0.0, 0.5});
  Matrix<double> codes(3, 100);
  gan.sample_noise(codes, rng);
  REQUIRE(codes.minCoeff() >= 0.0);
  REQUIRE(codes.maxCoeff() < 0.5);
}

TEMPLATE_TEST_CASE("gradcheck: a loss policy w.r.t. both networks' parameters", "[gradcheck][gan]", latent::MinimaxBce,
                   latent::NonSaturatingBce, latent::LeastSquares, latent::Hinge, latent::Wasserstein) {
  auto gan = make_mlp_gan<double, TestType>({2, 4, 3}, {3, 5, 1}, 51);
  const auto params = gan.parameters();
  REQUIRE(params.size() == 8);
  const Matrix<double> real = test::random_matrix(3, 4, 52);
  const Matrix<double> z = test::random_matrix(2, 4, 53);
  SECTION("the discriminator's loss (through G's samples too), with and without label smoothing") {
    for (double real_label : TestType::uses_labels ? std::vector<double>{1.0, 0.9} : std::vector<double>{1.0}) {
      CAPTURE(real_label);
      REQUIRE_GRADCHECK(latent::gradcheck(
          [&](Tape<double>& tape) {
            return gan.discriminator_loss(tape.constant(real), gan.generate(tape.constant(z)), real_label).loss;
          },
          params));
    }
  }
  SECTION("the discriminator's loss with a target of each real example's own") {
    if constexpr (TestType::uses_labels) {
      const Matrix<double> targets = Matrix<double>::Constant(1, 4, 0.9) + 0.1 * test::random_matrix(1, 4, 54).cwiseAbs();
      REQUIRE_GRADCHECK(latent::gradcheck(
          [&](Tape<double>& tape) {
            latent::GanBatch<double> batch;
            batch.real = tape.constant(real);
            batch.fake = gan.generate(tape.constant(z));
            batch.real_targets = tape.constant(targets);
            return gan.discriminator_loss(batch).loss;
          },
          params));
    }
  }
  SECTION("the generator's loss") {
    REQUIRE_GRADCHECK(latent::gradcheck(
        [&](Tape<double>& tape) { return gan.generator_loss(gan.generate(tape.constant(z))).loss; }, params));
  }
}

TEST_CASE("GAN loss values match their formulas", "[gan][loss]") {
  Tape<double> tape;
  Matrix<double> r(1, 2), f(1, 2);
  r << 0.5, 2.0;
  f << -1.0, 0.25;
  const Var<double> real = tape.constant(r), fake = tape.constant(f);
  const auto sigmoid = [](double l) { return 1 / (1 + std::exp(-l)); };
  const auto mean2 = [](double a, double b) { return (a + b) / 2; };
  using std::log;
  REQUIRE(latent::MinimaxBce::discriminator(real, fake).item() ==
          Approx(-mean2(log(sigmoid(0.5)), log(sigmoid(2.0))) - mean2(log(1 - sigmoid(-1.0)), log(1 - sigmoid(0.25)))));
  REQUIRE(latent::MinimaxBce::discriminator(real, fake, 0.9).item() ==
          Approx(-mean2(0.9 * log(sigmoid(0.5)) + 0.1 * log(1 - sigmoid(0.5)),
                        0.9 * log(sigmoid(2.0)) + 0.1 * log(1 - sigmoid(2.0))) -
                 mean2(log(1 - sigmoid(-1.0)), log(1 - sigmoid(0.25)))));
  Matrix<double> t(1, 2);
  t << 0.9, 0.8;
  const Var<double> targets = tape.constant(t);
  REQUIRE(latent::NonSaturatingBce::discriminator(real, fake, targets).item() ==
          Approx(-mean2(0.9 * log(sigmoid(0.5)) + 0.1 * log(1 - sigmoid(0.5)),
                        0.8 * log(sigmoid(2.0)) + 0.2 * log(1 - sigmoid(2.0))) -
                 mean2(log(1 - sigmoid(-1.0)), log(1 - sigmoid(0.25)))));
  REQUIRE(latent::LeastSquares::discriminator(real, fake, targets).item() ==
          Approx(0.5 * mean2(0.16, 1.44) + 0.5 * mean2(1.0, 0.0625)));
  REQUIRE_THROWS_AS(latent::LeastSquares::discriminator(real, fake, tape.constant(Matrix<double>::Ones(1, 3))),
                    latent::shape_error);
  REQUIRE(latent::MinimaxBce::generator(fake).item() == Approx(mean2(log(1 - sigmoid(-1.0)), log(1 - sigmoid(0.25)))));
  REQUIRE(latent::NonSaturatingBce::generator(fake).item() == Approx(-mean2(log(sigmoid(-1.0)), log(sigmoid(0.25)))));
  REQUIRE(latent::LeastSquares::discriminator(real, fake).item() ==
          Approx(0.5 * mean2(0.25, 1.0) + 0.5 * mean2(1.0, 0.0625)));
  REQUIRE(latent::LeastSquares::generator(fake).item() == Approx(0.5 * mean2(4.0, 0.5625)));
  REQUIRE(latent::Hinge::discriminator(real, fake).item() == Approx(mean2(0.5, 0.0) + mean2(0.0, 1.25)));
  REQUIRE(latent::Hinge::generator(fake).item() == Approx(-mean2(-1.0, 0.25)));
  REQUIRE(latent::Wasserstein::discriminator(real, fake).item() == Approx(mean2(-1.0, 0.25) - mean2(0.5, 2.0)));
  REQUIRE(latent::Wasserstein::generator(fake).item() == Approx(-mean2(-1.0, 0.25)));
}

TEST_CASE("theory: with D = 1/2 everywhere the minimax value is -log 4, and G's minimax gradient vanishes as D wins",
          "[gan][theory]") {
  auto gan = make_mlp_gan<double, latent::MinimaxBce>({2, 4, 3}, {3, 5, 1}, 61);
  // A discriminator whose last layer is all zeros outputs logit 0: D = 1/2 for every input.
  for (auto& entry : gan.discriminator().named_parameters())
    if (entry.name.rfind("body.1.", 0) == 0) entry.parameter->value.setZero();
  Tape<double> tape;
  const Var<double> real = tape.constant(test::random_matrix(3, 7, 62));
  const Var<double> fake = gan.generate(tape.constant(test::random_matrix(2, 7, 63)));
  const Var<double> value = latent::MinimaxBce::value(gan.discriminate(real), gan.discriminate(fake));
  REQUIRE(value.item() == Approx(-std::log(4.0)).epsilon(1e-14));

  // d/dl of G's loss per example: minimax -sigmoid(l) (vanishes as l -> -inf),
  // non-saturating sigmoid(l) - 1 (tends to -1).
  Tape<double> scores_tape;
  latent::Parameter<double> confident_rejections(Matrix<double>::Constant(1, 4, -8.0));
  scores_tape.backward(latent::MinimaxBce::generator(scores_tape.leaf(confident_rejections)));
  const double minimax_gradient = std::abs(confident_rejections.grad.sum());
  confident_rejections.zero_grad();
  scores_tape.reset();
  scores_tape.backward(latent::NonSaturatingBce::generator(scores_tape.leaf(confident_rejections)));
  const double nonsaturating_gradient = std::abs(confident_rejections.grad.sum());
  INFO("minimax " << minimax_gradient << ", non-saturating " << nonsaturating_gradient);
  REQUIRE(minimax_gradient < 1e-3);
  REQUIRE(nonsaturating_gradient > 0.99);
}

TEST_CASE("Gan::generate evaluates a large batch in blocks of columns, as one batch would", "[gan]") {
  auto gan = make_mlp_gan<double, latent::NonSaturatingBce>({3, 8, 5}, {5, 8, 1}, 61);
  const Matrix<double> z = test::random_matrix(3, 600, 62);  // blocks of 256, 256 and 88
  Tape<double> tape;
  const Matrix<double> whole = gan.generate(tape.constant(z)).value();
  const Matrix<double> blocked = gan.generate(z);
  REQUIRE(blocked.rows() == 5);
  REQUIRE(blocked.cols() == 600);
  REQUIRE((blocked - whole).cwiseAbs().maxCoeff() < 1e-12);
  REQUIRE(gan.generate(Matrix<double>(3, 0)).cols() == 0);
  const Matrix<double> ones = latent::evaluate_in_blocks(
      z, Matrix<double>(Matrix<double>::Ones(2, 600)), [](Var<double> x, Var<double> c) { return latent::concat(x, c); }, 7);
  REQUIRE(ones.bottomRows(2) == Matrix<double>::Ones(2, 600));
  REQUIRE(ones.topRows(3) == z);
}

TEST_CASE("a Gan refuses networks that do not fit, a Discriminator more than one output", "[gan]") {
  latent::Rng rng(71);
  TestGenerator<float> generator({2, 4, 3}, rng);
  TestDiscriminator<float> discriminator({5, 4, 1}, rng);
  using Model = latent::Gan<TestGenerator<float>, TestDiscriminator<float>>;
  REQUIRE_THROWS_WITH(Model(generator, discriminator), Catch::Contains("writes 3") && Catch::Contains("reads 5"));
  REQUIRE_THROWS_AS(TestDiscriminator<float>({5, 4, 2}, rng), latent::shape_error);
}

TEST_CASE("gradcheck: spectral_normalize with u and v held fixed", "[gradcheck][spectral]") {
  const Matrix<double> u = test::random_matrix(3, 1, 81).normalized();
  const Matrix<double> v = test::random_matrix(4, 1, 82).normalized();
  const Matrix<double> weights = test::random_matrix(3, 4, 83);
  REQUIRE_GRADCHECK(latent::gradcheck(
      [&](Tape<double>& tape, const std::vector<Var<double>>& in) {
        return latent::sum(latent::mul(latent::spectral_normalize(in[0], u, v), tape.constant(weights)));
      },
      {test::random_matrix(3, 4, 84)}));
}

TEST_CASE("SpectralDense: sigma converges to the largest singular value, one power step per training recording",
          "[spectral]") {
  latent::Rng rng(91);
  latent::SpectralDense<double, latent::LeakyReLU> layer(6, 4, rng);
  layer.refine_estimate(200);
  const Eigen::JacobiSVD<Matrix<double>> svd(layer.weight.value);
  REQUIRE(layer.sigma() == Approx(svd.singularValues()(0)).epsilon(1e-9));

  SECTION("the layer's gradient is that of W / sigma(W)") {
    // At the fixed point of the power iteration, sigma's derivative w.r.t. u
    // and v vanishes, so finite differences of the whole layer see W / sigma(W).
    latent::Parameter<double> input(test::random_matrix(6, 3, 92));
    auto params = layer.parameters();
    params.push_back(&input);
    const Matrix<double> weights = test::random_matrix(4, 3, 93);
    REQUIRE_GRADCHECK(latent::gradcheck(
        [&](Tape<double>& tape) { return latent::sum(latent::mul(layer(tape.leaf(input)), tape.constant(weights))); }, params));
  }

  SECTION("the normalized weight has spectral norm 1") {
    Tape<double> tape;
    layer(tape.constant(test::random_matrix(6, 2, 94)));
    const Matrix<double>& normalized = tape.value(2);  // after the input and the weight leaf
    const Eigen::JacobiSVD<Matrix<double>> normalized_svd(normalized);
    REQUIRE(normalized_svd.singularValues()(0) == Approx(1.0).epsilon(1e-9));
  }

  SECTION("two calls in one recording share one iteration and one normalized weight; frozen calls iterate never") {
    latent::Rng fresh(95);
    latent::SpectralDense<double> young(6, 4, fresh);  // far from converged: every iteration moves sigma
    Tape<double> tape;
    const double before = young.sigma();
    young(tape.constant(test::random_matrix(6, 2, 96)));
    const Index nodes = tape.size();
    const double after_one = young.sigma();
    young(tape.constant(test::random_matrix(6, 2, 97)));
    REQUIRE(young.sigma() == after_one);
    REQUIRE(tape.size() == nodes + 3);  // constant, bias leaf, dense: the normalized weight is reused
    REQUIRE(after_one != before);
    const auto params = young.parameters();
    const latent::FrozenParameters<double> frozen(params);
    tape.reset();
    young(tape.constant(test::random_matrix(6, 2, 98)));
    REQUIRE(young.sigma() == after_one);
  }

  SECTION("evaluation mode iterates never; u and v are buffers") {
    latent::Rng fresh(99);
    latent::SpectralDense<double> young(6, 4, fresh);
    const double before = young.sigma();
    young.eval();
    Tape<double> tape;
    young(tape.constant(test::random_matrix(6, 2, 100)));
    REQUIRE(young.sigma() == before);
    const auto buffers = young.named_buffers();
    REQUIRE(buffers.size() == 2);
    REQUIRE(buffers[0].name == "u");
    REQUIRE(buffers[0].value->rows() == 4);
    REQUIRE(buffers[1].name == "v");
    REQUIRE(buffers[1].value->rows() == 6);
  }
}

TEST_CASE("GanTrainer: n_critic, weight clipping, figures and refused options", "[gan][training]") {
  const auto data = ring_of_gaussians(64, 0.7, 0.05, 101);
  auto gan = make_mlp_gan<float, latent::Wasserstein>({2, 8, 2}, {2, 8, 1}, 102);
  using Trainer = latent::GanTrainer<TestGan<float, latent::Wasserstein>, latent::Adam<float>, latent::Adam<float>,
                                     latent::WeightClip>;
  Trainer::Options options;
  options.n_critic = 4;
  REQUIRE(options.lipschitz.bound == 0.01);
  Trainer trainer(gan, Trainer::default_adam(), Trainer::default_adam(), options);
  const auto history = trainer.fit(data, data, quiet_fit(2, 8));  // 8 batches an epoch
  REQUIRE(trainer.discriminator_optimizer().steps() == 16);
  REQUIRE(trainer.generator_optimizer().steps() == 4);
  for (auto* p : gan.discriminator_parameters()) REQUIRE(p->value.cwiseAbs().maxCoeff() <= 0.01f);
  const auto& record = history.back();
  for (const char* figure : {"train_d_loss", "train_g_loss", "train_d_real", "train_d_fake", "train_d_grad_norm",
                             "train_g_grad_norm", "test_d_real"}) {
    CAPTURE(figure);
    REQUIRE(std::isfinite(record.get(figure)));
  }
  REQUIRE(record.get("train_g_grad_norm") > 0);

  Trainer::Options smoothing;
  smoothing.real_label = 0.9;
  REQUIRE_THROWS_WITH(Trainer(gan, Trainer::default_adam(), Trainer::default_adam(), smoothing),
                      Catch::Contains("label smoothing") && Catch::Contains("wgan"));
  Trainer::Options label_range;
  label_range.real_label_spread = 0.2;
  REQUIRE_THROWS_WITH(Trainer(gan, Trainer::default_adam(), Trainer::default_adam(), label_range),
                      Catch::Contains("range of real labels") && Catch::Contains("wgan"));
  Trainer::Options no_critic;
  no_critic.n_critic = 0;
  REQUIRE_THROWS_AS(Trainer(gan, Trainer::default_adam(), Trainer::default_adam(), no_critic), latent::error);
  Trainer::Options negative_clip;
  negative_clip.lipschitz.bound = -1;
  REQUIRE_THROWS_WITH(Trainer(gan, Trainer::default_adam(), Trainer::default_adam(), negative_clip),
                      Catch::Contains("WeightClip") && Catch::Contains("-1"));
}

namespace {

// The non-saturating loss, keeping the real examples' targets of every
// critic step it records.
struct TargetSpy : latent::NonSaturatingBce {
  static inline std::vector<Matrix<float>> targets;
  template <class Critic>
  latent::GanTerms<float> discriminator_terms(Critic& critic, const latent::GanBatch<float>& batch) const {
    targets.push_back(batch.real_targets.valid() ? batch.real_targets.value() : Matrix<float>());
    return NonSaturatingBce::discriminator_terms(critic, batch);
  }
};

}  // namespace

TEST_CASE("GanTrainer: with a spread, each real example's target is drawn from U(real_label - spread, real_label) every step",
          "[gan][training]") {
  const auto data = ring_of_gaussians(64, 0.7, 0.05, 105);
  auto gan = make_mlp_gan<float, TargetSpy>({2, 8, 2}, {2, 8, 1}, 106);
  using Trainer = latent::GanTrainer<TestGan<float, TargetSpy>>;
  Trainer::Options options;
  options.real_label_spread = 0.2;
  Trainer trainer(gan, Trainer::default_adam(), Trainer::default_adam(), options);
  TargetSpy::targets.clear();
  trainer.fit(data, latent::data::Dataset(), quiet_fit(2, 16));  // 4 critic steps an epoch
  REQUIRE(TargetSpy::targets.size() == 8);
  for (const auto& targets : TargetSpy::targets) {
    REQUIRE(targets.rows() == 1);
    REQUIRE(targets.cols() == 16);
    REQUIRE(targets.minCoeff() > 0.8f);
    REQUIRE(targets.maxCoeff() <= 1.0f);
    REQUIRE(targets.maxCoeff() - targets.minCoeff() > 0.05f);  // 16 draws of U(0.8, 1) do not bunch up
  }
  REQUIRE(TargetSpy::targets[0] != TargetSpy::targets[1]);
  Eigen::Index all = 0;
  double sum = 0;
  for (const auto& targets : TargetSpy::targets) {
    sum += targets.cast<double>().sum();
    all += targets.size();
  }
  REQUIRE(sum / static_cast<double>(all) == Approx(0.9).margin(0.02));

  Trainer::Options too_wide;
  too_wide.real_label = 0.9;
  too_wide.real_label_spread = 0.9;
  REQUIRE_THROWS_WITH(Trainer(gan, Trainer::default_adam(), Trainer::default_adam(), too_wide), Catch::Contains("spread"));
}

TEST_CASE("GanTrainer: a run resumed from a checkpoint continues exactly as an uninterrupted one", "[gan][checkpoint]") {
  const auto data = ring_of_gaussians(96, 0.7, 0.05, 111);
  latent::GanTrainer<TestGan<float, latent::NonSaturatingBce>>::Options options;
  options.real_label = 0.9;
  options.real_label_spread = 0.1;  // the targets drawn after the resume are those an uninterrupted run draws
  options.clip_grad_norm = 5;
  test::require_bit_exact_resume([](std::uint64_t seed) { return make_mlp_gan<float, latent::NonSaturatingBce>({2, 8, 2}, {2, 8, 1}, seed); },
                                 112, data, 2, 3, 32, options);
}

TEST_CASE("GanTrainer: a spectrally normalized GAN resumed from a checkpoint continues exactly as an uninterrupted one",
          "[gan][checkpoint][spectral]") {
  // Its singular-vector estimates are buffers: the checkpoint carries them.
  const auto data = ring_of_gaussians(96, 0.7, 0.05, 113);
  using Hidden = latent::SpectralDense<float, latent::LeakyReLU>;
  using Score = latent::SpectralDense<float>;
  using Critic = latent::Discriminator<latent::Sequential<Hidden, Score>>;
  const auto make = [](std::uint64_t seed) {
    latent::Rng rng(seed);
    TestGenerator<float> generator({2, 8, 2}, rng);
    Critic critic(latent::Sequential<Hidden, Score>(Hidden(2, 8, rng), Score(8, 1, rng)));
    return latent::Gan<TestGenerator<float>, Critic, latent::Hinge>(std::move(generator), std::move(critic));
  };
  REQUIRE(make(1).named_buffers().size() == 4);
  test::require_bit_exact_resume(make, 114, data, 2, 4, 32);
}

TEST_CASE("GanTrainer: the mode monitor logs the class histogram and warns when its entropy is low", "[gan][modes]") {
  const auto data = ring_of_gaussians(64, 0.7, 0.05, 121);
  auto gan = make_mlp_gan<float, latent::NonSaturatingBce>({2, 8, 2}, {2, 8, 1}, 122);
  latent::GanTrainer<TestGan<float, latent::NonSaturatingBce>> trainer(gan);
  latent::ModeMonitor<float> monitor;
  monitor.classes = 8;
  monitor.samples = 50;
  // A collapsed "classifier": everything is class 3.
  monitor.classify = [](const Matrix<float>& images) { return std::vector<int>(static_cast<std::size_t>(images.cols()), 3); };
  trainer.monitor_modes(monitor);
  const auto history = trainer.fit(data, data, quiet_fit(1, 32));
  REQUIRE(history.back().get("mode_entropy") == 0.0);
  REQUIRE(history.back().get("mode_class_3") == 1.0);
  REQUIRE(history.back().get("mode_class_0") == 0.0);
}

TEST_CASE("a GAN learns a ring of 8 Gaussians: non-saturating loss, seed 2024, 2000 steps, >= 7 modes covered",
          "[gan][training]") {
  // Small products: one thread (an OpenMP build otherwise lets Eigen's GEMM
  // spin-wait on a second one, which on a busy machine costs 10x).
  latent::set_num_threads(1);
  // Modes 0.54 apart on a circle of radius 0.7, standard deviation 0.03.
  const double radius = 0.7, spread = 0.03;
  const auto data = ring_of_gaussians(4000, radius, spread, 2024);
  latent::Rng rng(2024);
  using Generator = latent::Generator<latent::Mlp<float, latent::LeakyReLU, latent::Identity>>;
  using Discriminator = latent::Discriminator<latent::Mlp<float, latent::LeakyReLU, latent::Identity>>;
  using Model = latent::Gan<Generator, Discriminator>;
  Generator generator({4, 64, 64, 2}, rng);
  Discriminator discriminator({2, 64, 64, 1}, rng);
  Model gan(std::move(generator), std::move(discriminator));
  using Trainer = latent::GanTrainer<Model>;
  Trainer::Options options;
  options.seed = 2024;
  Trainer trainer(gan, latent::Adam<float>(1e-3f, 0.5f), latent::Adam<float>(1e-3f, 0.5f), options);
  auto fit = quiet_fit(64, 128);  // 32 steps an epoch: 2048 steps
  fit.shuffle_seed = 2024;
  trainer.fit(data, latent::data::Dataset(), fit);

  latent::Rng sample_rng(2025);
  const Matrix<float> samples = gan.sample(2000, sample_rng);
  std::vector<int> per_mode(8, 0);
  int near_any = 0;
  for (Index j = 0; j < samples.cols(); ++j)
    for (int mode = 0; mode < 8; ++mode) {
      const double angle = 2 * M_PI * mode / 8;
      const double dx = samples(0, j) - radius * std::cos(angle), dy = samples(1, j) - radius * std::sin(angle);
      if (std::sqrt(dx * dx + dy * dy) < 4 * spread) {
        ++per_mode[static_cast<std::size_t>(mode)];
        ++near_any;
      }
    }
  int covered = 0;
  for (int count : per_mode) covered += count >= 20 ? 1 : 0;  // 1% of the samples
  INFO("samples per mode: " << per_mode[0] << " " << per_mode[1] << " " << per_mode[2] << " " << per_mode[3] << " "
                            << per_mode[4] << " " << per_mode[5] << " " << per_mode[6] << " " << per_mode[7]
                            << "; within 4 sd of a mode: " << near_any << " of 2000");
  REQUIRE(covered >= 7);
  REQUIRE(near_any > 1000);
}

}  // namespace test_gan
