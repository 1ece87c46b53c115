#!/usr/bin/python3
"""The PyTorch side of the VAE comparison: the recipe of PyTorch's official VAE
example (Bernoulli decoder: sigmoid and binary cross-entropy summed over
pixels and batch, batch 128, Adam with lr 1e-3), reading the MNIST IDX files
from --data with numpy, on one of the models of latent's examples/vae_mnist
(--arch, as vae_mnist's):

  mlp (default): the official example's 784-400-20, ReLU hidden layers.
  conv: encoder Conv2d(1, 32, 4, 2, 1) 14x14 ReLU, Conv2d(32, 64, 4, 2, 1)
    7x7 ReLU, flatten 3136, Linear 400 ReLU, mu and logvar (20 each);
    decoder Linear 20 -> 400 ReLU, Linear 400 -> 3136 ReLU, 64x7x7,
    ConvTranspose2d(64, 32, 4, 2, 1) 14x14 ReLU, ConvTranspose2d(32, 1, 4, 2, 1)
    28x28 logits; biases everywhere.

Training (the default) prints each epoch's seconds (the training loop alone)
and the test loss (negative ELBO per test example, z sampled), with --iw K
the importance-weighted test log-likelihood (IWAE bound, K samples), and ends
with one JSON line:
  {"model":"vae","epochs":..,"train_loss":..,"test_loss":..,"epoch_seconds":[..],"iw_ll":..}
the same line latent's examples/vae_mnist prints.

--time-steps times training steps instead (batch, forward, loss, backward,
Adam) and ends with {"model":"vae","mode":"step",...,"step_ms":<median>}:
bench/compare-torch.sh runs it beside latent's BM_VaeTrainStep.

Threads: --threads N sets torch's intra-op threads and, before torch loads,
OMP_NUM_THREADS and OPENBLAS_NUM_THREADS (and OMP_WAIT_POLICY=PASSIVE unless set)."""

import argparse
import math
import time

import torch_common

torch_common.threads_from_argv()

import torch  # noqa: E402  (after the thread settings)
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

LOG_TWO_PI = math.log(2 * math.pi)


class VAE(nn.Module):
    """The official example's model, with the decoder's logits exposed for the IWAE bound."""

    def __init__(self, data=784, hidden=400, latent=20):
        super().__init__()
        self.fc1 = nn.Linear(data, hidden)
        self.fc21 = nn.Linear(hidden, latent)
        self.fc22 = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, data)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def decode_logits(self, z):
        return self.fc4(F.relu(self.fc3(z)))

    def forward(self, x):
        mu, logvar = self.encode(x)
        return torch.sigmoid(self.decode_logits(self.reparameterize(mu, logvar))), mu, logvar


class ConvVAE(VAE):
    """The convolutional VAE of vae_mnist --arch conv; images come and go as N x 784 rows."""

    def __init__(self, hidden=400, latent=20):
        nn.Module.__init__(self)
        self.encoder = nn.Sequential(
            nn.Unflatten(1, (1, 28, 28)),
            nn.Conv2d(1, 32, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(64 * 7 * 7, hidden), nn.ReLU())
        self.fc21 = nn.Linear(hidden, latent)
        self.fc22 = nn.Linear(hidden, latent)
        self.decoder = nn.Sequential(
            nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, 64 * 7 * 7), nn.ReLU(),
            nn.Unflatten(1, (64, 7, 7)),
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1),
            nn.Flatten())

    def encode(self, x):
        h = self.encoder(x)
        return self.fc21(h), self.fc22(h)

    def decode_logits(self, z):
        return self.decoder(z)


ARCHS = {"mlp": VAE, "conv": ConvVAE}


def loss_function(recon_x, x, mu, logvar):
    """Negative ELBO summed over the batch, as the official example writes it."""
    bce = F.binary_cross_entropy(recon_x, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def train_step(model, optimizer, x):
    optimizer.zero_grad()
    recon, mu, logvar = model(x)
    loss = loss_function(recon, x, mu, logvar)
    loss.backward()
    optimizer.step()
    return loss.item()


def test_loss(model, images, batch=1000):
    """Negative ELBO per test example, z sampled as in training."""
    total = 0.0
    with torch.no_grad():
        for start in range(0, images.shape[0], batch):
            x = images[start:start + batch].float().div_(255)
            recon, mu, logvar = model(x)
            total += loss_function(recon, x, mu, logvar).item()
    return total / images.shape[0]


def importance_weighted_ll(model, images, samples, batch=500):
    """The IWAE bound log (1/K) sum_k p(x, z_k) / q(z_k | x), averaged over the set."""
    total = 0.0
    with torch.no_grad():
        for start in range(0, images.shape[0], batch):
            x = images[start:start + batch].float().div_(255)
            mu, logvar = model.encode(x)
            std = torch.exp(0.5 * logvar)
            log_w = torch.empty(samples, x.shape[0])
            for k in range(samples):
                eps = torch.randn_like(std)
                z = mu + eps * std
                log_q = -0.5 * (LOG_TWO_PI + logvar + eps.pow(2)).sum(1)
                log_prior = -0.5 * (LOG_TWO_PI + z.pow(2)).sum(1)
                log_px = -F.binary_cross_entropy_with_logits(model.decode_logits(z), x, reduction="none").sum(1)
                log_w[k] = log_px + log_prior - log_q
            total += (torch.logsumexp(log_w, 0) - math.log(samples)).sum().item()
    return total / images.shape[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    torch_common.add_common_flags(parser, default_data=f"{torch_common.source_dir()}/data/mnist")
    parser.add_argument("--arch", choices=sorted(ARCHS), default="mlp", help="the model (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (default: %(default)s)")
    parser.add_argument("--iw", type=int, default=0, help="report the IWAE bound with this many samples per test example")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    torch_common.settle_allocator()
    model = ARCHS[args.arch]()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    if args.time_steps:
        images, described = torch_common.training_images(args.data)
        batches = torch_common.Batches(torch, torch.from_numpy(images.copy()), args.batch, args.seed).endless()
        block_ms = torch_common.time_steps(lambda: train_step(model, optimizer, next(batches)), args.warmup,
                                           args.repetitions, args.min_time)
        result = torch_common.step_timing_result("vae", args, block_ms, described)
        result["arch"] = args.arch
        torch_common.print_json(result)
        return

    try:
        train = torch.from_numpy(torch_common.load_images(args.data, "train").copy())
        test = torch.from_numpy(torch_common.load_images(args.data, "t10k").copy())
    except (FileNotFoundError, ValueError) as e:
        torch_common.fail(str(e))
    if args.arch == "conv" and train.shape[1] != 784:
        torch_common.fail(f"{args.data}: the convolutional VAE reads 28x28 images, not {train.shape[1]} pixels")
    batches = torch_common.Batches(torch, train, args.batch, args.seed)
    epoch_seconds, train_loss, test_value = [], float("nan"), float("nan")
    for epoch in range(1, args.epochs + 1):
        model.train()
        start, total = time.perf_counter(), 0.0
        for x in batches.epoch():
            total += train_step(model, optimizer, x)
        epoch_seconds.append(time.perf_counter() - start)
        train_loss = total / train.shape[0]
        model.eval()
        test_value = test_loss(model, test)
        print(f"epoch {epoch}: train loss {train_loss:.4f}, test loss {test_value:.4f}, {epoch_seconds[-1]:.2f} s", flush=True)
    iw_ll = None
    if args.iw > 0:
        iw_ll = importance_weighted_ll(model, test, args.iw)
        print(f"importance-weighted test log-likelihood (K = {args.iw}): {iw_ll:.4f} nats (NLL {-iw_ll:.4f})", flush=True)
    torch_common.print_json({"model": "vae", "arch": args.arch, "epochs": args.epochs, "train_loss": torch_common.json_number(train_loss),
                             "test_loss": torch_common.json_number(test_value), "epoch_seconds": epoch_seconds,
                             "iw_ll": torch_common.json_number(iw_ll)})


if __name__ == "__main__":
    main()
