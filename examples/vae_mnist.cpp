// vae_mnist: trains a variational autoencoder on MNIST-format data (MNIST or
// Fashion-MNIST), a fully connected one (--arch mlp, 784-400-20) or a
// convolutional one (--arch conv, examples/conv_models.hpp), and writes what
// it learned: reconstructions, prior samples,
// an interpolation, the per-epoch history, and optionally N samples as an
// IDX file and the importance-weighted test log-likelihood. With
// --conditional it trains a conditional VAE (the digit's one-hot label joins
// the encoder's input and the code) and draws samples of chosen digits.
#include <CLI/CLI.hpp>
#include <latent/latent.hpp>

#include "conv_models.hpp"
#include "training_run.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <vector>

namespace {

struct Flags : example::CommonFlags, example::ConditionalFlags {
  Flags() { epochs = 10; }
  std::string classifier;
  std::string arch = "mlp";
  latent::Index hidden = 400;
  latent::Index latent_size = 20;
  float lr = 6e-3f;
  std::string schedule = "cosine";
  double beta = 1.0;
  int iw = 0;
};

/// The fully connected VAE: data (and the label, when conditional) -> hidden
/// -> latent and back, ReLU hidden layers.
struct MlpVae {
  using Encoder = latent::GaussianEncoder<latent::Mlp<float, latent::ReLU, latent::ReLU>>;
  using Decoder = latent::Decoder<latent::Mlp<float, latent::ReLU>>;
  using Model = latent::Vae<Encoder, Decoder, latent::Bernoulli>;
  static Model make(const Flags& flags, const latent::data::Dataset& images, latent::Index classes, latent::Rng& rng) {
    Encoder encoder({images.features() + classes, flags.hidden}, flags.latent_size, rng);
    Decoder decoder({flags.latent_size + classes, flags.hidden, images.features()}, rng);
    return Model(std::move(encoder), std::move(decoder), {}, {}, latent::Conditioning{classes});
  }
};

/// The convolutional VAE (examples/conv_models.hpp), for 28x28 images, unconditional.
struct ConvVae {
  using Model = example::ConvVae::Model;
  static Model make(const Flags& flags, const latent::data::Dataset& images, latent::Index, latent::Rng& rng) {
    example::require_28x28(images, "--arch conv", flags.data);
    return example::ConvVae::make(rng, flags.hidden, flags.latent_size);
  }
};

// Pictures of what the model does now, in out/: 64 test images beside their
// reconstructions, prior samples (8 x 8; a conditional VAE: one row of 10 per
// digit), and a walk between two test codes (a conditional VAE holds the
// first image's label).
template <class Model>
void write_pictures(Model& vae, const latent::data::Dataset& test, const std::filesystem::path& out, std::uint64_t seed) {
  using latent::data::PixelRange;
  const latent::Index side = test.rows();
  std::vector<latent::Index> first(64);
  for (latent::Index i = 0; i < 64; ++i) first[static_cast<std::size_t>(i)] = i;
  const latent::Matrix<float> inputs = test.batch<float>(first);
  const bool conditional = vae.classes() > 0;
  const latent::Matrix<float> labels =
      conditional ? latent::data::one_hot<float>(std::vector<std::uint8_t>(test.labels().begin(), test.labels().begin() + 64),
                                                 vae.classes())
                  : latent::Matrix<float>();
  latent::data::write_png_grid((out / "reconstructions.png").string(),
                               latent::data::interleave_columns(inputs, vae.reconstruct(inputs, labels)), side, test.cols(), 8,
                               16, PixelRange::zero_to_one);
  latent::Rng rng(seed);
  if (conditional)
    latent::data::write_png_grid((out / "samples.png").string(), vae.sample(example::class_rows(10), rng), side, test.cols(),
                                 example::kClasses, 10, PixelRange::zero_to_one);
  else
    latent::data::write_png_grid((out / "samples.png").string(), vae.sample(64, rng), side, test.cols(), 8, 8,
                                 PixelRange::zero_to_one);
  const latent::Matrix<float> codes = vae.encode(inputs.leftCols(2), conditional ? latent::Matrix<float>(labels.leftCols(2)) : labels);
  const latent::Matrix<float> held =
      conditional ? latent::Matrix<float>(labels.col(0).replicate(1, 10)) : latent::Matrix<float>();
  latent::data::write_png_grid((out / "interpolation.png").string(),
                               vae.decode(latent::interpolation_path(codes.col(0), codes.col(1), 10), held), side, test.cols(),
                               1, 10, PixelRange::zero_to_one);
}

/// Trains Arch::Model, which Arch::make builds.
template <class Arch>
int train(const Flags& flags, const example::Ranks& ranks) {
  using Model = typename Arch::Model;
  using Trainer = latent::VaeTrainer<Model>;
  const auto mnist = latent::data::load_mnist(flags.data);
  const latent::Index classes = flags.conditional ? example::kClasses : 0;
  latent::Rng init_rng(flags.seed);
  Model vae = Arch::make(flags, mnist.train, classes, init_rng);

  typename Trainer::Options options;
  options.objective.beta = flags.beta;
  options.seed = flags.seed;
  const auto steps_per_epoch = (mnist.train.size() + flags.batch - 1) / flags.batch;
  if (flags.schedule == "cosine") options.lr_schedule = latent::CosineDecay{flags.lr, flags.epochs * steps_per_epoch};
  Trainer trainer(vae, latent::Adam<float>(flags.lr), options);

  const latent::History history = example::fit_with_files(
      trainer, mnist, flags, ranks,
      [&](const std::filesystem::path& out, const latent::EpochRecord&) { write_pictures(vae, mnist.test, out, flags.seed); });
  if (!ranks.writes()) return 0;

  const double cond_acc = example::export_samples(vae, flags, flags, flags.classifier, mnist.test,
                                                  latent::data::PixelRange::zero_to_one, flags.seed + 1);
  double iw_ll = std::nan("");
  if (flags.iw > 0) {
    latent::Rng iw_rng(flags.seed + 2);
    iw_ll = latent::importance_weighted_log_likelihood(vae, mnist.test, flags.iw, iw_rng);
    std::cout << "importance-weighted test log-likelihood (K = " << flags.iw << "): " << iw_ll << " nats\n";
  }

  std::ostringstream json;
  json << "{\"model\":\"vae\",\"arch\":\"" << flags.arch << "\",\"conditional\":" << (flags.conditional ? "true" : "false")
       << ",\"epochs\":" << trainer.epochs_done() << ",\"ranks\":" << ranks.size()
       << ",\"threads\":" << latent::num_threads() << ",\"batch\":" << flags.batch << ",\"latent\":" << flags.latent_size
       << ",\"train_examples\":" << mnist.train.size();
  json << ",\"train_loss\":" << example::json_number(example::last_figure(history, "train_loss"));
  json << ",\"test_loss\":" << example::json_number(example::last_figure(history, "test_loss"));
  json << ",\"epoch_seconds\":" << example::epoch_seconds_json(history);
  json << ",\"sync_ms\":" << example::json_number(example::last_figure(history, "sync_ms"));
  json << ",\"iw_ll\":" << example::json_number(iw_ll);
  if (flags.conditional) json << ",\"cond_acc\":" << example::json_number(cond_acc);
  json << "}";
  std::cout << json.str() << std::endl;
  return 0;
}

int run(const Flags& flags, const example::Ranks& ranks) {
  example::check_conditional_flags(flags, flags);
  if (flags.conditional && flags.iw > 0) throw latent::error("--iw estimates log p(x) of an unconditional VAE; drop --conditional");
  if (flags.arch == "mlp") return train<MlpVae>(flags, ranks);
  if (flags.conditional) throw latent::error("--arch conv is unconditional: drop --conditional, or use --arch mlp");
  return train<ConvVae>(flags, ranks);
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"Trains a variational autoencoder with a Bernoulli decoder on MNIST-format data:\n"
               "  --arch mlp (default): 784-400-20, ReLU hidden layers;\n"
               "  --arch conv (28x28 images): encoder Conv2d 32x14x14, 64x7x7 (ReLU), Dense 400 (ReLU), mu and logvar (20);\n"
               "    decoder Dense 400, 3136 (ReLU) as 64x7x7, ConvTranspose2d 32x14x14 (ReLU), 1x28x28 logits; biases everywhere.\n"
               "The last line printed is one JSON object with the figures."};
  example::add_common_flags(app, flags, "folder for PNG pictures and history.csv (written after every epoch)",
                            "write prior samples to this IDX3 ubyte file at the end");
  app.add_option("--arch", flags.arch, "the model: mlp or conv (see above)")->capture_default_str()->check(CLI::IsMember({"mlp", "conv"}));
  app.add_option("--hidden", flags.hidden, "hidden layer width (conv: the dense layer next to the latent code)")->capture_default_str()->check(CLI::Range(1, 1 << 16));
  app.add_option("--latent", flags.latent_size,
                 "latent dimensions (default 20; 8 with --conditional: the label carries the digit, and a smaller code "
                 "leaves less of the prior that decodes to no digit at all)")
      ->check(CLI::Range(1, 1 << 16));
  app.add_option("--lr", flags.lr, "Adam learning rate (peak, with --schedule cosine; default 6e-3, 1e-3 with --arch conv)")
      ->check(CLI::PositiveNumber);
  app.add_option("--schedule", flags.schedule, "learning-rate schedule: cosine (decay to 0 over the run) or constant")
      ->capture_default_str()
      ->check(CLI::IsMember({"cosine", "constant"}));
  app.add_option("--beta", flags.beta, "weight of the KL term (beta-VAE)")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--iw", flags.iw, "report the importance-weighted test log-likelihood with K samples")->check(CLI::Range(1, 100000));
  example::add_conditional_flags(app, flags, "VAE");
  app.add_option("--classifier", flags.classifier,
                 "with --conditional: a checkpoint of train_classifier that judges --samples samples, reported as cond_acc (the "
                 "share it puts in the class asked for)");
  CLI11_PARSE(app, argc, argv);
  if (flags.arch == "conv" && app.count("--lr") == 0) flags.lr = 1e-3f;  // at 3e-3 it collapsed to the mean image in its first epoch (206 nats)
  if (flags.conditional && app.count("--latent") == 0) flags.latent_size = 8;
  return example::run_training("vae_mnist", app, flags, [&](const example::Ranks& ranks) { return run(flags, ranks); });
}
