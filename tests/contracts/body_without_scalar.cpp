// A decoder's body must say its scalar type.
// expect: latent Layer contract: needs a member type Scalar
#include <latent/nn/decoder.hpp>

struct NoScalar {
  latent::Var<float> operator()(latent::Var<float> x) { return x; }
};

int main() {
  latent::Decoder<NoScalar>* decoder = nullptr;
  (void)sizeof(*decoder);
}
