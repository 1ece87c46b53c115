// Conditional models: a conditional VAE and a conditional GAN read the
// labels of each batch as one-hot columns stacked below their networks'
// inputs; they refuse a missing or misshapen condition; their losses pass
// gradient checks; trained, they draw the class they are asked for; and a
// run resumed from a checkpoint continues exactly as an uninterrupted one.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "helpers.hpp"
#include "point_data.hpp"
#include "training_helpers.hpp"

namespace test_conditional {

using latent::Index;
using latent::Matrix;
using latent::Tape;
using latent::Var;
using test::quiet_fit;

namespace {

template <class S>
using Encoder = latent::GaussianEncoder<latent::Mlp<S, latent::Tanh, latent::Tanh>>;
template <class S>
using Decoder = latent::Decoder<latent::Mlp<S, latent::Tanh, latent::Identity>>;
template <class S>
using CVae = latent::Vae<Encoder<S>, Decoder<S>>;

// A VAE of `features`-pixel images conditioned on `classes` classes.
template <class S>
CVae<S> make_cvae(Index features, Index classes, Index hidden, Index latent_size, std::uint64_t seed) {
  latent::Rng rng(seed);
  Encoder<S> encoder({features + classes, hidden}, latent_size, rng);
  Decoder<S> decoder({latent_size + classes, hidden, features}, rng);
  return CVae<S>(std::move(encoder), std::move(decoder), {}, {}, latent::Conditioning{classes});
}

template <class S>
using Generator = latent::Generator<latent::Mlp<S, latent::LeakyReLU, latent::Identity>>;
template <class S>
using Critic = latent::Discriminator<latent::Mlp<S, latent::LeakyReLU, latent::Identity>>;
template <class S, class Loss = latent::NonSaturatingBce>
using CGan = latent::Gan<Generator<S>, Critic<S>, Loss>;

template <class S>
using ProjectionCritic = latent::ProjectionDiscriminator<latent::Mlp<S, latent::LeakyReLU, latent::LeakyReLU>>;
template <class S, class Loss = latent::NonSaturatingBce>
using ProjectionCGan = latent::Gan<Generator<S>, ProjectionCritic<S>, Loss>;

template <class S, class Loss = latent::NonSaturatingBce>
CGan<S, Loss> make_cgan(Index noise, Index features, Index classes, Index hidden, std::uint64_t seed) {
  latent::Rng rng(seed);
  Generator<S> generator({noise + classes, hidden, hidden, features}, rng);
  Critic<S> critic({features + classes, hidden, hidden, 1}, rng);
  return CGan<S, Loss>(std::move(generator), std::move(critic), {}, {}, latent::Conditioning{classes});
}

// The same GAN with a projection critic: the labels meet the critic's
// features in an inner product, not its first layer.
template <class S, class Loss = latent::NonSaturatingBce>
ProjectionCGan<S, Loss> make_projection_cgan(Index noise, Index features, Index classes, Index hidden, std::uint64_t seed) {
  latent::Rng rng(seed);
  Generator<S> generator({noise + classes, hidden, hidden, features}, rng);
  ProjectionCritic<S> critic(latent::Mlp<S, latent::LeakyReLU, latent::LeakyReLU>({features, hidden, hidden}, rng),
                             latent::Dense<S>(hidden, 1, rng), classes, rng);
  return ProjectionCGan<S, Loss>(std::move(generator), std::move(critic), {}, {}, latent::Conditioning{classes});
}

// 4x4 images whose label k in 0..3 is the lit row k (grey noise elsewhere):
// the image is a function of its label.
latent::data::Dataset lit_rows(Index n, std::uint64_t seed) {
  latent::Rng rng(seed);
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(n * 16)), labels(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) {
    const auto row = static_cast<int>(rng.below(4));
    labels[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(row);
    for (int p = 0; p < 16; ++p) {
      const double noise = 30 * rng.uniform();
      pixels[static_cast<std::size_t>(i * 16 + p)] = static_cast<std::uint8_t>(p / 4 == row ? 255 - noise : noise);
    }
  }
  return latent::data::Dataset(std::move(pixels), std::move(labels), 4, 4);
}

// Points of four Gaussian blobs at (+-0.5, +-0.5), standard deviation 0.05,
// labelled by blob, as 1x2 "images" of bytes that data::MinusOneToOne maps
// back to [-1, 1]^2.
const double kBlobX[] = {-0.5, 0.5, -0.5, 0.5};
const double kBlobY[] = {-0.5, -0.5, 0.5, 0.5};

latent::data::Dataset labelled_blobs(Index n, std::uint64_t seed) {
  return test::point_data(n, seed, [](latent::Rng& rng) {
    const auto blob = rng.below(4);
    const double x = kBlobX[blob] + 0.05 * rng.normal();
    const double y = kBlobY[blob] + 0.05 * rng.normal();
    return test::Point{x, y, static_cast<int>(blob)};
  });
}

template <class S>
Matrix<S> labels_one_hot(const std::vector<int>& labels, Index classes) {
  return latent::data::one_hot<S>(labels, classes);
}

}  // namespace

TEST_CASE("a conditional VAE reads x and z with the one-hot labels stacked below, and refuses conditions that do not fit",
          "[conditional][vae]") {
  auto cvae = make_cvae<double>(16, 4, 8, 2, 1);
  REQUIRE(cvae.classes() == 4);
  REQUIRE(cvae.data_dim() == 16);
  REQUIRE(cvae.latent_dim() == 2);
  Tape<double> tape;
  const Var<double> x = tape.constant(test::random_matrix(16, 3, 2, 0, 1));
  const Var<double> eps = tape.constant(test::random_matrix(2, 3, 3));
  const Var<double> y = tape.constant(labels_one_hot<double>({0, 3, 1}, 4));
  REQUIRE(std::isfinite(cvae.negative_elbo(x, y, eps).loss.item()));

  SECTION("a missing, misshapen or unwanted condition") {
    REQUIRE_THROWS_WITH(cvae.negative_elbo(x, eps), Catch::Contains("conditioned on 4 classes"));
    REQUIRE_THROWS_WITH(cvae.negative_elbo(x, tape.constant(labels_one_hot<double>({0, 1}, 4)), eps),
                        Catch::Contains("4x2") && Catch::Contains("4x3"));
    auto plain = make_cvae<double>(16, 0, 8, 2, 4);
    REQUIRE_THROWS_WITH(plain.negative_elbo(x, y, eps), Catch::Contains("unconditional"));
  }
  SECTION("networks sized without the classes are refused, naming them") {
    latent::Rng rng(5);
    REQUIRE_THROWS_WITH(CVae<double>(Encoder<double>({20, 8}, 2, rng), Decoder<double>({2, 8, 16}, rng), {}, {},
                                     latent::Conditioning{4}),
                        Catch::Contains("4 classes"));
  }
  SECTION("samples are drawn for given labels only") {
    latent::Rng rng(6);
    const Matrix<double> samples = cvae.sample(std::vector<int>{3, 0}, rng);
    REQUIRE(samples.rows() == 16);
    REQUIRE(samples.cols() == 2);
    REQUIRE_THROWS_WITH(cvae.sample(5, rng), Catch::Contains("sample(labels, rng)"));
    REQUIRE_THROWS_WITH(cvae.sample(std::vector<int>{4}, rng), Catch::Contains("label 4"));
    REQUIRE_THROWS_WITH(cvae.decode(Matrix<double>::Zero(2, 1)), Catch::Contains("conditioned on 4 classes"));
  }
}

TEST_CASE("gradcheck: a conditional VAE's negative ELBO w.r.t. its parameters and its condition",
          "[gradcheck][conditional][vae]") {
  auto cvae = make_cvae<double>(5, 3, 4, 2, 11);
  auto params = cvae.parameters();
  latent::Parameter<double> condition(labels_one_hot<double>({2, 0, 1, 2}, 3));
  params.push_back(&condition);
  const Matrix<double> x = test::random_matrix(5, 4, 12, 0, 1), eps = test::random_matrix(2, 4, 13);
  REQUIRE_GRADCHECK(latent::gradcheck(
      [&](Tape<double>& tape) { return cvae.negative_elbo(tape.constant(x), tape.leaf(condition), tape.constant(eps)).loss; },
      params));
}

namespace {

// Both losses of a conditional GAN (2 noise, 3 features, 2 classes) w.r.t.
// every parameter, and its refusals of missing or misshapen labels.
template <class Model>
void check_cgan_gradients(Model& cgan) {
  REQUIRE(cgan.noise_dim() == 2);
  REQUIRE(cgan.data_dim() == 3);
  const auto params = cgan.parameters();
  const Matrix<double> real = test::random_matrix(3, 4, 22), z = test::random_matrix(2, 4, 23);
  const Matrix<double> y = labels_one_hot<double>({1, 0, 0, 1}, 2);
  REQUIRE_GRADCHECK(latent::gradcheck(
      [&](Tape<double>& tape) {
        const Var<double> labels = tape.constant(y);
        latent::GanBatch<double> batch;
        batch.real = tape.constant(real);
        batch.fake = cgan.generate(tape.constant(z), labels);
        batch.real_label = 0.9;
        return cgan.discriminator_loss(batch, labels).loss;
      },
      params));
  REQUIRE_GRADCHECK(latent::gradcheck(
      [&](Tape<double>& tape) {
        const Var<double> labels = tape.constant(y);
        latent::GanBatch<double> batch;
        batch.fake = cgan.generate(tape.constant(z), labels);
        return cgan.generator_loss(batch, labels).loss;
      },
      params));
  Tape<double> tape;
  REQUIRE_THROWS_WITH(cgan.generate(tape.constant(z)), Catch::Contains("conditioned on 2 classes"));
  REQUIRE_THROWS_WITH(cgan.discriminate(tape.constant(real), tape.constant(labels_one_hot<double>({1, 0}, 2))),
                      Catch::Contains("2x2") && Catch::Contains("2x4"));
}

}  // namespace

namespace {

// Runs check on a conditional GAN of each critic kind, one section each.
template <class S, class Check>
void with_each_critic(Index noise, Index features, Index classes, Index hidden, std::uint64_t seed, Check check) {
  SECTION("labels at the critic's input") {
    auto cgan = make_cgan<S>(noise, features, classes, hidden, seed);
    check(cgan);
  }
  SECTION("a projection critic") {
    auto cgan = make_projection_cgan<S>(noise, features, classes, hidden, seed);
    check(cgan);
  }
}

}  // namespace

TEST_CASE("gradcheck: a conditional GAN's losses w.r.t. both networks' parameters", "[gradcheck][conditional][gan]") {
  with_each_critic<double>(2, 3, 2, 5, 21, [](auto& cgan) { check_cgan_gradients(cgan); });
}

TEST_CASE("a conditional VAE learns to draw the class it is asked for, and its loss falls", "[conditional][vae][training]") {
  const auto train = lit_rows(800, 31);
  auto cvae = make_cvae<float>(16, 4, 16, 2, 32);
  latent::VaeTrainer<CVae<float>> trainer(cvae, latent::Adam<float>(3e-3f));
  const double initial = trainer.evaluate(train).mean("loss");
  const auto history = trainer.fit(train, train, quiet_fit(12, 40));
  const double final_loss = history.back().get("test_loss");
  INFO("loss " << initial << " -> " << final_loss);
  REQUIRE(final_loss < 0.5 * initial);
  // Prior codes decoded for each label: the lit row is the label's, in all but a few.
  latent::Rng rng(33);
  std::vector<int> labels;
  for (int k = 0; k < 200; ++k) labels.push_back(k % 4);
  const Matrix<float> samples = cvae.sample(labels, rng);
  int right = 0;
  for (Index j = 0; j < samples.cols(); ++j) {
    Eigen::Index brightest = 0;
    Eigen::Map<const Eigen::Matrix<float, 4, 4>>(samples.col(j).data()).colwise().sum().maxCoeff(&brightest);
    right += brightest == labels[static_cast<std::size_t>(j)] ? 1 : 0;
  }
  INFO(right << " of 200 samples show their label's row");
  REQUIRE(right >= 190);
}

namespace {

// Trains a conditional GAN of 2 noise, 2 features and 4 classes on the four
// labelled blobs and checks that its samples land in the blob asked for.
template <class Model>
void check_cgan_learns_classes(Model& cgan) {
  const auto train = labelled_blobs(2000, 41);
  using Trainer = latent::GanTrainer<Model>;
  typename Trainer::Options options;
  options.seed = 43;
  Trainer trainer(cgan, latent::Adam<float>(1e-3f, 0.5f), latent::Adam<float>(1e-3f, 0.5f), options);
  trainer.fit(train, latent::data::Dataset(), quiet_fit(24, 64));  // 32 steps an epoch
  latent::Rng rng(44);
  std::vector<int> labels;
  for (int k = 0; k < 400; ++k) labels.push_back(k % 4);
  const Matrix<float> samples = cgan.sample(labels, rng);
  int right = 0;
  for (Index j = 0; j < samples.cols(); ++j) {
    const auto k = static_cast<std::size_t>(labels[static_cast<std::size_t>(j)]);
    right += std::hypot(samples(0, j) - kBlobX[k], samples(1, j) - kBlobY[k]) < 0.25 ? 1 : 0;
  }
  INFO(right << " of 400 samples lie near their label's blob");
  REQUIRE(right >= 320);
}

}  // namespace

TEST_CASE("a conditional GAN learns to draw the class it is asked for", "[conditional][gan][training]") {
  with_each_critic<float>(2, 2, 4, 32, 42, [](auto& cgan) { check_cgan_learns_classes(cgan); });
}

TEST_CASE("conditional trainers: a run resumed from a checkpoint continues exactly as an uninterrupted one",
          "[conditional][checkpoint]") {
  const auto path = (std::filesystem::temp_directory_path() / "latent_test_conditional.ckpt").string();
  const auto same = [](latent::ParameterList<float> a, latent::ParameterList<float> b) {
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) REQUIRE(a[i]->value == b[i]->value);
  };
  SECTION("conditional VAE") {
    const auto train = lit_rows(96, 51);
    using Trainer = latent::VaeTrainer<CVae<float>>;
    auto straight = make_cvae<float>(16, 4, 8, 2, 52);
    Trainer(straight).fit(train, latent::data::Dataset(), quiet_fit(3, 32));
    auto first = make_cvae<float>(16, 4, 8, 2, 52);
    Trainer first_trainer(first);
    first_trainer.fit(train, latent::data::Dataset(), quiet_fit(2, 32));
    first_trainer.save_checkpoint(path);
    auto resumed = make_cvae<float>(16, 4, 8, 2, 999);
    Trainer resumed_trainer(resumed);
    resumed_trainer.load_checkpoint(path);
    resumed_trainer.fit(train, latent::data::Dataset(), quiet_fit(3, 32));
    same(straight.parameters(), resumed.parameters());
  }
  SECTION("conditional WGAN-GP with a projection critic, fresh critic batches") {
    const auto train = labelled_blobs(96, 53);
    using Trainer = latent::GanTrainer<ProjectionCGan<float, latent::WassersteinGp>>;
    Trainer::Options options;
    options.n_critic = 3;
    options.fresh_critic_batches = true;
    const auto make = [](std::uint64_t seed) { return make_projection_cgan<float, latent::WassersteinGp>(2, 2, 4, 8, seed); };
    auto straight = make(54);
    Trainer(straight, Trainer::default_adam(), Trainer::default_adam(), options).fit(train, latent::data::Dataset(), quiet_fit(3, 32));
    auto first = make(54);
    Trainer first_trainer(first, Trainer::default_adam(), Trainer::default_adam(), options);
    first_trainer.fit(train, latent::data::Dataset(), quiet_fit(2, 32));
    first_trainer.save_checkpoint(path);
    auto resumed = make(999);
    Trainer resumed_trainer(resumed, Trainer::default_adam(), Trainer::default_adam(), options);
    resumed_trainer.load_checkpoint(path);
    resumed_trainer.fit(train, latent::data::Dataset(), quiet_fit(3, 32));
    same(straight.parameters(), resumed.parameters());
  }
  std::remove(path.c_str());
}

}  // namespace test_conditional
