// The classifier side of judging samples: a Classifier that learns with
// softmax cross-entropy, classify() over matrices and datasets, class
// histograms, and the nearest-neighbour labeller.
#include <cmath>

#include "helpers.hpp"
#include <latent/metrics/class_histogram.hpp>
#include <latent/metrics/classify.hpp>
#include <latent/metrics/nearest_neighbour.hpp>
#include <latent/models/classifier.hpp>

namespace test_classifier {

using latent::Index;
using latent::Matrix;
using latent::Tape;
using latent::Var;

namespace {

// n points in 2-D around one of three centres, as 1x2 byte "images"; label = centre.
latent::data::Dataset three_blobs(Index n, std::uint64_t seed) {
  latent::Rng rng(seed);
  const double centres[3][2] = {{50, 50}, {200, 60}, {120, 210}};
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(2 * n)), labels(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) {
    const auto c = rng.below(3);
    labels[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(c);
    for (int d = 0; d < 2; ++d)
      pixels[static_cast<std::size_t>(2 * i + d)] = static_cast<std::uint8_t>(std::lround(centres[c][d] + 12 * rng.normal()));
  }
  return latent::data::Dataset(std::move(pixels), std::move(labels), 1, 2);
}

}  // namespace

TEST_CASE("a Classifier trained with softmax cross-entropy separates three blobs, and classify reports on it",
          "[classifier][training]") {
  const auto train = three_blobs(600, 1), test_set = three_blobs(300, 2);
  latent::Rng rng(3);
  using Model = latent::Classifier<latent::Mlp<float, latent::ReLU, latent::ReLU>>;
  Model classifier({2, 16}, 3, rng);
  REQUIRE(classifier.feature_dim() == 16);
  REQUIRE(classifier.classes() == 3);
  REQUIRE(classifier.named_parameters().back().name == "head.bias");
  latent::Adam<float> adam(1e-2f);
  const auto params = classifier.parameters();
  Tape<float> tape;
  latent::data::BatchSampler sampler(train.size(), 50, latent::data::Shuffle{4});
  for (int epoch = 0; epoch < 30; ++epoch)
    for (const latent::data::Batch& batch : sampler.epoch(static_cast<std::uint64_t>(epoch))) {
      tape.reset();
      Var<float> x = tape.constant(train.features(), batch.size());
      train.fill_batch(tape.value_of(x), batch);
      Var<float> targets = tape.constant(Matrix<float>::Zero(3, batch.size()));
      for (Index j = 0; j < batch.size(); ++j) tape.value_of(targets)(train.label(batch[j]), j) = 1;
      tape.backward(latent::softmax_cross_entropy(classifier(x), targets));
      adam.step(params);
      latent::zero_grad(params);
    }
  const auto result = latent::classify(classifier, test_set, 64);  // batches that do not divide the set
  REQUIRE(result.features.rows() == 16);
  REQUIRE(result.features.cols() == 300);
  REQUIRE(result.accuracy(test_set.labels()) > 0.97);
  REQUIRE(result.mean_confidence() > 0.8);
  REQUIRE(result.mean_confidence() <= 1.0);
  REQUIRE(result.histogram(3).entropy() > 0.9 * std::log(3.0));
  // The same images as a matrix give the same answers; classify leaves the parameters trainable.
  const auto from_matrix = latent::classify(classifier, test_set.batch<float>(std::vector<Index>{0, 1, 2, 3}));
  REQUIRE(from_matrix.predictions == std::vector<int>(result.predictions.begin(), result.predictions.begin() + 4));
  REQUIRE(from_matrix.features.isApprox(result.features.leftCols(4)));
  for (const auto* p : params) REQUIRE(p->requires_grad);
}

TEST_CASE("ClassHistogram: counts, fractions and entropy in nats", "[classifier]") {
  const auto even = latent::ClassHistogram::of(std::vector<int>{0, 1, 2, 3, 0, 1, 2, 3}, 4);
  REQUIRE(even.entropy() == Approx(std::log(4.0)));
  REQUIRE(even.fraction(2) == 0.25);
  const auto collapsed = latent::ClassHistogram::of(std::vector<int>{1, 1, 1}, 4);
  REQUIRE(collapsed.entropy() == 0.0);
  REQUIRE_THROWS_AS(latent::ClassHistogram::of(std::vector<int>{4}, 4), latent::error);
}

TEST_CASE("NearestNeighbour labels by the closest reference", "[classifier]") {
  Matrix<float> references(2, 3);
  references << 0, 10, 0, 0, 0, 10;
  const latent::NearestNeighbour<float> nearest(references, {7, 8, 9});
  Matrix<float> queries(2, 4);
  queries << 1, 9, -1, 2, 1, 1, 8, 3;
  REQUIRE(nearest(queries) == std::vector<int>{7, 8, 9, 7});
  REQUIRE_THROWS_AS(nearest(Matrix<float>::Zero(3, 1)), latent::shape_error);
  REQUIRE_THROWS_AS(latent::NearestNeighbour<float>(references, {1, 2}), latent::shape_error);
}

}  // namespace test_classifier
