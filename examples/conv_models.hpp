// examples/conv_models.hpp: the convolutional models of the examples, built
// in one place for gan_mnist --arch dcgan, vae_mnist --arch conv, the
// benchmarks (bench/bench_common.hpp) and the allocation test:
//   Dcgan    the DCGAN of the libtorch C++ example and of dlib's
//            dnn_dcgan_train_ex, for 28x28 images
//   ConvVae  a convolutional VAE for 28x28 images
//   ConvVaeGan  a convolutional VAE-GAN for 28x28 images (vaegan_mnist --arch conv)
// Their layers start from PyTorch's default initialization (FanInUniform),
// as their PyTorch twins in bench/compare/ do.
#pragma once

#include <latent/latent.hpp>
#include <latent/models/gan.hpp>
#include <latent/models/vae_gan.hpp>

#include <string>
#include <utility>

namespace example {

/// The convolutional models read 28x28 images: anything else is refused
/// before a model is built, naming the flag and the file.
inline void require_28x28(const latent::data::Dataset& images, const std::string& flag, const std::string& path) {
  if (images.rows() != 28 || images.cols() != 28)
    throw latent::shape_error(flag + ": the model reads 28x28 images, " + path + " holds " + std::to_string(images.rows()) + "x" +
                              std::to_string(images.cols()));
}

/// G: z(100) as 100x1x1 -> ConvTranspose2d(100, 4w, k4) 4x4 -> BN ReLU
///    -> ConvTranspose2d(4w, 2w, k3, s2, p1) 7x7 -> BN ReLU
///    -> ConvTranspose2d(2w, w, k4, s2, p1) 14x14 -> BN ReLU
///    -> ConvTranspose2d(w, 1, k4, s2, p1) 28x28 tanh;
/// D: Conv2d(1, w, k4, s2, p1) 14x14 LeakyReLU(0.2)
///    -> Conv2d(w, 2w, k4, s2, p1) 7x7 -> BN LeakyReLU(0.2)
///    -> Conv2d(2w, 4w, k4, s2, p1) 3x3 -> BN LeakyReLU(0.2)
///    -> Conv2d(4w, 1, k3) 1x1: one logit.
/// No biases; the DCGAN is w = 64 (smaller w: the same shapes, thinner);
/// its loss is the non-saturating BCE unless make<Loss> says otherwise.
struct Dcgan {
  using S = float;
  template <class Act = latent::Identity>
  using Up = latent::ConvTranspose2d<S, Act>;
  template <class Act = latent::Identity>
  using Down = latent::Conv2d<S, Act>;
  using Norm = latent::BatchNorm<S, latent::ReLU>;
  using LeakyNorm = latent::BatchNorm<S, latent::LeakyReLU>;
  using GeneratorBody = latent::Sequential<Up<>, Norm, Up<>, Norm, Up<>, Norm, Up<latent::Tanh>>;
  using DiscriminatorBody = latent::Sequential<Down<latent::LeakyReLU>, Down<>, LeakyNorm, Down<>, LeakyNorm, Down<>>;
  using Generator = latent::Generator<GeneratorBody, latent::Identity>;
  using Discriminator = latent::Discriminator<DiscriminatorBody>;
  template <class Loss>
  using Gan = latent::Gan<Generator, Discriminator, Loss>;
  using Model = Gan<latent::NonSaturatingBce>;

  template <class Loss = latent::NonSaturatingBce>
  static Gan<Loss> make(latent::Rng& rng, latent::Index noise = 100, latent::Index w = 64) {
    using latent::ImageShape;
    const latent::Kernel k4 = latent::Kernel(4).bias(false), k3 = latent::Kernel(3).bias(false);
    const latent::Kernel half = k4.stride(2).padding(1);
    GeneratorBody g(Up<>({noise, 1, 1}, 4 * w, k4, rng), Norm(ImageShape{4 * w, 4, 4}),
                    Up<>({4 * w, 4, 4}, 2 * w, k3.stride(2).padding(1), rng), Norm(ImageShape{2 * w, 7, 7}),
                    Up<>({2 * w, 7, 7}, w, half, rng), Norm(ImageShape{w, 14, 14}),
                    Up<latent::Tanh>({w, 14, 14}, 1, half, rng));
    DiscriminatorBody d(Down<latent::LeakyReLU>({1, 28, 28}, w, half, rng),
                        Down<>({w, 14, 14}, 2 * w, half, rng), LeakyNorm(ImageShape{2 * w, 7, 7}),
                        Down<>({2 * w, 7, 7}, 4 * w, half, rng), LeakyNorm(ImageShape{4 * w, 3, 3}),
                        Down<>({4 * w, 3, 3}, 1, k3, rng));
    return Gan<Loss>(Generator(std::move(g)), Discriminator(std::move(d)));
  }
};

/// Encoder: Conv2d(1, 32, k4, s2, p1) 14x14 ReLU -> Conv2d(32, 64, k4, s2, p1)
///   7x7 ReLU -> flatten 3136 -> Dense `hidden` (400) ReLU -> mu, logvar
///   (`latent` (20) each);
/// decoder: Dense latent -> hidden ReLU -> Dense 3136 ReLU -> 64x7x7
///   -> ConvTranspose2d(64, 32, k4, s2, p1) 14x14 ReLU
///   -> ConvTranspose2d(32, 1, k4, s2, p1) 28x28 Bernoulli logits.
/// Biases in every layer; the mu and logvar heads start Glorot-uniform (GaussianEncoder's).
struct ConvVae {
  using S = float;
  using Init = latent::FanInUniform;
  template <class Act>
  using Down = latent::Conv2d<S, Act, Init>;
  template <class Act>
  using Up = latent::ConvTranspose2d<S, Act, Init>;
  template <class Act>
  using Dense = latent::Dense<S, Act, Init>;
  using EncoderBody = latent::Sequential<Down<latent::ReLU>, Down<latent::ReLU>, latent::Flatten<S>, Dense<latent::ReLU>>;
  /// The decoder's layers, with `Output` the last one's activation.
  template <class Output>
  using DecoderBodyTo = latent::Sequential<Dense<latent::ReLU>, Dense<latent::ReLU>, latent::Reshape<S>, Up<latent::ReLU>, Up<Output>>;
  using DecoderBody = DecoderBodyTo<latent::Identity>;
  using Encoder = latent::GaussianEncoder<EncoderBody>;
  using Decoder = latent::Decoder<DecoderBody>;
  using Model = latent::Vae<Encoder, Decoder, latent::Bernoulli>;

  static inline const latent::Kernel half = latent::Kernel(4).stride(2).padding(1);
  static inline const latent::ImageShape grid{64, 7, 7};

  static EncoderBody encoder_body(latent::Rng& rng, latent::Index hidden) {
    return EncoderBody(Down<latent::ReLU>({1, 28, 28}, 32, half, rng), Down<latent::ReLU>({32, 14, 14}, 64, half, rng),
                       latent::Flatten<S>(grid), Dense<latent::ReLU>(grid.size(), hidden, rng));
  }
  template <class Output>
  static DecoderBodyTo<Output> decoder_body(latent::Rng& rng, latent::Index hidden, latent::Index latent) {
    return DecoderBodyTo<Output>(Dense<latent::ReLU>(latent, hidden, rng), Dense<latent::ReLU>(hidden, grid.size(), rng),
                                 latent::Reshape<S>(grid), Up<latent::ReLU>(grid, 32, half, rng),
                                 Up<Output>({32, 14, 14}, 1, half, rng));
  }

  static Model make(latent::Rng& rng, latent::Index hidden = 400, latent::Index latent = 20) {
    EncoderBody encoder = encoder_body(rng, hidden);
    DecoderBody decoder = decoder_body<latent::Identity>(rng, hidden, latent);
    return Model(Encoder(std::move(encoder), latent, rng), Decoder(std::move(decoder)));
  }
};

/// ConvVae's encoder (code `latent` (32) wide); its decoder with a tanh
/// output (images in [-1, 1]); a discriminator Conv2d(1, 32, k4, s2, p1)
/// 14x14 LeakyReLU(0.2) -> Conv2d(32, 64, k4, s2, p1) 7x7 LeakyReLU(0.2),
/// whose 3136 activations are the features that measure the reconstruction
/// error (Larsen et al. take a late convolution's), -> Dense 512
/// LeakyReLU(0.2) -> one score. Biases everywhere, no batch statistics: any
/// GAN loss fits.
struct ConvVaeGan {
  using S = float;
  template <class Act>
  using Down = ConvVae::Down<Act>;
  template <class Act>
  using Up = ConvVae::Up<Act>;
  template <class Act>
  using Dense = ConvVae::Dense<Act>;
  using Encoder = ConvVae::Encoder;
  using Decoder = latent::Decoder<ConvVae::DecoderBodyTo<latent::Tanh>>;
  using Features = latent::Sequential<Down<latent::LeakyReLU>, Down<latent::LeakyReLU>, latent::Flatten<S>>;
  using Head = latent::Sequential<Dense<latent::LeakyReLU>, Dense<latent::Identity>>;
  using Discriminator = latent::FeatureDiscriminator<Features, Head>;
  template <class Loss>
  using Model = latent::VaeGan<Encoder, Decoder, Discriminator, Loss>;

  template <class Loss>
  static Model<Loss> make(latent::Rng& rng, latent::Index latent = 32, latent::Index hidden = 400) {
    const latent::Kernel& half = ConvVae::half;
    const latent::ImageShape& grid = ConvVae::grid;
    ConvVae::EncoderBody encoder = ConvVae::encoder_body(rng, hidden);
    auto decoder = ConvVae::decoder_body<latent::Tanh>(rng, hidden, latent);
    Features features(Down<latent::LeakyReLU>({1, 28, 28}, 32, half, rng), Down<latent::LeakyReLU>({32, 14, 14}, 64, half, rng),
                      latent::Flatten<S>(grid));
    Head head(Dense<latent::LeakyReLU>(grid.size(), 512, rng), Dense<latent::Identity>(512, 1, rng));
    return Model<Loss>(Encoder(std::move(encoder), latent, rng), Decoder(std::move(decoder)),
                       Discriminator(std::move(features), std::move(head)));
  }
};

}  // namespace example
