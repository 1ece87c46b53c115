// vaegan_mnist: trains a VAE-GAN (Larsen et al. 2016) on MNIST-format data:
// a VAE whose decoder is also a GAN's generator and whose reconstruction
// error is measured in a hidden layer of the GAN's discriminator. MLP
// networks: encoder 784-512-256 to a Gaussian code, decoder code-256-512-784
// tanh (the GAN example's generator), discriminator 784-512-256 features and
// a linear score (the GAN example's discriminator), LeakyReLU(0.2) hidden,
// pixels in [-1, 1] (--arch conv: convolutional networks, ConvVaeGan in
// conv_models.hpp); by default the hinge loss, batch 64 and a KL weighed
// 0.001 (beta) against the feature error. Writes what it learned like the other examples:
// reconstructions, prior samples and an interpolation after every epoch,
// history.csv, checkpoints, N prior samples as an IDX file for eval_samples,
// and one JSON line.
#include <CLI/CLI.hpp>
#include <latent/latent.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <vector>

#include "conv_models.hpp"
#include "training_run.hpp"

namespace {

struct Flags : example::CommonFlags {
  Flags() {
    epochs = 10;
    batch = 64;
  }
  latent::Index latent_size = 32;
  double gamma = 1.0;
  // The feature error of 256 hidden features is a few nats an example: at
  // beta 1 the KL wins, the encoder passes on about one nat and the decoder
  // learns as a plain GAN (FID 186 after 10 epochs); at 0.001 the codes carry
  // the digit (README, "The VAE-GAN").
  double kl_weight = 0.001;
  float lr = 2e-4f;
  float beta1 = 0.5f;
  double real_label = 0.9;
  std::string arch = "mlp";
  std::string loss = "hinge";
  std::string classifier;
};

/// --arch mlp: the networks of the header comment.
struct MlpVaeGan {
  using Hidden = latent::LeakyReLU;
  using Init = latent::FanInUniform;
  using Encoder = latent::GaussianEncoder<latent::Mlp<float, Hidden, Hidden, Init>>;
  using Decoder = latent::Decoder<latent::Mlp<float, Hidden, latent::Tanh, Init>>;
  using Discriminator =
      latent::FeatureDiscriminator<latent::Mlp<float, Hidden, Hidden, Init>, latent::Dense<float, latent::Identity, Init>>;
  template <class Loss>
  using Model = latent::VaeGan<Encoder, Decoder, Discriminator, Loss>;

  template <class Loss>
  static Model<Loss> make(const Flags& flags, const latent::data::Dataset& images, latent::Rng& rng) {
    const latent::Index features = images.features();
    Encoder encoder({features, 512, 256}, flags.latent_size, rng);
    Decoder decoder({flags.latent_size, 256, 512, features}, rng);
    Discriminator discriminator({features, 512, 256}, rng);
    return Model<Loss>(std::move(encoder), std::move(decoder), std::move(discriminator));
  }
};

/// --arch conv: example::ConvVaeGan (examples/conv_models.hpp), 28x28 images.
struct ConvArch {
  template <class Loss>
  using Model = example::ConvVaeGan::Model<Loss>;

  template <class Loss>
  static Model<Loss> make(const Flags& flags, const latent::data::Dataset& images, latent::Rng& rng) {
    example::require_28x28(images, "--arch conv", flags.data);
    return example::ConvVaeGan::make<Loss>(rng, flags.latent_size);
  }
};

// Pictures of what the model does now, in out/: 64 test images beside their
// reconstructions, 64 prior samples (always the same codes), and a walk
// between two test codes.
template <class VaeGanModel>
void write_pictures(VaeGanModel& model, const latent::data::Dataset& test, const latent::Matrix<float>& fixed_codes,
                    const std::filesystem::path& out) {
  using latent::data::PixelRange;
  const latent::Index side = test.rows();
  std::vector<latent::Index> first(64);
  for (latent::Index i = 0; i < 64; ++i) first[static_cast<std::size_t>(i)] = i;
  const latent::Matrix<float> inputs = test.batch<float, latent::data::MinusOneToOne>(first);
  latent::data::write_png_grid((out / "reconstructions.png").string(),
                               latent::data::interleave_columns(inputs, model.reconstruct(inputs)), side, test.cols(), 8, 16,
                               PixelRange::minus_one_to_one);
  latent::data::write_png_grid((out / "samples.png").string(), model.decode(fixed_codes), side, test.cols(), 8, 8,
                               PixelRange::minus_one_to_one);
  const latent::Matrix<float> codes = model.encode(inputs.leftCols(2));
  latent::data::write_png_grid((out / "interpolation.png").string(), model.interpolate(codes.col(0), codes.col(1), 10), side,
                               test.cols(), 1, 10, PixelRange::minus_one_to_one);
}

template <class Arch, class Loss>
int run(const Flags& flags, const example::Ranks& ranks) {
  using Model = typename Arch::template Model<Loss>;
  using Trainer = latent::VaeGanTrainer<Model>;
  const auto mnist = latent::data::load_mnist(flags.data);
  latent::Rng init_rng(flags.seed);
  Model model = Arch::template make<Loss>(flags, mnist.train, init_rng);

  typename Trainer::Options options;
  options.gamma = flags.gamma;
  options.kl_weight = flags.kl_weight;
  if (Loss::uses_labels) options.real_label = flags.real_label;
  options.seed = flags.seed;
  const latent::Adam<float> adam(flags.lr, flags.beta1);
  Trainer trainer(model, adam, adam, adam, options);
  trainer.monitor_modes(example::mode_monitor(flags.classifier, flags.seed + 3, mnist.train));

  latent::Matrix<float> fixed_codes(model.latent_dim(), 64);
  latent::Rng fixed_rng(flags.seed + 1);
  fixed_rng.fill_normal(fixed_codes);
  const latent::History history = example::fit_with_files(
      trainer, mnist, flags, ranks,
      [&](const std::filesystem::path& out, const latent::EpochRecord&) { write_pictures(model, mnist.test, fixed_codes, out); });
  if (!ranks.writes()) return 0;

  if (!flags.samples_out.empty()) {
    latent::Rng sample_rng(flags.seed + 2);
    latent::data::write_samples_idx(flags.samples_out, model.sample(flags.samples, sample_rng), mnist.test.rows(),
                                    mnist.test.cols(), latent::data::PixelRange::minus_one_to_one);
    std::cout << "wrote " << flags.samples << " samples to " << flags.samples_out << "\n";
  }

  std::ostringstream json;
  json << "{\"model\":\"vaegan\",\"arch\":\"" << flags.arch << "\",\"loss\":\"" << Loss::name << "\",\"epochs\":" << trainer.epochs_done() << ",\"ranks\":" << ranks.size()
       << ",\"threads\":" << latent::num_threads() << ",\"batch\":" << flags.batch
       << ",\"train_examples\":" << mnist.train.size();
  for (const char* figure : {"train_kl", "train_feature_error", "train_g_loss", "train_d_loss", "train_d_real", "train_d_fake",
                             "test_kl", "test_feature_error", "test_d_real", "mode_entropy"})
    json << ",\"" << figure << "\":" << example::json_number(example::last_figure(history, figure));
  json << ",\"epoch_seconds\":" << example::epoch_seconds_json(history)
       << ",\"sync_ms\":" << example::json_number(example::last_figure(history, "sync_ms")) << "}";
  std::cout << json.str() << std::endl;
  return 0;
}

template <class Arch>
int run_with(const Flags& flags, const example::Ranks& ranks) {
  if (flags.loss == "lsgan") return run<Arch, latent::LeastSquares>(flags, ranks);
  if (flags.loss == "hinge") return run<Arch, latent::Hinge>(flags, ranks);
  return run<Arch, latent::NonSaturatingBce>(flags, ranks);
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"Trains a VAE-GAN (Larsen et al. 2016) on MNIST-format data: encoder 784-512-256 to a Gaussian code, decoder\n"
               "code-256-512-784 tanh, discriminator 784-512-256-1 whose 256 features measure the reconstruction error,\n"
               "LeakyReLU(0.2) hidden, pixels in [-1, 1], one Adam per network. Each batch updates the encoder (beta * KL +\n"
               "feature error), the decoder (gamma * feature error + GAN loss on reconstructions and prior samples) and the\n"
               "discriminator (GAN loss on real images, reconstructions and prior samples). The last line printed is one JSON\n"
               "object with the figures."};
  example::add_common_flags(app, flags, "folder for PNG pictures (reconstructions, prior samples, interpolation) and history.csv",
                            "write prior samples to this IDX3 ubyte file at the end (for eval_samples)");
  app.add_option("--arch", flags.arch,
                 "the networks: mlp (above) or conv (28x28 images: encoder Conv2d 32x14x14, 64x7x7 (ReLU), Dense 400, the "
                 "code; decoder Dense 400, 3136 as 64x7x7, ConvTranspose2d 32x14x14 (ReLU), 1x28x28 tanh; discriminator "
                 "Conv2d 32x14x14, 64x7x7 (LeakyReLU 0.2) whose 3136 activations are the features, Dense 512, one score)")
      ->capture_default_str()
      ->check(CLI::IsMember({"mlp", "conv"}));
  app.add_option("--latent", flags.latent_size, "code dimensions")->capture_default_str()->check(CLI::Range(1, 1 << 16));
  app.add_option("--gamma", flags.gamma, "weight of the feature error in the decoder's loss, against the GAN loss")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--kl-weight", flags.kl_weight, "beta, the weight of the KL term in the encoder's loss, against the feature error")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--lr", flags.lr, "Adam's learning rate, every network")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--beta1", flags.beta1, "Adam's beta1, every network")->capture_default_str()->check(CLI::Range(0.0, 0.999999));
  app.add_option("--loss", flags.loss, "the GAN loss of the decoder and the discriminator")
      ->capture_default_str()
      ->check(CLI::IsMember({"nonsaturating", "lsgan", "hinge"}));
  app.add_option("--real-label", flags.real_label, "target of real images (< 1: one-sided label smoothing; nonsaturating and lsgan)")
      ->capture_default_str()
      ->check(CLI::Range(0.5, 1.0));
  app.add_option("--classifier", flags.classifier,
                 "classifier checkpoint of train_classifier for the mode-collapse monitor (default: nearest training image)");
  CLI11_PARSE(app, argc, argv);
  return example::run_training("vaegan_mnist", app, flags, [&](const example::Ranks& ranks) {
    return flags.arch == "conv" ? run_with<ConvArch>(flags, ranks) : run_with<MlpVaeGan>(flags, ranks);
  });
}
