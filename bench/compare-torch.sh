#!/usr/bin/env bash
# Times whole training steps side by side, latent against PyTorch 1.13
# (Debian python3-torch), at 1 and 2 threads, and prints one Markdown table:
# step, threads, latent ms, PyTorch ms, ratio (PyTorch time / latent time).
#   latent:  BM_VaeTrainStep/128, BM_GanTrainStep/128, BM_ConvVaeTrainStep/128
#            and BM_DcganTrainStep/64 (bench/run.sh builds them)
#   PyTorch: bench/compare/vae_torch.py and gan_torch.py --time-steps (with
#            --arch conv and --arch dcgan for the convolutional models), the same steps
# The run is made of rounds; each round runs latent's steps, then
# PyTorch's, once per thread count, so load that comes and goes on a shared
# machine hits both sides alike. Each side's figure is the median over rounds
# of a timed block of at least --min-time seconds (after warm-up).
# Both sides get the same environment: OMP_NUM_THREADS and
# OPENBLAS_NUM_THREADS = the thread count, OMP_WAIT_POLICY=PASSIVE (override
# with --wait-policy; PyTorch's OpenMP threads spin and starve otherwise).
# The header says which kernels PyTorch runs (bench/compare/kernels.py:
# OpenBLAS's and oneDNN's) and warns when OpenBLAS fell back to an older
# CPU's kernel; then which library and kernel latent's products run on.
# OPENBLAS_CORETYPE, when set, reaches both sides (README: "The library").
# Options:
#   --rounds N         rounds (default 5)
#   --threads "1 2"    thread counts (default "1 2")
#   --steps "..."      which steps, of vae gan conv_vae dcgan (default all four)
#   --min-time S       seconds per timed block (default 0.5)
#   --wait-policy P    OMP_WAIT_POLICY for both sides (default PASSIVE)
#   --data DIR         MNIST folder (default data/mnist; synthetic images if absent)
#   --keep DIR         keep the raw results (JSON) in DIR
#   --gemm LIB         latent's products on eigen (default), blas or onednn
#                      (bench/run.sh --gemm)
# Exits 1 when a ratio misses its target (VAE 3x, GAN 2.5x, conv VAE and DCGAN 1.5x).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; }

rounds=5
thread_counts="1 2"
steps="vae gan conv_vae dcgan"
min_time=0.5
wait_policy=PASSIVE
data=data/mnist
keep=
gemm=eigen
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --rounds) rounds=$2; shift ;;
    --threads) thread_counts=$2; shift ;;
    --steps) steps=$2; shift ;;
    --min-time) min_time=$2; shift ;;
    --wait-policy) wait_policy=$2; shift ;;
    --data) data=$2; shift ;;
    --keep) keep=$2; shift ;;
    --gemm) gemm=$2; shift ;;
    *) echo "compare-torch.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

# Each step: latent's benchmark, then PyTorch's script and its flags.
filter=
for step in $steps; do
  case "$step" in
    vae) filter+="|BM_VaeTrainStep/128" ;;
    gan) filter+="|BM_GanTrainStep/128" ;;
    conv_vae) filter+="|BM_ConvVaeTrainStep/128" ;;
    dcgan) filter+="|BM_DcganTrainStep/64" ;;
    *) echo "compare-torch.sh: unknown step $step (vae, gan, conv_vae, dcgan)" >&2; exit 2 ;;
  esac
done
torch_step() {
  case "$1" in
    vae) echo "bench/compare/vae_torch.py" ;;
    gan) echo "bench/compare/gan_torch.py" ;;
    conv_vae) echo "bench/compare/vae_torch.py --arch conv" ;;
    dcgan) echo "bench/compare/gan_torch.py --arch dcgan" ;;
  esac
}

python=/usr/bin/python3
cmake/apt-install.sh python3-torch python3-numpy >&2

binary=$(bench/run.sh --gemm "$gemm" --build-only 2>/dev/null) || { echo "compare-torch.sh: building the benchmarks failed (run bench/run.sh --build-only)" >&2; exit 1; }
results=${keep:-$(mktemp -d)}
mkdir -p "$results"
[ -n "$keep" ] || trap 'rm -rf "$results"' EXIT

blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || echo unknown)
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs"
echo "# PyTorch $("$python" -c 'import torch; print(torch.__version__)') with BLAS $blas; OMP_WAIT_POLICY=$wait_policy"
case "$blas" in
  */blas/libblas.so.3) echo "# warning: PyTorch runs on the reference BLAS (apt-get install libopenblas0-pthread for a fair comparison)" ;;
esac
"$python" bench/compare/kernels.py
echo "# latent: $("$binary" --benchmark_list_tests=true 2>&1 >/dev/null | sed -n 's/^latent_bench: //p')${OPENBLAS_CORETYPE:+ (OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE)}"
echo "# load before: $(uptime | sed 's/.*load average/load average/')"

for round in $(seq 1 "$rounds"); do
  for t in $thread_counts; do
    export OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t OMP_WAIT_POLICY=$wait_policy
    LATENT_NUM_THREADS=$t LATENT_DATA_DIR=$data "$binary" --benchmark_filter="^(${filter#|})\$" \
      --benchmark_min_time="$min_time" --benchmark_out="$results/latent-t$t-r$round.json" \
      --benchmark_out_format=json >/dev/null 2>"$results/latent-t$t-r$round.log"
    for step in $steps; do
      # shellcheck disable=SC2046  # the script and its flags, split on purpose
      "$python" $(torch_step "$step") --time-steps --threads "$t" --data "$data" --repetitions 1 \
        --min-time "$min_time" >"$results/torch-$step-t$t-r$round.json"
    done
  done
  echo "# round $round of $rounds done, $(uptime | sed 's/.*load average/load average/')" >&2
done

echo "# load after: $(uptime | sed 's/.*load average/load average/')"
echo "# command: bench/compare-torch.sh --gemm $gemm --rounds $rounds --threads \"$thread_counts\" --steps \"$steps\" --min-time $min_time --wait-policy $wait_policy"
echo
"$python" bench/compare/report.py steps "$results"
