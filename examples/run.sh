#!/usr/bin/env bash
# The main example: installs the Debian packages it needs, fetches MNIST
# (verified), builds the examples in Release and trains the VAE for a few
# epochs, writing its pictures and history under out/vae/.
#   examples/run.sh                 3 epochs
#   EPOCHS=10 examples/run.sh       more (10 reproduces the README's figures)
# Extra arguments go to vae_mnist (see build/release/examples/vae_mnist --help).
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac

cmake/apt-install.sh cmake ninja-build g++ libeigen3-dev zlib1g-dev libstb-dev libcli11-dev

examples/fetch-data.sh mnist
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DLATENT_BUILD_TESTS=OFF -DLATENT_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build/release --target vae_mnist -j "$(nproc)"
build/release/examples/vae_mnist --data data/mnist --epochs "${EPOCHS:-3}" --out out/vae --samples-out out/vae/samples-idx3-ubyte "$@"
echo "pictures and history.csv in out/vae/"
