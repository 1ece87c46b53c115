// A likelihood must give the reconstruction term of the ELBO.
// expect: latent Likelihood contract: needs negative_log_likelihood
#include <latent/models/vae.hpp>
#include <latent/nn/sequential.hpp>

struct NoNll {
  template <class S>
  latent::Matrix<S> mean(const latent::Matrix<S>& output) const { return output; }
  void bind(latent::Index) {}
  template <class S>
  latent::NamedParameterList<S> named_parameters() { return {}; }
};

using Encoder = latent::GaussianEncoder<latent::Mlp<float, latent::ReLU, latent::ReLU>>;
using Decoder = latent::Decoder<latent::Mlp<float, latent::ReLU>>;

int main() {
  latent::Rng rng;
  latent::Vae<Encoder, Decoder, NoNll> vae(Encoder({4, 3}, 2, rng), Decoder({2, 3, 4}, rng));
  (void)vae;
}
