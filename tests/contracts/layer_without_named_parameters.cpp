// A layer that cannot list its parameters cannot join a Sequential.
// expect: latent Layer contract: needs named_parameters()
#include <latent/nn/sequential.hpp>

struct NoParameters {
  using Scalar = float;
  latent::Var<float> operator()(latent::Var<float> x) { return x; }
  latent::Index in_features() const { return 2; }
  latent::Index out_features() const { return 2; }
};

int main() {
  latent::Rng rng;
  latent::Sequential<latent::Dense<float>, NoParameters> net(latent::Dense<float>(2, 2, rng), NoParameters{});
  (void)net;
}
