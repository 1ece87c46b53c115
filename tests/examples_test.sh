#!/usr/bin/env bash
# End-to-end checks of the example programs on a tiny MNIST-format data set
# that this script writes itself: --help, training with pictures, samples and
# a checkpoint, resuming (with the whole history in history.csv), and refusing
# bad input with exit code 1. With --mpi, the checks of --distributed instead,
# started by the given launcher; with --no-mpi, that --distributed is a clear
# error in a build without MPI.
#   tests/examples_test.sh BUILD_DIR/examples [--no-mpi]
#   tests/examples_test.sh BUILD_DIR/examples --mpi MPIEXEC [FLAGS...]
set -euo pipefail
bin=$1
mode=${2:-}
mpiexec=("${@:3}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# be32 N: N as four big-endian bytes.
be32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }
write_set() {  # write_set DIR PREFIX N [SIDE]: DIR/PREFIX-images-idx3-ubyte and DIR/PREFIX-labels-idx1-ubyte, N random SIDExSIDE images (28)
  local side=${4:-28}
  mkdir -p "$1"
  { printf '\x00\x00\x08\x03'; be32 "$3"; be32 "$side"; be32 "$side"; head -c $(($3 * side * side)) /dev/urandom; } >"$1/$2-images-idx3-ubyte"
  { printf '\x00\x00\x08\x01'; be32 "$3"; for ((i = 0; i < $3; i++)); do printf "\\x0$((i % 10))"; done; } >"$1/$2-labels-idx1-ubyte"
}
write_set "$work/data" train 300
write_set "$work/data" t10k 100

fail() { echo "FAILED: $*" >&2; exit 1; }
expect_exit() {  # expect_exit CODE PATTERN COMMAND...: the command exits CODE and prints PATTERN
  local code=$1 pattern=$2; shift 2
  set +e
  output=$("$@" 2>&1)
  local got=$?
  set -e
  [ "$got" -eq "$code" ] || fail "$* exited $got, expected $code: $output"
  grep -q -- "$pattern" <<<"$output" || fail "$* did not print '$pattern': $output"
}

if [ "$mode" = --mpi ]; then
  # shellcheck source=tests/examples_mpi_checks.sh
  source "$(dirname "$0")/examples_mpi_checks.sh"
  echo "examples --distributed: all checks passed"
  exit 0
fi

vae=("$bin/vae_mnist" --data "$work/data" --batch 32 --hidden 16 --latent 2)
if [ "$mode" = --no-mpi ]; then
  expect_exit 1 "has no MPI support" "${vae[@]}" --epochs 1 --distributed
fi
expect_exit 0 "--samples-out" "$bin/vae_mnist" --help
expect_exit 0 '"model":"vae","arch":"mlp","conditional":false,"epochs":1' "${vae[@]}" --epochs 1 --out "$work/out" --checkpoint "$work/vae.ckpt" \
  --samples-out "$work/samples-idx3-ubyte" --samples 50 --iw 5
for f in reconstructions.png samples.png interpolation.png history.csv; do [ -s "$work/out/$f" ] || fail "vae_mnist wrote no $f"; done
[ "$(stat -c %s "$work/samples-idx3-ubyte")" -eq $((16 + 50 * 784)) ] || fail "samples file has the wrong size"
epoch_1=$(sed -n 2p "$work/out/history.csv")
expect_exit 0 "resumed from .* after epoch 1; training epochs 2..2" "${vae[@]}" --epochs 2 --resume "$work/vae.ckpt" --out "$work/out"
# The resumed run's history.csv holds the whole run: epoch 1 (from the checkpoint) as it was, then epoch 2.
[ "$(cut -d, -f1 "$work/out/history.csv" | tr '\n' ' ')" = "epoch 1 2 " ] ||
  fail "history.csv after --resume does not hold epochs 1 and 2: $(cat "$work/out/history.csv")"
[ "$(sed -n 2p "$work/out/history.csv")" = "$epoch_1" ] || fail "history.csv after --resume changed epoch 1: $(cat "$work/out/history.csv")"
expect_exit 1 "does not fit" "$bin/vae_mnist" --data "$work/data" --batch 32 --hidden 8 --latent 2 --epochs 2 --resume "$work/vae.ckpt"
head -c 100 "$work/vae.ckpt" >"$work/truncated.ckpt"
expect_exit 1 "truncated.ckpt" "${vae[@]}" --epochs 2 --resume "$work/truncated.ckpt"
expect_exit 1 "missing.ckpt" "${vae[@]}" --epochs 2 --resume "$work/missing.ckpt"
expect_exit 1 "nowhere" "$bin/vae_mnist" --data "$work/nowhere" --epochs 1
expect_exit 105 "not in range" "$bin/vae_mnist" --epochs 0
# Conditional VAE: balanced samples and their labels; flags that cannot work are refused before training.
expect_exit 0 '"model":"vae","arch":"mlp","conditional":true' "${vae[@]}" --epochs 1 --conditional --out "$work/cvae" \
  --samples-out "$work/cvae-samples" --samples 50 --labels-out "$work/cvae-labels"
[ -s "$work/cvae/samples.png" ] || fail "vae_mnist --conditional wrote no samples.png"
[ "$(stat -c %s "$work/cvae-labels")" -eq $((8 + 50)) ] || fail "the labels file has the wrong size"
[ "$(od -An -tu1 -j8 -N12 "$work/cvae-labels" | tr -s ' ')" = " 0 1 2 3 4 5 6 7 8 9 0 1" ] || fail "labels are not balanced"
expect_exit 1 "multiple of the 10 classes" "${vae[@]}" --epochs 1 --conditional --samples-out "$work/x" --samples 55
expect_exit 1 "needs --conditional and --samples-out" "${vae[@]}" --epochs 1 --samples-out "$work/x" --labels-out "$work/y"
expect_exit 1 "unconditional" "${vae[@]}" --epochs 1 --conditional --iw 5

# GANs: WGAN-GP (its epoch is counted in generator steps), a conditional GAN judged by a classifier.
gan=("$bin/gan_mnist" --data "$work/data" --batch 50 --noise 8)
expect_exit 0 "fresh batches" "$bin/gan_mnist" --help
expect_exit 0 '"loss":"wgan-gp"' "${gan[@]}" --epochs 1 --loss wgan-gp --n-critic 2 --out "$work/wgan-gp"
grep -q "d_penalty" "$work/wgan-gp/history.csv" || fail "gan_mnist --loss wgan-gp logged no penalty"
expect_exit 0 "test_accuracy" "$bin/train_classifier" --data "$work/data" --epochs 1 --out "$work/classifier.ckpt"
expect_exit 0 '"cond_acc":' "${gan[@]}" --epochs 1 --conditional --classifier "$work/classifier.ckpt" --out "$work/cgan" \
  --checkpoint "$work/cgan.ckpt" --samples-out "$work/cgan-samples" --samples 20 --labels-out "$work/cgan-labels"
expect_exit 0 "resumed from" "${gan[@]}" --epochs 2 --conditional --resume "$work/cgan.ckpt"
expect_exit 1 "does not fit the" "${gan[@]}" --epochs 2 --resume "$work/cgan.ckpt"
expect_exit 0 '"conditional":true' "${gan[@]}" --epochs 1 --conditional --loss wgan-gp --n-critic 2
expect_exit 0 '"loss":"lsgan"' "${gan[@]}" --epochs 1 --loss lsgan --real-label-range 0.7 0.95
expect_exit 1 "needs LO <= HI" "${gan[@]}" --epochs 1 --real-label-range 0.95 0.7
expect_exit 1 "range of real labels needs a loss with targets" "${gan[@]}" --epochs 1 --loss hinge --real-label-range 0.8 1
expect_exit 0 '"cond_acc":' "$bin/eval_samples" --data "$work/data" --classifier "$work/classifier.ckpt" \
  --samples "$work/cgan-samples" --labels "$work/cgan-labels"
printf '\x00\x00\x08\x01\x00\x00\x00\x03\x01\x02\x03' >"$work/three-labels"
expect_exit 1 "3 labels for 20 samples" "$bin/eval_samples" --data "$work/data" --classifier "$work/classifier.ckpt" \
  --samples "$work/cgan-samples" --labels "$work/three-labels"

# VAE-GAN: pictures, samples, checkpoint and resume like the others.
vaegan=("$bin/vaegan_mnist" --data "$work/data" --batch 50 --latent 4)
expect_exit 0 "gamma" "$bin/vaegan_mnist" --help
expect_exit 0 '"model":"vaegan","arch":"mlp","loss":"hinge","epochs":1' "${vaegan[@]}" --epochs 1 --out "$work/vaegan" --checkpoint "$work/vaegan.ckpt" \
  --samples-out "$work/vaegan-samples" --samples 30
for f in reconstructions.png samples.png interpolation.png history.csv; do [ -s "$work/vaegan/$f" ] || fail "vaegan_mnist wrote no $f"; done
[ "$(stat -c %s "$work/vaegan-samples")" -eq $((16 + 30 * 784)) ] || fail "vaegan samples file has the wrong size"
expect_exit 0 "resumed from .* after epoch 1" "${vaegan[@]}" --epochs 2 --resume "$work/vaegan.ckpt"
expect_exit 1 "does not fit" "$bin/vaegan_mnist" --data "$work/data" --batch 50 --latent 5 --epochs 2 --resume "$work/vaegan.ckpt"
expect_exit 0 '"loss":"nonsaturating"' "${vaegan[@]}" --epochs 1 --loss nonsaturating --kl-weight 0.01
expect_exit 0 '"arch":"conv"' "${vaegan[@]}" --epochs 1 --arch conv --out "$work/vaegan-conv" --checkpoint "$work/vaegan-conv.ckpt"
[ -s "$work/vaegan-conv/samples.png" ] || fail "vaegan_mnist --arch conv wrote no samples.png"
expect_exit 0 "resumed from .* after epoch 1" "${vaegan[@]}" --epochs 2 --arch conv --resume "$work/vaegan-conv.ckpt"
expect_exit 1 "does not fit" "${vaegan[@]}" --epochs 2 --resume "$work/vaegan-conv.ckpt"

# The quickstarts and the hand-written loop, as README quotes them: one epoch each.
(cd "$work" && expect_exit 0 "test loss" "$bin/vae_quickstart" "$work/data" 1) || exit 1
[ -s "$work/samples.png" ] || fail "vae_quickstart wrote no samples.png"
expect_exit 0 "epoch 1 train loss" "$bin/vae_loop" "$work/data" 1
(cd "$work" && expect_exit 0 "" "$bin/gan_quickstart" "$work/data" 1) || exit 1
[ -s "$work/gan_samples.png" ] || fail "gan_quickstart wrote no gan_samples.png"
expect_exit 1 "nowhere" "$bin/vae_loop" "$work/nowhere" 1

# The convolutional models (--arch conv, --arch dcgan): pictures, samples, a checkpoint, a resume; refusals.
conv_vae=("$bin/vae_mnist" --data "$work/data" --arch conv --batch 50 --hidden 16 --latent 2)
expect_exit 0 '"model":"vae","arch":"conv","conditional":false,"epochs":1' "${conv_vae[@]}" --epochs 1 --out "$work/conv-vae" \
  --checkpoint "$work/conv-vae.ckpt" --samples-out "$work/conv-vae-samples" --samples 20 --iw 2
for f in reconstructions.png samples.png interpolation.png history.csv; do [ -s "$work/conv-vae/$f" ] || fail "vae_mnist --arch conv wrote no $f"; done
[ "$(stat -c %s "$work/conv-vae-samples")" -eq $((16 + 20 * 784)) ] || fail "conv VAE samples file has the wrong size"
expect_exit 0 "resumed from .* after epoch 1; training epochs 2..2" "${conv_vae[@]}" --epochs 2 --resume "$work/conv-vae.ckpt"
expect_exit 1 "does not fit" "${vae[@]}" --epochs 2 --resume "$work/conv-vae.ckpt"
dcgan=("$bin/gan_mnist" --data "$work/data" --arch dcgan --batch 50 --noise 8)
expect_exit 0 '"model":"gan","arch":"dcgan"' "${dcgan[@]}" --epochs 1 --out "$work/dcgan" --checkpoint "$work/dcgan.ckpt" \
  --samples-out "$work/dcgan-samples" --samples 20
for f in samples_epoch_001.png history.csv; do [ -s "$work/dcgan/$f" ] || fail "gan_mnist --arch dcgan wrote no $f"; done
[ "$(stat -c %s "$work/dcgan-samples")" -eq $((16 + 20 * 784)) ] || fail "DCGAN samples file has the wrong size"
expect_exit 0 "resumed from .* after epoch 1; training epochs 2..2" "${dcgan[@]}" --epochs 2 --resume "$work/dcgan.ckpt"
expect_exit 0 "losses nonsaturating and minimax" "$bin/gan_mnist" --help
expect_exit 0 '"arch":"dcgan","loss":"minimax"' "${dcgan[@]}" --epochs 1 --loss minimax --beta2 0.999 --real-label 0.9
expect_exit 1 "is for --arch mlp" "${dcgan[@]}" --epochs 1 --spectral-norm
expect_exit 1 "is for --arch mlp" "${dcgan[@]}" --epochs 1 --loss wgan-gp
expect_exit 1 "unconditional" "${dcgan[@]}" --epochs 1 --conditional
expect_exit 1 "unconditional" "${conv_vae[@]}" --epochs 1 --conditional
write_set "$work/small" train 20 8
write_set "$work/small" t10k 10 8
expect_exit 1 "reads 28x28 images" "$bin/gan_mnist" --data "$work/small" --arch dcgan --epochs 1
expect_exit 1 "reads 28x28 images" "$bin/vae_mnist" --data "$work/small" --arch conv --epochs 1
expect_exit 1 "reads 28x28 images" "$bin/vaegan_mnist" --data "$work/small" --arch conv --epochs 1
echo "examples: all checks passed"
