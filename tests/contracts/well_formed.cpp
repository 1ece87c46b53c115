// The control: types that keep every contract compile, so the refusals of
// the other files are the contracts' doing, not a broken setup.
#include <latent/core.hpp>
#include <latent/train/gan_trainer.hpp>
#include <latent/train/vae_trainer.hpp>

using Encoder = latent::GaussianEncoder<latent::Mlp<float, latent::ReLU, latent::ReLU>>;
using Decoder = latent::Decoder<latent::Mlp<float, latent::ReLU>>;
using Generator = latent::Generator<latent::Mlp<float, latent::ReLU>>;
using Discriminator = latent::Discriminator<latent::Sequential<latent::Dense<float, latent::ReLU>, latent::Dense<float>>>;

int main() {
  latent::Rng rng;
  latent::Vae<Encoder, Decoder, latent::Gaussian<float>> vae(Encoder({4, 3}, 2, rng), Decoder({2, 3, 4}, rng));
  latent::VaeTrainer<decltype(vae), latent::Sgd<float>> vae_trainer(vae, latent::Sgd<float>(0.1f));
  latent::Gan<Generator, Discriminator, latent::Hinge, latent::UniformNoise> gan(
      Generator({2, 3, 4}, rng),
      Discriminator(latent::Sequential<latent::Dense<float, latent::ReLU>, latent::Dense<float>>(
          latent::Dense<float, latent::ReLU>(4, 3, rng), latent::Dense<float>(3, 1, rng))));
  latent::GanTrainer<decltype(gan)> gan_trainer(gan);
  latent::Classifier<latent::Mlp<float, latent::ReLU, latent::ReLU>> classifier({4, 3}, 2, rng);
  (void)classifier;
}
