// examples/distributed.hpp: --distributed for the training examples. A
// program started by an MPI launcher (mpirun, mpiexec, srun) runs as one
// rank of a data-parallel job only when asked to; without --distributed it
// refuses, rather than train one independent copy per rank. With it, the
// ranks compare their flags before anything else (paths may differ from
// host to host; nothing else may), take the machine's cores divided by its
// ranks as their default thread count, and a rank that fails reports its
// reason and stops the whole job (MPI_Abort), so no rank waits forever in
// a collective call for a partner that is gone.
#pragma once

#include <CLI/CLI.hpp>
#include <latent/distributed/launch.hpp>
#include <latent/latent.hpp>

#if LATENT_EXAMPLES_MPI
#include <latent/distributed/mpi.hpp>
#endif

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

namespace example {

/// This process's part in a training run: rank 0 of 1 unless --distributed.
class Ranks {
 public:
  Ranks() = default;
  explicit Ranks(latent::Communicator& comm) : comm_(&comm) {}

  int rank() const { return comm_ ? comm_->rank() : 0; }
  int size() const { return comm_ ? comm_->size() : 1; }
  /// Whether this process prints the figures and writes files: rank 0 alone.
  bool writes() const { return rank() == 0; }
  /// Makes `trainer` data-parallel over the ranks (nothing for one process).
  template <class Trainer>
  void distribute(Trainer& trainer) const {
    if (comm_) trainer.distribute(*comm_);
  }

 private:
  latent::Communicator* comm_ = nullptr;
};

/// The flags whose values may differ between ranks: paths (each host has
/// its own disks) and threads (each host its own cores). --resume is
/// compared by presence only: rank 0 reads the checkpoint for all.
inline bool per_host_flag(const std::string& name) {
  for (const char* flag : {"--data", "--out", "--samples-out", "--checkpoint", "--classifier", "--threads", "--help"})
    if (name == flag) return true;
  return false;
}

/// Every flag of `app` and its value as this rank sees it (given or default).
inline std::vector<latent::Setting> flag_settings(const CLI::App& app) {
  std::vector<latent::Setting> settings;
  for (const CLI::Option* option : app.get_options()) {
    const std::string name = option->get_name();
    if (per_host_flag(name)) continue;
    std::string value;
    if (option->count() == 0) {
      value = option->get_default_str();
    } else {
      for (const std::string& result : option->results()) value += (value.empty() ? "" : " ") + result;
    }
    if (name == "--resume") value = option->count() > 0 ? "given" : "not given";
    settings.push_back({name, value});
  }
  return settings;
}

/// Runs run(ranks) as `program`: alone, or, with `distributed`, as one rank
/// of an MPI job. `threads` is the --threads flag (0: 1 thread, or under
/// --distributed the machine's cores divided by its ranks). Refusals throw;
/// under --distributed, an error ends the whole job after the line
/// "program: rank R of N: message".
template <class Run>
int run_ranks(const char* program, const CLI::App& app, bool distributed, int threads, const Run& run) {
  if (!distributed) {
    const std::string launcher = latent::mpi_launcher_variable();
    if (!launcher.empty())
      throw latent::error("started by an MPI launcher (" + launcher +
                          ") without --distributed: every rank would train a copy of its own; add --distributed to train one "
                          "model on all ranks");
    latent::set_num_threads(threads > 0 ? threads : latent::default_num_threads());
    return run(Ranks());
  }
#if LATENT_EXAMPLES_MPI
  latent::mpi::Environment environment;
  latent::mpi::Communicator world;
  try {
    latent::require_same_settings(world, flag_settings(app), program);
    const char* environment_threads = std::getenv("LATENT_NUM_THREADS");
    latent::set_num_threads(threads > 0                                          ? threads
                            : environment_threads && *environment_threads != '\0' ? latent::default_num_threads()
                                                                                 : latent::threads_per_rank(world.local_size()));
    return run(Ranks(world));
  } catch (const std::exception& e) {
    std::cerr << program << ": rank " << world.rank() << " of " << world.size() << ": " << e.what() << " (stopping every rank)"
              << std::endl;
    world.abort(1);
  }
#else
  (void)app;
  throw latent::error(std::string("--distributed: this build of ") + program +
                      " has no MPI support (no MPI library was found when it was configured; install one, e.g. Debian's "
                      "libopenmpi-dev, and configure again)");
#endif
}

}  // namespace example
