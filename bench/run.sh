#!/usr/bin/env bash
# Builds latent's benchmarks in Release and runs them (installing the Debian
# packages the build needs). Arguments other than the options below go to the
# benchmark binary, Google Benchmark's flags:
#   bench/run.sh                                   everything: 5 repetitions, aggregates
#                                                  (median among them); JSON also written to
#                                                  <build dir>/latent_bench.json
#   bench/run.sh --benchmark_filter=TrainStep      the whole training steps only
#   bench/run.sh --benchmark_format=json           JSON on stdout
#   bench/run.sh --threads 2 ...                   threads for products (else LATENT_NUM_THREADS,
#                                                  else OMP_NUM_THREADS, else 1)
#   bench/run.sh --gemm LIB ...                    latent's products on LIB: eigen (the default),
#                                                  blas (any CBLAS; Debian's OpenBLAS is installed)
#                                                  or onednn (-DLATENT_GEMM=LIB), built in
#                                                  build/bench-LIB
#   bench/run.sh --blas ...                        the same as --gemm blas
#   bench/run.sh --build-only [--gemm LIB]         build, then print the binary's path
# The build directory is build/bench for eigen, build/bench-LIB otherwise; set
# LATENT_BENCH_BUILD_DIR to use another. OpenBLAS picks its kernel for the CPU
# it runs on; OPENBLAS_CORETYPE=NAME (e.g. SKYLAKEX, HASWELL) picks it instead
# (see README). Timings on a busy machine are noisy: `uptime` is printed
# before and after the run.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; }

gemm=eigen
build_only=0
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --blas) gemm=blas ;;
    --gemm)
      [ $# -ge 2 ] || { echo "run.sh: --gemm needs eigen, blas or onednn" >&2; exit 2; }
      gemm=$2
      shift ;;
    --gemm=*) gemm=${1#--gemm=} ;;
    --build-only) build_only=1 ;;
    --threads)
      [ $# -ge 2 ] || { echo "run.sh: --threads needs a number" >&2; exit 2; }
      export LATENT_NUM_THREADS="$2"
      shift ;;
    --threads=*) export LATENT_NUM_THREADS="${1#--threads=}" ;;
    *) args+=("$1") ;;
  esac
  shift
done

packages=(cmake ninja-build g++ libeigen3-dev libbenchmark-dev zlib1g-dev libcli11-dev libstb-dev)
case "$gemm" in
  eigen) default_dir=build/bench ;;
  blas) default_dir=build/bench-blas; packages+=(libopenblas-dev) ;;
  onednn) default_dir=build/bench-onednn; packages+=(libdnnl-dev) ;;
  *) echo "run.sh: --gemm $gemm: choose eigen, blas or onednn" >&2; exit 2 ;;
esac
dir=${LATENT_BENCH_BUILD_DIR:-$default_dir}
cmake/apt-install.sh "${packages[@]}" >&2

cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLATENT_BUILD_TESTS=OFF -DLATENT_BUILD_EXAMPLES=ON \
  -DLATENT_BUILD_BENCHMARKS=ON -DLATENT_GEMM="$gemm" >/dev/null
cmake --build "$dir" --target latent_bench -j "$(nproc)" >&2
binary="$dir/bench/latent_bench"
if [ "$build_only" = 1 ]; then
  echo "$binary"
  exit 0
fi

has() { local a; for a in "${args[@]}"; do case "$a" in "$1"*) return 0 ;; esac; done; return 1; }
has --benchmark_repetitions || args+=(--benchmark_repetitions=5 --benchmark_report_aggregates_only=true)
has --benchmark_out= || args+=(--benchmark_out="$dir/latent_bench.json" --benchmark_out_format=json)

echo "load before: $(uptime)" >&2
"$binary" "${args[@]}"
echo "load after:  $(uptime)" >&2
