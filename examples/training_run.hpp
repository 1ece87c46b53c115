// examples/training_run.hpp: what the training examples (vae_mnist,
// gan_mnist) do around Trainer::fit: resume from a checkpoint when asked,
// and after every epoch save the checkpoint, draw the pictures and rewrite
// history.csv under --out (every epoch of the run, those before a resumed
// checkpoint included; rank 0 alone, under --distributed); then the pieces
// of their closing JSON line. And the flags both take, with the error
// handling around their run, and what the conditional models
// (--conditional) add: labels for balanced samples, the labels file, a grid
// with one row per class, and the share of samples the classifier puts in
// the class asked for (cond_acc).
#pragma once

#include <CLI/CLI.hpp>
#include <latent/latent.hpp>

#include "distributed.hpp"

#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "mnist_classifier.hpp"

namespace example {

/// The flags of every training example.
struct CommonFlags {
  std::string data = "data/mnist";
  int epochs = 0;  ///< the example's own default
  latent::Index batch = 128;
  std::uint64_t seed = 1;
  int threads = 0;  ///< 0: LATENT_NUM_THREADS, else the machine's cores (under --distributed, divided by its ranks)
  bool distributed = false;
  std::string out;
  std::string samples_out;
  latent::Index samples = 10000;
  std::string checkpoint;
  std::string resume;
};

/// Adds the common flags to app; the help texts of --out and --samples-out
/// say what this example writes.
inline void add_common_flags(CLI::App& app, CommonFlags& flags, const std::string& out_help, const std::string& samples_help) {
  app.add_option("--data", flags.data, "folder with the four MNIST IDX files, raw or .gz")->capture_default_str();
  app.add_option("--epochs", flags.epochs, "total epochs (a resumed run trains the epochs after its checkpoint)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--batch", flags.batch, "batch size (under --distributed: the global batch, split over the ranks)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--seed", flags.seed, "seed of initialization, shuffling and noise")->capture_default_str();
  app.add_option("--threads", flags.threads,
                 "threads for matrix products and optimizer updates (default: LATENT_NUM_THREADS, else this machine's "
                 "cores; under --distributed, its cores divided by its ranks)")
      ->check(CLI::Range(1, 256));
  app.add_flag("--distributed", flags.distributed,
               "train data-parallel as one rank of an MPI job (start with mpirun, mpiexec or srun; every rank trains its "
               "slice of each batch, rank 0 writes the files)");
  app.add_option("--out", flags.out, out_help);
  app.add_option("--samples-out", flags.samples_out, samples_help);
  app.add_option("--samples", flags.samples, "number of samples for --samples-out")->capture_default_str()->check(CLI::Range(1, 10000000));
  app.add_option("--checkpoint", flags.checkpoint, "save a checkpoint here after every epoch (atomically)");
  app.add_option("--resume", flags.resume, "resume training from this checkpoint");
}

/// Runs the example; any error becomes one line "program: message" and exit code 1.
template <class Run>
int run_reporting_errors(const char* program, Run run) {
  try {
    return run();
  } catch (const std::exception& e) {
    std::cerr << program << ": " << e.what() << std::endl;
    return 1;
  }
}

/// Runs run(ranks), alone or as one rank of an MPI job (see run_ranks),
/// with the error handling of run_reporting_errors.
template <class Run>
int run_training(const char* program, const CLI::App& app, const CommonFlags& flags, const Run& run) {
  return run_reporting_errors(program, [&] { return run_ranks(program, app, flags.distributed, flags.threads, run); });
}

/// Trains until epoch flags.epochs (a trainer resumed from flags.resume
/// continues after its checkpoint's epoch, and says so), saving flags.checkpoint
/// after every epoch; with flags.out, draw(out_folder, record) makes the
/// example's pictures and history.csv gets the whole run so far (the
/// checkpoint carries the epochs before it). Data-parallel over `ranks`, of
/// which rank 0 alone writes. Returns the history of the epochs run here.
template <class Trainer, class DrawPictures>
latent::History fit_with_files(Trainer& trainer, const latent::data::Mnist& mnist, const CommonFlags& flags, const Ranks& ranks,
                               DrawPictures draw) {
  ranks.distribute(trainer);
  if (!flags.resume.empty()) {
    trainer.load_checkpoint(flags.resume);
    if (ranks.writes())
      std::cout << "resumed from " << flags.resume << " after epoch " << trainer.epochs_done() << "; training epochs "
                << trainer.epochs_done() + 1 << ".." << flags.epochs << "\n";
  }
  const std::filesystem::path out = flags.out;
  if (!flags.out.empty() && ranks.writes()) latent::io::create_folders(flags.out);
  trainer.on_epoch_end([&](const latent::EpochRecord& record) {
    if (!flags.checkpoint.empty()) trainer.save_checkpoint(flags.checkpoint);
    if (!flags.out.empty() && ranks.writes()) {
      draw(out, record);
      trainer.history().write_csv((out / "history.csv").string());
    }
  });
  latent::FitOptions fit;
  fit.epochs = flags.epochs;
  fit.batch_size = flags.batch;
  fit.shuffle_seed = flags.seed;
  return trainer.fit(mnist.train, mnist.test, fit);
}

/// A JSON number, or null for NaN and infinities.
inline std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  std::ostringstream os;
  os.precision(6);
  os << v;
  return os.str();
}

/// The last epoch's figure `name`, NaN when no epoch ran.
inline double last_figure(const latent::History& history, const std::string& name) {
  return history.empty() ? std::nan("") : history.back().get(name);
}

/// "[s1,s2,...]": the seconds of each epoch run.
inline std::string epoch_seconds_json(const latent::History& history) {
  std::string list = "[";
  for (std::size_t i = 0; i < history.epochs().size(); ++i)
    list += (i ? "," : "") + json_number(history.epochs()[i].get("seconds"));
  return list + "]";
}

/// The mode monitor's classifier: the checkpoint of train_classifier when
/// given, else the label of the nearest of 5000 training images; images in
/// [-1, 1] as the GAN-like examples make them.
inline latent::ModeMonitor<float> mode_monitor(const std::string& classifier_path, std::uint64_t seed,
                                               const latent::data::Dataset& train) {
  latent::ModeMonitor<float> monitor;
  monitor.seed = seed;
  if (!classifier_path.empty()) {
    auto classifier = std::make_shared<example::MnistClassifier>(example::load_classifier(classifier_path));
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

/// The classes of MNIST's digits, which conditional models are conditioned on.
inline constexpr latent::Index kClasses = 10;

/// The flags of the examples that train conditional models.
struct ConditionalFlags {
  bool conditional = false;
  std::string labels_out;
};

inline void add_conditional_flags(CLI::App& app, ConditionalFlags& flags, const std::string& model) {
  app.add_flag("--conditional", flags.conditional,
               "a conditional " + model + ": one-hot labels join the networks' inputs; samples.png has one row per class, "
               "--samples-out draws --samples / 10 samples of each class");
  app.add_option("--labels-out", flags.labels_out,
                 "with --conditional and --samples-out: write the class each sample was drawn for, IDX1 ubyte, same order");
}

/// Refuses flag combinations that cannot work, before any training.
inline void check_conditional_flags(const CommonFlags& common, const ConditionalFlags& flags) {
  if (!flags.labels_out.empty() && (!flags.conditional || common.samples_out.empty()))
    throw latent::error("--labels-out needs --conditional and --samples-out (the labels are those the samples were drawn for)");
  if (flags.conditional && common.samples % kClasses != 0)
    throw latent::error("--samples " + std::to_string(common.samples) + " is not a multiple of the " + std::to_string(kClasses) +
                        " classes; a conditional model draws as many samples of each class");
}

/// n labels cycling through the classes: as many of each (n a multiple of classes).
inline std::vector<int> balanced_labels(latent::Index n, latent::Index classes = kClasses) {
  std::vector<int> labels(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int>(static_cast<latent::Index>(i) % classes);
  return labels;
}

/// The labels of a rows x cols grid with one row per class.
inline std::vector<int> class_rows(latent::Index cols, latent::Index classes = kClasses) {
  std::vector<int> labels(static_cast<std::size_t>(classes * cols));
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int>(static_cast<latent::Index>(i) / cols);
  return labels;
}

/// Writes labels as an IDX1 unsigned-byte file (atomically).
inline void write_labels_idx(const std::string& path, const std::vector<int>& labels) {
  const std::vector<std::uint8_t> bytes(labels.begin(), labels.end());
  latent::data::write_idx_ubyte(path, {bytes.size()}, bytes);
}

/// The share of `images` (pixels in `range`, as written to an IDX file) that
/// the classifier of train_classifier (checkpoint `classifier_path`) puts in
/// the class each was drawn for.
inline double conditional_accuracy(const std::string& classifier_path, const latent::Matrix<float>& images,
                                   latent::data::PixelRange range, const std::vector<int>& labels) {
  example::MnistClassifier classifier = example::load_classifier(classifier_path);
  // The bytes an IDX file would hold, read back as the classifier reads images: [0, 1].
  const bool unit = range == latent::data::PixelRange::zero_to_one;
  const float scale = unit ? 1.0f : 0.5f, offset = unit ? 0.0f : 0.5f;
  const latent::Matrix<float> pixels =
      (((images.array() * scale + offset).max(0.0f).min(1.0f) * 255.0f).round() / 255.0f).matrix();
  const std::vector<std::uint8_t> expected(labels.begin(), labels.end());
  return latent::classify(classifier, pixels).accuracy(expected);
}

/// The end of a run of a generative model: draws --samples samples from it
/// (balanced over the classes when conditional), writes them to --samples-out
/// (pixels in `range`, `images`' size) and their labels to --labels-out, and
/// returns the share the classifier checkpoint `classifier_path` puts in the
/// class asked for (NaN unless conditional with a classifier).
template <class Model>
double export_samples(Model& model, const CommonFlags& common, const ConditionalFlags& conditional,
                      const std::string& classifier_path, const latent::data::Dataset& images, latent::data::PixelRange range,
                      std::uint64_t seed) {
  const bool judge = conditional.conditional && !classifier_path.empty();
  if (common.samples_out.empty() && !judge) return std::nan("");
  latent::Rng rng(seed);
  const std::vector<int> labels = conditional.conditional ? balanced_labels(common.samples) : std::vector<int>();
  const latent::Matrix<float> samples = conditional.conditional ? model.sample(labels, rng) : model.sample(common.samples, rng);
  if (!common.samples_out.empty()) {
    latent::data::write_samples_idx(common.samples_out, samples, images.rows(), images.cols(), range);
    std::cout << "wrote " << common.samples << " samples to " << common.samples_out << "\n";
  }
  if (!conditional.labels_out.empty()) write_labels_idx(conditional.labels_out, labels);
  return judge ? conditional_accuracy(classifier_path, samples, range, labels) : std::nan("");
}

}  // namespace example
