// latent/distributed/launch.hpp: what a program can tell about how it was
// started without linking MPI: whether an MPI launcher (mpirun, mpiexec,
// srun) started it, and how many threads each rank should use. A program
// that was started by a launcher but was not asked to train data-parallel
// would otherwise train the same model once per rank, each copy unaware of
// the others.
#pragma once

#ifdef __linux__
#include <sched.h>
#endif

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>

namespace latent {

/// The environment variable by which an MPI launcher announced this process
/// ("OMPI_COMM_WORLD_SIZE=2"), or "" when none did. Open MPI's mpirun sets
/// OMPI_COMM_WORLD_SIZE; MPICH's and Intel MPI's Hydra set PMI_SIZE; PMIx
/// launchers (Slurm's srun --mpi=pmix, prterun) set PMIX_RANK.
inline std::string mpi_launcher_variable() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (const char* value = std::getenv(name)) return std::string(name) + "=" + value;
  return "";
}

/// Threads per rank that share this machine's cores evenly among
/// `ranks_on_this_machine` ranks, at least 1, and no more than the cores this
/// process may run on (a launcher that binds each rank to one core, as Open
/// MPI's mpirun does for two ranks, leaves it one).
inline int threads_per_rank(int ranks_on_this_machine) {
  int cores = static_cast<int>(std::thread::hardware_concurrency());
  int share = ranks_on_this_machine > 0 ? cores / ranks_on_this_machine : 1;
#ifdef __linux__
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) share = std::min(share, CPU_COUNT(&allowed));
#endif
  return std::max(share, 1);
}

}  // namespace latent
