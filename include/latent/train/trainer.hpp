// latent/train/trainer.hpp: the epoch loop every trainer shares. A concrete
// trainer (VaeTrainer, GanTrainer) supplies train_batch(), evaluate_into()
// and bind_state() (its part of a checkpoint); this base shuffles batches, reports progress, flushes
// subnormals, checks losses for NaN, keeps the history and calls callbacks.
// Epochs are numbered from 1; a trainer restored from a checkpoint after
// epoch k continues with epoch k + 1.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "latent/data/dataset.hpp"
#include "latent/denormals.hpp"
#include "latent/error.hpp"
#include "latent/io/checkpoint.hpp"
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
    Progress progress(options.progress);
    History history;
    for (int epoch = epochs_done_ + 1; epoch <= options.epochs; ++epoch) {
      const auto start = std::chrono::steady_clock::now();
      auto batches = sampler.epoch(static_cast<std::uint64_t>(epoch));
      progress.start_epoch(epoch, options.epochs, static_cast<long>(batches.size()));
      RunningMeans means;
      long step = 0, samples = 0;
      for (const data::Batch& batch : batches) {
        const double loss = self().train_batch(train, batch, means);
        ++steps_done_;
        if (!std::isfinite(loss))
          throw numeric_error("training diverged: the loss is " + std::to_string(loss) + " at step " +
                              std::to_string(steps_done_) + " (epoch " + std::to_string(epoch) +
                              "); the parameters were not updated by that step");
        samples += batch.size();
        progress.step(++step, means.mean(Derived::progress_figure), samples);
      }
      EpochRecord record;
      record.epoch = epoch;
      means.write_to(record, "train_");
      const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (!test.empty()) self().evaluate_into(test, record);
      record.set("seconds", train_seconds);
      epochs_done_ = epoch;
      history.add(record);
      progress.end_epoch(summary(record));
      for (const auto& callback : callbacks_) callback(record);
    }
    return history;
  }

  /// Called after every epoch with that epoch's figures (checkpoints, pictures).
  void on_epoch_end(EpochCallback callback) { callbacks_.push_back(std::move(callback)); }

  /// Saves everything a resumed run needs (model, optimizer state, noise
  /// generator, epoch and step), atomically.
  void save_checkpoint(const std::string& path) { checkpointer().save(path); }

  /// Restores a checkpoint written by save_checkpoint of a trainer of the same
  /// model; a corrupt file or another model's checkpoint throws and changes nothing.
  void load_checkpoint(const std::string& path) { checkpointer().load(path); }

  int epochs_done() const { return epochs_done_; }

  /// The running figure the progress bar shows; a trainer whose steps have no
  /// single "loss" (a GAN) names another by declaring its own.
  static constexpr const char* progress_figure = "loss";
  std::int64_t steps_done() const { return steps_done_; }

 protected:
  int epochs_done_ = 0;
  std::int64_t steps_done_ = 0;

 private:
  Derived& self() { return static_cast<Derived&>(*this); }

  Checkpointer checkpointer() {
    Checkpointer state;
    state.add_counter("epoch", epochs_done_).add_counter("step", steps_done_);
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
};

}  // namespace latent
