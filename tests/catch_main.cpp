// The one translation unit that holds Catch2's main. The suite runs latent's
// ops on one thread unless LATENT_NUM_THREADS says otherwise (the library's
// default is the machine's cores): ctest runs two test processes at once on
// a two-core machine, and a result that depends on the thread count (a sum
// split over threads) would otherwise depend on the machine. Tests of
// threading set their counts themselves; `LATENT_NUM_THREADS=2 latent_tests`
// runs the rest on two.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>

int main(int argc, char* argv[]) {
  ::setenv("LATENT_NUM_THREADS", "1", 0);  // 0: a value already set wins
  return Catch::Session().run(argc, argv);
}
