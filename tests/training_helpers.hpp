// Helpers for tests that train (Catch2 or not, one process or several):
// fit options without a progress bar, random byte images, the small MLP GAN
// of the GAN tests, and copies of a model's parameters to compare runs with.
#pragma once

#include <latent/latent.hpp>

#include <cstdint>
#include <utility>
#include <vector>

namespace test {

inline latent::FitOptions quiet_fit(int epochs, latent::Index batch) {
  latent::FitOptions options;
  options.epochs = epochs;
  options.batch_size = batch;
  options.progress = latent::Progress::Mode::quiet;
  return options;
}

/// n random side x side byte images, labels 0..9 in turn.
inline latent::data::Dataset random_images(latent::Index n, latent::Index side, std::uint64_t seed) {
  latent::Rng rng(seed);
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(n * side * side)), labels(static_cast<std::size_t>(n));
  for (auto& p : pixels) p = static_cast<std::uint8_t>(rng.below(256));
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::uint8_t>(i % 10);
  return latent::data::Dataset(std::move(pixels), std::move(labels), side, side);
}

/// The small GAN of the GAN tests: MLPs with LeakyReLU hidden layers and a
/// linear output, generator and critic.
template <class S>
using MlpGenerator = latent::Generator<latent::Mlp<S, latent::LeakyReLU, latent::Identity>>;
template <class S>
using MlpCritic = latent::Discriminator<latent::Mlp<S, latent::LeakyReLU, latent::Identity>>;
template <class S, class Loss>
using MlpGan = latent::Gan<MlpGenerator<S>, MlpCritic<S>, Loss>;

template <class S, class Loss>
MlpGan<S, Loss> make_mlp_gan(const std::vector<latent::Index>& generator_sizes, const std::vector<latent::Index>& critic_sizes,
                             std::uint64_t seed) {
  latent::Rng rng(seed);
  MlpGenerator<S> generator(generator_sizes, rng);
  MlpCritic<S> critic(critic_sizes, rng);
  return MlpGan<S, Loss>(std::move(generator), std::move(critic));
}

/// A model's parameter values at one moment.
using Snapshot = std::vector<latent::Matrix<float>>;

/// A model's parameter values, then its buffers (BatchNorm's running statistics).
template <class Model>
Snapshot snapshot(Model& model) {
  Snapshot values;
  for (const auto* p : model.parameters()) values.push_back(p->value);
  for (const auto& buffer : model.named_buffers()) values.push_back(*buffer.value);
  return values;
}

/// Trains one-step epochs (the data set is one batch) and returns the
/// parameters (and buffers) after each step.
template <class Model, class Trainer>
std::vector<Snapshot> train_steps(Model& model, Trainer& trainer, const latent::data::Dataset& train,
                                  const latent::data::Dataset& test, int steps, latent::EpochRecord* last = nullptr) {
  std::vector<Snapshot> after;
  trainer.on_epoch_end([&model, &after, last](const latent::EpochRecord& record) {
    after.push_back(snapshot(model));
    if (last) *last = record;
  });
  trainer.fit(train, test, quiet_fit(steps, train.size()));
  return after;
}

}  // namespace test
