// tests/conv_test_models.hpp: the small DCGAN-shaped GAN of 1x8x8 images
// that the convolutional model tests train and the data-parallel tests
// split over ranks (its BatchNorm layers normalize over the whole batch).
#pragma once

#include <utility>

#include <latent/models/gan.hpp>
#include <latent/nn/batch_norm.hpp>
#include <latent/nn/convolution.hpp>
#include <latent/nn/sequential.hpp>

namespace test {
namespace conv_gan {

using S = float;
using latent::ImageShape;
using latent::Kernel;

// G: z(8) as 8x1x1 -> ConvTranspose2d(8, 16, k4) 4x4 -> BN ReLU -> ConvTranspose2d(16, 1, k4, s2, p1) 8x8 tanh.
// D: Conv2d(1, 8, k4, s2, p1) 4x4 LeakyReLU -> Conv2d(8, 16, k4, s2, p1) 2x2 -> BN LeakyReLU -> Conv2d(16, 1, k2) 1x1.
// No biases, as DCGAN.
using GeneratorBody = latent::Sequential<latent::ConvTranspose2d<S>, latent::BatchNorm<S, latent::ReLU>, latent::ConvTranspose2d<S, latent::Tanh>>;
using DiscriminatorBody = latent::Sequential<latent::Conv2d<S, latent::LeakyReLU>, latent::Conv2d<S>, latent::BatchNorm<S, latent::LeakyReLU>,
                                             latent::Conv2d<S>>;
template <class Loss = latent::NonSaturatingBce>
using GanWith = latent::Gan<latent::Generator<GeneratorBody, latent::Identity>, latent::Discriminator<DiscriminatorBody>, Loss>;
using Gan = GanWith<>;

template <class Loss = latent::NonSaturatingBce>
GanWith<Loss> make_gan(latent::Rng& rng) {
  const Kernel half = Kernel(4).stride(2).padding(1).bias(false);
  GeneratorBody g(latent::ConvTranspose2d<S>({8, 1, 1}, 16, Kernel(4).bias(false), rng),
                  latent::BatchNorm<S, latent::ReLU>(ImageShape{16, 4, 4}),
                  latent::ConvTranspose2d<S, latent::Tanh>({16, 4, 4}, 1, half, rng));
  DiscriminatorBody d(latent::Conv2d<S, latent::LeakyReLU>({1, 8, 8}, 8, half, rng), latent::Conv2d<S>({8, 4, 4}, 16, half, rng),
                      latent::BatchNorm<S, latent::LeakyReLU>(ImageShape{16, 2, 2}), latent::Conv2d<S>({16, 2, 2}, 1, Kernel(2).bias(false), rng));
  return GanWith<Loss>(latent::Generator<GeneratorBody, latent::Identity>(std::move(g)),
                           latent::Discriminator<DiscriminatorBody>(std::move(d)));
}

}  // namespace conv_gan
}  // namespace test
