#!/usr/bin/python3
"""The PyTorch side of the GAN comparison: the same model and training step
as latent's GanTrainer on its default MLP GAN (examples/gan_mnist), reading
the MNIST IDX files from --data with numpy.

Model: generator 100-256-512-784 (LeakyReLU 0.2, tanh output), discriminator
784-512-256-1 (LeakyReLU 0.2, one logit), both nn.Linear; noise N(0, I);
images scaled to [-1, 1]; Adam with lr 2e-4, betas (0.5, 0.999) for each;
batch 128, the last smaller batch of an epoch kept.

One step, as GanTrainer::train_batch runs it: G(z) once; the discriminator
step on the real batch and on G(z) detached (BCE on logits, targets 0.9
(--real-label) and 0, each a batch mean); then the non-saturating generator step, BCE(D(G(z)), 1),
through the updated discriminator with its parameters frozen (so no weight
gradient of D is computed); both losses read back.

Training (the default) prints each epoch's seconds (the training loop alone)
and mean losses, with --samples-out FILE writes --samples N generated images
as an IDX3 unsigned-byte file (pixel = round(255 (x + 1) / 2), what
gan_mnist --samples-out writes, for examples/eval_samples), and ends with one
JSON line:
  {"model":"gan","loss":"nonsaturating","epochs":..,"train_d_loss":..,"train_g_loss":..,"epoch_seconds":[..]}

--time-steps times training steps instead and ends with
{"model":"gan","mode":"step",...,"step_ms":<median>}: bench/compare-torch.sh
runs it beside latent's BM_GanTrainStep.

Threads: --threads N sets torch's intra-op threads and, before torch loads,
OMP_NUM_THREADS and OPENBLAS_NUM_THREADS (and OMP_WAIT_POLICY=PASSIVE unless set)."""

import argparse
import os
import time

import torch_common

torch_common.threads_from_argv()

import torch  # noqa: E402  (after the thread settings)
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402


def mlp(sizes, output):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        layers.append(nn.LeakyReLU(0.2) if i + 2 < len(sizes) else output)
    return nn.Sequential(*layers)


class GanStep:
    def __init__(self, noise=100, data=784, real_label=0.9):
        self.noise = noise
        self.real_label = real_label
        self.generator = mlp([noise, 256, 512, data], nn.Tanh())
        self.discriminator = mlp([data, 512, 256, 1], nn.Identity())
        self.g_optimizer = torch.optim.Adam(self.generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.d_optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def __call__(self, real):
        n = real.shape[0]
        fake = self.generator(torch.randn(n, self.noise))
        ones, zeros = torch.ones(n, 1), torch.zeros(n, 1)
        real_targets = torch.full((n, 1), self.real_label)

        self.d_optimizer.zero_grad()
        d_loss = (F.binary_cross_entropy_with_logits(self.discriminator(real), real_targets) +
                  F.binary_cross_entropy_with_logits(self.discriminator(fake.detach()), zeros))
        d_loss.backward()
        self.d_optimizer.step()

        self.discriminator.requires_grad_(False)
        self.g_optimizer.zero_grad()
        g_loss = F.binary_cross_entropy_with_logits(self.discriminator(fake), ones)
        g_loss.backward()
        self.g_optimizer.step()
        self.discriminator.requires_grad_(True)
        return d_loss.item(), g_loss.item()

    def sample(self, n, batch=1000):
        """n images G(z), z ~ N(0, I), as an n x 784 tensor in [-1, 1]."""
        with torch.no_grad():
            return torch.cat([self.generator(torch.randn(min(batch, n - start), self.noise))
                              for start in range(0, n, batch)])


def write_idx3_ubyte(path, images, side=28):
    """Images in [-1, 1] (n x side*side) as an IDX3 unsigned-byte file, pixel =
    round(255 (x + 1) / 2) (halves rounded up, as latent's samples), written
    to a temporary file and renamed into place."""
    pixels = torch.floor(255 * (images.clamp(-1, 1) + 1) / 2 + 0.5).to(torch.uint8).numpy()
    header = bytes([0, 0, 0x08, 3]) + b"".join(d.to_bytes(4, "big") for d in (pixels.shape[0], side, side))
    temporary = path + ".tmp"
    with open(temporary, "wb") as f:
        f.write(header)
        f.write(pixels.tobytes())
    os.replace(temporary, path)


def train(args):
    try:
        images = torch.from_numpy(torch_common.load_images(args.data, "train").copy())
    except (FileNotFoundError, ValueError) as e:
        torch_common.fail(str(e))
    step = GanStep(data=images.shape[1], real_label=args.real_label)
    batches = torch_common.Batches(torch, images, args.batch, args.seed, scale=2 / 255.0, offset=-1.0)
    epoch_seconds, d_mean, g_mean = [], float("nan"), float("nan")
    for epoch in range(1, args.epochs + 1):
        start, d_total, g_total = time.perf_counter(), 0.0, 0.0
        for x in batches.epoch():
            d_loss, g_loss = step(x)
            d_total += d_loss * x.shape[0]
            g_total += g_loss * x.shape[0]
        epoch_seconds.append(time.perf_counter() - start)
        d_mean, g_mean = d_total / images.shape[0], g_total / images.shape[0]
        print(f"epoch {epoch}: d_loss {d_mean:.4f}, g_loss {g_mean:.4f}, {epoch_seconds[-1]:.2f} s", flush=True)
    if args.samples_out:
        write_idx3_ubyte(args.samples_out, step.sample(args.samples))
        print(f"wrote {args.samples} samples to {args.samples_out}", flush=True)
    torch_common.print_json({"model": "gan", "loss": "nonsaturating", "epochs": args.epochs, "threads": args.threads,
                             "train_d_loss": torch_common.json_number(d_mean),
                             "train_g_loss": torch_common.json_number(g_mean), "epoch_seconds": epoch_seconds})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    torch_common.add_common_flags(parser, default_data=f"{torch_common.source_dir()}/data/mnist")
    parser.add_argument("--real-label", type=float, default=0.9,
                        help="target of real images in D's loss, one-sided label smoothing as gan_mnist's default (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs (default: %(default)s)")
    parser.add_argument("--samples-out", default="", help="write generated images to this IDX3 ubyte file at the end")
    parser.add_argument("--samples", type=int, default=10000, help="number of images for --samples-out (default: %(default)s)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    torch_common.settle_allocator()
    if not args.time_steps:
        train(args)
        return
    step = GanStep(real_label=args.real_label)
    images, described = torch_common.training_images(args.data)
    batches = torch_common.Batches(torch, torch.from_numpy(images.copy()), args.batch, args.seed,
                                   scale=2 / 255.0, offset=-1.0).endless()
    block_ms = torch_common.time_steps(lambda: step(next(batches)), args.warmup, args.repetitions, args.min_time)
    torch_common.print_json(torch_common.step_timing_result("gan", args, block_ms, described))


if __name__ == "__main__":
    main()
