// seed_checkpoint DIR: writes the seed corpus of fuzz_checkpoint into DIR:
// small valid checkpoints holding every kind of entry, and one a Checkpointer
// makes of a model, an optimizer, an Rng and a counter.
#include <latent/train/checkpointer.hpp>
#include <latent/nn/sequential.hpp>
#include <latent/optim/adam.hpp>

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <limits>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: seed_checkpoint DIR\n";
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  try {
    std::filesystem::create_directories(dir);
    latent::Checkpoint().save((dir / "empty").string());

    latent::Checkpoint kinds;
    kinds.set_tensor("doubles", latent::Matrix<double>::Constant(2, 3, -1.5));
    kinds.set_tensor("empty", latent::Matrix<float>(0, 2));
    kinds.set_tensor("floats", latent::Matrix<float>::Constant(1, 2, 0.25f));
    kinds.set_integer("integer", std::numeric_limits<std::int64_t>::min());
    kinds.set_words("words", {1, 2, 3});
    kinds.set_text("text", "Mlp 2-3-1");
    kinds.save((dir / "kinds").string());

    latent::Rng rng(1);
    latent::Mlp<float, latent::ReLU, latent::Identity> net({2, 3, 1}, rng);
    latent::Adam<float> adam;
    std::int64_t epoch = 4;
    latent::Checkpointer()
        .add_model("model", net)
        .add_optimizer("optimizer", adam, net.parameters())
        .add_rng("rng", rng)
        .add_counter("epoch", epoch)
        .save((dir / "training").string());
  } catch (const std::exception& e) {
    std::cerr << "seed_checkpoint: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
