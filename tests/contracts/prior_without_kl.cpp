// A prior must give the KL term of the ELBO.
// expect: latent Prior contract: needs kl(
#include <latent/models/vae.hpp>
#include <latent/nn/sequential.hpp>

struct NoKl {
  template <class S>
  void sample(latent::Matrix<S>& z, latent::Rng& rng) const { rng.fill_normal(z); }
};

using Encoder = latent::GaussianEncoder<latent::Mlp<float, latent::ReLU, latent::ReLU>>;
using Decoder = latent::Decoder<latent::Mlp<float, latent::ReLU>>;

int main() {
  latent::Rng rng;
  latent::Vae<Encoder, Decoder, latent::Bernoulli, NoKl> vae(Encoder({4, 3}, 2, rng), Decoder({2, 3, 4}, rng));
  (void)vae;
}
