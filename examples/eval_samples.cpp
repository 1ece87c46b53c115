// eval_samples: judges generated MNIST digits with the classifier of
// train_classifier. Prints one JSON line: the FID of the samples against the
// test set (in the classifier's 256-d penultimate features), the entropy of
// their predicted-class histogram (mode coverage: ln 10 = 2.303 is perfect),
// the mean max-softmax confidence, and the same figures for real digits as a
// baseline (the FID of as many training images against the test set; the
// test set's own entropy, confidence and accuracy). With --labels (the
// classes a conditional model was asked for, IDX1 ubyte, one per sample) it
// also reports cond_acc, the share of samples the classifier puts in the
// class asked for.
#include <CLI/CLI.hpp>
#include <latent/latent.hpp>
#include <latent/metrics/fid.hpp>

#include <cmath>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "mnist_classifier.hpp"

namespace {

struct Flags {
  std::string samples;
  std::string labels;
  std::string classifier;
  std::string data = "data/mnist";
  int threads = 0;  ///< 0: LATENT_NUM_THREADS, else the machine's cores
};

/// Generated images from an IDX3 unsigned-byte file (N x 28 x 28), unlabelled.
latent::data::Dataset load_samples(const std::string& path) {
  latent::data::IdxArray array = latent::data::read_idx(path);
  if (array.type() != latent::data::IdxType::u8 || array.dims.size() != 3 || array.dims[1] != 28 || array.dims[2] != 28)
    throw latent::io_error(path + ": holds " + latent::data::idx_type_name(array.type()) + " " + array.shape() +
                           ", expected unsigned bytes N x 28 x 28");
  if (array.dims[0] < 2) throw latent::io_error(path + ": holds fewer than 2 images; the FID needs at least 2");
  const std::size_t count = array.dims[0];
  return latent::data::Dataset(std::move(array.get<std::uint8_t>()), std::vector<std::uint8_t>(count, 0), 28, 28);
}

/// The classes samples were drawn for: an IDX1 unsigned-byte file of `count` labels in 0..9.
std::vector<std::uint8_t> load_labels(const std::string& path, std::size_t count) {
  latent::data::IdxArray array = latent::data::read_idx(path);
  if (array.type() != latent::data::IdxType::u8 || array.dims.size() != 1)
    throw latent::io_error(path + ": holds " + latent::data::idx_type_name(array.type()) + " " + array.shape() +
                           ", expected unsigned bytes N (labels)");
  if (array.dims[0] != count)
    throw latent::io_error(path + ": holds " + std::to_string(array.dims[0]) + " labels for " + std::to_string(count) +
                           " samples");
  std::vector<std::uint8_t> labels = std::move(array.get<std::uint8_t>());
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] > 9)
      throw latent::io_error(path + ": label " + std::to_string(labels[i]) + " of sample " + std::to_string(i) +
                             " is outside 0..9");
  return labels;
}

std::string histogram_json(const latent::ClassHistogram& histogram) {
  std::ostringstream os;
  os << "[";
  for (int k = 0; k < histogram.classes(); ++k) os << (k ? "," : "") << histogram.fraction(k);
  os << "]";
  return os.str();
}

int run(const Flags& flags) {
  if (flags.threads > 0) latent::set_num_threads(flags.threads);
  const latent::data::Dataset samples = load_samples(flags.samples);
  const std::vector<std::uint8_t> asked =
      flags.labels.empty() ? std::vector<std::uint8_t>() : load_labels(flags.labels, static_cast<std::size_t>(samples.size()));
  example::MnistClassifier classifier = example::load_classifier(flags.classifier);
  const auto mnist = latent::data::load_mnist(flags.data);

  const latent::Classification generated = latent::classify(classifier, samples);
  const latent::Classification test = latent::classify(classifier, mnist.test);
  const latent::Classification train = latent::classify(classifier, mnist.train.head(samples.size()));
  const latent::GaussianStatistics test_statistics = latent::gaussian_statistics(test.features);
  const double fid = latent::frechet_distance(latent::gaussian_statistics(generated.features), test_statistics);
  const double real_fid = latent::frechet_distance(latent::gaussian_statistics(train.features), test_statistics);
  const latent::ClassHistogram generated_classes = generated.histogram(10);
  const latent::ClassHistogram test_classes = test.histogram(10);

  std::ostringstream json;
  json.precision(6);
  json << "{\"samples\":" << samples.size() << ",\"fid\":" << fid << ",\"class_entropy\":" << generated_classes.entropy()
       << ",\"mean_confidence\":" << generated.mean_confidence() << ",\"class_histogram\":" << histogram_json(generated_classes);
  if (!asked.empty()) json << ",\"cond_acc\":" << generated.accuracy(asked);
  json << ",\"real\":{\"fid_train_vs_test\":" << real_fid << ",\"train_images\":" << train.predictions.size()
       << ",\"class_entropy\":" << test_classes.entropy() << ",\"mean_confidence\":" << test.mean_confidence()
       << ",\"accuracy\":" << test.accuracy(mnist.test.labels()) << "}}";
  std::cout << json.str() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"Judges generated MNIST digits (an IDX3 ubyte file, N x 28 x 28) with a classifier checkpoint of\n"
               "train_classifier: FID against the test set, class-histogram entropy, mean confidence, and the same\n"
               "figures for real digits. Prints one JSON line."};
  app.add_option("--samples", flags.samples, "generated images, IDX3 unsigned bytes (N x 28 x 28)")->required();
  app.add_option("--labels", flags.labels,
                 "the class each sample was drawn for, IDX1 ubyte (--labels-out of a conditional example): report cond_acc, "
                 "the share the classifier puts in that class");
  app.add_option("--classifier", flags.classifier, "classifier checkpoint written by train_classifier")->required();
  app.add_option("--data", flags.data, "folder with the four MNIST IDX files, raw or .gz")->capture_default_str();
  app.add_option("--threads", flags.threads,
                 "threads for matrix products and optimizer updates (default: LATENT_NUM_THREADS, else this machine's cores)")
      ->check(CLI::Range(1, 256));
  CLI11_PARSE(app, argc, argv);
  try {
    return run(flags);
  } catch (const std::exception& e) {
    std::cerr << "eval_samples: " << e.what() << std::endl;
    return 1;
  }
}
