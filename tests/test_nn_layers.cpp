// Layers: every layer passes the shared gradient check w.r.t. its parameters
// and its input, on batch 1 and batch > 1; stacks enumerate their parameters.
#include <type_traits>
#include <vector>

#include "helpers.hpp"

namespace test_nn_layers {

using latent::Index;
using latent::Matrix;
using latent::Tape;
using latent::Var;

namespace {

// The shared layer test (dlib's test_layer idea): d(projected output) w.r.t.
// every parameter of the layer and w.r.t. its input, by finite differences.
template <class Layer>
void check_layer(Layer& layer, Index in_features, Index batch) {
  latent::Parameter<double> input(test::random_matrix(in_features, batch, 31));
  auto params = layer.parameters();
  params.push_back(&input);
  const Matrix<double> weights = test::random_matrix(layer.out_features(), batch, 32);
  const auto result = latent::gradcheck(
      [&](Tape<double>& tape) { return latent::sum(latent::mul(layer(tape.leaf(input)), tape.constant(weights))); }, params);
  INFO(result.report);
  REQUIRE(result.passed);
}

}  // namespace

TEMPLATE_TEST_CASE("layer gradcheck: Dense", "[gradcheck][layer]", latent::Identity, latent::ReLU, latent::LeakyReLU,
                   latent::Sigmoid, latent::Tanh, latent::Softplus) {
  for (Index batch : {1, 6}) {
    CAPTURE(batch);
    latent::Rng rng(3);
    latent::Dense<double, TestType> layer(5, 3, rng);
    layer.bias.value = test::random_matrix(3, 1, 33);
    check_layer(layer, 5, batch);
  }
}

TEST_CASE("layer gradcheck: Mlp", "[gradcheck][layer]") {
  for (Index batch : {1, 4}) {
    CAPTURE(batch);
    latent::Rng rng(4);
    latent::Mlp<double, latent::Tanh, latent::Identity> mlp({6, 5, 4, 3}, rng);
    check_layer(mlp, 6, batch);
  }
}

TEST_CASE("layer gradcheck: Sequential", "[gradcheck][layer]") {
  for (Index batch : {1, 4}) {
    CAPTURE(batch);
    latent::Rng rng(5);
    latent::Sequential<latent::Dense<double, latent::Softplus>, latent::Dense<double, latent::Sigmoid>> net(
        latent::Dense<double, latent::Softplus>(4, 7, rng), latent::Dense<double, latent::Sigmoid>(7, 2, rng));
    check_layer(net, 4, batch);
  }
}

TEST_CASE("layer gradcheck: ProjectionDiscriminator (w.r.t. its parameters, the images and the labels)",
          "[gradcheck][layer]") {
  using Features = latent::Mlp<double, latent::Tanh, latent::LeakyReLU>;
  for (Index batch : {1, 4}) {
    CAPTURE(batch);
    latent::Rng rng(10);
    latent::ProjectionDiscriminator<Features> critic(Features({4, 6, 5}, rng), latent::Dense<double>(5, 1, rng), 3, rng);
    check_layer(critic, 4 + 3, batch);
  }
}

TEST_CASE("a ProjectionDiscriminator scores head(h) + <E y, h>, names its embedding, and refuses what does not fit",
          "[layer]") {
  using Features = latent::Mlp<double, latent::ReLU, latent::ReLU>;
  latent::Rng rng(11);
  latent::ProjectionDiscriminator<Features> critic(Features({4, 5}, rng), latent::Dense<double>(5, 1, rng), 3, rng);
  REQUIRE(critic.in_features() == 7);
  REQUIRE(critic.classes() == 3);
  const auto named = critic.named_parameters();
  REQUIRE(named.size() == 5);
  REQUIRE(named[0].name == "features.0.weight");
  REQUIRE(named[2].name == "head.weight");
  REQUIRE(named[4].name == "embedding");
  const Matrix<double>& embedding = named[4].parameter->value;
  REQUIRE(embedding.rows() == 5);
  REQUIRE(embedding.cols() == 3);

  const Matrix<double> images = test::random_matrix(4, 2, 12);
  Matrix<double> input(7, 2);
  input << images, latent::data::one_hot<double>(std::vector<int>{2, 0}, 3);
  Tape<double> tape;
  const Matrix<double> scores = critic(tape.constant(input)).value();
  Tape<double> check;
  const Matrix<double> h = critic.features(check.constant(images)).value();
  const Matrix<double> heads = critic.head(check.constant(h)).value();
  REQUIRE(scores(0, 0) == Approx(heads(0, 0) + embedding.col(2).dot(h.col(0))));
  REQUIRE(scores(0, 1) == Approx(heads(0, 1) + embedding.col(0).dot(h.col(1))));

  REQUIRE_THROWS_WITH(critic(tape.constant(images)),
                      Catch::Contains("ProjectionDiscriminator") && Catch::Contains("4x2") && Catch::Contains("7 rows"));
  REQUIRE_THROWS_AS(latent::ProjectionDiscriminator<Features>(Features({4, 5}, rng), latent::Dense<double>(5, 1, rng), 0, rng),
                    latent::shape_error);
  REQUIRE_THROWS_WITH(
      latent::ProjectionDiscriminator<Features>(Features({4, 5}, rng), latent::Dense<double>(6, 1, rng), 3, rng),
      Catch::Contains("5 wide") && Catch::Contains("reads 6"));
  REQUIRE_THROWS_WITH(
      latent::ProjectionDiscriminator<Features>(Features({4, 5}, rng), latent::Dense<double>(5, 2, rng), 3, rng),
      Catch::Contains("one output"));
}

TEST_CASE("FeatureDiscriminator refuses a head that does not score its features", "[layer][gan]") {
  latent::Rng rng(14);
  using Features = latent::Mlp<double, latent::LeakyReLU, latent::LeakyReLU>;
  using Critic = latent::FeatureDiscriminator<Features>;
  REQUIRE_NOTHROW(Critic(Features({4, 5}, rng), latent::Dense<double>(5, 1, rng)));
  REQUIRE_THROWS_WITH(Critic(Features({4, 5}, rng), latent::Dense<double>(6, 1, rng)),
                      Catch::Contains("FeatureDiscriminator") && Catch::Contains("5 wide") && Catch::Contains("reads 6"));
  REQUIRE_THROWS_WITH(Critic(Features({4, 5}, rng), latent::Dense<double>(5, 2, rng)),
                      Catch::Contains("FeatureDiscriminator") && Catch::Contains("one output") && Catch::Contains("has 2"));
}

TEST_CASE("stacks enumerate their parameters by name", "[layer]") {
  latent::Rng rng(6);
  latent::Mlp<float, latent::ReLU> mlp({784, 400, 20}, rng);
  const auto named = mlp.named_parameters();
  REQUIRE(named.size() == 4);
  REQUIRE(named[0].name == "0.weight");
  REQUIRE(named[3].name == "1.bias");
  REQUIRE(named[0].parameter->value.rows() == 400);
  REQUIRE(named[0].parameter->value.cols() == 784);
  REQUIRE(mlp.parameter_count() == 784 * 400 + 400 + 400 * 20 + 20);
  REQUIRE(mlp.in_features() == 784);
  REQUIRE(mlp.out_features() == 20);

  latent::Sequential<latent::Dense<float>, latent::Dense<float>> seq(latent::Dense<float>(3, 4, rng), latent::Dense<float>(4, 2, rng));
  const auto seq_named = seq.named_parameters();
  REQUIRE(seq_named.size() == 4);
  REQUIRE(seq_named[2].name == "1.weight");
}

TEST_CASE("an Mlp's last layer is linear unless its activation is named", "[layer]") {
  STATIC_REQUIRE(std::is_same<latent::Mlp<float, latent::ReLU>::OutputActivation, latent::Identity>::value);
  latent::Rng rng(9);
  latent::Mlp<float, latent::ReLU> linear_last({3, 8, 5}, rng);
  latent::Mlp<float, latent::ReLU, latent::ReLU> relu_last({3, 8, 5}, rng);
  Tape<float> tape;
  Matrix<float> x(3, 64);
  rng.fill_normal(x);
  // A ReLU'd last layer cannot go below zero (a Bernoulli decoder's logits
  // could then never say p < 1/2); a linear one does.
  REQUIRE((linear_last(tape.constant(x)).value().array() < 0).any());
  REQUIRE((relu_last(tape.constant(x)).value().array() >= 0).all());
}

TEST_CASE("layers reject bad sizes and inputs", "[layer]") {
  latent::Rng rng(7);
  REQUIRE_THROWS_AS(latent::Mlp<float>({784}, rng), latent::shape_error);
  REQUIRE_THROWS_AS(latent::Dense<float>(0, 3, rng), latent::shape_error);
  latent::Dense<float> layer(3, 2, rng);
  Tape<float> tape;
  REQUIRE_THROWS_WITH(layer(tape.constant(Matrix<float>::Zero(4, 5))), Catch::Contains("2x3") && Catch::Contains("4x5"));
}

TEST_CASE("initializers draw the documented scales", "[layer][init]") {
  latent::Rng rng(8);
  Matrix<double> w(400, 784);
  SECTION("GlorotUniform stays within sqrt(6 / (in + out))") {
    latent::GlorotUniform{}(w, rng);
    const double limit = std::sqrt(6.0 / (400 + 784));
    REQUIRE(w.cwiseAbs().maxCoeff() <= limit);
    REQUIRE(w.cwiseAbs().maxCoeff() > 0.99 * limit);
  }
  SECTION("HeNormal has variance 2 / in") {
    latent::HeNormal{}(w, rng);
    const double variance = w.array().square().mean();
    REQUIRE(variance == Approx(2.0 / 784).epsilon(0.02));
  }
  SECTION("Normal has the given sigma") {
    latent::Normal{0.02}(w, rng);
    REQUIRE(std::sqrt(w.array().square().mean()) == Approx(0.02).epsilon(0.02));
  }
  SECTION("Zeros") {
    latent::Zeros{}(w, rng);
    REQUIRE(w.isZero());
  }
}

TEST_CASE("same seed, same network, bit for bit", "[layer][rng]") {
  latent::Rng a(42), b(42), c(43);
  latent::Mlp<float> m1({10, 8, 3}, a), m2({10, 8, 3}, b), m3({10, 8, 3}, c);
  REQUIRE(m1.parameters()[0]->value == m2.parameters()[0]->value);
  REQUIRE(m1.parameters()[0]->value != m3.parameters()[0]->value);
}

TEST_CASE("biases start at zero unless the initializer has a rule for them", "[layer][init]") {
  latent::Rng rng(3);
  const latent::Dense<float, latent::Identity, latent::GlorotUniform> glorot(100, 50, rng);
  REQUIRE(glorot.bias.value.isZero());
  const latent::Dense<float, latent::Identity, latent::FanInUniform> torch_like(100, 50, rng);
  REQUIRE(torch_like.bias.value.cwiseAbs().maxCoeff() <= 0.1f);   // 1 / sqrt(fan_in)
  REQUIRE(torch_like.bias.value.cwiseAbs().maxCoeff() > 0.05f);
}

}  // namespace test_nn_layers
