#!/usr/bin/env bash
# Trains a model on MNIST with latent (examples/vae_mnist or gan_mnist) and
# with PyTorch 1.13 (bench/compare/vae_torch.py or gan_torch.py, the same
# model and recipe) for N epochs at 1 and 2 threads, and prints one Markdown
# table per run: seconds per epoch (median over epochs, training loop only)
# and their ratio (PyTorch / latent), peak RSS (/usr/bin/time -v), and the
# final losses: for a VAE the test and training losses (negative ELBO, nats
# per example), with the IWAE log-likelihood when --iw is given; for a GAN
# the last epoch's mean discriminator and generator losses.
# The models (--model), each on its PyTorch recipe:
#   vae       the 784-400-20 VAE: batch 128, Adam lr 1e-3 held constant
#   conv_vae  vae_mnist --arch conv, the same recipe
#   gan       the MLP GAN: gan_mnist's defaults
#   dcgan     gan_mnist --arch dcgan: its defaults, the libtorch example's recipe
# Both sides run the same seed and the same environment: OMP_NUM_THREADS and
# OPENBLAS_NUM_THREADS = the thread count, OMP_WAIT_POLICY=PASSIVE. The
# header says which kernels PyTorch runs (bench/compare/kernels.py).
# Options:
#   --model M          vae (default), conv_vae, gan or dcgan
#   --epochs N         epochs per run (default 3)
#   --threads "1 2"    thread counts (default "1 2")
#   --iw K             VAEs: also the importance-weighted log-likelihood with K samples
#   --data DIR         MNIST folder (default data/mnist; examples/fetch-data.sh mnist fetches it)
#   --keep DIR         keep each run's output in DIR
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }

model=vae
epochs=3
thread_counts="1 2"
iw=()
data=data/mnist
keep=
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --model) model=$2; shift ;;
    --epochs) epochs=$2; shift ;;
    --threads) thread_counts=$2; shift ;;
    --iw) iw=(--iw "$2"); shift ;;
    --data) data=$2; shift ;;
    --keep) keep=$2; shift ;;
    *) echo "compare-epochs.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
[ -e "$data/train-images-idx3-ubyte" ] || [ -e "$data/train-images-idx3-ubyte.gz" ] ||
  { echo "compare-epochs.sh: no MNIST in $data (examples/fetch-data.sh mnist)" >&2; exit 1; }

python=/usr/bin/python3
cmake/apt-install.sh python3-torch python3-numpy >&2

# Each model: latent's example and its flags, PyTorch's script and its flags.
case "$model" in
  vae) example=vae_mnist ours=(--schedule constant --lr 1e-3) theirs=(bench/compare/vae_torch.py) ;;
  conv_vae) example=vae_mnist ours=(--arch conv --schedule constant --lr 1e-3) theirs=(bench/compare/vae_torch.py --arch conv) ;;
  gan) example=gan_mnist ours=() theirs=(bench/compare/gan_torch.py) ;;
  dcgan) example=gan_mnist ours=(--arch dcgan) theirs=(bench/compare/gan_torch.py --arch dcgan) ;;
  *) echo "compare-epochs.sh: unknown model $model (vae, conv_vae, gan, dcgan)" >&2; exit 2 ;;
esac
[ ${#iw[@]} -eq 0 ] || [ "$example" = vae_mnist ] || { echo "compare-epochs.sh: --iw is for the VAEs" >&2; exit 2; }

# The example, from the benchmarks' Release build.
bench/run.sh --build-only >/dev/null
dir=${LATENT_BENCH_BUILD_DIR:-build/bench}
cmake --build "$dir" --target "$example" -j "$(nproc)" >&2
example="$dir/examples/$example"

results=${keep:-$(mktemp -d)}
mkdir -p "$results"
[ -n "$keep" ] || trap 'rm -rf "$results"' EXIT

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs, $model, $epochs epochs"
"$python" bench/compare/kernels.py
echo "# load before: $(uptime | sed 's/.*load average/load average/')"
for t in $thread_counts; do
  export OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t OMP_WAIT_POLICY=PASSIVE
  /usr/bin/time -v -o "$results/latent-t$t.time" "$example" --data "$data" --epochs "$epochs" --threads "$t" --seed 1 \
    "${ours[@]}" "${iw[@]}" >"$results/latent-t$t.out"
  /usr/bin/time -v -o "$results/torch-t$t.time" "$python" "${theirs[@]}" --data "$data" --epochs "$epochs" \
    --threads "$t" --seed 1 "${iw[@]}" >"$results/torch-t$t.out"
  echo "# $t thread(s) done, $(uptime | sed 's/.*load average/load average/')" >&2
done
echo "# load after: $(uptime | sed 's/.*load average/load average/')"
echo "# command: bench/compare-epochs.sh --model $model --epochs $epochs --threads \"$thread_counts\" ${iw[*]}"
echo
"$python" bench/compare/report.py epochs "$results"
