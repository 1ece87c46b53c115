// Convolutional models through the existing roles, models and trainers (none
// of which knows it holds convolutions): a small convolutional VAE and a small
// DCGAN-shaped GAN learn 8x8 bars; trainers train in training mode and
// evaluate, sample and reconstruct in evaluation mode; composites name their
// buffers as they name their parameters.
#include <cmath>
#include <limits>
#include <vector>

#include "conv_test_models.hpp"
#include "gan_test_helpers.hpp"
#include "helpers.hpp"
#include <latent/models/gan.hpp>
#include <latent/models/vae.hpp>
#include <latent/train/gan_trainer.hpp>
#include <latent/train/vae_trainer.hpp>

namespace test_conv_models {

using latent::ImageShape;
using latent::Index;
using latent::Kernel;
using latent::Matrix;

namespace {

using S = float;

// Encoder: 1x8x8 -> Conv2d(1, 8, k4, s2, p1) 8x4x4 ReLU -> BatchNorm -> flatten 128 -> Dense 32 ReLU -> mu, logvar (4 each).
// Decoder: 4 -> Dense 32 ReLU -> Dense 128 ReLU -> 8x4x4 -> ConvTranspose2d(8, 1, k4, s2, p1) 1x8x8 logits.
using EncoderBody = latent::Sequential<latent::Conv2d<S, latent::ReLU>, latent::BatchNorm<S>, latent::Flatten<S>, latent::Dense<S, latent::ReLU>>;
using DecoderBody = latent::Sequential<latent::Dense<S, latent::ReLU>, latent::Dense<S, latent::ReLU>, latent::Reshape<S>,
                                       latent::ConvTranspose2d<S>>;
using ConvVae = latent::Vae<latent::GaussianEncoder<EncoderBody>, latent::Decoder<DecoderBody>, latent::Bernoulli>;

const Kernel kHalf = Kernel(4).stride(2).padding(1);

ConvVae make_vae(latent::Rng& rng) {
  EncoderBody encoder(latent::Conv2d<S, latent::ReLU>({1, 8, 8}, 8, kHalf, rng), latent::BatchNorm<S>(ImageShape{8, 4, 4}),
                      latent::Flatten<S>({8, 4, 4}), latent::Dense<S, latent::ReLU>(128, 32, rng));
  DecoderBody decoder(latent::Dense<S, latent::ReLU>(4, 32, rng), latent::Dense<S, latent::ReLU>(32, 128, rng), latent::Reshape<S>({8, 4, 4}),
                      latent::ConvTranspose2d<S>({8, 4, 4}, 1, kHalf, rng));
  return ConvVae(latent::GaussianEncoder<EncoderBody>(std::move(encoder), 4, rng), latent::Decoder<DecoderBody>(std::move(decoder)));
}

using test::conv_gan::DiscriminatorBody;
using test::conv_gan::make_gan;
template <class Loss = latent::NonSaturatingBce>
using ConvGanWith = test::conv_gan::GanWith<Loss>;
using ConvGan = ConvGanWith<>;

using test::quiet_fit;

// Mean over generated images (in [-1, 1]) of the squared distance to the
// nearest training image (scaled to [-1, 1] the same way).
double nearest_distance(const Matrix<S>& images, const latent::data::Dataset& data) {
  std::vector<Index> all(static_cast<std::size_t>(data.size()));
  for (Index i = 0; i < data.size(); ++i) all[static_cast<std::size_t>(i)] = i;
  const Matrix<S> reference = data.batch<S, latent::data::MinusOneToOne>(all);
  double total = 0;
  for (Index j = 0; j < images.cols(); ++j)
    total += (reference.colwise() - images.col(j)).colwise().squaredNorm().minCoeff();
  return total / double(images.cols());
}

}  // namespace

TEST_CASE("a convolutional VAE with BatchNorm learns 8x8 bars: its test loss falls well below the start", "[vae][conv][training]") {
  const auto train = test::bars(2000, 61), test_set = test::bars(200, 62);
  latent::Rng rng(63);
  ConvVae vae = make_vae(rng);
  latent::VaeTrainer<ConvVae> trainer(vae, latent::Adam<S>(3e-3f));
  const double initial = trainer.evaluate(test_set).mean("loss");
  const auto history = trainer.fit(train, test_set, quiet_fit(10, 50));
  const double final_loss = history.back().get("test_loss");
  INFO("test loss " << initial << " -> " << final_loss);
  REQUIRE(final_loss < 0.5 * initial);
  REQUIRE(vae.training());  // evaluate() put it back
}

TEST_CASE("a DCGAN-shaped GAN learns 8x8 bars: its samples move close to the training images", "[gan][conv][training]") {
  const auto train = test::bars(2000, 71);
  latent::Rng rng(72);
  ConvGan gan = make_gan(rng);
  latent::Rng noise(73);
  Matrix<S> z(8, 100);
  gan.sample_noise(z, noise);
  const double before = nearest_distance(gan.generate(z), train);
  const latent::Adam<S> adam(1e-3f, 0.5f, 0.999f);
  latent::GanTrainer<ConvGan> trainer(gan, adam, adam);
  const auto history = trainer.fit(train, latent::data::Dataset(), quiet_fit(10, 50));
  const double after = nearest_distance(gan.generate(z), train);
  INFO("squared distance to the nearest training image " << before << " -> " << after << " (of 64 pixels in [-1, 1])");
  REQUIRE(after < 0.5 * before);
  REQUIRE(std::isfinite(history.back().get("train_d_loss")));
  REQUIRE(std::isfinite(history.back().get("train_g_loss")));
}

TEST_CASE("trainers step in training mode and evaluate, sample and reconstruct in evaluation mode", "[conv][modes]") {
  latent::Rng rng(81);
  const auto data = test::bars(40, 82);
  const std::vector<Index> first_four{0, 1, 2, 3};
  SECTION("a VAE") {
    ConvVae vae = make_vae(rng);
    auto& norm = vae.encoder().body().layer<1>();
    const Matrix<S> x = data.batch<S>(first_four);
    // In evaluation mode an image's output does not depend on the rest of its batch.
    const Matrix<S> alone = vae.reconstruct(x.leftCols(1));
    REQUIRE(vae.reconstruct(x).col(0).isApprox(alone.col(0)));
    REQUIRE(norm.running_mean.isZero());  // evaluation moved no running statistic
    vae.eval();
    latent::VaeTrainer<ConvVae> trainer(vae, latent::Adam<S>(1e-3f));
    latent::RunningMeans means;
    trainer.train_batch(data, latent::data::Batch(first_four.data(), 4), means);
    REQUIRE(vae.training());
    REQUIRE_FALSE(norm.running_mean.isZero());  // the step used batch statistics
    const Matrix<S> running = norm.running_mean;
    trainer.evaluate(data, 10);
    REQUIRE(norm.running_mean == running);
    REQUIRE(vae.training());
    vae.sample(3, rng);
    REQUIRE(norm.running_mean == running);
  }
  SECTION("a GAN") {
    ConvGan gan = make_gan(rng);
    auto& g_norm = gan.generator().body().layer<1>();
    auto& d_norm = gan.discriminator().body().layer<2>();
    Matrix<S> z(8, 3);
    gan.sample_noise(z, rng);
    REQUIRE(gan.generate(z).col(0).isApprox(gan.generate(Matrix<S>(z.leftCols(1))).col(0)));
    REQUIRE(g_norm.running_mean.isZero());
    latent::GanTrainer<ConvGan> trainer(gan);
    latent::RunningMeans means;
    gan.eval();
    trainer.train_batch(data, latent::data::Batch(first_four.data(), 4), means);
    REQUIRE(gan.training());
    REQUIRE_FALSE(g_norm.running_mean.isZero());
    REQUIRE_FALSE(d_norm.running_mean.isZero());
    const Matrix<S> running = d_norm.running_mean;
    latent::EpochRecord record;
    trainer.evaluate_into(data, record);
    REQUIRE(d_norm.running_mean == running);
    REQUIRE(std::isfinite(record.get("test_d_real")));
  }
}

TEST_CASE("composites name their buffers as they name their parameters, and pass their mode down", "[conv][modes]") {
  latent::Rng rng(91);
  ConvGan gan = make_gan(rng);
  const auto buffers = gan.named_buffers();
  REQUIRE(buffers.size() == 4);
  REQUIRE(buffers[0].name == "generator.body.1.running_mean");
  REQUIRE(buffers[1].name == "generator.body.1.running_var");
  REQUIRE(buffers[2].name == "discriminator.body.2.running_mean");
  REQUIRE(buffers[3].name == "discriminator.body.2.running_var");
  REQUIRE(buffers[3].value == &gan.discriminator().body().layer<2>().running_var);
  REQUIRE(gan.named_parameters()[0].name == "generator.body.0.weight");
  gan.eval();
  REQUIRE_FALSE(gan.discriminator().body().layer<2>().training());
  REQUIRE_FALSE(gan.generator().body().layer<1>().training());
  gan.discriminator().train();
  REQUIRE(gan.discriminator().body().layer<2>().training());
  REQUIRE_FALSE(gan.generator().body().layer<1>().training());
  {
    const latent::EvaluationMode evaluation(gan);
    REQUIRE_FALSE(gan.discriminator().body().layer<2>().training());
  }
  REQUIRE_FALSE(gan.training());  // restored to the mode it had
}

TEST_CASE("a GAN with BatchNorm resumed from a checkpoint continues exactly as an uninterrupted one", "[gan][conv][checkpoint]") {
  // The running statistics are buffers: the checkpoint carries them.
  const auto data = test::bars(96, 101);
  test::require_bit_exact_resume(
      [](std::uint64_t seed) {
        latent::Rng rng(seed);
        return make_gan(rng);
      },
      102, data, 1, 2, 32);
}

TEST_CASE("a gradient penalty is refused a discriminator that normalizes over the batch", "[gan][conv]") {
  latent::Rng rng(11);
  latent::BatchNorm<S> norm(ImageShape{2, 1, 1});
  DiscriminatorBody body(latent::Conv2d<S, latent::LeakyReLU>({1, 8, 8}, 8, kHalf, rng), latent::Conv2d<S>({8, 4, 4}, 16, kHalf, rng),
                         latent::BatchNorm<S, latent::LeakyReLU>(ImageShape{16, 2, 2}), latent::Conv2d<S>({16, 2, 2}, 1, Kernel(2), rng));
  latent::Conv2d<S> conv({1, 8, 8}, 8, kHalf, rng);
  // BatchNorm mixes the columns of a batch in training mode only; a network does when one of its layers does.
  CHECK(norm.mixes_columns());
  CHECK(body.mixes_columns());
  CHECK_FALSE(conv.mixes_columns());
  body.eval();
  CHECK_FALSE(body.mixes_columns());

  CHECK_NOTHROW(make_gan<latent::NonSaturatingBce>(rng));
  CHECK_NOTHROW(make_gan<latent::Wasserstein>(rng));
  CHECK_THROWS_WITH(make_gan<latent::WassersteinGp>(rng),
                    Catch::Contains("Gan: the wgan-gp loss") && Catch::Contains("normalizes over the batch"));
}

}  // namespace test_conv_models
