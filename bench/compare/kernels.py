#!/usr/bin/python3
"""Says which kernels PyTorch runs on this machine, for the headers of
bench/compare-torch.sh and bench/compare-epochs.sh: a comparison is fair only
when PyTorch runs its best ones. Prints, as "# " lines:
  - the BLAS kernel OpenBLAS chose (openblas_get_corename), and a warning
    when it is one for an older CPU than this one: OpenBLAS 0.3.21 does not
    know every new CPU and falls back to an older kernel, and
    OPENBLAS_CORETYPE=<name> selects the right one;
  - the instruction set oneDNN (PyTorch's CPU convolutions) runs on, from its
    verbose log (DNNL_VERBOSE=1) of a small convolution.
Exits 0 whatever it finds; --quiet prints the warnings alone."""

import ctypes
import os
import re
import subprocess
import sys

# How wide the vectors of an OpenBLAS kernel are: 3 AVX-512, 2 AVX2, 1 AVX, 0 SSE.
KERNEL_LEVELS = {
    "skylakex": 3, "cooperlake": 3, "sapphirerapids": 3,
    "haswell": 2, "zen": 2,
    "sandybridge": 1, "bulldozer": 1, "piledriver": 1, "steamroller": 1, "excavator": 1,
    "prescott": 0, "core2": 0, "penryn": 0, "dunnington": 0, "nehalem": 0, "atom": 0, "barcelona": 0,
    "opteron": 0, "opteron_sse3": 0, "nano": 0, "katmai": 0, "coppermine": 0, "northwood": 0, "athlon": 0,
}
LEVEL_NAMES = ["SSE", "AVX", "AVX2", "AVX-512"]
# The kernel to ask for at each level (OPENBLAS_CORETYPE), Intel's and AMD's.
SUGGESTIONS = {3: "SKYLAKEX", 2: "HASWELL (or ZEN on AMD)", 1: "SANDYBRIDGE"}


def cpu_level():
    """This CPU's widest vectors, from /proc/cpuinfo's flags (None if unreadable)."""
    try:
        with open("/proc/cpuinfo") as f:
            match = re.search(r"^flags\s*:(.*)$", f.read(), re.MULTILINE)
    except OSError:
        return None
    if not match:
        return None
    flags = set(match.group(1).split())
    return 3 if "avx512f" in flags else 2 if "avx2" in flags and "fma" in flags else 1 if "avx" in flags else 0


def openblas_core():
    """openblas_get_corename() of the OpenBLAS PyTorch loaded (None without OpenBLAS)."""
    import torch  # noqa: F401  (loads the BLAS PyTorch links)
    for name in ("libopenblas.so.0", "libopenblasp.so.0", "libopenblas.so"):
        try:
            get = ctypes.CDLL(name).openblas_get_corename
        except (OSError, AttributeError):
            continue
        get.restype = ctypes.c_char_p
        return get().decode().strip()
    return None


def onednn_isa():
    """The ISA line of oneDNN's verbose log for one convolution (None if it logged none)."""
    code = ("import torch; torch.set_num_threads(1); "
            "torch.nn.functional.conv2d(torch.ones(4, 8, 16, 16), torch.ones(16, 8, 3, 3))")
    environment = dict(os.environ, DNNL_VERBOSE="1", ONEDNN_VERBOSE="1")
    try:
        log = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True,
                             timeout=120).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"isa:([^\n]*)", log)
    return match.group(1).strip() if match else None


def main():
    quiet = "--quiet" in sys.argv[1:]
    lines, warnings = [], []
    core = openblas_core()
    level = cpu_level()
    if core is None:
        warnings.append("PyTorch does not run on OpenBLAS here (apt-get install libopenblas0-pthread for a fair comparison)")
    else:
        forced = os.environ.get("OPENBLAS_CORETYPE")
        lines.append(f"OpenBLAS kernel: {core}" + (f" (OPENBLAS_CORETYPE={forced})" if forced else " (chosen by OpenBLAS)"))
        kernel_level = KERNEL_LEVELS.get(core.lower())
        if kernel_level is not None and level is not None and kernel_level < level:
            why = f"OPENBLAS_CORETYPE={forced} asks for it" if forced else "it fell back to an older CPU's kernel"
            warnings.append(f"OpenBLAS runs its {core} kernel ({LEVEL_NAMES[kernel_level]}) on a CPU with "
                            f"{LEVEL_NAMES[level]}: {why}; set OPENBLAS_CORETYPE={SUGGESTIONS[level]} for a fair comparison")
    isa = onednn_isa()
    lines.append(f"oneDNN ISA: {isa}" if isa else "oneDNN ISA: unknown (no verbose log)")
    for line in ([] if quiet else lines):
        print(f"# {line}")
    for warning in warnings:
        print(f"# warning: {warning}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
