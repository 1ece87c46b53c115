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
write_set() {  # write_set PREFIX N: PREFIX-images-idx3-ubyte and PREFIX-labels-idx1-ubyte, N random 28x28 images
  { printf '\x00\x00\x08\x03'; be32 "$2"; be32 28; be32 28; head -c $(($2 * 784)) /dev/urandom; } >"$work/data/$1-images-idx3-ubyte"
  { printf '\x00\x00\x08\x01'; be32 "$2"; for ((i = 0; i < $2; i++)); do printf "\\x0$((i % 10))"; done; } >"$work/data/$1-labels-idx1-ubyte"
}
mkdir -p "$work/data"
write_set train 300
write_set t10k 100

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
expect_exit 0 '"model":"vae","epochs":1' "${vae[@]}" --epochs 1 --out "$work/out" --checkpoint "$work/vae.ckpt" \
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
echo "examples: all checks passed"
