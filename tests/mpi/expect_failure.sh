#!/usr/bin/env bash
# A failing rank must end the whole job: COMMAND must exit with a non-zero
# status within SECONDS and print PATTERN (never hang).
#   tests/mpi/expect_failure.sh SECONDS PATTERN COMMAND...
set -uo pipefail
limit=$1 pattern=$2
shift 2
start=$(date +%s%N)
# The outer timeout only keeps a hang from blocking the suite; it fails the test.
output=$(timeout -k 5 $((limit * 3)) "$@" 2>&1)
code=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
echo "$output"
echo "exit status $code after $elapsed_ms ms"
[ "$code" -ne 0 ] || { echo "FAILED: the job exited 0 although a rank failed" >&2; exit 1; }
[ "$code" -ne 124 ] && [ "$code" -ne 137 ] || { echo "FAILED: the job hung (killed by timeout)" >&2; exit 1; }
[ "$elapsed_ms" -le $((limit * 1000)) ] || { echo "FAILED: the job took $elapsed_ms ms to stop, more than $limit s" >&2; exit 1; }
grep -q -- "$pattern" <<<"$output" || { echo "FAILED: no '$pattern' in the output" >&2; exit 1; }
echo "ok: the job stopped in $elapsed_ms ms with status $code, naming the failed rank"
