// latent/denormals.hpp: a scoped guard that flushes subnormal floats to
// zero (FTZ) and treats subnormal inputs as zero (DAZ) on x86. Adam's second
// moments decay into subnormal numbers, and arithmetic on those is several
// times slower on common CPUs; training loses nothing by flushing them. The
// trainers hold one of these for the duration of fit(), and a hand-written
// training loop can hold one too; the previous mode is restored when the
// guard ends. Elsewhere than x86 (no MXCSR) the guard does nothing.
#pragma once

#if defined(__SSE__) || defined(_M_X64)
#include <xmmintrin.h>
#define LATENT_HAS_MXCSR 1
#endif

namespace latent {

class ScopedFlushDenormals {
 public:
  ScopedFlushDenormals() {
#ifdef LATENT_HAS_MXCSR
    saved_ = _mm_getcsr();
    _mm_setcsr(saved_ | kFlushToZero | kDenormalsAreZero);
#endif
  }
  ~ScopedFlushDenormals() {
#ifdef LATENT_HAS_MXCSR
    _mm_setcsr(saved_);
#endif
  }
  ScopedFlushDenormals(const ScopedFlushDenormals&) = delete;
  ScopedFlushDenormals& operator=(const ScopedFlushDenormals&) = delete;

 private:
#ifdef LATENT_HAS_MXCSR
  static constexpr unsigned kFlushToZero = 0x8000;
  static constexpr unsigned kDenormalsAreZero = 0x0040;
  unsigned saved_ = 0;
#endif
};

}  // namespace latent
