#!/usr/bin/env bash
# Data-parallel scaling: training samples/s of vae_mnist and gan_mnist on 1,
# 2, 4, ... ranks up to this machine's cores (or --max-ranks), one thread per
# rank, the same examples per rank on every count (--batch = per-rank batch x
# ranks), and the efficiency: samples/s on N ranks / (N x samples/s on 1).
# Prints a table, writes it to DIR/scaling.tsv with the runs' JSON lines in
# DIR/runs.jsonl, and plots it to DIR/scaling.png (gnuplot; installed with
# apt-get when missing). Builds the examples in Release first (installing the
# Debian packages the build needs, MPI included).
#   bench/scaling.sh                        MNIST in data/mnist, results in build/scaling
#   bench/scaling.sh --max-ranks 64 --mpiexec "mpiexec --hostfile hosts"   a cluster
#   bench/scaling.sh --mpiexec "srun --mpi=pmix"                            under Slurm
# Options: --out DIR, --data DIR, --epochs N (default 2; samples/s from the
# median epoch's training seconds), --per-rank-batch B (default 128),
# --models "vae gan", --max-ranks N, --mpiexec "COMMAND" (the launcher and its
# flags; the rank count follows as -n N), --build-dir DIR, --rounds N
# (default 1): every rank count N times, in turn, round after round.
# Timings on a busy machine are noisy: `uptime` is printed before and after,
# and with --rounds each speedup is the median of the rounds' own ratios
# (each round's N-rank rate over its 1-rank rate), given with their range;
# DIR/rounds.tsv has every run.
# --independent (one machine only): after each N-rank run, N one-rank runs
# together, without MPI, their rates summed: what this machine's cores give
# N processes right after (the ranks hold the cores during their own run).
# A lone rank runs on whichever core is free, N ranks must share every core
# with the machine's other load, so on a shared machine this is the fairer
# yardstick: the table adds its rate and the median of the rounds' ratios
# of the N-rank rate to it (1.00: the ranks lose nothing to each other;
# DIR/independent.tsv has every run).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }

out=build/scaling
data=data/mnist
epochs=2
per_rank=128
models="vae gan"
max_ranks=$(nproc)
mpiexec=""
build=build/release
rounds=1
independent=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --out) out=$2; shift ;;
    --data) data=$2; shift ;;
    --epochs) epochs=$2; shift ;;
    --per-rank-batch) per_rank=$2; shift ;;
    --models) models=$2; shift ;;
    --max-ranks) max_ranks=$2; shift ;;
    --mpiexec) mpiexec=$2; shift ;;
    --build-dir) build=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --independent) independent=1 ;;
    *) echo "scaling.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "scaling.sh: --rounds takes a positive whole number, not '$rounds'" >&2; exit 2; }
if [ "$independent" = 1 ] && [ "$max_ranks" -gt "$(nproc)" ]; then
  echo "scaling.sh: --independent runs its one-rank copies on this machine, which has $(nproc) cores: --max-ranks $max_ranks would oversubscribe them" >&2
  exit 2
fi

cmake/apt-install.sh cmake ninja-build g++ libeigen3-dev zlib1g-dev libstb-dev libcli11-dev libomp-dev openmpi-bin libopenmpi-dev
command -v gnuplot >/dev/null || cmake/apt-install.sh gnuplot-nox
[ -e "$data/train-images-idx3-ubyte" ] || [ -e "$data/train-images-idx3-ubyte.gz" ] || examples/fetch-data.sh mnist
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLATENT_BUILD_TESTS=OFF -DLATENT_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" --target vae_mnist gan_mnist -j "$(nproc)"

if [ -z "$mpiexec" ]; then
  mpiexec="mpiexec"
  # Open MPI: ranks may outnumber cores; root in containers; no cross-process mapping there.
  if mpiexec --version 2>/dev/null | grep -qiE "Open MPI|OpenRTE|open-mpi"; then
    mpiexec="mpiexec --oversubscribe --bind-to none"
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
  fi
fi

mkdir -p "$out"
: >"$out/runs.jsonl"
: >"$out/rounds.tsv"
: >"$out/independent.tsv"
echo "# $(uptime)"
echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores; $mpiexec"
for model in $models; do
  for round in $(seq "$rounds"); do
    ranks=1
    while [ "$ranks" -le "$max_ranks" ]; do
      batch=$((per_rank * ranks))
      args=(--data "$data" --epochs "$epochs" --batch "$batch" --threads 1)
      if [ "$ranks" -eq 1 ]; then
        json=$("$build/examples/${model}_mnist" "${args[@]}" | tail -n 1)
      else
        # shellcheck disable=SC2086  # the launcher's words
        json=$($mpiexec -n "$ranks" "$build/examples/${model}_mnist" --distributed "${args[@]}" | tail -n 1)
      fi
      echo "$json" >>"$out/runs.jsonl"
      # samples/s from the median epoch's training seconds; the JSON's sync_ms is the last epoch's.
      python3 - "$json" "$model" "$round" "$ranks" "$batch" <<'PY' | tee -a "$out/rounds.tsv"
import json, statistics, sys
run = json.loads(sys.argv[1])
rate = run["train_examples"] / statistics.median(run["epoch_seconds"])
sync = run.get("sync_ms")
print("\t".join(sys.argv[2:6]) + f"\t{rate:.0f}\t{'' if sync is None else f'{sync:.2f}'}")
PY
      if [ "$independent" = 1 ] && [ "$ranks" -gt 1 ]; then
        alone="$out/independent-runs"
        rm -rf "$alone" && mkdir "$alone"
        for copy in $(seq "$ranks"); do
          "$build/examples/${model}_mnist" --data "$data" --epochs "$epochs" --batch "$per_rank" --threads 1 \
            | tail -n 1 >"$alone/$copy.json" &
        done
        wait
        python3 - "$alone" "$model" "$round" "$ranks" <<'PY' | tee -a "$out/independent.tsv"
import json, pathlib, statistics, sys
def parsed(path):
    try:
        return json.loads(path.read_text())
    except ValueError:
        sys.exit("scaling.sh: a one-rank run of the --independent ones failed (no JSON line; its messages are above)")
runs = [parsed(p) for p in pathlib.Path(sys.argv[1]).glob("*.json")]
rate = sum(run["train_examples"] / statistics.median(run["epoch_seconds"]) for run in runs)
print("\t".join(sys.argv[2:5]) + f"\t{rate:.0f}\tindependent")
PY
        rm -rf "$alone"
      fi
      ranks=$((ranks * 2))
    done
  done
done
echo "# $(uptime)"

# The table: per model and rank count, the median rate and sync time over the
# rounds, and the median (and range) of each round's speedup over that same
# round's 1-rank rate, so that a slow spell hits both sides of a ratio.
python3 - "$out/rounds.tsv" "$out/independent.tsv" <<'PY' | tee "$out/scaling.tsv"
import collections, statistics, sys
runs = collections.defaultdict(dict)  # (model, ranks) -> round -> (batch, rate, sync)
for line in open(sys.argv[1]):
    model, round_, ranks, batch, rate, sync = line.rstrip("\n").split("\t")
    runs[model, int(ranks)][round_] = (batch, float(rate), float(sync) if sync else None)
alone = collections.defaultdict(dict)  # (model, ranks) -> round -> summed rate of independent one-rank runs
for line in open(sys.argv[2]):
    model, round_, ranks, rate, _ = line.rstrip("\n").split("\t")
    alone[model, int(ranks)][round_] = float(rate)
columns = "model\tranks\tbatch\tsamples_per_s\tspeedup\tefficiency\tsync_ms_per_step\trounds\tspeedup_range"
print(columns + ("\tindependent_samples_per_s\tof_independent\tof_independent_range" if alone else ""))
for (model, ranks), by_round in runs.items():
    base = runs[model, 1]
    speedups = [rate / base[r][1] for r, (_, rate, _) in by_round.items() if r in base]
    speedup = statistics.median(speedups)
    syncs = [s for _, _, s in by_round.values() if s is not None]
    batch = next(iter(by_round.values()))[0]
    row = (f"{model}\t{ranks}\t{batch}\t{statistics.median(r for _, r, _ in by_round.values()):.0f}\t{speedup:.2f}"
           f"\t{speedup / ranks:.2f}\t{f'{statistics.median(syncs):.2f}' if syncs else ''}\t{len(speedups)}"
           f"\t{min(speedups):.2f}-{max(speedups):.2f}")
    if alone:
        mine = alone.get((model, ranks), {})
        shares = [rate / mine[r] for r, (_, rate, _) in by_round.items() if r in mine]
        row += (f"\t{statistics.median(mine.values()):.0f}\t{statistics.median(shares):.2f}\t{min(shares):.2f}-{max(shares):.2f}"
                if shares else "\t\t\t")
    print(row)
PY

# One data file per model for gnuplot.
rates="" efficiencies=""
for model in $models; do
  grep "^$model	" "$out/scaling.tsv" >"$out/scaling-$model.tsv"
  rates+="${rates:+, }'$out/scaling-$model.tsv' using 2:4 with linespoints title '$model'"
  efficiencies+="${efficiencies:+, }'$out/scaling-$model.tsv' using 2:6 with linespoints title '$model'"
done
gnuplot <<EOF
set terminal pngcairo size 900,420 noenhanced
set output "$out/scaling.png"
set multiplot layout 1,2 title "latent data-parallel scaling ($per_rank examples per rank, 1 thread per rank)"
set logscale x 2
set xlabel "ranks"
set key top left
set ylabel "training samples/s"
plot $rates
set ylabel "efficiency"
set yrange [0:1.1]
set key bottom left
plot $efficiencies
unset multiplot
EOF
echo "wrote $out/scaling.tsv and $out/scaling.png"
