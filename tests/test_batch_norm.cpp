// Batch normalization: the op against finite differences with batch
// statistics (the gradient couples the batch) and with given ones, over
// image channels and dense features; the layer's running statistics
// (PyTorch's momentum convention and unbiased variance), its two modes, its
// buffers, and its shape errors; and the statistics of a batch split over
// ranks (data-parallel training), which must be the whole batch's.
#include <cmath>
#include <vector>

#include "helpers.hpp"
#include "thread_ranks.hpp"

namespace test_batch_norm {

using latent::ImageShape;
using latent::Index;
using latent::Matrix;
using latent::Tape;
using latent::Var;
using Vars = std::vector<Var<double>>;

using test::project;

TEST_CASE("gradcheck: batch_norm with batch statistics", "[gradcheck][op][batch_norm]") {
  struct Case {
    Index channels, pixels, batch;
  };
  // Image channels (3 channels of 5 pixels, batch 1 and 3) and dense features (one pixel).
  for (const Case c : {Case{3, 5, 1}, Case{3, 5, 3}, Case{4, 1, 5}}) {
    CAPTURE(c.channels, c.pixels, c.batch);
    REQUIRE_GRADCHECK(latent::gradcheck(
        [&](Tape<double>&, const Vars& v) { return project(latent::batch_norm(latent::Identity{}, v[0], v[1], v[2], c.channels, 1e-5)); },
        {test::random_matrix(c.channels * c.pixels, c.batch, 1, -2, 3), test::random_matrix(c.channels, 1, 2, 0.5, 1.5),
         test::random_matrix(c.channels, 1, 3)}));
  }
}

TEMPLATE_TEST_CASE("gradcheck: batch_norm fused with an activation", "[gradcheck][op][batch_norm]", latent::ReLU,
                   latent::LeakyReLU, latent::Tanh) {
  const Matrix<double> x = test::random_matrix(2 * 6, 3, 4), gamma = test::random_matrix(2, 1, 5, 0.5, 1.5),
                       beta = test::random_matrix(2, 1, 6);
  {
    Tape<double> tape;  // no normalized value within reach of the step of a kink
    const auto z = latent::batch_norm(latent::Identity{}, tape.constant(x), tape.constant(gamma), tape.constant(beta), 2, 1e-5);
    REQUIRE(z.value().cwiseAbs().minCoeff() > 1e-4);
  }
  REQUIRE_GRADCHECK(latent::gradcheck(
      [&](Tape<double>&, const Vars& v) { return project(latent::batch_norm(TestType{}, v[0], v[1], v[2], 2, 1e-5)); },
      {x, gamma, beta}));
}

TEST_CASE("gradcheck: batch_norm with given statistics", "[gradcheck][op][batch_norm]") {
  const Matrix<double> mean = test::random_matrix(3, 1, 7), variance = test::random_matrix(3, 1, 8, 0.5, 2);
  for (Index batch : {1, 3}) {
    CAPTURE(batch);
    REQUIRE_GRADCHECK(latent::gradcheck(
        [&](Tape<double>&, const Vars& v) {
          return project(latent::batch_norm(latent::Identity{}, v[0], v[1], v[2], 3, 1e-5, mean, variance));
        },
        {test::random_matrix(3 * 4, batch, 9), test::random_matrix(3, 1, 10), test::random_matrix(3, 1, 11)}));
  }
}

TEST_CASE("batch_norm over ranks: each rank's slice normalized and differentiated as in the whole batch",
          "[batch_norm][distributed]") {
  // The whole batch's loss is the mean over its columns of a weighted sum
  // of y; a rank sweeps back its slice's part of it (its columns' terms over
  // the whole batch's count, as data-parallel training does), and the
  // ranks' parameter gradients add up to the whole batch's.
  const Index channels = 3, pixels = 4, batch = GENERATE(Index(7), Index(9));
  const int size = GENERATE(2, 3);
  CAPTURE(batch, size);
  const Matrix<double> x = test::random_matrix(channels * pixels, batch, 21, -3, 5),
                       weights = test::random_matrix(channels * pixels, batch, 22),
                       gamma = test::random_matrix(channels, 1, 23, 0.5, 1.5), beta = test::random_matrix(channels, 1, 24);
  const auto record = [&](Tape<double>& tape, Index begin, Index count, latent::Communicator* group, Matrix<double>& y) {
    Var<double> xs = tape.variable(x.middleCols(begin, count)), g = tape.variable(gamma), b = tape.variable(beta);
    Var<double> out =
        latent::detail::record_batch_norm<latent::LeakyReLU, double>(latent::LeakyReLU{}, xs, g, b, channels, 1e-5, nullptr, nullptr, group);
    y = out.value();
    tape.backward(latent::detail::scaled_sum(latent::mul(out, tape.constant(weights.middleCols(begin, count))), 1.0 / double(batch)));
    return std::vector<Matrix<double>>{xs.grad(), g.grad(), b.grad()};
  };
  Tape<double> whole_tape;
  Matrix<double> whole_y;
  const std::vector<Matrix<double>> whole = record(whole_tape, 0, batch, nullptr, whole_y);

  std::vector<Matrix<double>> gamma_grads(static_cast<std::size_t>(size)), beta_grads(static_cast<std::size_t>(size));
  test::ThreadRanks::run(size, [&](test::ThreadRanks::Rank& rank) {
    const Index begin = batch * rank.rank() / size, count = batch * (rank.rank() + 1) / size - begin;
    Tape<double> tape;
    Matrix<double> y;
    const std::vector<Matrix<double>> grads = record(tape, begin, count, &rank, y);
    REQUIRE(y.isApprox(whole_y.middleCols(begin, count), 1e-12));
    REQUIRE(grads[0].isApprox(whole[0].middleCols(begin, count), 1e-10));
    gamma_grads[static_cast<std::size_t>(rank.rank())] = grads[1];
    beta_grads[static_cast<std::size_t>(rank.rank())] = grads[2];
  });
  Matrix<double> gamma_sum = Matrix<double>::Zero(channels, 1), beta_sum = Matrix<double>::Zero(channels, 1);
  for (int r = 0; r < size; ++r) {
    gamma_sum += gamma_grads[static_cast<std::size_t>(r)];
    beta_sum += beta_grads[static_cast<std::size_t>(r)];
  }
  REQUIRE(gamma_sum.isApprox(whole[1], 1e-10));
  REQUIRE(beta_sum.isApprox(whole[2], 1e-10));
}

TEST_CASE("BatchNorm over ranks: running statistics of the whole batch, the same on every rank", "[batch_norm][distributed]") {
  const Matrix<float> x = test::random_matrix(2 * 3, 5, 25, -2, 4).cast<float>();
  latent::BatchNorm<float> whole(ImageShape{2, 3, 1});
  {
    Tape<float> tape;
    whole(tape.constant(x));
  }
  std::vector<Matrix<float>> means(2), variances(2);
  test::ThreadRanks::run(2, [&](test::ThreadRanks::Rank& rank) {
    latent::BatchNorm<float> norm(ImageShape{2, 3, 1});
    norm.set_batch_group(&rank);
    Tape<float> tape;
    norm(tape.constant(rank.rank() == 0 ? x.leftCols(2) : x.rightCols(3)));
    means[static_cast<std::size_t>(rank.rank())] = norm.running_mean;
    variances[static_cast<std::size_t>(rank.rank())] = norm.running_var;
  });
  for (std::size_t r = 0; r < 2; ++r) {
    REQUIRE(means[r].isApprox(whole.running_mean, 1e-6f));
    REQUIRE(variances[r].isApprox(whole.running_var, 1e-6f));  // unbiased over the 15 values of the whole batch
  }
}

TEST_CASE("batch_norm normalizes each channel of an image batch", "[batch_norm]") {
  // Channel c of pixel p of image n sits at row p * channels + c of column n.
  const Index channels = 3, pixels = 4, batch = 5;
  const Matrix<double> x = test::random_matrix(channels * pixels, batch, 12, -3, 5);
  Tape<double> tape;
  const auto y = latent::batch_norm(latent::Identity{}, tape.constant(x), tape.constant(Matrix<double>::Ones(channels, 1)),
                                    tape.constant(Matrix<double>::Zero(channels, 1)), channels, 1e-12);
  for (Index c = 0; c < channels; ++c) {
    std::vector<double> values;
    for (Index n = 0; n < batch; ++n)
      for (Index p = 0; p < pixels; ++p) values.push_back(y.value()(p * channels + c, n));
    double mean = 0, square = 0;
    for (double v : values) mean += v / double(values.size());
    for (double v : values) square += (v - mean) * (v - mean) / double(values.size());
    REQUIRE(mean == Approx(0).margin(1e-12));
    REQUIRE(square == Approx(1).epsilon(1e-9));  // the biased variance, as PyTorch normalizes with
  }
}

TEST_CASE("BatchNorm: running statistics, modes and buffers", "[layer][batch_norm]") {
  latent::BatchNorm<double> norm(ImageShape{2, 2, 2}, latent::Identity{}, 0.1, 1e-5);
  REQUIRE(norm.training());
  const Matrix<double> x = test::random_matrix(8, 3, 13, -1, 3);
  // Channel 0's values: rows 0, 2, 4, 6 of every column.
  double mean = 0, biased = 0;
  const Index count = 12;
  for (Index n = 0; n < 3; ++n)
    for (Index p = 0; p < 4; ++p) mean += x(p * 2, n) / count;
  for (Index n = 0; n < 3; ++n)
    for (Index p = 0; p < 4; ++p) biased += (x(p * 2, n) - mean) * (x(p * 2, n) - mean) / count;
  SECTION("training mode: batch statistics, and the running ones move by momentum 0.1 with the unbiased variance") {
    Tape<double> tape;
    const Matrix<double> y = norm(tape.constant(x)).value();
    REQUIRE(y(0, 0) == Approx((x(0, 0) - mean) / std::sqrt(biased + 1e-5)));
    REQUIRE(norm.running_mean(0, 0) == Approx(0.9 * 0 + 0.1 * mean));
    REQUIRE(norm.running_var(0, 0) == Approx(0.9 * 1 + 0.1 * biased * count / (count - 1)));
  }
  SECTION("evaluation mode: the running statistics, which stay as they are") {
    norm.running_mean << 0.5, -1;
    norm.running_var << 4, 9;
    norm.weight.value << 2, 3;
    norm.bias.value << 1, 0;
    norm.eval();
    REQUIRE_FALSE(norm.training());
    Tape<double> tape;
    const Matrix<double> y = norm(tape.constant(x)).value();
    REQUIRE(y(0, 1) == Approx(2 * (x(0, 1) - 0.5) / std::sqrt(4 + 1e-5) + 1));
    REQUIRE(y(3, 2) == Approx(3 * (x(3, 2) + 1) / std::sqrt(9 + 1e-5)));
    REQUIRE(norm.running_mean(0, 0) == 0.5);
    REQUIRE(norm.running_var(1, 0) == 9);
  }
  SECTION("parameters and buffers by name") {
    const auto params = norm.named_parameters();
    REQUIRE(params.size() == 2);
    REQUIRE(params[0].name == "weight");
    REQUIRE(params[0].parameter->value.isOnes());
    REQUIRE(params[1].parameter->value.isZero());
    const auto buffers = norm.named_buffers();
    REQUIRE(buffers.size() == 2);
    REQUIRE(buffers[0].name == "running_mean");
    REQUIRE(buffers[1].name == "running_var");
    REQUIRE(buffers[1].value == &norm.running_var);
  }
}

TEST_CASE("layer gradcheck: BatchNorm in training and evaluation mode", "[gradcheck][layer][batch_norm]") {
  for (bool training : {true, false}) {
    CAPTURE(training);
    latent::BatchNorm<double, latent::Tanh> norm(ImageShape{3, 2, 3});
    norm.weight.value = test::random_matrix(3, 1, 14, 0.5, 1.5);
    norm.bias.value = test::random_matrix(3, 1, 15);
    norm.running_var = test::random_matrix(3, 1, 16, 0.5, 2);
    norm.set_training(training);
    latent::Parameter<double> input(test::random_matrix(18, 3, 17));
    auto params = norm.parameters();
    params.push_back(&input);
    REQUIRE_GRADCHECK(latent::gradcheck([&](Tape<double>& tape) { return project(norm(tape.leaf(input))); }, params));
  }
}

TEST_CASE("BatchNorm refuses what it cannot normalize", "[layer][batch_norm]") {
  Tape<float> tape;
  latent::BatchNorm<float> images(ImageShape{64, 7, 7});
  REQUIRE_THROWS_WITH(images(tape.constant(Matrix<float>::Zero(3136 + 64, 2))),
                      Catch::Contains("BatchNorm(64 channels of 64x7x7)") && Catch::Contains("3200x2"));
  latent::BatchNorm<float> features(400);
  REQUIRE_THROWS_WITH(features(tape.constant(Matrix<float>::Zero(20, 8))),
                      Catch::Contains("BatchNorm(400 features)") && Catch::Contains("20x8"));
  SECTION("one value per channel has no batch statistics") {
    REQUIRE_THROWS_WITH(features(tape.constant(Matrix<float>::Zero(400, 1))), Catch::Contains("more than one value per channel"));
    features.eval();
    REQUIRE(features(tape.constant(Matrix<float>::Zero(400, 1))).rows() == 400);
  }
  REQUIRE_THROWS_AS(latent::BatchNorm<float>(ImageShape{0, 1, 1}), latent::shape_error);
  REQUIRE_THROWS_AS(latent::BatchNorm<float>(10, latent::Identity{}, 1.5), latent::error);
  REQUIRE_THROWS_AS(latent::BatchNorm<float>(10, latent::Identity{}, 0.1, 0.0), latent::error);
}

}  // namespace test_batch_norm
