// examples/training_run.hpp: what the training examples (vae_mnist,
// gan_mnist) do around Trainer::fit: resume from a checkpoint when asked,
// and after every epoch save the checkpoint, draw the pictures and rewrite
// history.csv under --out (every epoch of the run, those before a resumed
// checkpoint included; rank 0 alone, under --distributed); then the pieces
// of their closing JSON line. And the flags both take, with the error
// handling around their run.
#pragma once

#include <CLI/CLI.hpp>
#include <latent/latent.hpp>

#include "distributed.hpp"

#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>

namespace example {

/// The flags of every training example.
struct CommonFlags {
  std::string data = "data/mnist";
  int epochs = 0;  ///< the example's own default
  latent::Index batch = 128;
  std::uint64_t seed = 1;
  int threads = 0;  ///< 0: 1, or under --distributed the machine's cores / its ranks
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
                 "threads for matrix products and optimizer updates (default 1; under --distributed, this machine's cores "
                 "divided by its ranks)")
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

}  // namespace example
