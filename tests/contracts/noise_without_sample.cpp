// A GAN's noise must be able to fill a batch of codes.
// expect: latent Noise contract: needs sample(
#include <latent/models/gan.hpp>
#include <latent/nn/sequential.hpp>

struct Silent {};

using Generator = latent::Generator<latent::Mlp<float, latent::ReLU>>;
using Discriminator = latent::Discriminator<latent::Mlp<float, latent::ReLU>>;

int main() {
  latent::Rng rng;
  latent::Gan<Generator, Discriminator, latent::NonSaturatingBce, Silent> gan(Generator({2, 3, 4}, rng),
                                                                              Discriminator({4, 3, 1}, rng));
  (void)gan;
}
