// latent/autodiff/gradcheck.hpp: checks a tape's gradients against central
// finite differences in double precision. Every op and layer in latent has a
// test that runs it; users can run it on their own ops and layers.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "latent/autodiff/tape.hpp"

namespace latent {

struct GradcheckOptions {
  double step = 1e-6;        ///< finite-difference step h
  double abs_tolerance = 1e-6;
  double rel_tolerance = 1e-4;  ///< of max(|analytic|, |numeric|): a factor 2 or a transpose fails
};

struct GradcheckResult {
  bool passed = true;
  double max_abs_error = 0;
  Index checked = 0;   ///< number of scalars compared
  std::string report;  ///< the worst mismatch, when one failed

  explicit operator bool() const { return passed; }
};

/// Compares d f / d p, from backward, with (f(p + h) - f(p - h)) / 2h for every
/// scalar of every parameter. f records a 1x1 loss on the tape it is given.
template <class F>
GradcheckResult gradcheck(F&& f, const ParameterList<double>& params, const GradcheckOptions& options = {}) {
  Tape<double> tape;
  for (auto* p : params) p->zero_grad();
  tape.backward(f(tape));
  std::vector<Matrix<double>> analytic;
  for (auto* p : params) analytic.push_back(p->grad);

  const auto evaluate = [&] {
    tape.reset();
    return f(tape).item();
  };
  GradcheckResult result;
  double worst_excess = 0;
  for (std::size_t k = 0; k < params.size(); ++k) {
    Matrix<double>& value = params[k]->value;
    for (Index j = 0; j < value.cols(); ++j) {
      for (Index i = 0; i < value.rows(); ++i) {
        const double saved = value(i, j);
        value(i, j) = saved + options.step;
        const double plus = evaluate();
        value(i, j) = saved - options.step;
        const double minus = evaluate();
        value(i, j) = saved;
        const double numeric = (plus - minus) / (2 * options.step);
        const double exact = analytic[k](i, j);
        const double error = std::abs(numeric - exact);
        const double allowed = options.abs_tolerance + options.rel_tolerance * std::max(std::abs(numeric), std::abs(exact));
        ++result.checked;
        result.max_abs_error = std::max(result.max_abs_error, error);
        if (error > allowed && error - allowed > worst_excess) {
          worst_excess = error - allowed;
          result.passed = false;
          std::ostringstream os;
          os << "input " << k << " entry (" << i << ", " << j << "): backward " << exact << ", finite difference "
             << numeric << ", |error| " << error << " > " << allowed;
          result.report = os.str();
        }
      }
    }
  }
  return result;
}

/// The same for a function of plain inputs: f(tape, vars) -> 1x1 Var, where
/// vars are the inputs recorded as variables.
template <class F>
GradcheckResult gradcheck(F&& f, const std::vector<Matrix<double>>& inputs, const GradcheckOptions& options = {}) {
  std::vector<Parameter<double>> storage;
  storage.reserve(inputs.size());
  ParameterList<double> params;
  for (const auto& input : inputs) {
    storage.emplace_back(input);
    params.push_back(&storage.back());
  }
  std::vector<Var<double>> vars;
  return gradcheck(
      [&](Tape<double>& tape) {
        vars.clear();
        for (auto& p : storage) vars.push_back(tape.leaf(p));
        return f(tape, static_cast<const std::vector<Var<double>>&>(vars));
      },
      params, options);
}

}  // namespace latent
