// latent/train/trainer.hpp: the epoch loop every trainer shares. A concrete
// trainer (VaeTrainer, GanTrainer, VaeGanTrainer) supplies
//   double train_batch(const data::Dataset&, const data::Batch&, RunningMeans&)
//       one training step on the examples `batch` (labels and all) of the
//       data; adds its figures to the means; returns a figure that is NaN or
//       infinite when a loss was (the step then updated nothing)
//   void evaluate_into(const data::Dataset& test, EpochRecord&)
//   void bind_state(Checkpointer&)          its part of a checkpoint
// and, if its GradientSyncs shard updates (Sharding::large_parameters),
//   void gather_sharded_state()             makes whole on every rank the
//       optimizer state that sharded updates split (GradientSync::gather_state)
//   Model& model()                          the model it trains
// and builds its step from the parts in train/step_parts.hpp (a batch's
// images and labels on a tape, a gradient summed over the ranks, one
// network's update, one critic update), so that a new model family writes
// its step, not a loop. This base shuffles batches, reports progress,
// flushes subnormals, checks losses for NaN, keeps the history and calls
// callbacks. Epochs are numbered from 1; a trainer restored from a
// checkpoint after epoch k continues with epoch k + 1, and its history()
// still holds epochs 1..k (they travel in the checkpoint).
//
// Data-parallel training (distribute()): every rank runs this same loop over
// the same global batches; the concrete trainer trains on its rank's slice
// of each (see latent/distributed/data_parallel.hpp). This loop makes the
// ranks start from rank 0's state, checks that they were given the same
// options and still hold the same state after every epoch, reports figures
// averaged over all ranks, and leaves progress and checkpoint files to rank 0.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "latent/data/dataset.hpp"
#include "latent/denormals.hpp"
#include "latent/distributed/data_parallel.hpp"
#include "latent/error.hpp"
#include "latent/nn/module.hpp"
#include "latent/train/checkpointer.hpp"
#include "latent/train/history.hpp"
#include "latent/train/progress.hpp"

namespace latent {

struct FitOptions {
  int epochs = 10;              ///< the total: a resumed trainer runs the epochs after its last one up to this
  Index batch_size = 128;
  std::uint64_t shuffle_seed = 1;
  data::LastBatch last_batch = data::LastBatch::keep;
  Progress::Mode progress = Progress::Mode::automatic;
};

using EpochCallback = std::function<void(const EpochRecord&)>;

template <class Derived>
class EpochTrainer {
 public:
  /// Trains on `train` until epoch options.epochs, evaluating on `test` (may
  /// be empty) after each epoch. Returns the epochs run by this call.
  History fit(const data::Dataset& train, const data::Dataset& test, const FitOptions& options) {
    if (train.empty()) throw error("fit: the training set is empty");
    if (options.batch_size < 1) throw error("fit: the batch size must be at least 1");
    const ScopedFlushDenormals flush_denormals;
    data::BatchSampler sampler(train.size(), options.batch_size, data::Shuffle{options.shuffle_seed}, options.last_batch);
    if (parallel_.distributed()) start_together(train, test, options);
    Progress progress(parallel_.rank() == 0 ? options.progress : Progress::Mode::quiet);
    History history;
    for (int epoch = epochs_done_ + 1; epoch <= options.epochs; ++epoch) {
      const auto start = std::chrono::steady_clock::now();
      auto batches = sampler.epoch(static_cast<std::uint64_t>(epoch));
      progress.start_epoch(epoch, options.epochs, static_cast<long>(batches.size()));
      RunningMeans means;
      long step = 0, samples = 0;
      const double sync_seconds = parallel_.sync_seconds();
      for (const data::Batch& batch : batches) {
        const double loss = self().train_batch(train, batch, means);
        ++steps_done_;
        check_finite_loss(loss, steps_done_, epoch);
        samples += batch.size();
        progress.step(++step, means.mean(Derived::progress_figure), samples);
      }
      EpochRecord record;
      record.epoch = epoch;
      parallel_.global_means(means).write_to(record, "train_");
      if (parallel_.distributed()) {
        make_state_whole();
        parallel_.require_same_state(checkpointer(false).capture().to_bytes(), "after epoch " + std::to_string(epoch));
      }
      const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (!test.empty()) self().evaluate_into(test, record);
      record.set("seconds", train_seconds);
      // Distributed: the milliseconds per step this rank waited for gradient sums after its sweeps.
      if (parallel_.distributed() && step > 0)
        record.set("sync_ms", 1000 * (parallel_.sync_seconds() - sync_seconds) / static_cast<double>(step));
      epochs_done_ = epoch;
      history.add(record);
      history_.add(record);
      progress.end_epoch(summary(record));
      for (const auto& callback : callbacks_) callback(record);
    }
    return history;
  }

  /// The figures of every epoch this trainer has trained, those before the
  /// checkpoint it was restored from included (fit() returns only its own).
  /// Epoch callbacks see it with their epoch already added.
  const History& history() const { return history_; }

  /// Called after every epoch with that epoch's figures (checkpoints, pictures).
  void on_epoch_end(EpochCallback callback) { callbacks_.push_back(std::move(callback)); }

  /// Saves everything a resumed run needs (model, optimizer state, noise
  /// generator, epoch and step, the history), atomically. Distributed, every rank calls it
  /// and rank 0 alone writes; if it fails, every rank throws.
  void save_checkpoint(const std::string& path) {
    make_state_whole();
    parallel_.all_or_none([&] {
      if (parallel_.rank() == 0) checkpointer().save(path);
    });
  }

  /// Restores a checkpoint written by save_checkpoint of a trainer of the same
  /// model; a corrupt file or another model's checkpoint throws and changes nothing.
  /// Distributed, every rank calls it: rank 0 reads the file (the others
  /// need not see it) and sends it to all; if any rank fails, every rank throws.
  void load_checkpoint(const std::string& path) {
    if (!parallel_.distributed()) {
      checkpointer().load(path);
      return;
    }
    const std::vector<std::uint8_t> bytes = parallel_.from_rank_zero([&] { return Checkpoint::load(path).to_bytes(); });
    parallel_.all_or_none([&] { checkpointer().restore(Checkpoint::from_bytes(bytes, "checkpoint " + path + " (read by rank 0)")); });
  }

  /// Makes fit() data-parallel over the ranks of `comm` (an MPI communicator
  /// of latent/distributed/mpi.hpp, say): every rank calls fit() with the
  /// same data and options and trains on its slice of each global batch
  /// (options.batch_size is the global batch), with gradients averaged over
  /// the ranks before every update, so that the parameters follow what one
  /// process would compute. fit(), evaluate(), save_checkpoint() and
  /// load_checkpoint() then are collective: every rank calls them. Layers
  /// that compute over the batch (BatchNorm) then compute over the global
  /// batch (Module::set_batch_group). `comm` must outlive the trainer's use of it.
  void distribute(Communicator& comm) {
    parallel_ = DataParallel(comm);
    auto& model = self().model();
    if constexpr (detail::has_set_batch_group<std::decay_t<decltype(model)>>::value)
      model.set_batch_group(parallel_.communicator());
  }

  /// This process's part in data-parallel training (one process unless distribute()d).
  DataParallel& parallel() { return parallel_; }

  int epochs_done() const { return epochs_done_; }

  /// The running figure the progress bar shows; a trainer whose steps have no
  /// single "loss" (a GAN) names another by declaring its own.
  static constexpr const char* progress_figure = "loss";
  std::int64_t steps_done() const { return steps_done_; }

 protected:
  int epochs_done_ = 0;
  std::int64_t steps_done_ = 0;
  History history_;

 private:
  Derived& self() { return static_cast<Derived&>(*this); }

  template <class T, class = void>
  struct shards_updates : std::false_type {};
  template <class T>
  struct shards_updates<T, std::void_t<decltype(std::declval<T&>().gather_sharded_state())>> : std::true_type {};

  /// Makes the state whole on every rank before it is captured (collective
  /// when distributed: every rank calls it).
  void make_state_whole() {
    if constexpr (shards_updates<Derived>::value)
      if (parallel_.distributed()) self().gather_sharded_state();
  }

  /// Before a distributed fit: the ranks must have the same options and data
  /// sizes; then every rank takes rank 0's state (parameters, optimizer,
  /// noise generator, counters), so that no rank can start apart.
  void start_together(const data::Dataset& train, const data::Dataset& test, const FitOptions& options) {
    parallel_.require_same({{"epochs", std::to_string(options.epochs)},
                            {"batch size", std::to_string(options.batch_size)},
                            {"shuffle seed", std::to_string(options.shuffle_seed)},
                            {"last batch", options.last_batch == data::LastBatch::keep ? "keep" : "drop"},
                            {"training examples", std::to_string(train.size())},
                            {"test examples", std::to_string(test.size())}},
                           "fit");
    make_state_whole();  // after an earlier fit
    const std::vector<std::uint8_t> state = parallel_.from_rank_zero([&] { return checkpointer().capture().to_bytes(); });
    parallel_.all_or_none([&] {
      if (parallel_.rank() != 0) checkpointer().restore(Checkpoint::from_bytes(state, "rank 0's training state"));
    });
  }

  /// The trainer's part of a checkpoint. Without the history, it is what
  /// every rank must hold alike (each rank's history has its own seconds).
  Checkpointer checkpointer(bool with_history = true) {
    Checkpointer state;
    state.add_counter("epoch", epochs_done_).add_counter("step", steps_done_);
    if (with_history) state.add_history("history", history_);
    self().bind_state(state);
    return state;
  }

  static std::string summary(const EpochRecord& record) {
    std::ostringstream os;
    os.precision(4);
    bool first = true;
    for (const auto& entry : record.values) {
      if (entry.first == "seconds") continue;
      os << (first ? "" : " ") << entry.first << " " << entry.second;
      first = false;
    }
    return os.str();
  }

  std::vector<EpochCallback> callbacks_;
  DataParallel parallel_;
};

}  // namespace latent
