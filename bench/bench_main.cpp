// bench/bench_main.cpp: the benchmark binary's entry point. Sets the number of
// threads for latent's products from LATENT_NUM_THREADS (else OMP_NUM_THREADS,
// else 1) and records it, with the build's settings, in the benchmark context
// so every JSON result says how it was made.
#include <cstdlib>
#include <iostream>
#include <string>

#include "bench_common.hpp"

int main(int argc, char** argv) {
  int threads = 1;
  try {
    threads = latent_bench::threads_from_environment();
  } catch (const std::exception& e) {
    std::cerr << "latent_bench: " << e.what() << "\n";
    return 2;
  }
  latent::set_num_threads(threads);
  const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
  benchmark::AddCustomContext("latent_threads", std::to_string(latent::num_threads()));
  benchmark::AddCustomContext("omp_wait_policy", wait_policy && *wait_policy ? wait_policy : "(unset)");
  benchmark::AddCustomContext("eigen_simd", Eigen::SimdInstructionSetsInUse());
  benchmark::AddCustomContext("products", latent::gemm_library());
  std::cerr << "latent_bench: products on " << latent::gemm_library() << "\n";
#ifdef _OPENMP
  benchmark::AddCustomContext("openmp", "yes");
#else
  benchmark::AddCustomContext("openmp", "no (products run on one thread)");
#endif
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
