// gan_mnist: trains a GAN on MNIST-format data (the common MLP GAN: G
// z(100) -> 256 -> 512 -> 784 tanh, D 784 -> 512 -> 256 -> 1, LeakyReLU(0.2)
// hidden, pixels in [-1, 1]) with a loss chosen on the command line, and
// writes what it learned: a PNG grid of a fixed noise batch after every epoch,
// the per-epoch history (losses, D(x), D(G(z)), gradient norms, class
// histogram of a fixed batch of samples), and optionally N samples as an IDX
// file for eval_samples.
#include <CLI/CLI.hpp>
#include <latent/latent.hpp>
#include <latent/models/gan.hpp>
#include <latent/nn/spectral_norm.hpp>
#include <latent/train/gan_trainer.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "mnist_classifier.hpp"
#include "training_run.hpp"

namespace {

struct Flags : example::CommonFlags {
  Flags() { epochs = 20; }
  latent::Index noise = 100;
  std::string loss = "nonsaturating";
  float lr_g = 2e-4f;
  float lr_d = 2e-4f;
  float beta1 = 0.5f;
  int n_critic = 1;
  double real_label = -1;  // < 0: 0.9 for the losses with labels, 1 otherwise
  double clip_grad = 0;
  double weight_clip = -1;  // < 0: the loss's default
  bool spectral_norm = false;
  std::string classifier;
};

using Generator = latent::Generator<latent::Mlp<float, latent::LeakyReLU, latent::Identity, latent::FanInUniform>>;
using PlainDiscriminator = latent::Discriminator<latent::Mlp<float, latent::LeakyReLU, latent::Identity, latent::FanInUniform>>;
using SpectralHidden = latent::SpectralDense<float, latent::LeakyReLU, latent::FanInUniform>;
using SpectralOutput = latent::SpectralDense<float, latent::Identity, latent::FanInUniform>;
using SpectralDiscriminator = latent::Discriminator<latent::Sequential<SpectralHidden, SpectralHidden, SpectralOutput>>;

template <class Discriminator>
Discriminator make_discriminator(latent::Index features, latent::Rng& rng);

template <>
PlainDiscriminator make_discriminator<PlainDiscriminator>(latent::Index features, latent::Rng& rng) {
  return PlainDiscriminator({features, 512, 256, 1}, rng);
}

template <>
SpectralDiscriminator make_discriminator<SpectralDiscriminator>(latent::Index features, latent::Rng& rng) {
  SpectralHidden first(features, 512, rng);
  SpectralHidden second(512, 256, rng);
  SpectralOutput score(256, 1, rng);
  return SpectralDiscriminator(
      latent::Sequential<SpectralHidden, SpectralHidden, SpectralOutput>(std::move(first), std::move(second), std::move(score)));
}

/// The mode monitor's classifier: the checkpoint of train_classifier when
/// given, else the label of the nearest of 5000 training images.
latent::ModeMonitor<float> mode_monitor(const Flags& flags, const latent::data::Dataset& train) {
  latent::ModeMonitor<float> monitor;
  monitor.seed = flags.seed + 3;
  if (!flags.classifier.empty()) {
    auto classifier = std::make_shared<example::MnistClassifier>(example::load_classifier(flags.classifier));
    monitor.classify = [classifier](const latent::Matrix<float>& images) {
      // The classifier reads pixels in [0, 1]; the generator writes [-1, 1].
      const latent::Matrix<float> unit = ((images.array() + 1.0f) * 0.5f).matrix();
      return latent::classify(*classifier, unit).predictions;
    };
    return monitor;
  }
  const latent::data::Dataset references = train.head(5000);
  std::vector<latent::Index> all(static_cast<std::size_t>(references.size()));
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<latent::Index>(i);
  const latent::NearestNeighbour<float> nearest(references.batch<float, latent::data::MinusOneToOne>(all),
                                                std::vector<int>(references.labels().begin(), references.labels().end()));
  monitor.classify = [nearest](const latent::Matrix<float>& images) { return nearest(images); };
  return monitor;
}

template <class Loss, class Discriminator>
int train(const Flags& flags, const example::Ranks& ranks) {
  using Model = latent::Gan<Generator, Discriminator, Loss>;
  using Trainer = latent::GanTrainer<Model>;
  const auto mnist = latent::data::load_mnist(flags.data);
  const latent::Index features = mnist.train.features();

  latent::Rng init_rng(flags.seed);
  Generator generator({flags.noise, 256, 512, features}, init_rng);
  Discriminator discriminator = make_discriminator<Discriminator>(features, init_rng);
  Model gan(std::move(generator), std::move(discriminator));

  typename Trainer::Options options;
  options.n_critic = flags.n_critic;
  // One-sided label smoothing by default: on MNIST it halved the FID of
  // 20 epochs and spread the samples over the ten digits (README, "GAN").
  if (flags.real_label >= 0)
    options.real_label = flags.real_label;
  else if (Loss::uses_labels)
    options.real_label = 0.9;
  options.clip_grad_norm = flags.clip_grad;
  if (flags.weight_clip >= 0) options.weight_clip = flags.weight_clip;
  options.seed = flags.seed;
  Trainer trainer(gan, latent::Adam<float>(flags.lr_g, flags.beta1), latent::Adam<float>(flags.lr_d, flags.beta1), options);
  trainer.monitor_modes(mode_monitor(flags, mnist.train));

  latent::Matrix<float> fixed_noise(gan.noise_dim(), 64);
  latent::Rng fixed_rng(flags.seed + 1);
  gan.sample_noise(fixed_noise, fixed_rng);
  const latent::History history = example::fit_with_files(
      trainer, mnist, flags, ranks,
      [&](const std::filesystem::path& out, const latent::EpochRecord& record) {
        char name[32];
        std::snprintf(name, sizeof name, "samples_epoch_%03d.png", record.epoch);
        latent::data::write_png_grid((out / name).string(), gan.generate(fixed_noise), mnist.train.rows(), mnist.train.cols(),
                                     8, 8, latent::data::PixelRange::minus_one_to_one);
      });
  if (!ranks.writes()) return 0;

  if (!flags.samples_out.empty()) {
    latent::Rng sample_rng(flags.seed + 2);
    latent::data::write_samples_idx(flags.samples_out, gan.sample(flags.samples, sample_rng), mnist.train.rows(),
                                    mnist.train.cols(), latent::data::PixelRange::minus_one_to_one);
    std::cout << "wrote " << flags.samples << " samples to " << flags.samples_out << "\n";
  }

  std::ostringstream json;
  json << "{\"model\":\"gan\",\"loss\":\"" << Loss::name << "\",\"spectral_norm\":" << (flags.spectral_norm ? "true" : "false")
       << ",\"epochs\":" << trainer.epochs_done() << ",\"ranks\":" << ranks.size() << ",\"threads\":" << latent::num_threads()
       << ",\"batch\":" << flags.batch << ",\"train_examples\":" << mnist.train.size();
  for (const char* figure : {"train_d_loss", "train_g_loss", "train_d_real", "train_d_fake", "train_d_grad_norm",
                             "train_g_grad_norm", "test_d_real", "mode_entropy"})
    json << ",\"" << figure << "\":" << example::json_number(example::last_figure(history, figure));
  json << ",\"epoch_seconds\":" << example::epoch_seconds_json(history)
       << ",\"sync_ms\":" << example::json_number(example::last_figure(history, "sync_ms")) << "}";
  std::cout << json.str() << std::endl;
  return 0;
}

template <class Loss>
int train_with(const Flags& flags, const example::Ranks& ranks) {
  return flags.spectral_norm ? train<Loss, SpectralDiscriminator>(flags, ranks) : train<Loss, PlainDiscriminator>(flags, ranks);
}

int run(const Flags& flags, const example::Ranks& ranks) {
  if (flags.loss == "minimax") return train_with<latent::MinimaxBce>(flags, ranks);
  if (flags.loss == "nonsaturating") return train_with<latent::NonSaturatingBce>(flags, ranks);
  if (flags.loss == "lsgan") return train_with<latent::LeastSquares>(flags, ranks);
  if (flags.loss == "hinge") return train_with<latent::Hinge>(flags, ranks);
  return train_with<latent::Wasserstein>(flags, ranks);
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"Trains a GAN on MNIST-format data: G z(100)-256-512-784 tanh, D 784-512-256-1, LeakyReLU(0.2) hidden,\n"
               "Adam (beta1 0.5) for each network, pixels in [-1, 1]. The last line printed is one JSON object with the figures."};
  example::add_common_flags(app, flags, "folder for a PNG grid of a fixed noise batch after every epoch, and history.csv",
                            "write samples to this IDX3 ubyte file at the end (for eval_samples)");
  app.add_option("--noise", flags.noise, "noise dimensions (the generator's input)")->capture_default_str()->check(CLI::Range(1, 1 << 16));
  app.add_option("--loss", flags.loss, "GAN loss")
      ->capture_default_str()
      ->check(CLI::IsMember({"minimax", "nonsaturating", "lsgan", "hinge", "wgan"}));
  app.add_option("--lr-g", flags.lr_g, "the generator's Adam learning rate")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--lr-d", flags.lr_d, "the discriminator's Adam learning rate")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--beta1", flags.beta1, "Adam's beta1, both networks")->capture_default_str()->check(CLI::Range(0.0, 0.999999));
  app.add_option("--n-critic", flags.n_critic, "discriminator steps per generator step")->capture_default_str()->check(CLI::Range(1, 1000));
  app.add_option("--real-label", flags.real_label,
                 "target of real images (< 1: one-sided label smoothing; BCE and lsgan losses; default 0.9 for those, else 1)")
      ->check(CLI::Range(0.5, 1.0));
  app.add_option("--clip-grad", flags.clip_grad, "clip each network's gradient norm to this (0: off)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--weight-clip", flags.weight_clip, "clamp D's weights to [-c, c] after each of its steps (default: 0.01 for wgan, off otherwise)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--spectral-norm", flags.spectral_norm, "spectrally normalize D's weights (power iteration, one step per D step)");
  app.add_option("--classifier", flags.classifier,
                 "classifier checkpoint of train_classifier for the mode-collapse monitor (default: nearest training image)");
  CLI11_PARSE(app, argc, argv);
  return example::run_training("gan_mnist", app, flags, [&](const example::Ranks& ranks) { return run(flags, ranks); });
}
