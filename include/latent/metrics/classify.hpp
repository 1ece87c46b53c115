// latent/metrics/classify.hpp: running a trained classifier (a
// models/classifier.hpp Classifier, or any module with features(x),
// head(features) and feature_dim()) over a set of images, in batches: its
// penultimate-layer features (for the FID, metrics/fid.hpp), its predicted
// classes and their probabilities.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "latent/autodiff/losses.hpp"
#include "latent/autodiff/parameter.hpp"
#include "latent/autodiff/tape.hpp"
#include "latent/data/dataset.hpp"
#include "latent/metrics/class_histogram.hpp"

namespace latent {

/// What a classifier makes of a set of images.
struct Classification {
  Matrix<double> features;       ///< feature_dim x n: the penultimate layer, for the FID
  std::vector<int> predictions;  ///< the most probable class of each image
  std::vector<double> confidence;  ///< its softmax probability

  double mean_confidence() const {
    double sum = 0;
    for (const double c : confidence) sum += c;
    return confidence.empty() ? std::nan("") : sum / static_cast<double>(confidence.size());
  }
  /// The fraction of predictions equal to `labels`.
  double accuracy(const std::vector<std::uint8_t>& labels) const {
    if (labels.size() != predictions.size())
      throw shape_error("Classification::accuracy: " + std::to_string(labels.size()) + " labels for " +
                        std::to_string(predictions.size()) + " predictions");
    std::size_t right = 0;
    for (std::size_t i = 0; i < labels.size(); ++i) right += predictions[i] == static_cast<int>(labels[i]) ? 1 : 0;
    return labels.empty() ? std::nan("") : static_cast<double>(right) / static_cast<double>(labels.size());
  }
  ClassHistogram histogram(int classes) const { return ClassHistogram::of(predictions, classes); }
};

/// Runs `classifier` over images (features x n, scaled as it was trained), in batches.
template <class C, class Derived>
Classification classify(C& classifier, const Eigen::MatrixBase<Derived>& images, Index batch_size = 1000) {
  using S = typename C::Scalar;
  const ParameterList<S> params = classifier.parameters();
  const FrozenParameters<S> frozen(params);
  Classification result;
  const Index n = images.cols();
  result.features.resize(classifier.feature_dim(), n);
  result.predictions.resize(static_cast<std::size_t>(n));
  result.confidence.resize(static_cast<std::size_t>(n));
  Tape<S> tape;
  for (Index first = 0; first < n; first += batch_size) {
    const Index count = std::min(batch_size, n - first);
    tape.reset();
    Var<S> features = classifier.features(tape.constant(images.middleCols(first, count).template cast<S>()));
    const Matrix<S>& logits = classifier.head(features).value();
    result.features.middleCols(first, count) = features.value().template cast<double>();
    for (Index j = 0; j < count; ++j) {
      Index best = 0;
      const S largest = logits.col(j).maxCoeff(&best);
      result.predictions[static_cast<std::size_t>(first + j)] = static_cast<int>(best);
      result.confidence[static_cast<std::size_t>(first + j)] =
          std::exp(static_cast<double>(largest - formula::log_sum_exp(logits.col(j))));
    }
  }
  return result;
}

/// The same for a whole dataset, each batch scaled by `Scaling` on the way.
template <class Scaling = data::ZeroToOne, class C>
Classification classify(C& classifier, const data::Dataset& images, Index batch_size = 1000) {
  using S = typename C::Scalar;
  Classification result;
  data::BatchSampler sampler(images.size(), batch_size);
  result.features.resize(classifier.feature_dim(), images.size());
  for (const data::Batch& batch : sampler.epoch(0)) {
    Classification part = classify(classifier, images.template batch<S, Scaling>(batch), batch_size);
    result.features.middleCols(batch[0], batch.size()) = part.features;
    result.predictions.insert(result.predictions.end(), part.predictions.begin(), part.predictions.end());
    result.confidence.insert(result.confidence.end(), part.confidence.begin(), part.confidence.end());
  }
  return result;
}

}  // namespace latent
