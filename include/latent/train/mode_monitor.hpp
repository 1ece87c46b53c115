// latent/train/mode_monitor.hpp: watching a generator for mode collapse.
// After every epoch a trainer that has a monitor (GanTrainer, VaeGanTrainer)
// generates `samples` images from noise drawn once, classifies them, logs
// the class fractions ("mode_class_k") and their entropy ("mode_entropy"),
// and warns on stderr when the entropy falls below warn_below_fraction *
// ln(classes).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "latent/error.hpp"
#include "latent/matrix.hpp"
#include "latent/metrics/class_histogram.hpp"
#include "latent/random.hpp"
#include "latent/train/history.hpp"

namespace latent {

/// What to watch with: `classify` maps images as the generator makes them
/// (features x n) to one class per column.
template <class S>
struct ModeMonitor {
  std::function<std::vector<int>(const Matrix<S>&)> classify;
  int classes = 10;
  Index samples = 1000;
  double warn_below_fraction = 0.9;
  std::uint64_t seed = 0x6d6f646573;
};

namespace detail {

/// A ModeMonitor at work: the fixed noise it draws once, and the figures it
/// logs for a batch of images generated from that noise.
template <class S>
class ModeWatch {
 public:
  bool active() const { return static_cast<bool>(monitor_.classify); }

  /// Checks the monitor and draws its noise (noise x samples) with
  /// sample_noise(matrix, rng). `who` names the step for errors.
  template <class SampleNoise>
  void start(const char* who, ModeMonitor<S> monitor, Index noise_dim, const SampleNoise& sample_noise) {
    if (!monitor.classify) throw error(std::string(who) + "::monitor_modes: the monitor has no classifier");
    if (monitor.classes < 2 || monitor.samples < 1)
      throw error(std::string(who) + "::monitor_modes: needs 2+ classes and 1+ samples");
    monitor_ = std::move(monitor);
    noise_.resize(noise_dim, monitor_.samples);
    Rng rng(monitor_.seed);
    sample_noise(noise_, rng);
  }

  const Matrix<S>& noise() const { return noise_; }
  const ModeMonitor<S>& monitor() const { return monitor_; }

  ClassHistogram histogram(const Matrix<S>& images) const {
    return ClassHistogram::of(monitor_.classify(images), monitor_.classes);
  }

  /// Logs the class fractions and entropy of `images` into the record, and
  /// warns (if `warn`: one rank of many keeps quiet) when the entropy is low.
  void log(const Matrix<S>& images, EpochRecord& record, bool warn = true) const {
    const ClassHistogram histogram = this->histogram(images);
    for (int k = 0; k < monitor_.classes; ++k) record.set("mode_class_" + std::to_string(k), histogram.fraction(k));
    const double entropy = histogram.entropy();
    record.set("mode_entropy", entropy);
    const double threshold = monitor_.warn_below_fraction * std::log(static_cast<double>(monitor_.classes));
    if (warn && entropy < threshold) {
      std::string fractions;
      for (int k = 0; k < monitor_.classes; ++k)
        fractions += (k ? " " : "") + std::to_string(k) + ":" +
                     std::to_string(static_cast<int>(std::lround(100 * histogram.fraction(k)))) + "%";
      std::fprintf(stderr,
                   "warning: epoch %d: the class entropy of generated samples is %.3f nats, below %.3f: the generator "
                   "may be collapsing onto a few modes (classes %s)\n",
                   record.epoch, entropy, threshold, fractions.c_str());
    }
  }

 private:
  ModeMonitor<S> monitor_;
  Matrix<S> noise_;
};

}  // namespace detail
}  // namespace latent
