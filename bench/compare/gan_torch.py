#!/usr/bin/python3
"""The PyTorch side of the GAN comparison: the same models and training step
as latent's GanTrainer in examples/gan_mnist, reading the MNIST IDX files
from --data with numpy. --arch picks the model and its recipe, as gan_mnist's
--arch does:

  mlp (default): generator 100-256-512-784 (LeakyReLU 0.2, tanh output),
    discriminator 784-512-256-1 (LeakyReLU 0.2, one logit), both nn.Linear;
    Adam lr 2e-4, betas (0.5, 0.999); batch 128; real targets 0.9.
  dcgan: the DCGAN of the libtorch C++ example (and dlib's
    dnn_dcgan_train_ex), 28x28, no biases:
    G: z(100) as 100x1x1, ConvTranspose2d(100, 256, 4) 4x4, BN ReLU,
       ConvTranspose2d(256, 128, 3, 2, 1) 7x7, BN ReLU,
       ConvTranspose2d(128, 64, 4, 2, 1) 14x14, BN ReLU,
       ConvTranspose2d(64, 1, 4, 2, 1) 28x28 tanh;
    D: Conv2d(1, 64, 4, 2, 1) LeakyReLU(0.2), Conv2d(64, 128, 4, 2, 1) BN
       LeakyReLU(0.2), Conv2d(128, 256, 4, 2, 1) BN LeakyReLU(0.2),
       Conv2d(256, 1, 3): one logit;
    Adam lr 2e-4, betas (0.5, 0.5); batch 64; each real target drawn from
    U(0.8, 1.0) at every step, as the libtorch example and
    gan_mnist --arch dcgan do.
Both: PyTorch's default initialization; noise N(0, I); images scaled to
[-1, 1]; the last smaller batch of an epoch kept. --batch, --beta2,
--real-label and --real-label-range override the recipe.

One step, as GanTrainer::train_batch runs it: G(z) once; the discriminator
step on the real batch and on G(z) detached (BCE on logits against the real
targets and 0, each a batch mean); then the non-saturating generator step,
BCE(D(G(z)), 1), on the same generated batch, through the updated
discriminator with its parameters frozen (so no weight gradient of D is
computed); both losses read back. Both networks stay in training mode
(BatchNorm on batch statistics) through the step.

Training (the default) prints each epoch's seconds (the training loop alone)
and mean losses, with --samples-out FILE writes --samples N generated images
(the generator in evaluation mode, as gan_mnist samples) as an IDX3
unsigned-byte file (pixel = round(255 (x + 1) / 2), what gan_mnist
--samples-out writes, for examples/eval_samples), and ends with one JSON line:
  {"model":"gan","arch":..,"loss":"nonsaturating","epochs":..,"train_d_loss":..,"train_g_loss":..,"epoch_seconds":[..]}

--time-steps times training steps instead and ends with
{"model":"gan","mode":"step",...,"step_ms":<median>}: bench/compare-torch.sh
runs it beside latent's BM_GanTrainStep and BM_DcganTrainStep.

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


class Dcgan:
    """The DCGAN (see the top of this file), built as the libtorch example builds it."""

    @staticmethod
    def generator(noise):
        return nn.Sequential(
            nn.Unflatten(1, (noise, 1, 1)),
            nn.ConvTranspose2d(noise, 256, 4, bias=False), nn.BatchNorm2d(256), nn.ReLU(),
            nn.ConvTranspose2d(256, 128, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(128), nn.ReLU(),
            nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
            nn.ConvTranspose2d(64, 1, 4, stride=2, padding=1, bias=False), nn.Tanh(),
            nn.Flatten())

    @staticmethod
    def discriminator():
        return nn.Sequential(
            nn.Unflatten(1, (1, 28, 28)),
            nn.Conv2d(1, 64, 4, stride=2, padding=1, bias=False), nn.LeakyReLU(0.2),
            nn.Conv2d(64, 128, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
            nn.Conv2d(128, 256, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(256), nn.LeakyReLU(0.2),
            nn.Conv2d(256, 1, 3, bias=False),
            nn.Flatten())


# Each architecture's recipe: batch, Adam's beta2, the real targets (lo, hi): drawn from U(lo, hi) when lo < hi.
RECIPES = {"mlp": {"batch": 128, "beta2": 0.999, "real_labels": (0.9, 0.9)},
           "dcgan": {"batch": 64, "beta2": 0.5, "real_labels": (0.8, 1.0)}}


class GanStep:
    def __init__(self, arch="mlp", noise=100, data=784, beta2=0.999, real_labels=(0.9, 0.9)):
        self.noise = noise
        self.real_labels = real_labels
        if arch == "dcgan":
            self.generator, self.discriminator = Dcgan.generator(noise), Dcgan.discriminator()
        else:
            self.generator = mlp([noise, 256, 512, data], nn.Tanh())
            self.discriminator = mlp([data, 512, 256, 1], nn.Identity())
        self.g_optimizer = torch.optim.Adam(self.generator.parameters(), lr=2e-4, betas=(0.5, beta2))
        self.d_optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=2e-4, betas=(0.5, beta2))

    def real_targets(self, n):
        low, high = self.real_labels
        if low < high:
            return torch.empty(n, 1).uniform_(low, high)
        return torch.full((n, 1), low)

    def __call__(self, real):
        n = real.shape[0]
        fake = self.generator(torch.randn(n, self.noise))
        ones, zeros = torch.ones(n, 1), torch.zeros(n, 1)

        self.d_optimizer.zero_grad()
        d_loss = (F.binary_cross_entropy_with_logits(self.discriminator(real), self.real_targets(n)) +
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
        """n images G(z), z ~ N(0, I), the generator in evaluation mode, as an n x 784 tensor in [-1, 1]."""
        self.generator.eval()
        with torch.no_grad():
            images = torch.cat([self.generator(torch.randn(min(batch, n - start), self.noise))
                                for start in range(0, n, batch)])
        self.generator.train()
        return images


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
    if args.arch == "dcgan" and images.shape[1] != 784:
        torch_common.fail(f"{args.data}: the DCGAN reads 28x28 images, not {images.shape[1]} pixels")
    step = make_step(args, images.shape[1])
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
    torch_common.print_json({"model": "gan", "arch": args.arch, "loss": "nonsaturating", "epochs": args.epochs,
                             "threads": args.threads, "batch": args.batch,
                             "train_d_loss": torch_common.json_number(d_mean),
                             "train_g_loss": torch_common.json_number(g_mean), "epoch_seconds": epoch_seconds})


def make_step(args, data=784):
    return GanStep(arch=args.arch, data=data, beta2=args.beta2, real_labels=args.real_labels)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    torch_common.add_common_flags(parser, default_data=f"{torch_common.source_dir()}/data/mnist", default_batch=None,
                                  batch_help="batch size (default: 128 for mlp, 64 for dcgan)")
    parser.add_argument("--arch", choices=sorted(RECIPES), default="mlp", help="the model and its recipe (default: %(default)s)")
    parser.add_argument("--beta2", type=float, help="Adam's beta2, both networks (default: 0.999 for mlp, 0.5 for dcgan)")
    labels = parser.add_mutually_exclusive_group()
    labels.add_argument("--real-label", type=float,
                        help="target of every real image in D's loss (default: 0.9 for mlp, one-sided label smoothing as gan_mnist's; dcgan draws from U(0.8, 1.0))")
    labels.add_argument("--real-label-range", type=float, nargs=2, metavar=("LO", "HI"),
                        help="draw each real image's target from U(LO, HI) at every step (the libtorch DCGAN's: 0.8 1.0)")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs (default: %(default)s)")
    parser.add_argument("--samples-out", default="", help="write generated images to this IDX3 ubyte file at the end")
    parser.add_argument("--samples", type=int, default=10000, help="number of images for --samples-out (default: %(default)s)")
    args = parser.parse_args()
    recipe = RECIPES[args.arch]
    args.batch = args.batch or recipe["batch"]
    args.beta2 = recipe["beta2"] if args.beta2 is None else args.beta2
    if args.real_label is not None:
        args.real_labels = (args.real_label, args.real_label)
    elif args.real_label_range is not None:
        args.real_labels = tuple(args.real_label_range)
    else:
        args.real_labels = recipe["real_labels"]
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    torch_common.settle_allocator()
    if not args.time_steps:
        train(args)
        return
    step = make_step(args)
    images, described = torch_common.training_images(args.data)
    batches = torch_common.Batches(torch, torch.from_numpy(images.copy()), args.batch, args.seed,
                                   scale=2 / 255.0, offset=-1.0).endless()
    block_ms = torch_common.time_steps(lambda: step(next(batches)), args.warmup, args.repetitions, args.min_time)
    result = torch_common.step_timing_result("gan", args, block_ms, described)
    result["arch"] = args.arch
    torch_common.print_json(result)


if __name__ == "__main__":
    main()
