// latent/models/condition.hpp: conditional models. A conditional model
// reads, with each batch, the batch's labels as one-hot columns (classes x
// batch, data/one_hot.hpp), stacked below the inputs of the networks that
// see them (concat): a conditional VAE's encoder reads [x; y] and its
// decoder [z; y], a conditional GAN's generator [z; y] and its critic
// [x; y]. Conditioning{classes} makes a model conditional; 0 classes (the
// default) is an unconditional model, whose networks read their inputs alone
// and whose condition is an invalid (default-constructed) Var.
#pragma once

#include <string>
#include <vector>

#include "latent/autodiff/concat.hpp"
#include "latent/data/one_hot.hpp"
#include "latent/error.hpp"

namespace latent {

/// How many classes a model is conditioned on; 0: unconditional.
struct Conditioning {
  Index classes = 0;
};

namespace detail {

/// [x; condition], or x alone for an invalid condition. A condition recorded
/// on another tape (a penalty's scratch tape records the critic again) is
/// copied onto x's tape as a constant.
template <class S>
Var<S> with_condition(Var<S> x, Var<S> condition) {
  if (!condition.valid()) return x;
  if (&condition.tape() != &x.tape()) condition = x.tape().constant(condition.value());
  return concat(x, condition);
}

/// Checks a condition against a model conditioned on `classes` classes and a
/// batch of `batch` columns; `who` names the model's method.
template <class S>
void check_condition(const char* who, Index classes, Index batch, const Var<S>& condition) {
  if (classes == 0) {
    if (condition.valid())
      throw error(std::string(who) + ": the model is unconditional but a condition (" + shape_string(condition.value()) +
                  ") was given");
    return;
  }
  if (!condition.valid())
    throw error(std::string(who) + ": the model is conditioned on " + std::to_string(classes) +
                " classes; give the batch's labels (one-hot, " + shape_string(classes, batch) + ")");
  if (condition.rows() != classes || condition.cols() != batch)
    throw shape_error(std::string(who) + ": the condition is " + shape_string(condition.value()) + ", expected " +
                      shape_string(classes, batch) + " (one-hot labels of the batch)");
}

/// The one-hot matrix of `labels` for a model of `classes` classes (checked).
template <class S>
Matrix<S> condition_matrix(const char* who, Index classes, const std::vector<int>& labels) {
  if (classes == 0) throw error(std::string(who) + ": the model is unconditional; it takes no labels");
  return data::one_hot<S>(labels, classes);
}

}  // namespace detail
}  // namespace latent
