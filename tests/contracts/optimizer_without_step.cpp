// A trainer's optimizer must be able to take a step.
// expect: latent Optimizer contract: needs step(
#include <latent/train/vae_trainer.hpp>
#include <latent/nn/sequential.hpp>

struct Frozen {
  float lr = 0;
  explicit Frozen(float rate = 0) : lr(rate) {}
};

using Encoder = latent::GaussianEncoder<latent::Mlp<float, latent::ReLU, latent::ReLU>>;
using Decoder = latent::Decoder<latent::Mlp<float, latent::ReLU>>;
using Model = latent::Vae<Encoder, Decoder>;

int main() {
  latent::Rng rng;
  Model vae(Encoder({4, 3}, 2, rng), Decoder({2, 3, 4}, rng));
  latent::VaeTrainer<Model, Frozen> trainer(vae, Frozen(1e-3f));
  (void)trainer;
}
