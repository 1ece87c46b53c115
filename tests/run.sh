#!/usr/bin/env bash
# The test command: installs what the build needs (Debian packages), then
# configures, builds and runs the whole suite with ctest twice: a plain g++
# pass with products on OpenBLAS (-DLATENT_GEMM=blas), and a clang++ pass
# under AddressSanitizer + UndefinedBehaviorSanitizer with products on Eigen
# (the header-only default): both libraries run every test, at
# the cost of two builds, not three. Both compile the test files as unity
# builds (-DLATENT_UNITY_BUILD=ON): about 20 minutes on two cores.
#   tests/run.sh            both passes
#   tests/run.sh --plain    the plain pass only
#   tests/run.sh --sanitize the sanitizer pass only
#   tests/run.sh --blas     a quick check: only the tests that touch products,
#                           plain, on OpenBLAS
#   tests/run.sh --onednn   the same on oneDNN's sgemm (-DLATENT_GEMM=onednn),
#                           which the two passes leave out
set -euo pipefail
cd "$(dirname "$0")/.."

passes=(plain sanitize)
case "${1:-}" in
  --plain) passes=(plain) ;;
  --sanitize) passes=(sanitize) ;;
  --blas) passes=(blas) ;;
  --onednn) passes=(onednn) ;;
  -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
  "") ;;
  *) echo "tests/run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
esac

cmake/apt-install.sh cmake ninja-build g++ clang libclang-rt-14-dev libeigen3-dev catch2 libbenchmark-dev zlib1g-dev libstb-dev libcli11-dev libomp-dev \
  openmpi-bin libopenmpi-dev libopenblas-dev

# The real-MNIST tests run when the data is present (they skip otherwise).
examples/fetch-data.sh mnist || echo "warning: MNIST could not be fetched; the tests that need it will be skipped" >&2

jobs=$(nproc)
for pass in "${passes[@]}"; do
  if [ "$pass" = plain ]; then
    # The tests at -O2, as distributions build: an optimized build, a fifth
    # quicker to compile than Release's -O3 (the benchmarks' and
    # examples/run.sh's). The examples and benchmarks at -O1, a fifth quicker
    # again: here they run end to end on tiny data and nothing is timed.
    dir=build/tests
    flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -DNDEBUG" -DLATENT_PROGRAM_FLAGS=-O1
      -DLATENT_GEMM=blas -DLATENT_TEST_SET=all -DLATENT_UNITY_BUILD=ON -DLATENT_UNITY_TEST_UNITS=1)
  elif [ "$pass" = blas ] || [ "$pass" = onednn ]; then
    # Only the tests that touch products (LATENT_TEST_SET=products).
    [ "$pass" = blas ] || cmake/apt-install.sh libdnnl-dev
    dir=build/tests-$pass
    flags=(-DCMAKE_BUILD_TYPE=Release -DLATENT_GEMM=$pass -DLATENT_TEST_SET=products
      -DLATENT_BUILD_BENCHMARKS=OFF -DLATENT_BUILD_EXAMPLES=OFF)
  else
    # clang++ here: GCC's UndefinedBehaviorSanitizer instrumentation of Eigen's
    # templates compiles several times slower, and this pass doubles as the
    # clang++ build. -O1 with line tables keeps the reports readable.
    dir=build/sanitize
    flags=(-DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo
      "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG"
      -DLATENT_SANITIZE=address,undefined -DLATENT_BUILD_BENCHMARKS=OFF -DLATENT_BUILD_EXAMPLES=OFF
      -DLATENT_GEMM=eigen -DLATENT_TEST_SET=all -DLATENT_UNITY_BUILD=ON)
  fi
  echo "== $pass: configure, build, test in $dir"
  cmake -S . -B "$dir" -G Ninja "${flags[@]}" >/dev/null
  cmake --build "$dir" -j "$jobs"
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 600)
done
