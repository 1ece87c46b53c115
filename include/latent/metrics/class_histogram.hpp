// latent/metrics/class_histogram.hpp: how many images fall in each class,
// and how evenly: the entropy of the predicted classes measures mode coverage
// (ln 10 = 2.303 for ten evenly covered digits; a generator that makes only a
// few digits scores low). Labels may come from any classifier.
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "latent/error.hpp"

namespace latent {

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

}  // namespace latent
