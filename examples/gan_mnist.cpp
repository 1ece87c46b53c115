// gan_mnist: trains a GAN on MNIST-format data with a loss chosen on the
// command line: the common MLP GAN (G z(100) -> 256 -> 512 -> 784 tanh, D
// 784 -> 512 -> 256 -> 1, LeakyReLU(0.2) hidden) or, with --arch dcgan, the
// DCGAN of the libtorch C++ example on its recipe (examples/conv_models.hpp);
// pixels in [-1, 1]. It writes what it learned: a PNG grid of a fixed noise batch after every epoch,
// the per-epoch history (losses, D(x), D(G(z)), gradient norms, class
// histogram of a fixed batch of samples), and optionally N samples as an IDX
// file for eval_samples. --loss wgan-gp is WGAN-GP with its authors' MNIST
// recipe; --conditional trains a conditional GAN: the digit's one-hot label
// joins G's noise and D's image, and D scores the pair with a projection
// (nn/projection_discriminator.hpp): 98% of its samples show the digit asked
// for after 20 epochs, against 87% when the label only joins D's first
// layer (README, "The conditional models").
#include <CLI/CLI.hpp>
#include <latent/latent.hpp>
#include <latent/models/gan.hpp>
#include <latent/nn/projection_discriminator.hpp>
#include <latent/nn/spectral_norm.hpp>
#include <latent/train/gan_trainer.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <vector>

#include "conv_models.hpp"
#include "mnist_classifier.hpp"
#include "training_run.hpp"

namespace {

struct Flags : example::CommonFlags, example::ConditionalFlags {
  Flags() { epochs = 20; }
  std::string arch = "mlp";
  latent::Index noise = 100;
  std::string loss = "nonsaturating";
  // < 0: the loss's recipe (Recipe below).
  float lr_g = -1;
  float lr_d = -1;
  float beta1 = -1;
  float beta2 = -1;
  int n_critic = -1;
  double real_label = -1;  // < 0: 0.9 for the losses with labels, 1 otherwise
  std::vector<double> real_label_range;  // LO HI: each real target drawn from U(LO, HI) every step (dcgan: 0.8 1)
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
using ProjectionFeatures = latent::Mlp<float, latent::LeakyReLU, latent::LeakyReLU, latent::FanInUniform>;
using ProjectionHead = latent::Dense<float, latent::Identity, latent::FanInUniform>;
using ProjectionDiscriminator = latent::ProjectionDiscriminator<ProjectionFeatures, ProjectionHead>;

/// D for images of `features` pixels and `classes` one-hot label rows (0:
/// unconditional).
template <class Discriminator>
Discriminator make_discriminator(latent::Index features, latent::Index classes, latent::Rng& rng);

template <>
PlainDiscriminator make_discriminator<PlainDiscriminator>(latent::Index features, latent::Index classes, latent::Rng& rng) {
  return PlainDiscriminator({features + classes, 512, 256, 1}, rng);
}

template <>
ProjectionDiscriminator make_discriminator<ProjectionDiscriminator>(latent::Index features, latent::Index classes,
                                                                    latent::Rng& rng) {
  ProjectionFeatures hidden({features, 512, 256}, rng);
  ProjectionHead head(256, 1, rng);
  return ProjectionDiscriminator(std::move(hidden), std::move(head), classes, rng);
}

template <>
SpectralDiscriminator make_discriminator<SpectralDiscriminator>(latent::Index features, latent::Index classes,
                                                                latent::Rng& rng) {
  SpectralHidden first(features + classes, 512, rng);
  SpectralHidden second(512, 256, rng);
  SpectralOutput score(256, 1, rng);
  return SpectralDiscriminator(
      latent::Sequential<SpectralHidden, SpectralHidden, SpectralOutput>(std::move(first), std::move(second), std::move(score)));
}

/// The MLP GAN for the images' pixels (plus `classes` one-hot inputs
/// when conditional).
template <class Loss, class Discriminator>
struct MlpGan {
  using Model = latent::Gan<Generator, Discriminator, Loss>;
  static Model make(const Flags& flags, const latent::data::Dataset& images, latent::Index classes, latent::Rng& rng) {
    Generator generator({flags.noise + classes, 256, 512, images.features()}, rng);
    Discriminator discriminator = make_discriminator<Discriminator>(images.features(), classes, rng);
    return Model(std::move(generator), std::move(discriminator), {}, {}, latent::Conditioning{classes});
  }
};

/// The DCGAN (examples/conv_models.hpp), for 28x28 images, unconditional.
template <class Loss>
struct DcganGan {
  using Model = example::Dcgan::Gan<Loss>;
  static Model make(const Flags& flags, const latent::data::Dataset& images, latent::Index, latent::Rng& rng) {
    example::require_28x28(images, "--arch dcgan", flags.data);
    return example::Dcgan::make<Loss>(rng, flags.noise);
  }
};

/// What a loss trains with unless a flag says otherwise: DCGAN's Adam (2e-4,
/// betas 0.5 and 0.999; the libtorch example's betas 0.5 and 0.5 with --arch
/// dcgan) and one critic step per batch; for WGAN-GP its authors' MNIST
/// recipe, Adam 1e-4 with betas 0.5 and 0.9, five critic steps on fresh
/// batches per generator step.
struct Recipe {
  float lr_g, lr_d, beta1, beta2;
  int n_critic;
  bool fresh_critic_batches;
};

Recipe recipe(const Flags& flags) {
  const bool gp = flags.loss == "wgan-gp";
  const float lr = gp ? 1e-4f : 2e-4f;
  const auto pick = [](auto flag, auto fallback) { return flag >= 0 ? flag : fallback; };
  const float beta2 = gp ? 0.9f : flags.arch == "dcgan" ? 0.5f : 0.999f;
  return {pick(flags.lr_g, lr), pick(flags.lr_d, lr), pick(flags.beta1, 0.5f), pick(flags.beta2, beta2),
          pick(flags.n_critic, gp ? 5 : 1), gp};
}

/// Trains Arch::Model, which Arch::make builds.
template <class Arch>
int train(const Flags& flags, const example::Ranks& ranks) {
  using Model = typename Arch::Model;
  using Loss = typename Model::LossPolicy;
  using Trainer = latent::GanTrainer<Model, latent::Adam<float>, latent::Adam<float>, latent::WeightClip>;
  example::check_conditional_flags(flags, flags);
  const auto mnist = latent::data::load_mnist(flags.data);
  const latent::Index classes = flags.conditional ? example::kClasses : 0;

  latent::Rng init_rng(flags.seed);
  Model gan = Arch::make(flags, mnist.train, classes, init_rng);

  const Recipe how = recipe(flags);
  typename Trainer::Options options;
  options.n_critic = how.n_critic;
  options.fresh_critic_batches = how.fresh_critic_batches;
  // One-sided label smoothing by default: on MNIST it halved the FID of
  // 20 epochs and spread the samples over the ten digits (README, "GAN");
  // the DCGAN's recipe draws each real target from U(0.8, 1).
  if (!flags.real_label_range.empty()) {
    options.real_label = flags.real_label_range[1];
    options.real_label_spread = flags.real_label_range[1] - flags.real_label_range[0];
  } else if (flags.real_label >= 0) {
    options.real_label = flags.real_label;
  } else if (Loss::uses_labels && flags.arch == "dcgan") {
    options.real_label = 1.0;
    options.real_label_spread = 0.2;
  } else if (Loss::uses_labels) {
    options.real_label = 0.9;
  }
  options.clip_grad_norm = flags.clip_grad;
  options.lipschitz.bound = flags.weight_clip >= 0 ? flags.weight_clip : flags.loss == "wgan" ? 0.01 : 0.0;
  options.seed = flags.seed;
  Trainer trainer(gan, latent::Adam<float>(how.lr_g, how.beta1, how.beta2), latent::Adam<float>(how.lr_d, how.beta1, how.beta2),
                  options);
  trainer.monitor_modes(example::mode_monitor(flags.classifier, flags.seed + 3, mnist.train));

  // The pictures' fixed noise: 8 x 8 samples, or a row of 10 per digit.
  const latent::Index tiles = flags.conditional ? classes * 10 : 64;
  latent::Matrix<float> fixed_noise(gan.noise_dim(), tiles);
  latent::Rng fixed_rng(flags.seed + 1);
  gan.sample_noise(fixed_noise, fixed_rng);
  const latent::Matrix<float> fixed_labels =
      flags.conditional ? latent::data::one_hot<float>(example::class_rows(10), classes) : latent::Matrix<float>();
  const latent::History history = example::fit_with_files(
      trainer, mnist, flags, ranks,
      [&](const std::filesystem::path& out, const latent::EpochRecord& record) {
        char name[32];
        std::snprintf(name, sizeof name, "samples_epoch_%03d.png", record.epoch);
        latent::data::write_png_grid((out / name).string(), gan.generate(fixed_noise, fixed_labels), mnist.train.rows(),
                                     mnist.train.cols(), flags.conditional ? classes : 8, flags.conditional ? 10 : 8,
                                     latent::data::PixelRange::minus_one_to_one);
      });
  if (!ranks.writes()) return 0;

  const double cond_acc = example::export_samples(gan, flags, flags, flags.classifier, mnist.train,
                                                  latent::data::PixelRange::minus_one_to_one, flags.seed + 2);

  std::ostringstream json;
  json << "{\"model\":\"gan\",\"arch\":\"" << flags.arch << "\",\"loss\":\"" << Loss::name << "\",\"spectral_norm\":" << (flags.spectral_norm ? "true" : "false")
       << ",\"conditional\":" << (flags.conditional ? "true" : "false") << ",\"epochs\":" << trainer.epochs_done()
       << ",\"ranks\":" << ranks.size() << ",\"threads\":" << latent::num_threads() << ",\"batch\":" << flags.batch
       << ",\"train_examples\":" << mnist.train.size();
  for (const char* figure : {"train_d_loss", "train_g_loss", "train_d_real", "train_d_fake", "train_d_grad_norm",
                             "train_g_grad_norm", "train_d_penalty", "test_d_real", "mode_entropy"})
    json << ",\"" << figure << "\":" << example::json_number(example::last_figure(history, figure));
  if (flags.conditional) json << ",\"cond_acc\":" << example::json_number(cond_acc);
  json << ",\"epoch_seconds\":" << example::epoch_seconds_json(history)
       << ",\"sync_ms\":" << example::json_number(example::last_figure(history, "sync_ms")) << "}";
  std::cout << json.str() << std::endl;
  return 0;
}

template <class Loss>
int train_with(const Flags& flags, const example::Ranks& ranks) {
  if (flags.spectral_norm) return train<MlpGan<Loss, SpectralDiscriminator>>(flags, ranks);
  return flags.conditional ? train<MlpGan<Loss, ProjectionDiscriminator>>(flags, ranks)
                           : train<MlpGan<Loss, PlainDiscriminator>>(flags, ranks);
}

/// The DCGAN trains with its recipe's BCE losses only: a batch-normalized
/// critic has no per-example gradient penalty (WGAN-GP), and each loss is one
/// more instantiation of the convolutional trainer to compile.
int run_dcgan(const Flags& flags, const example::Ranks& ranks) {
  if (flags.conditional) throw latent::error("--arch dcgan is unconditional: drop --conditional, or use --arch mlp");
  if (flags.spectral_norm) throw latent::error("--spectral-norm normalizes the MLP discriminator's dense layers: it is for --arch mlp");
  if (flags.loss == "nonsaturating") return train<DcganGan<latent::NonSaturatingBce>>(flags, ranks);
  if (flags.loss == "minimax") return train<DcganGan<latent::MinimaxBce>>(flags, ranks);
  throw latent::error("--arch dcgan trains with --loss nonsaturating or minimax (the DCGAN's BCE); --loss " + flags.loss +
                      " is for --arch mlp");
}

int run(const Flags& flags, const example::Ranks& ranks) {
  if (flags.arch == "dcgan") return run_dcgan(flags, ranks);
  if (flags.loss == "minimax") return train_with<latent::MinimaxBce>(flags, ranks);
  if (flags.loss == "nonsaturating") return train_with<latent::NonSaturatingBce>(flags, ranks);
  if (flags.loss == "lsgan") return train_with<latent::LeastSquares>(flags, ranks);
  if (flags.loss == "hinge") return train_with<latent::Hinge>(flags, ranks);
  if (flags.loss == "wgan-gp") return train_with<latent::WassersteinGp>(flags, ranks);
  return train_with<latent::Wasserstein>(flags, ranks);
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"Trains a GAN on MNIST-format data, pixels in [-1, 1], Adam for each network:\n"
               "  --arch mlp (default): G z(100)-256-512-784 tanh, D 784-512-256-1, LeakyReLU(0.2) hidden; batch 128;\n"
               "  --arch dcgan: the DCGAN of the libtorch C++ example (28x28 images): G z(100) as 100x1x1 ->\n"
               "    ConvTranspose2d 256x4x4, 128x7x7, 64x14x14 (BatchNorm, ReLU) -> 1x28x28 tanh; D Conv2d 64x14x14\n"
               "    (LeakyReLU 0.2), 128x7x7, 256x3x3 (BatchNorm, LeakyReLU 0.2) -> 1 logit; no biases; batch 64,\n"
               "    Adam betas 0.5 and 0.5; losses nonsaturating and minimax.\n"
               "--conditional: G reads the noise and the digit's one-hot label; D reads the image and the label and scores\n"
               "  head(h) + <E y, h> of its hidden features h (a projection discriminator; with --spectral-norm the label\n"
               "  joins D's first layer instead).\n"
               "An epoch is (examples / batch) discriminator steps, a generator step\n"
               "after every --n-critic of them; for --loss wgan-gp an epoch is (examples / batch) generator steps, each after\n"
               "--n-critic critic steps on fresh batches (the WGAN-GP paper counts generator iterations). The last line printed\n"
               "is one JSON object with the figures."};
  example::add_common_flags(app, flags, "folder for a PNG grid of a fixed noise batch after every epoch, and history.csv",
                            "write samples to this IDX3 ubyte file at the end (for eval_samples)");
  app.get_option("--batch")->description(
      "batch size (default 128, 64 with --arch dcgan; under --distributed: the global batch, split over the ranks)");
  app.add_option("--arch", flags.arch, "the model and its recipe: mlp or dcgan (see above)")
      ->capture_default_str()
      ->check(CLI::IsMember({"mlp", "dcgan"}));
  app.add_option("--noise", flags.noise, "noise dimensions (the generator's input)")->capture_default_str()->check(CLI::Range(1, 1 << 16));
  app.add_option("--loss", flags.loss, "GAN loss")
      ->capture_default_str()
      ->check(CLI::IsMember({"minimax", "nonsaturating", "lsgan", "hinge", "wgan", "wgan-gp"}));
  app.add_option("--lr-g", flags.lr_g, "the generator's Adam learning rate (default 2e-4; 1e-4 for wgan-gp)")->check(CLI::PositiveNumber);
  app.add_option("--lr-d", flags.lr_d, "the discriminator's Adam learning rate (default 2e-4; 1e-4 for wgan-gp)")
      ->check(CLI::PositiveNumber);
  app.add_option("--beta1", flags.beta1, "Adam's beta1, both networks (default 0.5)")->check(CLI::Range(0.0, 0.999999));
  app.add_option("--beta2", flags.beta2, "Adam's beta2, both networks (default 0.999; 0.9 for wgan-gp; 0.5 for --arch dcgan)")->check(CLI::Range(0.0, 0.999999));
  app.add_option("--n-critic", flags.n_critic, "discriminator steps per generator step (default 1; 5 for wgan-gp)")
      ->check(CLI::Range(1, 1000));
  auto* real_label = app.add_option("--real-label", flags.real_label,
                                    "target of real images (< 1: one-sided label smoothing; BCE and lsgan losses; default 0.9 "
                                    "for those, U(0.8, 1) with --arch dcgan, else 1)")
                         ->check(CLI::Range(0.5, 1.0));
  app.add_option("--real-label-range", flags.real_label_range,
                 "LO HI: draw each real image's target from U(LO, HI) at every discriminator step (BCE and lsgan losses; "
                 "the default of --arch dcgan is 0.8 1)")
      ->expected(2)
      ->check(CLI::Range(0.01, 1.0))
      ->excludes(real_label);
  app.add_option("--clip-grad", flags.clip_grad, "clip each network's gradient norm to this (0: off)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--weight-clip", flags.weight_clip, "clamp D's weights to [-c, c] after each of its steps (default: 0.01 for wgan, off otherwise)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--spectral-norm", flags.spectral_norm, "spectrally normalize D's weights (power iteration, one step per D step)");
  app.add_option("--classifier", flags.classifier,
                 "classifier checkpoint of train_classifier for the mode-collapse monitor (default: nearest training image); "
                 "with --conditional it also judges --samples samples, reported as cond_acc");
  example::add_conditional_flags(app, flags, "GAN");
  CLI11_PARSE(app, argc, argv);
  if (flags.arch == "dcgan" && app.count("--batch") == 0) flags.batch = 64;
  return example::run_training("gan_mnist", app, flags, [&](const example::Ranks& ranks) {
    const auto& range = flags.real_label_range;
    if (!range.empty() && !(range[0] <= range[1]))
      throw latent::error("--real-label-range LO HI needs LO <= HI, got " + std::to_string(range[0]) + " " +
                          std::to_string(range[1]));
    return run(flags, ranks);
  });
}
