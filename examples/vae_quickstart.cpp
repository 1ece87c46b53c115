// vae_quickstart: the smallest complete VAE program, as README.md quotes it:
// train the 784-400-20 VAE on MNIST, print the test loss, write samples.
#include <latent/latent.hpp>

#include <iostream>

int main(int argc, char** argv) try {
  auto mnist = latent::data::load_mnist(argc > 1 ? argv[1] : "data/mnist");
  latent::Rng rng(1);
  using Encoder = latent::GaussianEncoder<latent::Mlp<float, latent::ReLU, latent::ReLU>>;
  using Decoder = latent::Decoder<latent::Mlp<float, latent::ReLU>>;
  latent::Vae<Encoder, Decoder, latent::Bernoulli> vae(Encoder({784, 400}, 20, rng), Decoder({20, 400, 784}, rng));
  latent::VaeTrainer<decltype(vae)> trainer(vae, latent::Adam<float>(1e-3f));
  latent::FitOptions options;
  options.epochs = argc > 2 ? std::stoi(argv[2]) : 10;
  trainer.fit(mnist.train, mnist.test, options);
  std::cout << "test loss " << trainer.evaluate(mnist.test).mean("loss") << " nats\n";
  latent::data::write_png_grid("samples.png", vae.sample(64, rng), 28, 28, 8, 8);
} catch (const std::exception& e) {
  std::cerr << "vae_quickstart: " << e.what() << "\n";
  return 1;
}
