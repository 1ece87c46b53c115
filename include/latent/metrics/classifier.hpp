// latent/metrics/classifier.hpp: judging generated images with classifiers.
// Classifier<Body> is an image classifier trained with latent itself (a body,
// then a linear head to class logits, trained with softmax cross-entropy);
// its body's output is the feature space of the FID (metrics/fid.hpp).
// classify_dataset runs it over a whole set in batches; ClassHistogram counts
// predicted classes, whose entropy measures mode coverage (ln 10 = 2.303 for
// ten evenly covered digits); NearestNeighbour labels images by the closest
// labelled reference image, a classifier that needs no training.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "latent/data/dataset.hpp"
#include "latent/nn/dense.hpp"
#include "latent/nn/module.hpp"

namespace latent {

/// features -> body -> hidden features -> Dense -> class logits (classes x batch).
template <class Body>
class Classifier : public Module<Classifier<Body>, typename Body::Scalar> {
 public:
  using S = typename Body::Scalar;

  Classifier(Body body, Index classes, Rng& rng) : body_(std::move(body)), head_(body_.out_features(), classes, rng) {}
  /// Builds the body from its sizes ({784, 512, 256}: image -> hidden features).
  Classifier(const std::vector<Index>& body_sizes, Index classes, Rng& rng) : Classifier(Body(body_sizes, rng), classes, rng) {}

  /// Class logits, classes x batch.
  Var<S> operator()(Var<S> x) { return head_(body_(x)); }
  /// The penultimate layer: the features the FID compares.
  Var<S> features(Var<S> x) { return body_(x); }
  /// Logits from features(x).
  Var<S> head(Var<S> features) { return head_(features); }

  Index in_features() const { return body_.in_features(); }
  Index feature_dim() const { return body_.out_features(); }
  Index classes() const { return head_.out_features(); }

  NamedParameterList<S> named_parameters() {
    NamedParameterList<S> named;
    append_prefixed(named, "body", body_.named_parameters());
    append_prefixed(named, "head", head_.named_parameters());
    return named;
  }

 private:
  Body body_;
  Dense<S> head_;
};

/// How many images fall in each class, and how evenly: a generator that makes
/// only a few digits has a low entropy.
struct ClassHistogram {
  std::vector<double> counts;

  explicit ClassHistogram(int classes = 10) : counts(static_cast<std::size_t>(classes), 0.0) {}

  /// Counts `labels` (each in 0..classes-1).
  template <class Labels>
  static ClassHistogram of(const Labels& labels, int classes) {
    ClassHistogram histogram(classes);
    for (const auto label : labels) {
      if (label < 0 || label >= classes)
        throw error("ClassHistogram: label " + std::to_string(label) + " outside 0.." + std::to_string(classes - 1));
      histogram.counts[static_cast<std::size_t>(label)] += 1;
    }
    return histogram;
  }

  int classes() const { return static_cast<int>(counts.size()); }
  double total() const {
    double sum = 0;
    for (const double c : counts) sum += c;
    return sum;
  }
  double fraction(int label) const { return counts.at(static_cast<std::size_t>(label)) / total(); }

  /// Entropy of the class frequencies in nats: ln(classes) when even, 0 when one class.
  double entropy() const {
    const double n = total();
    double h = 0;
    for (const double c : counts)
      if (c > 0) h -= (c / n) * std::log(c / n);
    return h;
  }
};

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
      const S normalizer = (logits.col(j).array() - largest).exp().sum();
      result.predictions[static_cast<std::size_t>(first + j)] = static_cast<int>(best);
      result.confidence[static_cast<std::size_t>(first + j)] = 1.0 / static_cast<double>(normalizer);
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

/// Labels an image with the label of the closest reference image (Euclidean
/// distance in pixel space): a mode monitor that needs no trained classifier.
template <class S>
class NearestNeighbour {
 public:
  /// `references` (features x n) carry `labels` (n).
  NearestNeighbour(Matrix<S> references, std::vector<int> labels)
      : references_(std::move(references)), labels_(std::move(labels)), squared_norms_(references_.colwise().squaredNorm().transpose()) {
    if (static_cast<Index>(labels_.size()) != references_.cols())
      throw shape_error("NearestNeighbour: " + std::to_string(labels_.size()) + " labels for " +
                        std::to_string(references_.cols()) + " reference images");
  }

  /// The label of each column of `images` (features x m).
  std::vector<int> operator()(const Matrix<S>& images) const {
    if (images.rows() != references_.rows())
      throw shape_error("NearestNeighbour: images have " + std::to_string(images.rows()) + " features, references " +
                        std::to_string(references_.rows()));
    std::vector<int> result(static_cast<std::size_t>(images.cols()));
    constexpr Index kChunk = 256;  // bounds the distance matrix: references x 256
    Matrix<S> scores;
    for (Index first = 0; first < images.cols(); first += kChunk) {
      const Index count = std::min(kChunk, images.cols() - first);
      // |r - q|^2 = |r|^2 - 2 r.q + |q|^2; |q|^2 does not change the argmin.
      scores.noalias() = references_.transpose() * images.middleCols(first, count);
      for (Index j = 0; j < count; ++j) {
        Index best = 0;
        (squared_norms_.array() - S(2) * scores.col(j).array()).minCoeff(&best);
        result[static_cast<std::size_t>(first + j)] = labels_[static_cast<std::size_t>(best)];
      }
    }
    return result;
  }

 private:
  Matrix<S> references_;
  std::vector<int> labels_;
  Vector<S> squared_norms_;  // |r|^2 of each reference
};

}  // namespace latent
