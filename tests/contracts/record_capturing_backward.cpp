// expect: captures
// A backward that captures: Tape::record refuses it with a message saying
// where the op's state belongs (the capture would dangle by the backward).
#include <latent/autodiff/tape.hpp>

latent::Var<float> captures(latent::Var<float> x, float factor) {
  return x.tape().record(1, 1, {x}, [factor](latent::Tape<float>& t, latent::Node<float>& n) {
    t.accumulate(n, 0, factor * n.grad);
  });
}
