// latent/metrics/nearest_neighbour.hpp: a classifier that needs no
// training: an image gets the label of the closest labelled reference image
// (Euclidean distance in pixel space). A mode monitor for a GAN when no
// trained classifier is at hand.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "latent/error.hpp"
#include "latent/matrix.hpp"

namespace latent {

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
