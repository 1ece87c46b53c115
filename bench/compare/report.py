#!/usr/bin/python3
"""Turns the raw results of bench/compare-torch.sh and bench/compare-epochs.sh
into their tables (Markdown, ready for the README).

  report.py steps DIR    DIR holds latent-t<threads>-r<round>.json (Google
                         Benchmark JSON) and torch-<step>-t<threads>-r<round>.json
                         (the last line of vae_torch.py/gan_torch.py --time-steps),
                         step vae, gan, conv_vae or dcgan
  report.py epochs DIR   DIR holds <side>-t<threads>.out (a training run's
                         stdout, ending in its JSON line) and <side>-t<threads>.time
                         (/usr/bin/time -v), side latent or torch

Medians throughout: over rounds for steps, over epochs for epoch seconds."""

import glob
import json
import os
import re
import statistics
import sys

# step label, latent benchmark, PyTorch result's step name, target ratio (PyTorch / latent)
STEPS = [("VAE 784-400-20, batch 128", "BM_VaeTrainStep/128", "vae", 3.0),
         ("MLP GAN (D + G), batch 128", "BM_GanTrainStep/128", "gan", 2.5),
         ("conv VAE, batch 128", "BM_ConvVaeTrainStep/128", "conv_vae", 1.5),
         ("DCGAN (D + G), batch 64", "BM_DcganTrainStep/64", "dcgan", 1.5)]


def last_json_line(path):
    with open(path) as f:
        lines = [line for line in f.read().splitlines() if line.startswith("{")]
    if not lines:
        raise ValueError(f"{path}: no JSON line")
    return json.loads(lines[-1])


def thread_counts(directory, pattern):
    found = set()
    for path in glob.glob(os.path.join(directory, pattern)):
        match = re.search(r"-t(\d+)", os.path.basename(path))
        if match:
            found.add(int(match.group(1)))
    return sorted(found)


def latent_times(directory, threads):
    """{benchmark name: [real time in ms per round]} for one thread count."""
    times = {}
    for path in sorted(glob.glob(os.path.join(directory, f"latent-t{threads}-r*.json"))):
        with open(path) as f:
            for b in json.load(f)["benchmarks"]:
                if b.get("run_type", "iteration") != "iteration":
                    continue
                scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
                times.setdefault(b["run_name"], []).append(b["real_time"] * scale)
    return times


def torch_times(directory, step, threads):
    return [last_json_line(p)["step_ms"] for p in sorted(glob.glob(os.path.join(directory, f"torch-{step}-t{threads}-r*.json")))]


def steps(directory):
    print("| step | threads | latent ms | PyTorch ms | ratio | target |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    failed = False
    for threads in thread_counts(directory, "latent-t*-r*.json"):
        ours = latent_times(directory, threads)
        for label, benchmark, step, target in STEPS:
            theirs = torch_times(directory, step, threads)
            if benchmark not in ours and not theirs:
                continue  # not asked for
            if benchmark not in ours or not theirs:
                print(f"| {label} | {threads} | {'n/a' if benchmark not in ours else ''} | {'n/a' if not theirs else ''} | | |")
                continue
            a, b = statistics.median(ours[benchmark]), statistics.median(theirs)
            ratio = b / a
            failed = failed or ratio < target
            mark = "met" if ratio >= target else "missed"
            print(f"| {label} | {threads} | {a:.2f} | {b:.2f} | {ratio:.2f}x | {target:.1f}x {mark} |")
    return 1 if failed else 0


def peak_rss_mb(path):
    with open(path) as f:
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", f.read())
    return int(match.group(1)) / 1024 if match else float("nan")


# The final figures an epochs table shows, by the model of the JSON lines: (label, key).
FINAL_FIGURES = {"vae": [("test loss", "test_loss"), ("train loss", "train_loss")],
                 "gan": [("D loss", "train_d_loss"), ("G loss", "train_g_loss")]}


def epochs(directory):
    rows, iw_rows, figures = [], [], None
    for threads in thread_counts(directory, "latent-t*.out"):
        ours = last_json_line(os.path.join(directory, f"latent-t{threads}.out"))
        theirs = last_json_line(os.path.join(directory, f"torch-t{threads}.out"))
        figures = FINAL_FIGURES[ours["model"]]
        a, b = statistics.median(ours["epoch_seconds"]), statistics.median(theirs["epoch_seconds"])
        rss = [peak_rss_mb(os.path.join(directory, f"{side}-t{threads}.time")) for side in ("latent", "torch")]
        finals = " | ".join(f"{fmt(ours.get(key))} | {fmt(theirs.get(key))}" for _, key in figures)
        rows.append(f"| {threads} | {a:.2f} | {b:.2f} | {b / a:.2f}x | {rss[0]:.0f} | {rss[1]:.0f} | {rss[0] / rss[1]:.2f} | {finals} |")
        if ours.get("iw_ll") is not None or theirs.get("iw_ll") is not None:
            iw_rows.append(f"| {threads} | {fmt(ours.get('iw_ll'))} | {fmt(theirs.get('iw_ll'))} |")
    if figures is None:
        print(f"{directory}: no runs (latent-t*.out)", file=sys.stderr)
        return 1
    print("| threads | latent s/epoch | PyTorch s/epoch | ratio | latent peak RSS MB | PyTorch peak RSS MB | RSS latent/PyTorch | " +
          " | ".join(f"latent {label} | PyTorch {label}" for label, _ in figures) + " |")
    print("| ---: " * (7 + 2 * len(figures)) + "|")
    print("\n".join(rows))
    if iw_rows:
        print("\n| threads | latent IWAE log-likelihood | PyTorch IWAE log-likelihood |")
        print("| ---: | ---: | ---: |")
        print("\n".join(iw_rows))
    return 0


def fmt(value):
    return "n/a" if value is None else f"{value:.2f}"


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("steps", "epochs"):
        print(__doc__, file=sys.stderr)
        return 2
    return steps(sys.argv[2]) if sys.argv[1] == "steps" else epochs(sys.argv[2])


if __name__ == "__main__":
    sys.exit(main())
