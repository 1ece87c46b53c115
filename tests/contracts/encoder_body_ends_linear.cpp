// An Mlp ends in a linear layer unless told otherwise; as an encoder's body,
// followed by the linear mean and log-variance heads, that would make the
// whole encoder linear, so it is refused.
// expect: GaussianEncoder: the body's last layer is linear
#include <latent/nn/encoder.hpp>
#include <latent/nn/sequential.hpp>

int main() {
  latent::Rng rng;
  latent::GaussianEncoder<latent::Mlp<float, latent::ReLU>> encoder({4, 3}, 2, rng);
  (void)encoder;
}
