// The VAE: its KL term against Monte Carlo, the gradient of the whole
// negative ELBO, the IWAE bound's promises, and training that really learns.
#include <cmath>
#include <cstdlib>

#include "helpers.hpp"
#include <latent/metrics/iwae.hpp>
#include <latent/models/vae.hpp>
#include <latent/train/vae_trainer.hpp>

namespace test_vae {

using latent::Index;
using latent::Matrix;
using latent::Tape;

namespace {

template <class S>
using TestVae = latent::Vae<latent::GaussianEncoder<latent::Mlp<S, latent::Tanh, latent::Tanh>>,
                            latent::Decoder<latent::Mlp<S, latent::Tanh, latent::Identity>>>;

template <class S>
TestVae<S> make_vae(Index data, Index hidden, Index latent_size, latent::Rng& rng) {
  latent::GaussianEncoder<latent::Mlp<S, latent::Tanh, latent::Tanh>> encoder({data, hidden}, latent_size, rng);
  latent::Decoder<latent::Mlp<S, latent::Tanh, latent::Identity>> decoder({latent_size, hidden, data}, rng);
  return TestVae<S>(std::move(encoder), std::move(decoder));
}

}  // namespace

TEST_CASE("the analytic KL equals a Monte Carlo estimate of KL(q || p)", "[vae][kl]") {
  latent::Rng rng(11);
  const Index dims = 3, batch = 4;
  const Matrix<double> mu = test::random_matrix(dims, batch, 12);
  const Matrix<double> logvar = test::random_matrix(dims, batch, 13);
  Tape<double> tape;
  const double analytic = latent::kl_standard_normal(tape.constant(mu), tape.constant(logvar)).item();

  // KL = E_q[log q(z) - log p(z)], averaged over the batch like the op.
  const int samples = 200000;
  double sum = 0, sum_sq = 0;
  const latent::StandardNormal prior;
  Matrix<double> eps(dims, batch);
  for (int s = 0; s < samples; ++s) {
    rng.fill_normal(eps);
    const Matrix<double> z = mu + ((0.5 * logvar.array()).exp() * eps.array()).matrix();
    const Matrix<double> log_q = -latent::formula::gaussian_nll(z.array(), mu.array(), logvar.array()).matrix().colwise().sum();
    const double value = (log_q - prior.log_density(z)).mean();
    sum += value;
    sum_sq += value * value;
  }
  const double mean = sum / samples;
  const double standard_error = std::sqrt((sum_sq / samples - mean * mean) / samples);
  INFO("analytic " << analytic << ", Monte Carlo " << mean << " +- " << standard_error);
  REQUIRE(std::abs(mean - analytic) < 4 * standard_error);
}

TEST_CASE("gradcheck: the whole negative ELBO w.r.t. encoder and decoder parameters, eps fixed", "[gradcheck][vae]") {
  for (Index batch : {1, 3}) {
    CAPTURE(batch);
    latent::Rng rng(21);
    auto vae = make_vae<double>(6, 5, 2, rng);
    const Matrix<double> x = test::random_matrix(6, batch, 22, 0, 1);
    const Matrix<double> eps = test::random_matrix(2, batch, 23);
    for (double beta : {1.0, 0.5}) {
      CAPTURE(beta);
      const auto result = latent::gradcheck(
          [&](Tape<double>& tape) { return vae.negative_elbo(tape.constant(x), tape.constant(eps), beta).loss; }, vae.parameters());
      INFO(result.report);
      REQUIRE(result.passed);
      REQUIRE(result.checked == vae.parameter_count());
    }
  }
}

TEST_CASE("gradcheck: a Gaussian likelihood with learned variance", "[gradcheck][vae]") {
  latent::Rng rng(24);
  latent::GaussianEncoder<latent::Mlp<double, latent::Tanh, latent::Tanh>> encoder({4, 3}, 2, rng);
  latent::Decoder<latent::Mlp<double, latent::Tanh, latent::Identity>> decoder({2, 3, 4}, rng);
  latent::Vae<decltype(encoder), decltype(decoder), latent::Gaussian<double>> vae(std::move(encoder), std::move(decoder),
                                                                                   latent::Gaussian<double>(0.5, true));
  REQUIRE(vae.named_parameters().back().name == "likelihood.logvar");
  const Matrix<double> x = test::random_matrix(4, 3, 25);
  const Matrix<double> eps = test::random_matrix(2, 3, 26);
  const auto result = latent::gradcheck(
      [&](Tape<double>& tape) { return vae.negative_elbo(tape.constant(x), tape.constant(eps)).loss; }, vae.parameters());
  INFO(result.report);
  REQUIRE(result.passed);
}

TEST_CASE("a Vae refuses an encoder and decoder that do not fit", "[vae]") {
  latent::Rng rng(27);
  latent::GaussianEncoder<latent::Mlp<float, latent::ReLU, latent::ReLU>> encoder({10, 8}, 3, rng);
  latent::Decoder<latent::Mlp<float, latent::ReLU, latent::Identity>> decoder({4, 8, 10}, rng);
  using Model = latent::Vae<decltype(encoder), decltype(decoder)>;
  REQUIRE_THROWS_WITH(Model(encoder, decoder), Catch::Contains("latent size 3") && Catch::Contains("4"));
}

TEST_CASE("interpolation_path runs from one code to the other, both ends included", "[vae][interpolation]") {
  const Matrix<double> from = Matrix<double>::Constant(2, 1, -1.0), to = Matrix<double>::Constant(2, 1, 1.0);
  const Matrix<double> path = latent::interpolation_path(from, to, 5);
  REQUIRE(path.cols() == 5);
  REQUIRE(path.col(0) == from);
  REQUIRE(path.col(4) == to);
  REQUIRE(path(0, 2) == 0.0);
  REQUIRE_THROWS_AS(latent::interpolation_path(from, to, 1), latent::shape_error);
  REQUIRE_THROWS_AS(latent::interpolation_path(from, Matrix<double>::Zero(3, 1), 4), latent::shape_error);
}

TEST_CASE("Vae::interpolate decodes the codes of the straight line between two codes", "[vae][interpolation]") {
  latent::Rng rng(28);
  auto vae = make_vae<double>(6, 5, 2, rng);
  const Matrix<double> z0 = test::random_matrix(2, 1, 29), z1 = test::random_matrix(2, 1, 30);
  const Matrix<double> images = vae.interpolate(z0, z1, 4);
  REQUIRE(images.rows() == 6);
  REQUIRE(images.cols() == 4);
  const Matrix<double> expected = vae.decode(latent::interpolation_path(z0, z1, 4));
  REQUIRE(images.isApprox(expected, 1e-14));
  REQUIRE(images.col(0).isApprox(vae.decode(z0), 1e-14));
  REQUIRE(images.col(3).isApprox(vae.decode(z1), 1e-14));
  // The middle is not just a copy of an end.
  REQUIRE_FALSE(images.col(1).isApprox(images.col(0), 1e-6));
  REQUIRE_THROWS_WITH(vae.interpolate(Matrix<double>::Zero(3, 1), z1, 4), Catch::Contains("Vae::interpolate") && Catch::Contains("3x1"));
}

TEST_CASE("a small VAE trained on synthetic images lowers its test loss well below the start, and IWAE bounds behave",
          "[vae][training]") {
  const auto train = test::bars(2000, 31), test_set = test::bars(500, 32);
  latent::Rng rng(33);
  auto vae = make_vae<float>(64, 32, 4, rng);
  latent::VaeTrainer<TestVae<float>> trainer(vae, latent::Adam<float>(3e-3f));
  const double initial = trainer.evaluate(test_set).mean("loss");
  const Matrix<float> probe = test_set.batch<float>(std::vector<Index>{10, 11, 12, 13, 14, 15, 16, 17});
  const double initial_error = latent::reconstruction_error(vae, probe);
  latent::FitOptions options;
  options.epochs = 15;
  options.batch_size = 50;
  options.progress = latent::Progress::Mode::quiet;
  const auto history = trainer.fit(train, test_set, options);
  REQUIRE(history.epochs().size() == 15);
  const double final_loss = history.back().get("test_loss");
  INFO("test loss " << initial << " -> " << final_loss);
  REQUIRE(final_loss < 0.5 * initial);
  REQUIRE(history.back().get("test_kl") > 0);

  SECTION("reconstruction_error: squared distance to the decoded means, summed over pixels, per example") {
    const Matrix<float> decoded = vae.decode(vae.encode(probe));
    double by_hand = 0;
    for (Index j = 0; j < probe.cols(); ++j)
      for (Index i = 0; i < probe.rows(); ++i) by_hand += std::pow(double(decoded(i, j)) - double(probe(i, j)), 2);
    const double error = latent::reconstruction_error(vae, probe);
    REQUIRE(error == Approx(by_hand / double(probe.cols())).epsilon(1e-5));
    INFO("reconstruction error " << initial_error << " -> " << error);
    REQUIRE(error < 0.7 * initial_error);
  }

  SECTION("the IWAE bound is >= the ELBO and grows with K on average") {
    const Matrix<float> x = test_set.batch<float>(std::vector<Index>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    latent::Rng eval_rng(34);
    double iw1 = 0, iw10 = 0, iw100 = 0;
    const int repeats = 20;
    for (int r = 0; r < repeats; ++r) {
      iw1 += latent::importance_weighted_log_likelihood(vae, x, 1, eval_rng).mean();
      iw10 += latent::importance_weighted_log_likelihood(vae, x, 10, eval_rng).mean();
      iw100 += latent::importance_weighted_log_likelihood(vae, x, 100, eval_rng).mean();
    }
    iw1 /= repeats;
    iw10 /= repeats;
    iw100 /= repeats;
    // K = 1 is an unbiased estimate of the ELBO itself.
    Tape<float> tape;
    double elbo = 0;
    for (int r = 0; r < 200; ++r) {
      tape.reset();
      Matrix<float> eps(4, x.cols());
      eval_rng.fill_normal(eps);
      elbo -= vae.negative_elbo(tape.constant(x), tape.constant(eps)).loss.item();
    }
    elbo /= 200;
    INFO("ELBO " << elbo << ", IWAE K=1 " << iw1 << ", K=10 " << iw10 << ", K=100 " << iw100);
    REQUIRE(iw1 == Approx(elbo).margin(1.0));
    REQUIRE(iw10 > elbo);
    REQUIRE(iw100 > iw10);
  }
}

TEST_CASE("training stops with a clear error when the loss becomes NaN, leaving the parameters as they were",
          "[vae][training]") {
  const auto train = test::bars(100, 41);
  latent::Rng rng(42);
  auto vae = make_vae<float>(64, 8, 2, rng);
  vae.parameters()[0]->value(0, 0) = std::nanf("");
  const Matrix<float> before = vae.parameters()[1]->value;
  latent::VaeTrainer<TestVae<float>> trainer(vae);
  latent::FitOptions options;
  options.epochs = 1;
  options.progress = latent::Progress::Mode::quiet;
  REQUIRE_THROWS_WITH(trainer.fit(train, latent::data::Dataset(), options), Catch::Contains("nan") && Catch::Contains("step 1"));
  REQUIRE(vae.parameters()[1]->value == before);
}

}  // namespace test_vae
