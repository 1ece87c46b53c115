// ScopedFlushDenormals: subnormal results become zero while a guard lives,
// and the previous mode comes back when it ends, nested guards included;
// latent's pool workers flush (or not) as the thread that hands them work.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <limits>
#include <thread>

#include <catch2/catch.hpp>
#include <latent/denormals.hpp>
#include <latent/threads.hpp>

#include "helpers.hpp"

namespace test_denormals {

namespace {

// min() / 4 is subnormal; volatile keeps the compiler from folding it.
float quarter_of_smallest_normal() {
  volatile float smallest = std::numeric_limits<float>::min();
  volatile float divisor = 4.0f;
  return smallest / divisor;
}

// A float comparison would read a subnormal as zero while the caller's
// denormals-are-zero mode is on; the bits tell what the share computed.
bool has_nonzero_bits(float value) {
  std::uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  return bits != 0;
}

// Runs a two-share task until one share ran on a worker; true if every share
// computed a subnormal (flushing off), false if every share got zero
// (flushing on). Fails the test on a mix, or if no share reached a worker.
bool shares_keep_subnormals() {
  latent::set_num_threads(2);
  int kept = 0, flushed = 0;
  bool worker_ran = false;
  for (int job = 0; job < 1000 && !worker_ran; ++job) {
    std::array<float, 2> results{};
    std::array<std::thread::id, 2> threads{};
    std::atomic<bool> second_started{false};
    latent::run_shares(2, [&](int share) {
      if (share == 1) second_started = true;
      // The first share waits a little for the second to start, which it
      // would otherwise take itself before a worker wakes.
      const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(5);
      while (share == 0 && !second_started && std::chrono::steady_clock::now() < until) std::this_thread::yield();
      results[static_cast<std::size_t>(share)] = quarter_of_smallest_normal();
      threads[static_cast<std::size_t>(share)] = std::this_thread::get_id();
    });
    for (float r : results) (has_nonzero_bits(r) ? kept : flushed) += 1;
    worker_ran = threads[0] != threads[1];
  }
  REQUIRE(worker_ran);
  REQUIRE((kept == 0 || flushed == 0));
  return kept > 0;
}

}  // namespace

TEST_CASE("latent's pool workers flush subnormals when the calling thread does, and only then", "[denormals][threads]") {
  const test::ThreadSettings restore;
#ifdef LATENT_HAS_MXCSR
  REQUIRE(shares_keep_subnormals());
  {
    const latent::ScopedFlushDenormals flush;
    REQUIRE_FALSE(shares_keep_subnormals());
  }
  REQUIRE(shares_keep_subnormals());
#else
  REQUIRE(shares_keep_subnormals());
#endif
}

TEST_CASE("ScopedFlushDenormals flushes subnormal floats for its scope and restores the mode", "[denormals]") {
#ifdef LATENT_HAS_MXCSR
  REQUIRE(quarter_of_smallest_normal() > 0.0f);  // subnormal arithmetic is on by default
  {
    const latent::ScopedFlushDenormals flush;
    REQUIRE(quarter_of_smallest_normal() == 0.0f);
    {
      const latent::ScopedFlushDenormals nested;
      REQUIRE(quarter_of_smallest_normal() == 0.0f);
    }
    REQUIRE(quarter_of_smallest_normal() == 0.0f);  // the nested guard restored the outer one's mode
  }
  REQUIRE(quarter_of_smallest_normal() > 0.0f);
#else
  const latent::ScopedFlushDenormals flush;  // no MXCSR: the guard does nothing
  REQUIRE(quarter_of_smallest_normal() > 0.0f);
#endif
}

}  // namespace test_denormals
