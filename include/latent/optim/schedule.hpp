// latent/optim/schedule.hpp: learning-rate schedules: functions from the
// optimizer step (0-based) to a learning rate, which a trainer writes into
// its optimizer's `lr` before each step.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace latent {

/// Linear warm-up over `warmup_steps`, then half a cosine from `peak` down to
/// `peak * final_fraction` at `total_steps` (held there afterwards).
struct CosineDecay {
  double peak;
  std::int64_t total_steps;
  std::int64_t warmup_steps = 0;
  double final_fraction = 0.0;

  double operator()(std::int64_t step) const {
    if (step < warmup_steps) return peak * double(step + 1) / double(warmup_steps);
    const double span = double(total_steps - warmup_steps);
    const double progress = span > 0 ? std::min(1.0, double(step - warmup_steps) / span) : 1.0;
    const double floor = peak * final_fraction;
    return floor + (peak - floor) * 0.5 * (1.0 + std::cos(3.14159265358979323846 * progress));
  }
};

}  // namespace latent
