// train_classifier: trains the MNIST classifier that eval_samples and
// gan_mnist use to judge generated digits (an MLP 784-512-256-10 with ReLU,
// softmax cross-entropy, Adam with a cosine learning-rate decay), prints its
// test accuracy after every epoch and saves it as a checkpoint.
#include <CLI/CLI.hpp>
#include <latent/latent.hpp>
#include <latent/optim/schedule.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "mnist_classifier.hpp"

namespace {

struct Flags {
  std::string data = "data/mnist";
  int epochs = 20;
  latent::Index batch = 128;
  float lr = 1e-3f;
  std::string out = "classifier.ckpt";
  std::uint64_t seed = 1;
  int threads = 0;  ///< 0: LATENT_NUM_THREADS, else the machine's cores
};

int run(const Flags& flags) {
  if (flags.threads > 0) latent::set_num_threads(flags.threads);
  const auto mnist = latent::data::load_mnist(flags.data);
  if (mnist.train.features() != 784)
    throw latent::shape_error(flags.data + ": images of " + latent::shape_string(mnist.train.rows(), mnist.train.cols()) +
                              " pixels; the classifier reads 28x28");
  latent::Rng rng(flags.seed);
  example::MnistClassifier classifier = example::make_mnist_classifier(rng);
  const auto params = classifier.parameters();
  latent::Adam<float> adam(flags.lr);
  latent::data::BatchSampler sampler(mnist.train.size(), flags.batch, latent::data::Shuffle{flags.seed});
  const latent::CosineDecay schedule{flags.lr, flags.epochs * sampler.batches_per_epoch()};
  latent::Tape<float> tape;
  const latent::ScopedFlushDenormals flush_denormals;
  std::int64_t step = 0;
  double accuracy = 0;
  for (int epoch = 1; epoch <= flags.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    double loss_sum = 0;
    for (const latent::data::Batch& batch : sampler.epoch(static_cast<std::uint64_t>(epoch))) {
      tape.reset();
      latent::Var<float> x = tape.constant(mnist.train.features(), batch.size());
      mnist.train.fill_batch(tape.value_of(x), batch);
      latent::Var<float> targets = tape.constant(10, batch.size());
      latent::Matrix<float>& one_hot = tape.value_of(targets);
      one_hot.setZero();
      for (latent::Index j = 0; j < batch.size(); ++j) one_hot(mnist.train.label(batch[j]), j) = 1;
      latent::Var<float> loss = latent::softmax_cross_entropy(classifier(x), targets);
      latent::check_finite_loss(loss.item(), step + 1);
      tape.backward(loss);
      adam.lr = static_cast<float>(schedule(step++));
      adam.step(params);
      latent::zero_grad(params);
      loss_sum += loss.item() * static_cast<double>(batch.size());
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    accuracy = latent::classify(classifier, mnist.test).accuracy(mnist.test.labels());
    std::printf("epoch %d/%d train_loss %.4f test_accuracy %.4f (%.1fs)\n", epoch, flags.epochs,
                loss_sum / static_cast<double>(mnist.train.size()), accuracy, seconds);
    std::fflush(stdout);
  }
  example::save_classifier(classifier, flags.out);
  std::printf("{\"model\":\"classifier\",\"architecture\":\"%s\",\"epochs\":%d,\"test_accuracy\":%.4f,\"checkpoint\":\"%s\"}\n",
              example::kClassifierArchitecture, flags.epochs, accuracy, flags.out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"Trains the MNIST classifier (MLP 784-512-256-10, ReLU) that eval_samples uses for the FID and the class\n"
               "histogram of generated digits, and saves it as a checkpoint. The last line printed is one JSON object."};
  app.add_option("--data", flags.data, "folder with the four MNIST IDX files, raw or .gz")->capture_default_str();
  app.add_option("--epochs", flags.epochs, "epochs")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--batch", flags.batch, "batch size")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  app.add_option("--lr", flags.lr, "Adam's peak learning rate (cosine decay to 0)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--out", flags.out, "the checkpoint to write")->capture_default_str();
  app.add_option("--seed", flags.seed, "seed of initialization and shuffling")->capture_default_str();
  app.add_option("--threads", flags.threads,
                 "threads for matrix products and optimizer updates (default: LATENT_NUM_THREADS, else this machine's cores)")
      ->check(CLI::Range(1, 256));
  CLI11_PARSE(app, argc, argv);
  try {
    return run(flags);
  } catch (const std::exception& e) {
    std::cerr << "train_classifier: " << e.what() << std::endl;
    return 1;
  }
}
