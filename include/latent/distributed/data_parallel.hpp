// latent/distributed/data_parallel.hpp: what a trainer needs to train the
// same model on several processes ("ranks") and get what one process would:
// each rank's slice of a global batch, its columns of the batch's noise,
// figures averaged over all ranks, rank 0's state for everyone, and checks
// that the ranks agree. Without a communicator (the default) every call is
// the single-process case and makes no call to any other process.
//
// The rules that make the numbers independent of the number of ranks:
// every rank draws the same epoch order (same seed) and takes a contiguous
// slice of each global batch; noise is drawn for the whole global batch from
// the stream every rank shares, and each rank keeps its slice's columns; a
// rank's gradient and figures are weighted by its examples (see
// GradientSync), so uneven slices average exactly.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "latent/data/dataset.hpp"
#include "latent/distributed/communicator.hpp"
#include "latent/error.hpp"
#include "latent/matrix.hpp"
#include "latent/train/history.hpp"

namespace latent {

/// One rank's part of a global batch: examples [begin, begin + count) of a
/// batch of `total`.
struct Slice {
  Index begin = 0;
  Index count = 0;
  Index total = 0;

  /// The weight of this rank's mean in the global batch's mean.
  double share() const { return total > 0 ? static_cast<double>(count) / static_cast<double>(total) : 0.0; }
  bool whole() const { return count == total; }
  /// This slice's examples of the global batch.
  data::Batch of(const data::Batch& batch) const { return data::Batch(batch.begin() + begin, count); }
};

class DataParallel {
 public:
  /// One process: no communication at all.
  DataParallel() = default;
  /// The ranks of `comm`; it must outlive this object's use.
  explicit DataParallel(Communicator& comm) : comm_(&comm) {}

  /// True when there are other ranks to talk to.
  bool distributed() const { return comm_ != nullptr && comm_->size() > 1; }
  /// The communicator when distributed(), else nullptr.
  Communicator* communicator() const { return distributed() ? comm_ : nullptr; }
  int rank() const { return comm_ != nullptr ? comm_->rank() : 0; }
  int size() const { return comm_ != nullptr ? comm_->size() : 1; }

  /// This rank's slice of a batch of `total` examples: contiguous, and the
  /// ranks' slice sizes differ by at most one.
  Slice slice(Index total) const {
    const Index r = rank(), p = size();
    const Index begin = total * r / p, end = total * (r + 1) / p;
    return Slice{begin, end - begin, total};
  }

  /// Fills `local` (rows x slice.count) with the slice's columns of what
  /// draw(m) writes into a rows x slice.total matrix m, so that every rank
  /// advances its generator alike and the noise does not depend on the
  /// number of ranks. A draw that takes (local, total columns, first column)
  /// instead (Rng::fill_normal_columns, sample_columns) computes the slice's
  /// columns alone.
  template <class S, class Draw>
  void draw_columns(const Slice& slice, Matrix<S>& local, const Draw& draw) {
    if constexpr (std::is_invocable_v<const Draw&, Matrix<S>&, Index, Index>) {
      local.resize(local.rows(), slice.count);
      draw(local, slice.total, slice.begin);
    } else if (slice.whole()) {
      draw(local);
    } else {
      Matrix<S>& all = std::get<Matrix<S>>(scratch_);
      all.resize(local.rows(), slice.total);
      draw(all);
      local = all.middleCols(slice.begin, slice.count);
    }
  }

  /// Every rank's figures combined (sums and weights added, in rank order,
  /// so every rank gets the same means); `local` itself for one process.
  RunningMeans global_means(const RunningMeans& local) {
    if (!distributed()) return local;
    std::string text;
    char number[64];
    for (const auto& entry : local.sums()) {
      text += entry.name + '\0';
      // Hexadecimal floating point: the exact double, back and forth.
      std::snprintf(number, sizeof number, "%a %a", entry.sum, entry.weight);
      text += std::string(number) + '\0';
    }
    RunningMeans global;
    for (const std::string& rank_text : comm_->all_gather(text)) {
      std::size_t at = 0;
      while (at < rank_text.size()) {
        const std::size_t name_end = rank_text.find('\0', at);
        const std::size_t numbers_end = rank_text.find('\0', name_end + 1);
        const std::string numbers = rank_text.substr(name_end + 1, numbers_end - name_end - 1);
        char* rest = nullptr;
        const double sum = std::strtod(numbers.c_str(), &rest);
        const double weight = std::strtod(rest, nullptr);
        global.add_sum(rank_text.substr(at, name_end - at), sum, weight);
        at = numbers_end + 1;
      }
    }
    return global;
  }

  /// Throws latent::error on every rank alike unless every rank passes the
  /// same settings (see require_same_settings); nothing for one process.
  void require_same(const std::vector<Setting>& settings, const std::string& what) {
    if (distributed()) require_same_settings(*comm_, settings, what);
  }

  /// Runs `task` on every rank; when it throws on some, every rank throws
  /// latent::error naming those ranks and their messages (a rank whose task
  /// threw rethrows its own exception), so that no rank goes on alone into
  /// a collective call that the others will never make.
  void all_or_none(const std::function<void()>& task) {
    if (!distributed()) {
      task();
      return;
    }
    std::exception_ptr failure;
    std::string message;
    try {
      task();
    } catch (const std::exception& e) {
      failure = std::current_exception();
      message = e.what();
      if (message.empty()) message = "failed";
    }
    const std::vector<std::string> outcomes = comm_->all_gather(message);
    if (failure) std::rethrow_exception(failure);
    std::string report;
    for (std::size_t r = 0; r < outcomes.size(); ++r)
      if (!outcomes[r].empty()) report += (report.empty() ? "rank " : "; rank ") + std::to_string(r) + ": " + outcomes[r];
    if (!report.empty()) throw error(report);
  }

  /// Rank 0's make() on every rank (see from_rank_zero); make() itself for one process.
  std::vector<std::uint8_t> from_rank_zero(const std::function<std::vector<std::uint8_t>()>& make) {
    return distributed() ? latent::from_rank_zero(*comm_, make) : make();
  }

  /// Throws latent::error on every rank alike unless every rank's `state`
  /// (a serialized training state) is the same, byte for byte. `when` says
  /// when it was taken ("after epoch 3").
  void require_same_state(const std::vector<std::uint8_t>& state, const std::string& when) {
    if (!distributed()) return;
    // FNV-1a over the bytes: a fingerprint to compare, not a defence against tampering.
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    for (const std::uint8_t byte : state) hash = (hash ^ byte) * 0x100000001b3ULL;
    char text[32];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
    const std::vector<std::string> all = comm_->all_gather(text);
    std::string differing;
    for (std::size_t r = 1; r < all.size(); ++r)
      if (all[r] != all[0]) differing += (differing.empty() ? "" : " ") + std::to_string(r);
    if (differing.empty()) return;
    throw error(when + ", the training state of rank(s) " + differing +
                " differs from rank 0's: the ranks no longer train the same model (were they given different "
                "options, or does the MPI library's sum differ between ranks?)");
  }

  /// Seconds this rank has spent waiting for gradient sums after its
  /// backward sweeps (what the sweeps did not hide); GradientSync adds to it.
  double sync_seconds() const { return sync_seconds_; }
  void add_sync_seconds(double seconds) { sync_seconds_ += seconds; }

 private:
  Communicator* comm_ = nullptr;
  double sync_seconds_ = 0;
  std::tuple<Matrix<float>, Matrix<double>> scratch_;  ///< the global batch's noise, for draw_columns
};

}  // namespace latent
