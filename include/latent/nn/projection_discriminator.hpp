// latent/nn/projection_discriminator.hpp: the projection discriminator of a
// conditional GAN (Miyato & Koyama 2018, "cGANs with Projection
// Discriminator"). It reads what every conditional critic reads, the images
// with their one-hot labels stacked below them ([x; y], models/condition.hpp),
// but it does not feed the labels to its first layer: it scores
//
//   D(x, y) = head(h) + <E y, h>,   h = features(x),
//
// E (features x classes) holding one learned vector per class. The label
// then decides the score through an inner product with the image's
// features, not through one layer's worth of weights among 784 pixels': a
// sample of the wrong class scores low however real it looks, and the
// generator has to draw the class it was asked for.
#pragma once

#include <string>
#include <utility>

#include "latent/autodiff/concat.hpp"
#include "latent/autodiff/jvp.hpp"
#include "latent/autodiff/reduction.hpp"
#include "latent/error.hpp"
#include "latent/nn/dense.hpp"
#include "latent/nn/discriminator.hpp"
#include "latent/nn/init.hpp"
#include "latent/nn/module.hpp"
#include "latent/random.hpp"

namespace latent {

template <class Features, class Head = Dense<typename Features::Scalar>, class Init = GlorotUniform>
class ProjectionDiscriminator : public Module<ProjectionDiscriminator<Features, Head, Init>, typename Features::Scalar> {
  using Base = Module<ProjectionDiscriminator<Features, Head, Init>, typename Features::Scalar>;

 public:
  using Scalar = typename Features::Scalar;

  /// features: images -> hidden features; head: those features -> one score;
  /// `classes` one-hot rows follow the images in every input.
  ProjectionDiscriminator(Features features, Head head, Index classes, Rng& rng, Init init = {})
      : features_(std::move(features)), head_(std::move(head)), embedding_(features_.out_features(), checked(classes)) {
    detail::check_score_head("ProjectionDiscriminator", features_, head_);
    init(embedding_.value, rng);
  }

  /// Scores of images with their labels below them ([x; y], in_features() x
  /// batch): 1 x batch.
  Var<Scalar> operator()(Var<Scalar> input) {
    check_input(input);
    Var<Scalar> h = features_(slice_rows(input, 0, image_features()));
    return add(head_(h), column_dot(embed(input), h));
  }

  /// The scores and their derivative along the input's tangent (a gradient
  /// penalty's; the labels' rows of the tangent are zero there, but any
  /// tangent is carried).
  Dual<Scalar> jvp(const Dual<Scalar>& input) {
    check_input(input.value);
    const Index images = image_features();
    const Dual<Scalar> h = features_.jvp({slice_rows(input.value, 0, images), slice_rows(input.tangent, 0, images)});
    const Dual<Scalar> score = head_.jvp(h);
    Var<Scalar> class_vectors = embed(input.value);
    Var<Scalar> class_tangents = embed(input.tangent);
    return {add(score.value, column_dot(class_vectors, h.value)),
            add(score.tangent, add(column_dot(class_tangents, h.value), column_dot(class_vectors, h.tangent)))};
  }

  /// The hidden features of images alone (no label rows): feature_dim() x batch.
  Var<Scalar> features(Var<Scalar> images) { return features_(images); }
  /// The label-blind part of the score, head(h), of hidden features.
  Var<Scalar> head(Var<Scalar> features) { return head_(features); }

  Index in_features() const { return image_features() + classes(); }
  Index out_features() const { return 1; }
  Index classes() const { return embedding_.value.cols(); }
  Index feature_dim() const { return features_.out_features(); }

  NamedParameterList<Scalar> named_parameters() {
    NamedParameterList<Scalar> named = Base::named_parameters();
    named.push_back({"embedding", &embedding_});
    return named;
  }

  template <class Visit>
  void for_each_child(Visit&& visit) {
    visit("features", features_);
    visit("head", head_);
  }

 private:
  static Index checked(Index classes) {
    if (classes <= 0)
      throw shape_error("ProjectionDiscriminator: a projection needs classes to project on, got " + std::to_string(classes));
    return classes;
  }

  Index image_features() const { return features_.in_features(); }

  /// E y: each example's class vector (features x batch).
  Var<Scalar> embed(Var<Scalar> input) {
    return matmul(input.tape().leaf(embedding_), slice_rows(input, image_features(), classes()));
  }

  void check_input(const Var<Scalar>& input) const {
    if (input.rows() != in_features())
      throw shape_error("ProjectionDiscriminator: the input is " + shape_string(input.value()) + ", expected " +
                        std::to_string(image_features()) + " image features + " + std::to_string(classes()) +
                        " one-hot label rows (" + std::to_string(in_features()) + " rows)");
  }

  Features features_;
  Head head_;
  Parameter<Scalar> embedding_;
};

}  // namespace latent
