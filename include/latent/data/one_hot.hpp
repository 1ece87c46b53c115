// latent/data/one_hot.hpp: class labels as one-hot columns, the form in
// which a conditional model reads them: label k of example j is a 1 in row k
// of column j, zeros elsewhere (classes x batch, a batch's layout).
#pragma once

#include <iterator>
#include <string>

#include "latent/error.hpp"
#include "latent/matrix.hpp"

namespace latent::data {
namespace detail {

/// Column j of `out` becomes the one-hot code of label_of(j), j < count.
template <class Derived, class LabelOf>
void fill_one_hot_columns(const Eigen::MatrixBase<Derived>& destination, Index count, const LabelOf& label_of) {
  auto& out = const_cast<Eigen::MatrixBase<Derived>&>(destination);
  if (out.cols() != count || out.rows() < 1)
    throw shape_error("one_hot: the destination is " + shape_string(out) + "; " + std::to_string(count) +
                      " labels need (classes) x " + std::to_string(count) + " with at least one class");
  const Index classes = out.rows();
  // Checked before writing anything: a bad label leaves the destination as it was.
  for (Index j = 0; j < count; ++j) {
    const auto label = static_cast<long long>(label_of(j));
    if (label < 0 || label >= static_cast<long long>(classes))
      throw error("one_hot: label " + std::to_string(label) + " of example " + std::to_string(j) + " is outside 0.." +
                  std::to_string(classes - 1));
  }
  out.setZero();
  for (Index j = 0; j < count; ++j) out(static_cast<Index>(label_of(j)), j) = 1;
}

}  // namespace detail

/// Writes the one-hot codes of `labels` (any sized range of integers) into
/// `destination`, classes x labels.size(); any writable Eigen expression
/// works (a Matrix, a block, a tape's constant). A label outside
/// 0..classes-1 throws and writes nothing.
template <class Derived, class Labels>
void fill_one_hot(const Eigen::MatrixBase<Derived>& destination, const Labels& labels) {
  const auto first = std::begin(labels);
  detail::fill_one_hot_columns(destination, static_cast<Index>(std::size(labels)),
                               [first](Index j) { return *std::next(first, static_cast<std::ptrdiff_t>(j)); });
}

/// Writes the one-hot codes of the labels of examples `indices` (a Batch, a
/// std::vector<Index>, ...) of `data` (anything with label(i): a Dataset)
/// into `destination`, classes x indices.size(), as fill_one_hot does.
template <class Derived, class Data, class Indices>
void fill_one_hot_labels(const Eigen::MatrixBase<Derived>& destination, const Data& data, const Indices& indices) {
  const auto first = std::begin(indices);
  detail::fill_one_hot_columns(destination, static_cast<Index>(std::size(indices)), [&data, first](Index j) {
    return data.label(static_cast<Index>(*std::next(first, static_cast<std::ptrdiff_t>(j))));
  });
}

/// The one-hot codes of `labels`: a new classes x labels.size() matrix.
template <class S, class Labels>
Matrix<S> one_hot(const Labels& labels, Index classes) {
  if (classes < 1) throw error("one_hot: " + std::to_string(classes) + " classes; at least one is needed");
  Matrix<S> codes(classes, static_cast<Index>(std::size(labels)));
  fill_one_hot(codes, labels);
  return codes;
}

}  // namespace latent::data
