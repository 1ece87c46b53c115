#!/usr/bin/env bash
# N threads against one, measured the way a shared, noisy machine allows:
# one benchmark binary run at 1 and at N threads in turn, round after round,
# and in the same round N one-thread copies of it run together, the
# yardstick of what the machine's cores give N workers (a one-thread run
# takes whichever core is free; N threads must share every core with the
# machine's other load). For each benchmark one Markdown row: the median
# time on 1 and on N threads, the median of the rounds' own speedups with
# their range, the N-thread rate over the copies' summed rate in the same
# round (1.00: the threads lose nothing to each other; the speedup over
# this is the one the copies leave room for), and, for a benchmark with a FLOP/s
# counter, the one-thread rate as a share of BM_FmaPeak in the same round.
# A step measured beside its products alone (BM_VaeStepGemms/128 by
# BM_VaeTrainStep/128) gets a line more: the step's one-thread rate over its
# products'. (On N threads the products alone split each product, where a
# step runs a layer's two gradients side by side: compare their one-thread
# figures.)
#   bench/threads.sh                                  the two MLP steps and their products alone, all cores
#   bench/threads.sh --gemm onednn --filter '^BM_DcganTrainStep/64$'
# Options:
#   --filter REGEX   which benchmarks (default '^BM_(Vae|Gan)(TrainStep|StepGemms)/128$')
#   --threads N      the thread count set against one (default: this machine's cores, at least 2)
#   --rounds N       rounds (default 8)
#   --min-time S     seconds per benchmark run (default 1: 0.3 s runs on a busy
#                    machine gave ratios from 1.0 to 2.8)
#   --gemm LIB       latent's products on eigen (default), blas or onednn
# The binary is bench/run.sh --build-only's (build/bench or build/bench-LIB).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; }

filter='^BM_(Vae|Gan)(TrainStep|StepGemms)/128$'
threads=$(( $(nproc) > 1 ? $(nproc) : 2 ))
rounds=8
min_time=1
gemm=eigen
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --filter | --threads | --rounds | --min-time | --gemm)
      [ $# -ge 2 ] || { echo "threads.sh: $1 needs a value (try --help)" >&2; exit 2; }
      case "$1" in
        --filter) filter=$2 ;;
        --threads) threads=$2 ;;
        --rounds) rounds=$2 ;;
        --min-time) min_time=$2 ;;
        --gemm) gemm=$2 ;;
      esac
      shift ;;
    *) echo "threads.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "threads.sh: --rounds $rounds: expected a whole number, at least 1" >&2; exit 2; }
[[ "$threads" =~ ^[1-9][0-9]*$ ]] && [ "$threads" -ge 2 ] ||
  { echo "threads.sh: --threads $threads: expected a whole number, at least 2" >&2; exit 2; }

[ "$threads" -le "$(nproc)" ] ||
  echo "threads.sh: note: $threads threads on $(nproc) cores: the threads and the copies share cores, so neither figure is a core's" >&2

binary=$(bench/run.sh --gemm "$gemm" --build-only | tail -n 1)
echo "# bench/threads.sh: $threads threads against 1 and against $threads one-thread copies at once; $rounds rounds of ${min_time} s runs, products on $gemm"
echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$binary" "$filter" "$threads" "$rounds" "$min_time" <<'PY'
import statistics, sys

sys.path.insert(0, "bench")
from benchmark_json import results, start

binary, benchmark_filter, threads, rounds, min_time = sys.argv[1:]
threads, rounds = int(threads), int(rounds)


def start_on(thread_count, extra_filter=""):
    return start(binary, benchmark_filter + extra_filter, min_time, thread_count)


one, many, copies, peaks = {}, {}, {}, []  # benchmark -> [per round]; copies: the summed rate (1/ms)
for round_index in range(rounds):
    runs = [("one", lambda: [start_on(1, "|^BM_FmaPeak$")]), ("many", lambda: [start_on(threads)]),
            ("copies", lambda: [start_on(1) for _ in range(threads)])]
    for kind, launch in (runs if round_index % 2 == 0 else runs[::-1]):
        measured = [results(p, "threads.sh") for p in launch()]
        if kind == "one":
            peaks.append(measured[0].get("BM_FmaPeak", (None, None))[1])
            for name, value in measured[0].items(): one.setdefault(name, []).append(value)
        elif kind == "many":
            for name, value in measured[0].items(): many.setdefault(name, []).append(value[0])
        else:
            for name in measured[0]: copies.setdefault(name, []).append(sum(1 / m[name][0] for m in measured))
if not many:
    sys.exit("threads.sh: no benchmark matches %s" % benchmark_filter)

print("| benchmark | 1 thread ms | %d threads ms | speedup (median of rounds) | %d threads over %d copies at once | 1 thread, share of BM_FmaPeak (median, best) |"
      % (threads, threads, threads))
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for name, many_ms in many.items():
    one_ms = [ms for ms, _ in one[name]]
    speedups = [o / m for o, m in zip(one_ms, many_ms)]
    of_copies = [(1 / m) / c for m, c in zip(many_ms, copies[name])]
    shares = [flops / peak for (_, flops), peak in zip(one[name], peaks) if flops and peak]
    share = "%.0f%%, %.0f%%" % (100 * statistics.median(shares), 100 * max(shares)) if shares else ""
    print("| %s | %.4g | %.4g | %.2fx (%.2f to %.2f) | %.2f (%.2f to %.2f) | %s |" % (
        name, statistics.median(one_ms), statistics.median(many_ms), statistics.median(speedups), min(speedups),
        max(speedups), statistics.median(of_copies), min(of_copies), max(of_copies), share))

# A step beside its products alone (BM_XTrainStep/B and BM_XStepGemms/B): the
# step's share of the peak is its products' share times this.
for name in many:
    products = name.replace("TrainStep/", "StepGemms/")
    if products == name or products not in one:
        continue
    of_products = [p / s for (s, _), (p, _) in zip(one[name], one[products])]
    print("# %s, 1 thread: the step runs at %.2f (%.2f to %.2f) of its products' rate alone (%s; median of rounds)"
          % (name, statistics.median(of_products), min(of_products), max(of_products), products))
PY
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
