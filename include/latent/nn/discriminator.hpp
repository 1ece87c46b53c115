// latent/nn/discriminator.hpp: the discriminator (or critic) of a GAN: a body
// (any layer stack) mapping images (features x batch) to one raw score per
// image (1 x batch): a logit for the BCE losses, a critic value for the
// Wasserstein and hinge losses. The loss policy reads it (models/gan_loss.hpp).
// FeatureDiscriminator splits the network in two, hidden features and a
// head scoring them, for models that measure distances in those features (a
// VAE-GAN's reconstruction error, Larsen et al. 2016).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "latent/autodiff/jvp.hpp"
#include "latent/error.hpp"
#include "latent/nn/body.hpp"
#include "latent/nn/dense.hpp"
#include "latent/random.hpp"

namespace latent {

namespace detail {

/// Throws shape_error, naming the critic `model`, unless `head` reads what
/// `features` writes and ends in one score per image.
template <class Features, class Head>
void check_score_head(const char* model, const Features& features, const Head& head) {
  if (head.in_features() != features.out_features())
    throw shape_error(std::string(model) + ": the features are " + std::to_string(features.out_features()) +
                      " wide but the head reads " + std::to_string(head.in_features()));
  if (head.out_features() != 1)
    throw shape_error(std::string(model) + ": the head must end in one output (a score per image), it has " +
                      std::to_string(head.out_features()));
}

}  // namespace detail

template <class Body>
class Discriminator : public WithBody<Discriminator<Body>, Body> {
  using Base = WithBody<Discriminator<Body>, Body>;
  using Base::body_;

 public:
  using Scalar = contract::scalar_of_t<Body>;

  explicit Discriminator(Body body) : Base(std::move(body)) { check_single_output(); }
  /// Builds the body from its sizes ({784, 512, 256, 1}: image -> hidden -> score).
  Discriminator(const std::vector<Index>& sizes, Rng& rng) : Base(sizes, rng) { check_single_output(); }

  /// One score per column of x: 1 x batch.
  Var<Scalar> operator()(Var<Scalar> x) { return body_(x); }
  /// The scores and their directional derivative along x's tangent (for
  /// gradient penalties: models/gradient_penalty.hpp).
  Dual<Scalar> jvp(const Dual<Scalar>& x) { return body_.jvp(x); }

  Index in_features() const { return body_.in_features(); }

 private:
  void check_single_output() const {
    if (body_.out_features() != 1)
      throw shape_error("Discriminator: the body must end in one output (a score per image), it has " +
                        std::to_string(body_.out_features()));
  }
};

/// score(x) = head(features(x)): Features maps images to hidden features
/// (features x batch), Head maps those to one score per image.
template <class Features, class Head = Dense<typename Features::Scalar>>
class FeatureDiscriminator : public Module<FeatureDiscriminator<Features, Head>, typename Features::Scalar> {
 public:
  using Scalar = typename Features::Scalar;

  FeatureDiscriminator(Features features, Head head) : features_(std::move(features)), head_(std::move(head)) {
    detail::check_score_head("FeatureDiscriminator", features_, head_);
  }
  /// Builds the features from their sizes ({784, 512, 256}: image -> hidden
  /// features) and a head from the last size to one score.
  FeatureDiscriminator(const std::vector<Index>& feature_sizes, Rng& rng)
      : FeatureDiscriminator(Features(feature_sizes, rng), Head(feature_sizes.back(), 1, rng)) {}

  /// One score per column of x: 1 x batch.
  Var<Scalar> operator()(Var<Scalar> x) { return head_(features_(x)); }
  /// The hidden features of x: feature_dim() x batch.
  Var<Scalar> features(Var<Scalar> x) { return features_(x); }
  /// Scores of hidden features.
  Var<Scalar> head(Var<Scalar> features) { return head_(features); }
  /// The scores and their directional derivative along x's tangent.
  Dual<Scalar> jvp(const Dual<Scalar>& x) { return head_.jvp(features_.jvp(x)); }

  Index in_features() const { return features_.in_features(); }
  Index feature_dim() const { return features_.out_features(); }

  template <class Visit>
  void for_each_child(Visit&& visit) {
    visit("features", features_);
    visit("head", head_);
  }

 private:
  Features features_;
  Head head_;
};

}  // namespace latent
