#!/usr/bin/python3
"""The PyTorch side of the GAN step comparison: the same training step as
latent's GanTrainer on its default MLP GAN, timed.

Model: generator 100-256-512-784 (LeakyReLU 0.2, tanh output), discriminator
784-512-256-1 (LeakyReLU 0.2, one logit), both nn.Linear; noise N(0, I);
images scaled to [-1, 1]; Adam with lr 2e-4, betas (0.5, 0.999) for each.

One step, as GanTrainer::train_batch runs it: G(z) once; the discriminator
step on the real batch and on G(z) detached (BCE on logits, targets 1 and 0,
each a batch mean); then the non-saturating generator step, BCE(D(G(z)), 1),
through the updated discriminator with its parameters frozen (so no weight
gradient of D is computed); both losses read back.

--time-steps (the only mode) ends with one JSON line
{"model":"gan","mode":"step",...,"step_ms":<median>}: bench/compare-torch.sh
runs it beside latent's BM_GanTrainStep."""

import argparse

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
    def __init__(self, noise=100, data=784):
        self.noise = noise
        self.generator = mlp([noise, 256, 512, data], nn.Tanh())
        self.discriminator = mlp([data, 512, 256, 1], nn.Identity())
        self.g_optimizer = torch.optim.Adam(self.generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.d_optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def __call__(self, real):
        n = real.shape[0]
        fake = self.generator(torch.randn(n, self.noise))
        ones, zeros = torch.ones(n, 1), torch.zeros(n, 1)

        self.d_optimizer.zero_grad()
        d_loss = (F.binary_cross_entropy_with_logits(self.discriminator(real), ones) +
                  F.binary_cross_entropy_with_logits(self.discriminator(fake.detach()), zeros))
        d_loss.backward()
        self.d_optimizer.step()

        self.discriminator.requires_grad_(False)
        self.g_optimizer.zero_grad()
        g_loss = F.binary_cross_entropy_with_logits(self.discriminator(fake), ones)
        g_loss.backward()
        self.g_optimizer.step()
        self.discriminator.requires_grad_(True)
        return d_loss.item() + g_loss.item()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    torch_common.add_common_flags(parser, default_data=f"{torch_common.source_dir()}/data/mnist")
    args = parser.parse_args()
    if not args.time_steps:
        torch_common.fail("only --time-steps is implemented (the GAN comparison times steps)")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    step = GanStep()
    images, described = torch_common.training_images(args.data)
    batches = torch_common.Batches(torch, torch.from_numpy(images.copy()), args.batch, args.seed,
                                   scale=2 / 255.0, offset=-1.0).endless()
    block_ms = torch_common.time_steps(lambda: step(next(batches)), args.warmup, args.repetitions, args.min_time)
    torch_common.print_json(torch_common.step_timing_result("gan", args, block_ms, described))


if __name__ == "__main__":
    main()
