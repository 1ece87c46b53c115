#!/usr/bin/env bash
# Compares latent's benchmarks between two versions of the source, on this
# machine, the way a speed claim on a shared and noisy machine has to be
# made: the two binaries run in turn, round after round (the order flipped
# every round), so that load which comes and goes hits both alike. For each
# benchmark it prints one Markdown row: the median over rounds of each
# version's time, and the median of the rounds' new / old ratios, with how
# many rounds the new version won.
#   bench/ab.sh BASE               BASE (a git revision) against the working tree
#   bench/ab.sh BASE NEW           two revisions
# Options:
#   --filter REGEX   which benchmarks (default '^BM_(Vae|Gan)TrainStep/128$')
#   --rounds N       rounds (default 10)
#   --threads T      LATENT_NUM_THREADS for both (default 1)
#   --min-time S     seconds per benchmark run (default 0.3)
#   --gemm LIB       latent's products on eigen (default), blas or onednn
# A revision is checked out as a git worktree under build/ab/ and built
# there by its own bench/run.sh --build-only (revisions from 2026-12-03 on,
# when --gemm came); the working tree is built in build/ab/worktree-LIB
# (`rm -rf build/ab && git worktree prune` cleans up). Quote the CPU, the
# thread count and the ratio's spread with any figure (README: Speed).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; }

filter='^BM_(Vae|Gan)TrainStep/128$'
rounds=10
threads=1
min_time=0.3
gemm=eigen
revisions=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --filter | --rounds | --threads | --min-time | --gemm)
      [ $# -ge 2 ] || { echo "ab.sh: $1 needs a value (try --help)" >&2; exit 2; }
      case "$1" in
        --filter) filter=$2 ;;
        --rounds) rounds=$2 ;;
        --threads) threads=$2 ;;
        --min-time) min_time=$2 ;;
        --gemm) gemm=$2 ;;
      esac
      shift ;;
    -*) echo "ab.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    *) revisions+=("$1") ;;
  esac
  shift
done
[ ${#revisions[@]} -ge 1 ] && [ ${#revisions[@]} -le 2 ] || { echo "ab.sh: give one or two git revisions (try --help)" >&2; exit 2; }
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "ab.sh: --rounds $rounds: expected a whole number, at least 1" >&2; exit 2; }
[[ "$threads" =~ ^[1-9][0-9]*$ ]] || { echo "ab.sh: --threads $threads: expected a whole number, at least 1" >&2; exit 2; }

# The benchmark binary of a revision ("" for the working tree), built if needed.
build() {
  local revision=$1 dir
  if [ -z "$revision" ]; then
    LATENT_BENCH_BUILD_DIR="$PWD/build/ab/worktree-$gemm" bench/run.sh --gemm "$gemm" --build-only
    return
  fi
  local sha
  sha=$(git rev-parse --verify --quiet "$revision^{commit}") || { echo "ab.sh: $revision is not a git revision here" >&2; return 1; }
  dir="$PWD/build/ab/src-$sha"
  [ -d "$dir" ] || git worktree add --detach --force "$dir" "$sha" >&2
  [ -x "$dir/bench/run.sh" ] || { echo "ab.sh: $revision has no bench/run.sh" >&2; return 1; }
  (cd "$dir" && LATENT_BENCH_BUILD_DIR="$PWD/build/bench-$gemm" bench/run.sh --gemm "$gemm" --build-only)
}

echo "building ${revisions[0]}..." >&2
old=$(build "${revisions[0]}" | tail -n 1)
new_name=${revisions[1]:-working tree}
echo "building $new_name..." >&2
new=$(build "${revisions[1]:-}" | tail -n 1)

echo "# bench/ab.sh: ${revisions[0]} against $new_name; $rounds rounds, LATENT_NUM_THREADS=$threads, products on $gemm"
echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
LATENT_NUM_THREADS=$threads OMP_NUM_THREADS=$threads python3 - "$filter" "$rounds" "$min_time" "$old" "$new" "${revisions[0]}" "$new_name" <<'PY'
import statistics, sys

sys.path.insert(0, "bench")
from benchmark_json import results, start

benchmark_filter, rounds, min_time, old, new, old_name, new_name = sys.argv[1:]
times = {}  # benchmark -> binary -> [ms per round]
for round_index in range(int(rounds)):
    for binary in ((old, new) if round_index % 2 == 0 else (new, old)):
        for name, (ms, _) in results(start(binary, benchmark_filter, min_time), "ab.sh").items():
            times.setdefault(name, {}).setdefault(binary, []).append(ms)
if not times:
    sys.exit("ab.sh: no benchmark matches %s" % benchmark_filter)
print("| benchmark | %s ms | %s ms | new / old (median of rounds) | rounds new was faster |" % (old_name, new_name))
print("| --- | ---: | ---: | ---: | ---: |")
for name, by_binary in times.items():
    old_times, new_times = by_binary.get(old, []), by_binary.get(new, [])
    if not old_times or not new_times:
        print("| %s | %s | %s | (only in one version) | |" % (name, "%.4g" % statistics.median(old_times) if old_times else "",
                                                              "%.4g" % statistics.median(new_times) if new_times else ""))
        continue
    ratios = [n / o for o, n in zip(old_times, new_times)]
    faster = sum(1 for r in ratios if r < 1)
    print("| %s | %.4g | %.4g | %.3f (%.3f to %.3f) | %d of %d |" % (
        name, statistics.median(old_times), statistics.median(new_times), statistics.median(ratios), min(ratios),
        max(ratios), faster, len(ratios)))
PY
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
