// Second order (autodiff/jvp.hpp, models/gradient_penalty.hpp): every
// activation's recorded derivative and every critic layer's directional
// derivative match finite differences of the forward pass, and their
// gradients match finite differences of the recorded derivative (a
// second-order gradcheck, in double); the gradient penalty's gradient with
// respect to a critic's parameters matches finite differences of the penalty.
#include <cmath>
#include <vector>

#include "helpers.hpp"
#include <latent/models/gradient_penalty.hpp>

namespace test_second_order {

using latent::Dual;
using latent::Index;
using latent::Matrix;
using latent::Tape;
using latent::Var;
using Vars = std::vector<Var<double>>;

namespace {

// A fixed random projection to a scalar (a plain sum would hide a transposed gradient).
Var<double> project(Var<double> y, std::uint64_t seed = 99) {
  const Matrix<double> weights = test::random_matrix(y.rows(), y.cols(), seed + static_cast<std::uint64_t>(y.rows() * 31 + y.cols()));
  return latent::sum(latent::mul(y, y.tape().constant(weights)));
}

// Inputs for an activation: away from ReLU's kink, inside every curve's interesting range.
Matrix<double> activation_inputs(Index rows, Index cols, std::uint64_t seed) {
  return test::away_from_zero(rows, cols, seed, 0.1) * 1.5;
}

constexpr double kStep = 1e-6;

// (f(x + h t) - f(x - h t)) / 2h for a function of plain matrices.
template <class F>
Matrix<double> directional_difference(F f, const Matrix<double>& x, const Matrix<double>& t) {
  return (f(x + kStep * t) - f(x - kStep * t)) / (2 * kStep);
}

void require_close(const Matrix<double>& actual, const Matrix<double>& expected, double tolerance = 1e-6) {
  REQUIRE(actual.rows() == expected.rows());
  REQUIRE(actual.cols() == expected.cols());
  const double error = (actual - expected).cwiseAbs().maxCoeff();
  INFO("max |error| " << error << "\nactual\n" << actual << "\nexpected\n" << expected);
  REQUIRE(error <= tolerance * (1 + expected.cwiseAbs().maxCoeff()));
}

// The shared layer check, second order: the tangent of layer.jvp matches
// finite differences of the layer along the tangent, and the gradient of
// (projected tangent + projected value) w.r.t. the layer's parameters, its
// input and the tangent matches finite differences of the recorded jvp.
template <class Layer>
void check_layer_jvp(Layer& layer, Index in_features, Index batch) {
  const Matrix<double> x0 = test::random_matrix(in_features, batch, 41);
  const Matrix<double> t0 = test::random_matrix(in_features, batch, 42);
  const auto forward = [&](const Matrix<double>& x) {
    Tape<double> tape;
    return Matrix<double>(layer(tape.constant(x)).value());
  };
  {
    Tape<double> tape;
    const Dual<double> out = layer.jvp(Dual<double>{tape.constant(x0), tape.constant(t0)});
    require_close(out.value.value(), forward(x0));
    require_close(out.tangent.value(), directional_difference(forward, x0, t0));
  }
  latent::Parameter<double> input(x0), tangent(t0);
  auto params = layer.parameters();
  params.push_back(&input);
  params.push_back(&tangent);
  REQUIRE_GRADCHECK(latent::gradcheck(
      [&](Tape<double>& tape) {
        const Dual<double> out = layer.jvp(Dual<double>{tape.leaf(input), tape.leaf(tangent)});
        return project(out.tangent) + project(out.value, 7);
      },
      params));
}

}  // namespace

TEMPLATE_TEST_CASE("second order: activation_derivative is act' and its gradient is act''", "[gradcheck][second_order]",
                   latent::Identity, latent::ReLU, latent::LeakyReLU, latent::Sigmoid, latent::Tanh, latent::Softplus) {
  const TestType act{};
  for (Index batch : {1, 5}) {
    CAPTURE(batch);
    const Matrix<double> x = activation_inputs(4, batch, 43);
    Tape<double> tape;
    const Var<double> derivative = latent::activation_derivative(act, latent::activate(act, tape.constant(x)));
    require_close(derivative.value(), directional_difference([&](const Matrix<double>& z) {
                    return Matrix<double>(act.apply(z.array()).matrix());
                  }, x, Matrix<double>::Ones(4, batch)));
    REQUIRE_GRADCHECK(latent::gradcheck(
        [&](Tape<double>&, const Vars& v) { return project(latent::activation_derivative(act, latent::activate(act, v[0]))); },
        {x}));
    REQUIRE_GRADCHECK(latent::gradcheck(
        [&](Tape<double>&, const Vars& v) {
          const Dual<double> out = latent::activate_jvp(act, Dual<double>{v[0], v[1]});
          return project(out.tangent) + project(out.value, 7);
        },
        {x, test::random_matrix(4, batch, 44)}));
  }
}

TEMPLATE_TEST_CASE("second order: dense_jvp's tangent and its gradient", "[gradcheck][second_order]", latent::Identity,
                   latent::ReLU, latent::LeakyReLU, latent::Sigmoid, latent::Tanh, latent::Softplus) {
  const TestType act{};
  for (Index batch : {1, 5}) {
    CAPTURE(batch);
    Matrix<double> w = test::random_matrix(3, 4, 45), x = test::random_matrix(4, batch, 46), b = test::random_matrix(3, 1, 47);
    const Matrix<double> t = test::random_matrix(4, batch, 48);
    // No pre-activation within reach of ReLU's kink.
    const Matrix<double> z = (w * x).colwise() + b.col(0);
    b.array() += (z.array().abs() < 0.05).rowwise().any().cast<double>() * 0.2;
    Tape<double> tape;
    const Dual<double> out = latent::dense_jvp(act, tape.constant(w), Dual<double>{tape.constant(x), tape.constant(t)},
                                               tape.constant(b));
    require_close(out.tangent.value(), directional_difference([&](const Matrix<double>& in) {
                    Tape<double> forward;
                    return Matrix<double>(latent::dense(act, forward.constant(w), forward.constant(in), forward.constant(b)).value());
                  }, x, t));
    REQUIRE_GRADCHECK(latent::gradcheck(
        [&](Tape<double>&, const Vars& v) {
          const Dual<double> y = latent::dense_jvp(act, v[0], Dual<double>{v[1], v[2]}, v[3]);
          return project(y.tangent) + project(y.value, 7);
        },
        {w, x, t, b}));
  }
}

TEST_CASE("dense_jvp refuses a tangent whose shape differs from its value's", "[second_order]") {
  Tape<double> tape;
  const Var<double> w = tape.constant(test::random_matrix(3, 4, 1)), b = tape.constant(test::random_matrix(3, 1, 2));
  const Dual<double> x{tape.constant(test::random_matrix(4, 2, 3)), tape.constant(test::random_matrix(4, 3, 4))};
  REQUIRE_THROWS_WITH(latent::dense_jvp(latent::Tanh{}, w, x, b),
                      Catch::Contains("dense_jvp") && Catch::Contains("4x2") && Catch::Contains("4x3"));
  REQUIRE_THROWS_AS(latent::dense_jvp(latent::Tanh{}, w, x, b), latent::shape_error);
}

TEMPLATE_TEST_CASE("second order layer check: Dense", "[gradcheck][second_order][layer]", latent::Identity, latent::ReLU,
                   latent::LeakyReLU, latent::Sigmoid, latent::Tanh, latent::Softplus) {
  for (Index batch : {1, 4}) {
    CAPTURE(batch);
    latent::Rng rng(49);
    latent::Dense<double, TestType> layer(5, 3, rng);
    layer.bias.value = test::random_matrix(3, 1, 50);
    check_layer_jvp(layer, 5, batch);
  }
}

TEST_CASE("second order layer check: SpectralDense, Sequential, Mlp, Discriminator, ProjectionDiscriminator", "[gradcheck][second_order][layer]") {
  const Index batch = 3;
  SECTION("SpectralDense (at its power iteration's fixed point, as its first-order check)") {
    latent::Rng rng(51);
    latent::SpectralDense<double, latent::Tanh> layer(5, 3, rng);
    layer.refine_estimate(200);
    check_layer_jvp(layer, 5, batch);
  }
  SECTION("Sequential") {
    latent::Rng rng(52);
    using First = latent::Dense<double, latent::Softplus>;
    using Second = latent::Dense<double, latent::Sigmoid>;
    latent::Sequential<First, Second> net(First(4, 6, rng), Second(6, 2, rng));
    check_layer_jvp(net, 4, batch);
  }
  SECTION("Mlp") {
    latent::Rng rng(53);
    latent::Mlp<double, latent::Tanh, latent::Identity> mlp({6, 5, 4, 2}, rng);
    check_layer_jvp(mlp, 6, batch);
  }
  SECTION("ProjectionDiscriminator (the conditional GAN example's critic), any tangent of images and labels") {
    latent::Rng rng(55);
    using Features = latent::Mlp<double, latent::LeakyReLU, latent::Tanh>;
    latent::ProjectionDiscriminator<Features> critic(Features({4, 6, 5}, rng), latent::Dense<double>(5, 1, rng), 3, rng);
    check_layer_jvp(critic, 4 + 3, batch);
  }
  SECTION("Discriminator (LeakyReLU, the GAN example's critic)") {
    latent::Rng rng(54);
    latent::Discriminator<latent::Mlp<double, latent::LeakyReLU, latent::Identity>> critic({6, 8, 5, 1}, rng);
    check_layer_jvp(critic, 6, batch);
  }
}

namespace {

template <class Critic>
void check_gradient_penalty(Critic& critic, Index features, Index batch) {
  const auto params = critic.parameters();
  const Matrix<double> points = test::random_matrix(features, batch, 61);
  Tape<double> scratch;

  // The norms are the input gradients' norms (by finite differences, column by column).
  Tape<double> tape;
  const Matrix<double> norms = latent::input_gradient_norms(critic, params, tape.constant(points), scratch).value();
  REQUIRE(norms.rows() == 1);
  REQUIRE(norms.cols() == batch);
  for (Index j = 0; j < batch; ++j) {
    Matrix<double> gradient(features, 1);
    for (Index i = 0; i < features; ++i) {
      Matrix<double> unit = Matrix<double>::Zero(features, 1);
      unit(i, 0) = 1;
      gradient(i, 0) = directional_difference([&](const Matrix<double>& x) {
                         Tape<double> t;
                         return Matrix<double>(critic(t.constant(x)).value());
                       }, Matrix<double>(points.col(j)), unit)(0, 0);
    }
    CAPTURE(j);
    REQUIRE(norms(0, j) == Approx(gradient.norm()).epsilon(1e-6));
  }
  REQUIRE(critic.parameters().front()->requires_grad);  // unfrozen again

  // d penalty / d parameters, by finite differences of the penalty itself.
  REQUIRE_GRADCHECK(latent::gradcheck(
      [&](Tape<double>& t) { return latent::gradient_penalty(critic, params, t.constant(points), scratch); }, params));
}

}  // namespace

TEST_CASE("gradient penalty: its gradient w.r.t. the critic's parameters matches finite differences",
          "[gradcheck][second_order][penalty]") {
  SECTION("LeakyReLU critic (the GAN example's)") {
    latent::Rng rng(62);
    latent::Discriminator<latent::Mlp<double, latent::LeakyReLU, latent::Identity>> critic({5, 7, 6, 1}, rng);
    check_gradient_penalty(critic, 5, 4);
  }
  SECTION("Tanh critic (curvature in every layer)") {
    latent::Rng rng(63);
    latent::Discriminator<latent::Mlp<double, latent::Tanh, latent::Identity>> critic({5, 6, 1}, rng);
    check_gradient_penalty(critic, 5, 3);
  }
  SECTION("Softplus and Sigmoid layers") {
    latent::Rng rng(64);
    using First = latent::Dense<double, latent::Softplus>;
    using Second = latent::Dense<double, latent::Sigmoid>;
    using Score = latent::Dense<double>;
    latent::Discriminator<latent::Sequential<First, Second, Score>> critic(
        latent::Sequential<First, Second, Score>(First(4, 5, rng), Second(5, 3, rng), Score(3, 1, rng)));
    check_gradient_penalty(critic, 4, 3);
  }
  SECTION("spectrally normalized critic") {
    latent::Rng rng(65);
    using Hidden = latent::SpectralDense<double, latent::Tanh>;
    using Score = latent::SpectralDense<double>;
    latent::Sequential<Hidden, Score> body(Hidden(4, 5, rng), Score(5, 1, rng));
    body.layer<0>().refine_estimate(200);
    body.layer<1>().refine_estimate(200);
    latent::Discriminator<latent::Sequential<Hidden, Score>> critic(std::move(body));
    check_gradient_penalty(critic, 4, 3);
  }
}

TEST_CASE("gradient penalty: refuses its own tape as the scratch tape and a critic without one score per column",
          "[second_order][penalty]") {
  latent::Rng rng(66);
  latent::Mlp<double, latent::Tanh, latent::Identity> two_scores({3, 4, 2}, rng);
  const auto params = two_scores.parameters();
  Tape<double> tape, scratch;
  const Var<double> points = tape.constant(test::random_matrix(3, 2, 67));
  REQUIRE_THROWS_WITH(latent::input_gradient_norms(two_scores, params, points, tape), Catch::Contains("scratch"));
  REQUIRE_THROWS_WITH(latent::input_gradient_norms(two_scores, params, points, scratch),
                      Catch::Contains("3x2") && Catch::Contains("2x2") && Catch::Contains("one score per column"));
  REQUIRE(params.front()->requires_grad);
}

}  // namespace test_second_order
