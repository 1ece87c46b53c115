#!/usr/bin/env bash
# What including latent costs a user's translation unit, so that it cannot
# silently grow. Measures, in one run on this machine:
#   - parsing alone (g++ -std=c++17 -fsyntax-only) of a file that includes
#     <Eigen/Dense>, <latent/core.hpp> or <latent/latent.hpp>: median seconds
#     of --repeat runs (interleaved, so that a load change hits all alike)
#     and peak memory; the two ratios to Eigen's time;
#   - compiling README's quickstart (examples/vae_quickstart.cpp) and one
#     example program (examples/vae_mnist.cpp) at -O2 to an object file: seconds
#     and peak memory of one run each.
# Fails (exit 1) when latent.hpp parses in more than --max-ratio times Eigen's
# time (default 3), the target README states.
#   bench/compile-time.sh                   everything, 5 parses each
#   bench/compile-time.sh --repeat 9        more parses (a busy machine is noisy)
#   bench/compile-time.sh --parse-only      the parse figures only
#   bench/compile-time.sh --max-ratio 2.5   another bound
#   CXX=clang++ bench/compile-time.sh       another compiler
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }

repeat=5
max_ratio=3
parse_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --repeat) [ $# -ge 2 ] || { echo "compile-time.sh: --repeat needs a number" >&2; exit 2; }; repeat="$2"; shift ;;
    --max-ratio) [ $# -ge 2 ] || { echo "compile-time.sh: --max-ratio needs a number" >&2; exit 2; }; max_ratio="$2"; shift ;;
    --parse-only) parse_only=1 ;;
    *) echo "compile-time.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$repeat" in '' | *[!0-9]* | 0) echo "compile-time.sh: --repeat must be a positive integer" >&2; exit 2 ;; esac

cxx="${CXX:-g++}"
[ -x /usr/bin/time ] || { echo "compile-time.sh: needs /usr/bin/time (Debian: time)" >&2; exit 2; }
eigen_flags=$(pkg-config --cflags eigen3 2>/dev/null || echo -I/usr/include/eigen3)
# shellcheck disable=SC2206
flags=(-std=c++17 -Iinclude $eigen_flags)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# time_it LABEL ARGS...: runs the compiler once; appends "seconds kilobytes" to $work/LABEL.
time_it() {
  local label="$1"
  shift
  if ! /usr/bin/time -f '%e %M' -o "$work/last" "$cxx" "$@" >"$work/out" 2>&1; then
    echo "compile-time.sh: $cxx $* failed:" >&2
    cat "$work/out" >&2
    exit 1
  fi
  cat "$work/last" >>"$work/$label"
}

# median COLUMN FILE
median() { cut -d' ' -f"$1" "$2" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

headers=("Eigen/Dense" "latent/core.hpp" "latent/latent.hpp")
labels=(eigen core umbrella)
for i in "${!headers[@]}"; do
  printf '#include <%s>\nint main() { return 0; }\n' "${headers[$i]}" >"$work/${labels[$i]}.cpp"
done

echo "== $(date -u +%Y-%m-%d), $cxx $("$cxx" -dumpfullversion), $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 0; r < repeat; ++r)); do
  for label in "${labels[@]}"; do time_it "$label" "${flags[@]}" -fsyntax-only "$work/$label.cpp"; done
done

eigen_s=$(median 1 "$work/eigen")
printf '%-46s %9s %10s %8s\n' "parse (-fsyntax-only), median of $repeat" seconds "peak MB" ratio
for i in "${!labels[@]}"; do
  label=${labels[$i]}
  s=$(median 1 "$work/$label")
  mb=$(awk '{print $2 / 1024}' "$work/$label" | sort -g | tail -1)
  printf '  #include <%-33s %9.2f %10.0f %7.2fx\n' "${headers[$i]}>" "$s" "$mb" "$(awk -v a="$s" -v b="$eigen_s" 'BEGIN {print a / b}')"
done
ratio=$(awk -v a="$(median 1 "$work/umbrella")" -v b="$eigen_s" 'BEGIN {print a / b}')

if [ "$parse_only" = 0 ]; then
  printf '%-46s %9s %10s\n' "compile at -O2 to an object file, one run" seconds "peak MB"
  for program in vae_quickstart vae_mnist; do
    time_it "$program" "${flags[@]}" -O2 -c "examples/$program.cpp" -o "$work/$program.o"
    read -r s kb <"$work/$program"
    printf '  %-44s %9.2f %10.0f\n' "examples/$program.cpp" "$s" "$(awk -v k="$kb" 'BEGIN {print k / 1024}')"
  done
fi

if awk -v r="$ratio" -v m="$max_ratio" 'BEGIN {exit !(r > m)}'; then
  echo "FAIL: <latent/latent.hpp> parses in ${ratio}x the time of <Eigen/Dense> alone, above the bound of ${max_ratio}x" >&2
  exit 1
fi
echo "ok: <latent/latent.hpp> parses in ${ratio}x the time of <Eigen/Dense> alone (bound ${max_ratio}x)"
