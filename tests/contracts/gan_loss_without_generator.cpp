// A GAN loss must say what the generator minimizes.
// expect: latent GanLoss contract: needs generator_terms(
#include <latent/models/gan.hpp>
#include <latent/nn/sequential.hpp>

struct DiscriminatorOnly {
  static constexpr const char* name = "half";
  static constexpr bool uses_labels = false;
  static constexpr bool takes_input_gradients = false;
  template <class Critic, class S>
  latent::GanTerms<S> discriminator_terms(Critic& critic, const latent::GanBatch<S>& batch) const {
    latent::Var<S> real = critic(batch.real), fake = critic(batch.fake);
    return {latent::mean(fake) - latent::mean(real), real, fake, {}};
  }
  template <class A>
  static auto output(const A& scores) { return scores; }
};

using Generator = latent::Generator<latent::Mlp<float, latent::ReLU>>;
using Discriminator = latent::Discriminator<latent::Mlp<float, latent::ReLU>>;

int main() {
  latent::Rng rng;
  latent::Gan<Generator, Discriminator, DiscriminatorOnly> gan(Generator({2, 3, 4}, rng), Discriminator({4, 3, 1}, rng));
  (void)gan;
}
