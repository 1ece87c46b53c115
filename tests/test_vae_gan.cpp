// The VAE-GAN: a discriminator split into features and a head passes the
// layer checks (first and second order); each of the three losses passes a
// gradient check; mismatched networks are refused; trained on small images
// it learns to reconstruct them (pixel error falls); a run resumed from a
// checkpoint continues exactly as an uninterrupted one; its mode monitor
// watches prior samples.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "helpers.hpp"
#include "training_helpers.hpp"

namespace test_vae_gan {

using latent::Index;
using latent::Matrix;
using latent::Tape;
using latent::Var;
using test::quiet_fit;

namespace {

template <class S>
using Encoder = latent::GaussianEncoder<latent::Mlp<S, latent::LeakyReLU, latent::LeakyReLU>>;
template <class S>
using Decoder = latent::Decoder<latent::Mlp<S, latent::LeakyReLU, latent::Tanh>>;
template <class S>
using Critic = latent::FeatureDiscriminator<latent::Mlp<S, latent::LeakyReLU, latent::LeakyReLU>>;
template <class S, class Loss = latent::NonSaturatingBce>
using TestVaeGan = latent::VaeGan<Encoder<S>, Decoder<S>, Critic<S>, Loss>;

template <class S, class Loss = latent::NonSaturatingBce>
TestVaeGan<S, Loss> make_vae_gan(Index features, Index hidden, Index latent_size, std::uint64_t seed) {
  latent::Rng rng(seed);
  Encoder<S> encoder({features, hidden}, latent_size, rng);
  Decoder<S> decoder({latent_size, hidden, features}, rng);
  Critic<S> critic({features, hidden, hidden / 2}, rng);
  return TestVaeGan<S, Loss>(std::move(encoder), std::move(decoder), std::move(critic));
}

// 8x8 images of one bar (a row or a column), 0/255 with grey noise.
latent::data::Dataset bars(Index n, std::uint64_t seed) {
  latent::Rng rng(seed);
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(n * 64)), labels(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) {
    const int bar = static_cast<int>(rng.below(16));
    labels[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(bar % 8);
    for (int p = 0; p < 64; ++p) {
      const bool on = bar < 8 ? p / 8 == bar : p % 8 == bar - 8;
      const double noise = 20 * rng.uniform();
      pixels[static_cast<std::size_t>(i * 64 + p)] = static_cast<std::uint8_t>(on ? 255 - noise : noise);
    }
  }
  return latent::data::Dataset(std::move(pixels), std::move(labels), 8, 8);
}

// Mean squared pixel error per example of the model's reconstructions, pixels in [-1, 1].
template <class Model>
double pixel_error(Model& model, const latent::data::Dataset& data) {
  std::vector<Index> all(static_cast<std::size_t>(data.size()));
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<Index>(i);
  const Matrix<float> x = data.batch<float, latent::data::MinusOneToOne>(all);
  return static_cast<double>((model.reconstruct(x) - x).squaredNorm()) / static_cast<double>(x.cols());
}

}  // namespace

TEST_CASE("FeatureDiscriminator: head(features(x)), checked like every layer, first and second order",
          "[gradcheck][layer][vae_gan]") {
  latent::Rng rng(1);
  Critic<double> critic({5, 6, 4}, rng);
  REQUIRE(critic.in_features() == 5);
  REQUIRE(critic.feature_dim() == 4);
  REQUIRE(critic.parameters().size() == 6);
  latent::Parameter<double> input(test::random_matrix(5, 3, 2)), tangent(test::random_matrix(5, 3, 3));
  auto params = critic.parameters();
  params.push_back(&input);
  params.push_back(&tangent);
  const Matrix<double> weights = test::random_matrix(4, 3, 4);
  REQUIRE_GRADCHECK(latent::gradcheck(
      [&](Tape<double>& tape) {
        Var<double> x = tape.leaf(input);
        return latent::sum(critic(x)) + latent::sum(latent::mul(critic.features(x), tape.constant(weights)));
      },
      params));
  REQUIRE_GRADCHECK(latent::gradcheck(
      [&](Tape<double>& tape) { return latent::sum(critic.jvp(latent::Dual<double>{tape.leaf(input), tape.leaf(tangent)}).tangent); },
      params));
  latent::Rng other(5);
  REQUIRE_THROWS_WITH(Critic<double>(latent::Mlp<double, latent::LeakyReLU, latent::LeakyReLU>({5, 4}, other),
                                     latent::Dense<double>(3, 1, other)),
                      Catch::Contains("4 wide") && Catch::Contains("reads 3"));
  REQUIRE_THROWS_AS(Critic<double>(latent::Mlp<double, latent::LeakyReLU, latent::LeakyReLU>({5, 4}, other),
                                   latent::Dense<double>(4, 2, other)),
                    latent::shape_error);
}

TEST_CASE("gradcheck: the VAE-GAN's encoder, decoder and discriminator losses", "[gradcheck][vae_gan]") {
  auto model = make_vae_gan<double>(6, 8, 2, 11);
  const auto params = model.parameters();
  const Matrix<double> x = test::random_matrix(6, 3, 12), eps = test::random_matrix(2, 3, 13);
  const Matrix<double> z = test::random_matrix(2, 3, 14), z_prior = test::random_matrix(2, 3, 15);
  SECTION("encoder: KL + the feature error, through decoder and discriminator") {
    REQUIRE_GRADCHECK(latent::gradcheck(
        [&](Tape<double>& tape) { return model.encoder_loss(tape.constant(x), tape.constant(eps)).loss; }, params));
  }
  SECTION("encoder with beta 0.25: beta * KL + the feature error") {
    REQUIRE_GRADCHECK(latent::gradcheck(
        [&](Tape<double>& tape) { return model.encoder_loss(tape.constant(x), tape.constant(eps), 0.25).loss; }, params));
    Tape<double> tape;
    const auto terms = model.encoder_loss(tape.constant(x), tape.constant(eps), 0.25);
    REQUIRE(terms.kl.item() > 0);
    REQUIRE(terms.loss.item() == Approx(0.25 * terms.kl.item() + terms.feature_error.item()));
  }
  SECTION("decoder: gamma * feature error + the GAN loss on reconstructions and prior samples") {
    REQUIRE_GRADCHECK(latent::gradcheck(
        [&](Tape<double>& tape) {
          return model.decoder_loss(tape.constant(x), tape.constant(z), tape.constant(z_prior), 0.5).loss;
        },
        params));
  }
  SECTION("discriminator: the GAN loss on real images against reconstructions and prior samples") {
    const Matrix<double> fake = test::random_matrix(6, 6, 16);
    REQUIRE_GRADCHECK(latent::gradcheck(
        [&](Tape<double>& tape) {
          latent::GanBatch<double> batch;
          batch.real = tape.constant(x);
          batch.fake = tape.constant(fake);
          batch.real_label = 0.9;
          return model.discriminator_loss(batch).loss;
        },
        params));
  }
  SECTION("decoder and discriminator with the hinge loss (vaegan_mnist's default)") {
    auto hinge = make_vae_gan<double, latent::Hinge>(6, 8, 2, 11);
    const Matrix<double> fake = test::random_matrix(6, 6, 16);
    REQUIRE_GRADCHECK(latent::gradcheck(
        [&](Tape<double>& tape) {
          return hinge.decoder_loss(tape.constant(x), tape.constant(z), tape.constant(z_prior), 0.5).loss;
        },
        hinge.parameters()));
    REQUIRE_GRADCHECK(latent::gradcheck(
        [&](Tape<double>& tape) {
          latent::GanBatch<double> batch;
          batch.real = tape.constant(x);
          batch.fake = tape.constant(fake);
          return hinge.discriminator_loss(batch).loss;
        },
        hinge.parameters()));
  }
  SECTION("the feature error is 1/2 |D_l(x) - D_l(x~)|^2 per example") {
    Tape<double> tape;
    const Matrix<double> other = test::random_matrix(6, 3, 17);
    const double error = model.feature_error(tape.constant(x), tape.constant(other)).item();
    const Matrix<double> a = model.discriminator().features(tape.constant(x)).value();
    const Matrix<double> b = model.discriminator().features(tape.constant(other)).value();
    REQUIRE(error == Approx(0.5 * (a - b).squaredNorm() / 3));
  }
}

TEST_CASE("a VaeGan refuses networks that do not fit", "[vae_gan]") {
  latent::Rng rng(21);
  REQUIRE_THROWS_WITH(TestVaeGan<float>(Encoder<float>({6, 8}, 2, rng), Decoder<float>({3, 8, 6}, rng), Critic<float>({6, 4, 2}, rng)),
                      Catch::Contains("latent size 2") && Catch::Contains("input size 3"));
  REQUIRE_THROWS_WITH(TestVaeGan<float>(Encoder<float>({6, 8}, 2, rng), Decoder<float>({2, 8, 6}, rng), Critic<float>({5, 4, 2}, rng)),
                      Catch::Contains("discriminator reads 5"));
}

TEMPLATE_TEST_CASE("a VAE-GAN trained on small images learns to reconstruct them, and every figure is logged",
                   "[vae_gan][training]", latent::NonSaturatingBce, latent::Hinge) {
  const auto train = bars(1200, 31), test_set = bars(200, 32);
  auto model = make_vae_gan<float, TestType>(64, 32, 4, 33);
  using Trainer = latent::VaeGanTrainer<TestVaeGan<float, TestType>>;
  typename Trainer::Options options;
  options.seed = 34;
  const latent::Adam<float> adam(1e-3f, 0.5f);
  Trainer trainer(model, adam, adam, adam, options);
  latent::ModeMonitor<float> monitor;
  monitor.classes = 2;
  monitor.samples = 50;
  monitor.warn_below_fraction = 0;  // this test is not about collapse
  // Rows against columns: which direction holds more light.
  monitor.classify = [](const Matrix<float>& images) {
    std::vector<int> classes;
    for (Index j = 0; j < images.cols(); ++j) {
      const Eigen::Map<const Eigen::Matrix<float, 8, 8>> image(images.col(j).data());
      classes.push_back(image.rowwise().sum().maxCoeff() > image.colwise().sum().maxCoeff() ? 1 : 0);
    }
    return classes;
  };
  trainer.monitor_modes(monitor);
  const double before = pixel_error(model, test_set);
  const auto history = trainer.fit(train, test_set, quiet_fit(10, 40));
  const double after = pixel_error(model, test_set);
  INFO("pixel error of test reconstructions " << before << " -> " << after);
  REQUIRE(after < 0.5 * before);
  for (const char* figure : {"train_kl", "train_feature_error", "train_e_grad_norm", "train_g_loss", "train_g_grad_norm",
                             "train_d_loss", "train_d_real", "train_d_fake", "train_d_grad_norm", "test_kl",
                             "test_feature_error", "test_d_real", "mode_entropy"}) {
    CAPTURE(figure);
    REQUIRE(std::isfinite(history.back().get(figure)));
  }
  REQUIRE(history.back().get("train_kl") > 0);
  REQUIRE(trainer.encoder_optimizer().steps() == 300);
  REQUIRE(trainer.decoder_optimizer().steps() == 300);
  REQUIRE(trainer.discriminator_optimizer().steps() == 300);
}

TEST_CASE("VaeGanTrainer: a run resumed from a checkpoint continues exactly as an uninterrupted one",
          "[vae_gan][checkpoint]") {
  const auto train = bars(96, 41);
  using Trainer = latent::VaeGanTrainer<TestVaeGan<float>>;
  auto straight = make_vae_gan<float>(64, 16, 2, 42);
  Trainer(straight).fit(train, latent::data::Dataset(), quiet_fit(3, 32));
  const auto path = (std::filesystem::temp_directory_path() / "latent_test_vae_gan.ckpt").string();
  auto first = make_vae_gan<float>(64, 16, 2, 42);
  Trainer first_trainer(first);
  first_trainer.fit(train, latent::data::Dataset(), quiet_fit(2, 32));
  first_trainer.save_checkpoint(path);
  auto resumed = make_vae_gan<float>(64, 16, 2, 999);
  Trainer resumed_trainer(resumed);
  resumed_trainer.load_checkpoint(path);
  std::remove(path.c_str());
  REQUIRE(resumed_trainer.epochs_done() == 2);
  resumed_trainer.fit(train, latent::data::Dataset(), quiet_fit(3, 32));
  const auto a = straight.parameters(), b = resumed.parameters();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) REQUIRE(a[i]->value == b[i]->value);
}

TEST_CASE("VaeGanTrainer refuses options it cannot honour", "[vae_gan]") {
  auto model = make_vae_gan<float>(4, 4, 2, 51);
  using Trainer = latent::VaeGanTrainer<TestVaeGan<float>>;
  Trainer::Options negative;
  negative.gamma = -1;
  REQUIRE_THROWS_WITH(Trainer(model, Trainer::default_optimizer(), Trainer::default_optimizer(), Trainer::default_optimizer(), negative),
                      Catch::Contains("gamma"));
  Trainer::Options smoothing;
  smoothing.real_label = 1.5;
  REQUIRE_THROWS_WITH(Trainer(model, Trainer::default_optimizer(), Trainer::default_optimizer(), Trainer::default_optimizer(), smoothing),
                      Catch::Contains("real label"));
  for (const double beta : {0.0, -0.5}) {
    Trainer::Options no_kl;
    no_kl.kl_weight = beta;
    REQUIRE_THROWS_WITH(Trainer(model, Trainer::default_optimizer(), Trainer::default_optimizer(), Trainer::default_optimizer(), no_kl),
                        Catch::Contains("kl_weight must be positive"));
  }
}

}  // namespace test_vae_gan
