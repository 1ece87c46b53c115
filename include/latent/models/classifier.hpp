// latent/models/classifier.hpp: an image classifier trained with latent
// itself: a body (any layer stack), then a linear head to class logits,
// trained with softmax cross-entropy. Its body's output is the feature space
// in which metrics/fid.hpp compares generated and real images, and its
// predictions feed the class histograms of metrics/classify.hpp.
#pragma once

#include <utility>
#include <vector>

#include "latent/concepts.hpp"
#include "latent/nn/dense.hpp"
#include "latent/nn/module.hpp"
#include "latent/random.hpp"

namespace latent {

/// features -> body -> hidden features -> Dense -> class logits (classes x batch).
template <class Body>
class Classifier : public Module<Classifier<Body>, contract::scalar_of_t<Body>> {
  static_assert(contract::Layer<Body>::ok);
  static_assert(!contract::ends_linear<Body>::value,
                "Classifier: the body's last layer is linear (an Mlp ends in Identity unless told otherwise) and the "
                "head is linear too; name the body's activation: Mlp<S, Hidden, Hidden>");

 public:
  using Scalar = contract::scalar_of_t<Body>;

  Classifier(Body body, Index classes, Rng& rng) : body_(std::move(body)), head_(body_.out_features(), classes, rng) {}
  /// Builds the body from its sizes ({784, 512, 256}: image -> hidden features).
  Classifier(const std::vector<Index>& body_sizes, Index classes, Rng& rng) : Classifier(Body(body_sizes, rng), classes, rng) {}

  /// Class logits, classes x batch.
  Var<Scalar> operator()(Var<Scalar> x) { return head_(body_(x)); }
  /// The penultimate layer: the features the FID compares.
  Var<Scalar> features(Var<Scalar> x) { return body_(x); }
  /// Logits from features(x).
  Var<Scalar> head(Var<Scalar> features) { return head_(features); }

  Index in_features() const { return body_.in_features(); }
  Index feature_dim() const { return body_.out_features(); }
  Index classes() const { return head_.out_features(); }

  template <class Visit>
  void for_each_child(Visit&& visit) {
    visit("body", body_);
    visit("head", head_);
  }

 private:
  Body body_;
  Dense<Scalar> head_;
};

}  // namespace latent
