// latent/train/checkpointer.hpp: one call saves a training run, one call
// resumes it. A Checkpointer binds the objects of a run (models, optimizers,
// Rngs, epoch/step counters, the history of figures) by name once; save(path) then captures them all
// into a Checkpoint (io/checkpoint.hpp, the file format) and writes it
// atomically, and load(path) restores them all, or throws and changes none
// of them: every bound object is checked against the file before any is
// assigned.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "latent/autodiff/parameter.hpp"
#include "latent/error.hpp"
#include "latent/io/checkpoint.hpp"
#include "latent/matrix.hpp"
#include "latent/optim/optimizer.hpp"
#include "latent/random.hpp"
#include "latent/train/history.hpp"

namespace latent {

namespace detail {

inline std::string join_name(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

/// Matrices to save or restore, named relative to a prefix.
template <class S>
using TensorSlots = std::vector<std::pair<std::string, Matrix<S>*>>;

template <class S>
void store_tensors(Checkpoint& checkpoint, const std::string& prefix, const TensorSlots<S>& slots) {
  for (const auto& [name, tensor] : slots) checkpoint.set_tensor(join_name(prefix, name), *tensor);
}

/// The assignment a restore runs once every check of every bound object has passed.
using Commit = std::function<void()>;

/// Checks that `checkpoint` holds, under `prefix`, exactly `slots` (plus
/// `other_names`), each a tensor of the same scalar type and shape; on any
/// mismatch throws a shape_error listing every one (names and both shapes).
/// Changes nothing: returns the assignment.
template <class S>
Commit plan_tensor_restore(const Checkpoint& checkpoint, const std::string& prefix, const TensorSlots<S>& slots,
                           const std::string& owner, const std::vector<std::string>& other_names = {}) {
  std::vector<std::string> problems;
  std::vector<std::pair<Matrix<S>*, const Matrix<S>*>> assignments;
  std::vector<std::string> expected = other_names;
  for (const auto& [name, tensor] : slots) {
    const std::string full = join_name(prefix, name);
    expected.push_back(full);
    const Checkpoint::Value* value = checkpoint.find(full);
    if (value == nullptr) {
      problems.push_back("'" + full + "' (" + shape_string(*tensor) + " in the " + owner + ") is missing from the checkpoint");
      continue;
    }
    const auto* stored = std::get_if<Matrix<S>>(value);
    if (stored == nullptr) {
      problems.push_back("'" + full + "' is " + Checkpoint::kind_name(*value) + " in the checkpoint but tensor<" +
                         checkpoint_format::ScalarTraits<S>::name + "> " + shape_string(*tensor) + " in the " + owner);
    } else if (stored->rows() != tensor->rows() || stored->cols() != tensor->cols()) {
      problems.push_back("'" + full + "' is " + shape_string(*stored) + " in the checkpoint but " + shape_string(*tensor) +
                         " in the " + owner);
    } else {
      assignments.emplace_back(tensor, stored);
    }
  }
  std::sort(expected.begin(), expected.end());
  for (const std::string& name : checkpoint.names_under(prefix)) {
    if (std::binary_search(expected.begin(), expected.end(), name)) continue;
    const Checkpoint::Value* value = checkpoint.find(name);
    const auto* as_float = std::get_if<Matrix<float>>(value);
    const auto* as_double = std::get_if<Matrix<double>>(value);
    const std::string shape = as_float ? shape_string(*as_float) : as_double ? shape_string(*as_double) : Checkpoint::kind_name(*value);
    problems.push_back("'" + name + "' (" + shape + " in the checkpoint) does not exist in the " + owner);
  }
  if (!problems.empty()) {
    std::string message = checkpoint.source() + ": does not fit the " + owner + " '" + prefix + "':";
    for (const std::string& problem : problems) message += "\n  " + problem;
    throw shape_error(message);
  }
  return [assignments = std::move(assignments)] {
    for (const auto& [target, source] : assignments) *target = *source;
  };
}

template <class S>
TensorSlots<S> parameter_slots(const NamedParameterList<S>& parameters) {
  TensorSlots<S> slots;
  for (const auto& entry : parameters) slots.emplace_back(entry.name, &entry.parameter->value);
  return slots;
}

template <class M, class = void>
struct has_buffers : std::false_type {};
template <class M>
struct has_buffers<M, std::void_t<decltype(std::declval<M&>().named_buffers())>> : std::true_type {};

/// A model's parameter values, then its buffers (BatchNorm's running
/// statistics, spectral normalization's estimates) if it has any.
template <class Model>
auto model_slots(Model& model) {
  auto slots = parameter_slots(model.named_parameters());
  if constexpr (has_buffers<Model>::value)
    for (const auto& entry : model.named_buffers()) slots.emplace_back(entry.name, entry.value);
  return slots;
}

template <class S>
TensorSlots<S> optimizer_slots(const std::vector<NamedTensor<S>>& state) {
  TensorSlots<S> slots;
  for (const auto& entry : state) slots.emplace_back(entry.name, entry.tensor);
  return slots;
}

/// The integer called `name`, or an io_error naming the checkpoint and `what` it was for.
inline std::int64_t required_integer(const Checkpoint& checkpoint, const std::string& name, const std::string& what) {
  const Checkpoint::Value* value = checkpoint.find(name);
  if (value == nullptr) throw io_error(checkpoint.source() + ": no integer '" + name + "' (" + what + ")");
  const auto* integer = std::get_if<std::int64_t>(value);
  if (integer == nullptr)
    throw io_error(checkpoint.source() + ": '" + name + "' (" + what + ") is " + Checkpoint::kind_name(*value) + ", not integer");
  return *integer;
}

/// Stores `history` as text "<name>.figures" (each figure's name and a line
/// feed, in History::columns() order) and tensor<double> "<name>.values" (a
/// row per epoch: its number, then each figure, NaN where it has none).
inline void store_history(Checkpoint& checkpoint, const std::string& name, const History& history) {
  const std::vector<std::string> figures = history.columns();
  std::string text;
  for (const std::string& figure : figures) {
    if (figure.find('\n') != std::string::npos)
      throw error("Checkpointer: history '" + name + "' has a figure name with a line feed: '" + figure + "'");
    text += figure + "\n";
  }
  const auto& epochs = history.epochs();
  Matrix<double> values(static_cast<Index>(epochs.size()), static_cast<Index>(figures.size()) + 1);
  for (std::size_t e = 0; e < epochs.size(); ++e) {
    const auto row = static_cast<Index>(e);
    values(row, 0) = epochs[e].epoch;
    for (std::size_t f = 0; f < figures.size(); ++f) values(row, static_cast<Index>(f) + 1) = epochs[e].get(figures[f]);
  }
  checkpoint.set_text(join_name(name, "figures"), std::move(text));
  checkpoint.set_tensor(join_name(name, "values"), values);
}

/// The History that store_history stored under `name`, checked (figures and
/// columns agree, epochs are increasing whole numbers); an empty one if the
/// checkpoint holds neither entry (it was written before histories were saved).
inline History read_history(const Checkpoint& checkpoint, const std::string& name) {
  const std::string figures_name = join_name(name, "figures"), values_name = join_name(name, "values");
  if (!checkpoint.contains(figures_name) && !checkpoint.contains(values_name)) return {};
  const auto fail = [&](const std::string& problem) {
    return io_error(checkpoint.source() + ": history '" + name + "': " + problem);
  };
  const std::string& text = checkpoint.text(figures_name);
  const Matrix<double>& values = checkpoint.tensor<double>(values_name);
  std::vector<std::string> figures;
  for (std::size_t start = 0; start < text.size();) {
    const std::size_t end = text.find('\n', start);
    if (end == std::string::npos) throw fail("the figure names do not end with a line feed");
    figures.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  std::vector<std::string> sorted = figures;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) throw fail("a figure name appears twice");
  if (values.cols() != static_cast<Index>(figures.size()) + 1)
    throw fail(std::to_string(figures.size()) + " figures but " + std::to_string(values.cols()) +
               " columns of values (expected the epoch and one per figure)");
  History history;
  for (Index row = 0; row < values.rows(); ++row) {
    const double epoch = values(row, 0);
    const double previous = history.empty() ? 0 : history.back().epoch;
    if (!(epoch > previous && epoch <= std::numeric_limits<int>::max() && epoch == std::floor(epoch)))
      throw fail("row " + std::to_string(row + 1) + ": the epoch numbers are not whole numbers increasing from 1");
    EpochRecord record;
    record.epoch = static_cast<int>(epoch);
    for (std::size_t f = 0; f < figures.size(); ++f) {
      const double value = values(row, static_cast<Index>(f) + 1);
      if (!std::isnan(value)) record.set(figures[f], value);
    }
    history.add(std::move(record));
  }
  return history;
}

}  // namespace detail

/// Stores every parameter's value as tensor "<prefix>.<parameter name>".
template <class S>
void store_parameters(Checkpoint& checkpoint, const std::string& prefix, const NamedParameterList<S>& parameters) {
  detail::store_tensors(checkpoint, prefix, detail::parameter_slots(parameters));
}

/// Restores every parameter's value from "<prefix>.<parameter name>". The
/// checkpoint must hold exactly these names under prefix, with the same
/// shapes and scalar type; otherwise a shape_error lists each mismatch and no
/// parameter changes.
template <class S>
void restore_parameters(const Checkpoint& checkpoint, const std::string& prefix, const NamedParameterList<S>& parameters) {
  detail::plan_tensor_restore(checkpoint, prefix, detail::parameter_slots(parameters), "model")();
}

/// Binds the objects of a training run by name (models, optimizers, Rngs,
/// counters such as the epoch) so that one call saves them all and one call
/// restores them all. Names must not nest ("generator" and "generator.adam"
/// clash; "generator" and "generator_adam" do not). The bound objects must
/// outlive the Checkpointer.
///
///   latent::Checkpointer state;
///   state.add_model("model", vae).add_optimizer("optimizer", adam, params)
///        .add_rng("rng", rng).add_counter("epoch", epoch);
///   state.save("run/last.ckpt");   // atomic
///   state.load("run/last.ckpt");   // all or nothing
class Checkpointer {
 public:
  /// A model (anything with named_parameters(), and named_buffers() if it
  /// has buffers): tensors "<name>.<parameter or buffer name>", so a resumed
  /// run has the running statistics and power-iteration estimates it left.
  template <class Model>
  Checkpointer& add_model(const std::string& name, Model& model) {
    return bind(name, [&model, name](Checkpoint& c) { detail::store_tensors(c, name, detail::model_slots(model)); },
                [&model, name](const Checkpoint& c) {
                  return detail::plan_tensor_restore(c, name, detail::model_slots(model), "model");
                });
  }

  /// An optimizer (Adam, Sgd) stepping `parameters`: its state tensors
  /// "<name>.<slot>.<index>" and its step count "<name>.steps". Saving and
  /// restoring bind the optimizer to `parameters` (as its first step would).
  /// Hyperparameters (learning rate, ...) belong to the program, not the file.
  template <class Optimizer, class S>
  Checkpointer& add_optimizer(const std::string& name, Optimizer& optimizer, ParameterList<S> parameters) {
    const std::string steps_name = detail::join_name(name, "steps");
    return bind(
        name,
        [&optimizer, parameters, name, steps_name](Checkpoint& c) {
          optimizer.bind(parameters);
          detail::store_tensors(c, name, detail::optimizer_slots(optimizer.state_tensors()));
          c.set_integer(steps_name, optimizer.steps());
        },
        [&optimizer, parameters, name, steps_name](const Checkpoint& c) -> detail::Commit {
          optimizer.bind(parameters);
          auto assign_state =
              detail::plan_tensor_restore(c, name, detail::optimizer_slots(optimizer.state_tensors()), "optimizer", {steps_name});
          const std::int64_t steps = detail::required_integer(c, steps_name, "the optimizer's step count");
          return [&optimizer, assign_state = std::move(assign_state), steps] {
            assign_state();
            optimizer.set_steps(steps);
          };
        });
  }

  /// An Rng: its whole state as words "<name>", so the resumed run draws the same numbers.
  Checkpointer& add_rng(const std::string& name, Rng& rng) {
    return bind(name,
                [&rng, name](Checkpoint& c) {
                  const Rng::State state = rng.state();
                  c.set_words(name, {state.begin(), state.end()});
                },
                [&rng, name](const Checkpoint& c) -> detail::Commit {
                  const std::vector<std::uint64_t>& words = c.words(name);
                  Rng::State state{};
                  if (words.size() != state.size())
                    throw io_error(c.source() + ": Rng state '" + name + "' has " + std::to_string(words.size()) + " words, expected " +
                                   std::to_string(state.size()));
                  std::copy(words.begin(), words.end(), state.begin());
                  return [&rng, state] { rng.set_state(state); };
                });
  }

  /// An integer counter (epoch, step, ...) as integer "<name>".
  template <class Int>
  Checkpointer& add_counter(const std::string& name, Int& counter) {
    static_assert(std::is_integral<Int>::value && !std::is_same<Int, bool>::value,
                  "Checkpointer::add_counter: counters are integers");
    return bind(name,
                [&counter, name](Checkpoint& c) {
                  if (!fits<std::int64_t>(counter))
                    throw error("Checkpointer: counter '" + name + "' = " + std::to_string(counter) + " does not fit in int64");
                  c.set_integer(name, static_cast<std::int64_t>(counter));
                },
                [&counter, name](const Checkpoint& c) -> detail::Commit {
                  const std::int64_t value = detail::required_integer(c, name, "a counter");
                  if (!fits<Int>(value))
                    throw io_error(c.source() + ": counter '" + name + "' = " + std::to_string(value) + " does not fit its variable");
                  return [&counter, value] { counter = static_cast<Int>(value); };
                });
  }

  /// A History (the figures of every epoch so far), so that a resumed run
  /// keeps the epochs before its checkpoint: text "<name>.figures" and
  /// tensor<double> "<name>.values" (see detail::store_history). A checkpoint
  /// that holds neither (one written before histories were saved) restores
  /// an empty history.
  Checkpointer& add_history(const std::string& name, History& history) {
    return bind(name, [&history, name](Checkpoint& c) { detail::store_history(c, name, history); },
                [&history, name](const Checkpoint& c) -> detail::Commit {
                  return [&history, restored = detail::read_history(c, name)] { history = restored; };
                });
  }

  /// Every bound object's state, in a new Checkpoint (add more entries before saving if useful).
  Checkpoint capture() const {
    Checkpoint checkpoint;
    for (const auto& binding : bindings_) binding.store(checkpoint);
    return checkpoint;
  }

  /// Restores every bound object from `checkpoint`: all of them are checked
  /// first, then all are assigned, so on an error nothing changes (beyond
  /// binding an unbound optimizer to its parameters). Entries of the
  /// checkpoint under no bound name are ignored.
  void restore(const Checkpoint& checkpoint) const {
    std::vector<detail::Commit> commits;
    commits.reserve(bindings_.size());
    for (const auto& binding : bindings_) commits.push_back(binding.plan(checkpoint));
    for (const auto& commit : commits) commit();
  }

  /// capture() then Checkpoint::save: atomic.
  void save(const std::string& path) const { capture().save(path); }
  /// Checkpoint::load then restore(): all or nothing.
  void load(const std::string& path) const { restore(Checkpoint::load(path)); }

 private:
  struct Binding {
    std::string name;
    std::function<void(Checkpoint&)> store;
    std::function<detail::Commit(const Checkpoint&)> plan;
  };

  template <class Store, class Plan>
  Checkpointer& bind(const std::string& name, Store store, Plan plan) {
    if (name.empty()) throw error("Checkpointer: a bound object needs a name");
    auto nests_in = [](const std::string& inner, const std::string& outer) {
      return inner.size() > outer.size() && inner.compare(0, outer.size(), outer) == 0 && inner[outer.size()] == '.';
    };
    for (const auto& binding : bindings_)
      if (binding.name == name || nests_in(name, binding.name) || nests_in(binding.name, name))
        throw error("Checkpointer: the name '" + name + "' clashes with the bound name '" + binding.name + "'");
    bindings_.push_back({name, std::move(store), std::move(plan)});
    return *this;
  }

  template <class To, class From>
  static bool fits(From value) {
    if constexpr (std::is_signed<From>::value == std::is_signed<To>::value) {
      return value >= std::numeric_limits<To>::min() && value <= std::numeric_limits<To>::max();
    } else if constexpr (std::is_signed<From>::value) {
      return value >= 0 && static_cast<std::make_unsigned_t<From>>(value) <= std::numeric_limits<To>::max();
    } else {
      return value <= static_cast<std::make_unsigned_t<To>>(std::numeric_limits<To>::max());
    }
  }

  std::vector<Binding> bindings_;
};

}  // namespace latent
