// Trains one Dense layer for a few steps through the installed headers, with
// its products on the library that the package config set up.
#include <latent/latent.hpp>

#include <iostream>
#include <string>

int main() {
  const std::string library = latent::gemm_library();
  if (library.rfind(LATENT_EXPECTED_GEMM, 0) != 0) {
    std::cerr << "products run on " << library << ", not on " << LATENT_EXPECTED_GEMM << "\n";
    return 1;
  }
  latent::Rng rng(7);
  latent::Dense<double, latent::Tanh> layer(3, 2, rng);
  latent::Adam<double> adam(1e-2);
  latent::Matrix<double> x = latent::Matrix<double>::Random(3, 5);
  double first = 0, last = 0;
  for (int step = 0; step < 50; ++step) {
    latent::Tape<double> tape;
    auto loss = latent::mean(latent::square(layer(tape.constant(x))));
    tape.backward(loss);
    adam.step(layer.parameters());
    latent::zero_grad(layer.parameters());
    (step == 0 ? first : last) = loss.value()(0, 0);
  }
  std::cout << "latent " << LATENT_VERSION_STRING << " (" << library << "): loss " << first << " -> " << last << "\n";
  return last < first ? 0 : 1;
}
