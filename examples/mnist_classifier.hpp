// examples/mnist_classifier.hpp: the MNIST classifier that train_classifier
// writes and eval_samples and gan_mnist read: an MLP 784-512-256-10 (ReLU),
// pixels in [0, 1]. Its 256-wide penultimate layer is the feature space of
// the FID. The checkpoint holds the parameters as "classifier.*" and the
// architecture as text, checked on loading.
#pragma once

#include <latent/latent.hpp>

#include <string>

namespace example {

using MnistClassifier = latent::Classifier<latent::Mlp<float, latent::ReLU, latent::ReLU, latent::HeNormal>>;

inline const char* const kClassifierArchitecture = "mlp 784-512-256-10 relu";

inline MnistClassifier make_mnist_classifier(latent::Rng& rng) { return MnistClassifier({784, 512, 256}, 10, rng); }

inline void save_classifier(MnistClassifier& classifier, const std::string& path) {
  latent::Checkpointer state;
  state.add_model("classifier", classifier);
  latent::Checkpoint checkpoint = state.capture();
  checkpoint.set_text("architecture", kClassifierArchitecture);
  checkpoint.save(path);
}

/// Reads a checkpoint written by train_classifier; throws latent::io_error
/// for any other file.
inline MnistClassifier load_classifier(const std::string& path) {
  const latent::Checkpoint checkpoint = latent::Checkpoint::load(path);
  const latent::Checkpoint::Value* architecture = checkpoint.find("architecture");
  const std::string* text = architecture ? std::get_if<std::string>(architecture) : nullptr;
  if (text == nullptr || *text != kClassifierArchitecture)
    throw latent::io_error(path + ": not a classifier checkpoint of train_classifier (" + kClassifierArchitecture + ")");
  latent::Rng rng(0);
  MnistClassifier classifier = make_mnist_classifier(rng);
  latent::restore_parameters(checkpoint, "classifier", classifier.named_parameters());
  return classifier;
}

}  // namespace example
