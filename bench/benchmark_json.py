"""Runs a latent_bench binary and reads its JSON output: the one place that
knows Google Benchmark's JSON, for bench/ab.sh and bench/threads.sh (both
run from the repository root and import it from bench/)."""
import json
import os
import subprocess
import sys

UNIT_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def start(binary, benchmark_filter, min_time, threads=None):
    """Starts `binary` on the benchmarks `benchmark_filter` names, min_time
    seconds each, on `threads` threads (None: as this process's environment
    says); results() collects it."""
    env = dict(os.environ)
    if threads is not None:
        env.update(LATENT_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    return subprocess.Popen([binary, "--benchmark_filter=" + benchmark_filter, "--benchmark_format=json",
                             "--benchmark_min_time=" + str(min_time)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def results(process, script):
    """Waits for a run started by start(): {benchmark name: (ms, FLOP/s or
    None)}, empty when the filter matched nothing (the binary says so on
    stderr and exits 0). A failed run stops `script` with its messages."""
    out, err = process.communicate()
    if process.returncode != 0:
        sys.exit("%s: %s failed:\n%s" % (script, process.args[0], err))
    if not out.strip():
        return {}
    return {r["name"]: (r["real_time"] * UNIT_MS[r["time_unit"]], r.get("FLOP/s"))
            for r in json.loads(out)["benchmarks"]}
