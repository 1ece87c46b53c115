// latent/denormals.hpp: a scoped guard that flushes subnormal floats to
// zero (FTZ) and treats subnormal inputs as zero (DAZ) on x86. Adam's second
// moments decay into subnormal numbers, and arithmetic on those is several
// times slower on common CPUs; training loses nothing by flushing them. The
// trainers hold one of these for the duration of fit(), and a hand-written
// training loop can hold one too; the previous mode is restored when the
// guard ends. Elsewhere than x86 (no MXCSR) the guard does nothing. The mode
// belongs to a thread; latent's pool workers take on the mode of the thread
// that hands them a share (threads.hpp), so a split op flushes as the whole
// op would.
#pragma once

#if defined(__SSE__) || defined(_M_X64)
#include <xmmintrin.h>
#define LATENT_HAS_MXCSR 1
#endif

namespace latent {

namespace detail {

/// The calling thread's floating-point control bits (MXCSR's rounding,
/// flushing and exception masks on x86; 0 elsewhere), without its sticky
/// exception flags.
inline unsigned float_control() {
#ifdef LATENT_HAS_MXCSR
  return _mm_getcsr() & ~0x3fu;
#else
  return 0;
#endif
}

/// Gives the calling thread these control bits (from float_control()).
inline void set_float_control(unsigned control) {
#ifdef LATENT_HAS_MXCSR
  _mm_setcsr((_mm_getcsr() & 0x3fu) | control);
#else
  (void)control;
#endif
}

}  // namespace detail

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
