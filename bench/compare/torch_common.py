"""What the PyTorch side of latent's comparisons shares: thread settings
(which must be in the environment before torch is imported), MNIST IDX
reading with numpy, batches drawn from the images' bytes, step timing in the
manner of Google Benchmark (repetitions of timed blocks, median reported), and
the one JSON line each script ends with.

Import this module before torch, and call threads_from_argv() first."""

import argparse
import gzip
import json
import math
import os
import statistics
import sys
import time

import numpy as np


def threads_from_argv(default=1):
    """Reads --threads from the command line and puts it in the environment
    (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS) with
    OMP_WAIT_POLICY=PASSIVE unless already set, before torch is imported:
    PyTorch's OpenMP and OpenBLAS threads are sized when the libraries load."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--threads", type=int, default=default)
    known, _ = parser.parse_known_args()
    threads = max(1, known.threads)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return threads


def settle_allocator():
    """Puts glibc's allocator in the state a long-running PyTorch process
    reaches, so step timings do not depend on what the script happened to
    allocate first. glibc serves blocks from 128 KB up with mmap and unmaps
    them on free, so every step's tensors fault in fresh pages; after the
    first free of a larger mapped block it raises that threshold (up to 32 MB)
    and keeps such memory for reuse. A training run gets there when it frees a
    big buffer (loading a dataset, say), and its steps then run about 3x
    faster (measured: VAE step 45 ms against 15 ms). One 16 MB buffer,
    allocated and freed, settles it either way."""
    buffer = np.ones(16 << 20, dtype=np.uint8)
    del buffer


def add_common_flags(parser, default_data, default_batch=128, batch_help="batch size (default: %(default)s)"):
    """The flags every comparison script takes (a script whose batch default
    depends on its model passes default_batch=None and says so in batch_help)."""
    parser.add_argument("--data", default=default_data, help="folder with the MNIST IDX files, raw or .gz (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (also OMP/OpenBLAS threads) (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="seed of initialization, shuffling and noise (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=default_batch, help=batch_help)
    parser.add_argument("--time-steps", action="store_true",
                        help="time training steps instead of training: prints the median step time (ms) in the JSON line")
    parser.add_argument("--repetitions", type=int, default=5, help="with --time-steps: timed blocks (default: %(default)s)")
    parser.add_argument("--min-time", type=float, default=0.5, help="with --time-steps: seconds per block (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=10, help="with --time-steps: untimed steps first (default: %(default)s)")


def source_dir():
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read_idx(path):
    """An IDX file (raw or .gz) as a numpy array of its element type."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file")
    types = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if data[2] not in types:
        raise ValueError(f"{path}: unknown IDX element type 0x{data[2]:02x}")
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(data[3])]
    offset = 4 + 4 * len(dims)
    count = int(np.prod(dims)) if dims else 0
    array = np.frombuffer(data, dtype=types[data[2]], count=count, offset=offset)
    return array.reshape(dims)


def idx_path(folder, name):
    for candidate in (os.path.join(folder, name), os.path.join(folder, name + ".gz")):
        if os.path.exists(candidate):
            return candidate
    raise FileNotFoundError(f"{folder}: holds neither {name} nor {name}.gz (examples/fetch-data.sh mnist fetches MNIST)")


def load_images(folder, split):
    """The images of one split (train or t10k) as an N x 784 uint8 array."""
    images = read_idx(idx_path(folder, f"{split}-images-idx3-ubyte"))
    return images.reshape(images.shape[0], -1)


def training_images(folder):
    """MNIST's training images when `folder` holds them, else 10000 synthetic
    MNIST-shaped images (blank border, about a fifth of the pixels inked), the
    same fallback as latent's benchmark binary. Returns (images, description)."""
    try:
        return load_images(folder, "train"), f"MNIST from {folder}"
    except FileNotFoundError:
        rng = np.random.default_rng(7)
        images = np.zeros((10000, 28, 28), dtype=np.uint8)
        inner = images[:, 4:24, 4:24]
        inked = rng.random(inner.shape) < 0.3
        inner[inked] = rng.integers(1, 256, size=int(inked.sum()), dtype=np.uint8)
        return images.reshape(10000, -1), f"synthetic (no MNIST in {folder})"


class Batches:
    """Batches of `batch` rows of a uint8 tensor, scaled to floats as a trainer
    would (x * scale + offset), a reshuffled epoch after another."""

    def __init__(self, torch, images, batch, seed, scale=1 / 255.0, offset=0.0):
        self.torch, self.images, self.batch = torch, images, batch
        self.scale, self.offset = scale, offset
        self.generator = torch.Generator().manual_seed(seed)
        self.order, self.next_index = None, 0

    def epoch(self, drop_last=False):
        order = self.torch.randperm(self.images.shape[0], generator=self.generator)
        stop = order.numel() - (order.numel() % self.batch if drop_last else 0)
        for start in range(0, stop, self.batch):
            yield self.convert(order[start:start + self.batch])

    def convert(self, index):
        x = self.images[index].float()
        return x.mul_(self.scale).add_(self.offset) if self.offset else x.mul_(self.scale)

    def endless(self):
        while True:
            yield from self.epoch(drop_last=True)


def time_steps(step, warmup, repetitions, min_time):
    """Runs `step` warmup times, then `repetitions` blocks of at least min_time
    seconds each; returns each block's mean step time in milliseconds."""
    for _ in range(warmup):
        step()
    means = []
    for _ in range(repetitions):
        count, start = 0, time.perf_counter()
        while True:
            step()
            count += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        means.append(1e3 * elapsed / count)
    return means


def step_timing_result(model, args, block_ms, images):
    return {"model": model, "mode": "step", "batch": args.batch, "threads": args.threads,
            "step_ms": statistics.median(block_ms), "repetition_ms": [round(v, 4) for v in block_ms], "images": images}


def json_number(value):
    return None if value is None or not math.isfinite(value) else value


def print_json(result):
    """The last line of every script: one JSON object."""
    print(json.dumps(result), flush=True)


def fail(message):
    print(f"{os.path.basename(sys.argv[0])}: {message}", file=sys.stderr)
    sys.exit(1)
