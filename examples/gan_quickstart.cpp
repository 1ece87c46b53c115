// gan_quickstart: the smallest complete GAN program: train the common MLP
// GAN (G 100-256-512-784 with tanh, D 784-512-256-1, LeakyReLU hidden) on
// MNIST with the non-saturating loss, write a grid of samples. gan_mnist is
// the full program (losses, spectral norm, mode monitor, files).
#include <latent/latent.hpp>

#include <iostream>

int main(int argc, char** argv) try {
  auto mnist = latent::data::load_mnist(argc > 1 ? argv[1] : "data/mnist");
  latent::Rng rng(1);
  using Generator = latent::Generator<latent::Mlp<float, latent::LeakyReLU>>;  // then tanh: pixels in [-1, 1]
  using Discriminator = latent::Discriminator<latent::Mlp<float, latent::LeakyReLU>>;  // one raw score per image
  latent::Gan<Generator, Discriminator> gan(Generator({100, 256, 512, 784}, rng), Discriminator({784, 512, 256, 1}, rng));
  latent::GanTrainer<decltype(gan)> trainer(gan);  // Adam, lr 2e-4, beta1 0.5, for each network
  latent::FitOptions options;
  options.epochs = argc > 2 ? std::stoi(argv[2]) : 20;
  trainer.fit(mnist.train, mnist.test, options);
  latent::data::write_png_grid("gan_samples.png", gan.sample(64, rng), 28, 28, 8, 8, latent::data::PixelRange::minus_one_to_one);
} catch (const std::exception& e) {
  std::cerr << "gan_quickstart: " << e.what() << "\n";
  return 1;
}
