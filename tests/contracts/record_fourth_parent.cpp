// expect: kMaxParents
// An op with four parents: Tape::record refuses it at compile time (a node
// holds Node::kMaxParents parents; a fourth once wrote past them).
#include <latent/autodiff/tape.hpp>

latent::Var<float> four_parents(latent::Var<float> a, latent::Var<float> b, latent::Var<float> c, latent::Var<float> d) {
  return a.tape().record(1, 1, {a, b, c, d}, [](latent::Tape<float>&, latent::Node<float>&) {});
}
