// vae_loop: the quickstart's VAE trained by a loop written out by hand, what
// VaeTrainer::fit does for each batch: record the forward pass on a tape,
// sweep it backward, step the optimizer, clear the gradients. Start here to
// train what the trainers do not (another objective, several optimizers, a
// schedule or a model of your own). As README.md quotes it.
#include <latent/latent.hpp>

#include <iostream>

int main(int argc, char** argv) try {
  auto mnist = latent::data::load_mnist(argc > 1 ? argv[1] : "data/mnist");
  const int epochs = argc > 2 ? std::stoi(argv[2]) : 10;
  latent::Rng rng(1);
  using Encoder = latent::GaussianEncoder<latent::Mlp<float, latent::ReLU, latent::ReLU>>;
  using Decoder = latent::Decoder<latent::Mlp<float, latent::ReLU>>;
  latent::Vae<Encoder, Decoder, latent::Bernoulli> vae(Encoder({784, 400}, 20, rng), Decoder({20, 400, 784}, rng));

  const latent::ParameterList<float> params = vae.parameters();  // made once, used by every step
  latent::Adam<float> adam(1e-3f);
  latent::data::BatchSampler sampler(mnist.train.size(), 128, latent::data::Shuffle{1});
  latent::Rng noise(1, latent::streams::training_noise);
  latent::Tape<float> tape;
  const latent::ScopedFlushDenormals flush;  // Adam's moments decay into slow subnormal floats
  std::int64_t step = 0;
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    double loss_sum = 0;
    for (const latent::data::Batch& batch : sampler.epoch(epoch)) {
      tape.reset();                                                  // forget the last step, keep its buffers
      latent::Var<float> x = tape.constant(784, batch.size());
      mnist.train.fill_batch(tape.value_of(x), batch);               // bytes -> [0, 1], in place
      latent::Var<float> eps = tape.constant(20, batch.size());
      noise.fill_normal(tape.value_of(eps));
      latent::Var<float> loss = vae.negative_elbo(x, eps).loss;      // forward: records the graph
      latent::check_finite_loss(loss.item(), ++step);                // NaN: stop before any update
      tape.backward(loss);                                           // backward: gradients into params
      adam.step(params);                                             // update
      latent::zero_grad(params);                                     // clear for the next step
      loss_sum += loss.item() * static_cast<double>(batch.size());
    }
    std::cout << "epoch " << epoch << " train loss " << loss_sum / static_cast<double>(mnist.train.size()) << " nats\n";
  }
} catch (const std::exception& e) {
  std::cerr << "vae_loop: " << e.what() << "\n";
  return 1;
}
