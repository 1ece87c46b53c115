// Builds against the installed component mpi (target latent::mpi): the MPI
// header compiles and links; run alone, it is a world of one rank.
#include <latent/distributed/mpi.hpp>

#include <iostream>

int main(int argc, char** argv) {
  latent::mpi::Environment mpi(argc, argv);
  latent::mpi::Communicator world;
  std::cout << "latent::mpi: rank " << world.rank() << " of " << world.size() << "\n";
  return 0;
}
