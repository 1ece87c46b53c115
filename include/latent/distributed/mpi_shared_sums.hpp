// latent/distributed/mpi_shared_sums.hpp: sums between ranks of one machine
// through memory they share (an MPI-3 shared window), the way
// latent::mpi::Communicator sums gradients when all its ranks run on one
// machine. Only latent/distributed/mpi.hpp includes it.
//
// Why not MPI_Iallreduce there: a library's shared-memory transport copies
// every message into its buffers and out again, in fragments, with scratch
// buffers per call, and moves only while its owner calls into MPI. Between two
// ranks of a 2-core Xeon, Open MPI 4.1 summed the VAE's 1.25 MB bucket in
// 0.5 ms, an eighth of a step. Here each rank sums one part of the values,
// reading the other ranks' values where they left them: about three copies of
// the buffer per rank, at memory speed.
//
// The sum numbered s (every rank starts the same sums, of the same sizes, in
// the same order; Communicator's contract) goes in three phases, each ending
// with a counter that the rank publishes in its segment's header:
//   arrive:  the rank copies the parts of its values that the others sum into
//            its segment (the rank's own part stays in its values), then
//            publishes arrived = s;
//   reduce:  once every rank has arrived at s, the rank sums its part over
//            all ranks in rank order (so the result does not depend on which
//            rank computes it: every rank ends with the same bits) into its
//            values and into its segment, and publishes reduced = s;
//   gather:  once every rank has reduced s, the rank copies the other parts
//            of the result from their owners' segments, and publishes
//            finished = s.
// A reduce-scatter (each rank needs only its part of the sums) stops after
// reduce: the rank's values get its part's sums, its segment nothing. A gather
// (each rank's part of the values to all) copies the rank's own part into its
// segment on arrival, reduces nothing, and gathers as a sum does.
// Sums advance in order, only when their owner tests or waits (nothing runs
// in the background). A segment's data area is a ring: a sum placed at its
// start again first waits until every rank has finished every earlier sum, so
// a segment's bytes are never overwritten while another rank reads them.
// Counters are lock-free std::atomic in the shared memory, written by their
// owner only (release) and read by the others (acquire).
#pragma once

#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

#include "latent/error.hpp"
#include "latent/matrix.hpp"

namespace latent::mpi::detail {

class SharedSums {
 public:
  /// A sum's number: the sums a rank started before it, plus one.
  using Ticket = std::uint64_t;

  /// Calls wait_until(done, what) to wait: the communicator's waiting loop,
  /// with its time limit.
  using WaitUntil = std::function<void(const std::function<bool()>& done, const char* what)>;

  /// Shared segments of `capacity` bytes a rank over `comm` (all of whose
  /// ranks must be on this machine), or null when the MPI library cannot
  /// share memory there. Collective: every rank of comm calls it, and all
  /// get segments or all get null.
  static std::unique_ptr<SharedSums> create(MPI_Comm comm, Index capacity, WaitUntil wait_until) {
    std::unique_ptr<SharedSums> sums(new SharedSums(comm, std::move(wait_until)));
    int ok = sums->allocate(capacity) ? 1 : 0;
    int all_ok = 0;
    if (MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS || !all_ok) return nullptr;
    return sums;
  }

  ~SharedSums() {
    if (window_ == MPI_WIN_NULL) return;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return;
    MPI_Win_unlock_all(window_);
    MPI_Win_free(&window_);
  }
  SharedSums(const SharedSums&) = delete;
  SharedSums& operator=(const SharedSums&) = delete;

  /// Whether a sum of `bytes` goes here (else through MPI): the same answer
  /// on every rank for the same size.
  bool fits(Index bytes) const { return bytes <= capacity_; }

  /// What a request leaves in every rank's values: the sums, this rank's
  /// part of them, or every rank's part of the values.
  enum class Kind { sum, reduce_scatter, all_gather };

  /// Starts summing values[0 .. count) over the ranks, or another Kind of
  /// request (the arrive phase).
  template <class S>
  Ticket start(S* values, Index count, Kind kind = Kind::sum) {
    static_assert(std::is_same<S, float>::value || std::is_same<S, double>::value, "SharedSums: floats or doubles");
    const Index bytes = count * Index(sizeof(S));
    const Ticket ticket = ++started_;
    if (next_offset_ + bytes > capacity_) {
      // Back to the ring's start: every rank must be done with what lies there.
      next_offset_ = 0;
      wait_until_([&] {
        advance(ticket - 1);
        return all_reached(kFinished, ticket - 1);
      }, "a sum between the ranks of this machine");
    }
    Sum sum{ticket, values, count, Index(sizeof(S)), next_offset_, Phase::arrived, kind};
    next_offset_ = align(next_offset_ + bytes);
    // A sum leaves the others' parts for them to add; a gather, the rank's own.
    for (int q = 0; q < size_; ++q)
      if ((q == rank_) == (kind == Kind::all_gather))
        std::memcpy(data(rank_, sum) + part_begin(sum, q) * sum.width, values + part_begin(sum, q),
                    static_cast<std::size_t>((part_begin(sum, q + 1) - part_begin(sum, q)) * sum.width));
    publish(kArrived, ticket);
    pending_.push_back(sum);  // reuses its capacity: the queue empties every step
    return ticket;
  }

  /// Advances the sums in flight, oldest first, as far as the other ranks
  /// allow without waiting; true once the sum `ticket` is done.
  bool advance(Ticket ticket) {
    while (oldest_ < pending_.size()) {
      Sum& sum = pending_[oldest_];
      if (sum.phase == Phase::arrived) {
        if (!all_reached(kArrived, sum.ticket)) break;
        if (sum.kind != Kind::all_gather) sum.width == Index(sizeof(float)) ? reduce<float>(sum) : reduce<double>(sum);
        sum.phase = Phase::reduced;
        publish(kReduced, sum.ticket);
      }
      // A reduce-scatter reads no segment after its reduce.
      if (sum.kind != Kind::reduce_scatter) {
        if (!all_reached(kReduced, sum.ticket)) break;
        gather(sum);
      }
      publish(kFinished, sum.ticket);
      if (++oldest_ == pending_.size()) {
        pending_.clear();
        oldest_ = 0;
      }
    }
    return oldest_ == pending_.size() || pending_[oldest_].ticket > ticket;
  }

 private:
  enum class Phase { arrived, reduced };
  struct Sum {
    Ticket ticket;
    void* values;
    Index count;
    Index width;   // bytes a value
    Index offset;  // in the data areas (the same on every rank)
    Phase phase;
    Kind kind;
  };

  // A segment: three counters, a cache line each, then the data area.
  static constexpr int kArrived = 0, kReduced = 1, kFinished = 2;
  static constexpr Index kLine = 64, kHeader = 3 * kLine;
  using Counter = std::atomic<std::uint64_t>;
  static_assert(Counter::is_always_lock_free, "SharedSums needs lock-free 64-bit atomics to share them between processes");

  SharedSums(MPI_Comm comm, WaitUntil wait_until) : comm_(comm), wait_until_(std::move(wait_until)) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }

  bool allocate(Index capacity) {
    capacity_ = capacity;
    void* mine = nullptr;
    MPI_Info info;
    MPI_Info_create(&info);
    MPI_Info_set(info, "alloc_shared_noncontig", "true");  // each segment on its owner's memory
    // A line more than needed: a library may return memory off a line's
    // start (Open MPI does), and the counters want lines of their own.
    const int code = MPI_Win_allocate_shared(static_cast<MPI_Aint>(kLine + kHeader + capacity), 1, info, comm_, &mine, &window_);
    MPI_Info_free(&info);
    if (code != MPI_SUCCESS) {
      window_ = MPI_WIN_NULL;
      return false;
    }
    MPI_Win_set_errhandler(window_, MPI_ERRORS_RETURN);
    // A passive epoch for the whole life of the window: the ranks load and
    // store into it directly, ordered by the counters.
    MPI_Win_lock_all(MPI_MODE_NOCHECK, window_);
    if (mine == nullptr) return false;
    for (int c = 0; c < 3; ++c) new (line_aligned(mine) + c * kLine) Counter(0);
    segments_.assign(static_cast<std::size_t>(size_), nullptr);
    for (int q = 0; q < size_; ++q) {
      MPI_Aint size = 0;
      int unit = 0;
      void* base = nullptr;
      if (MPI_Win_shared_query(window_, q, &size, &unit, &base) != MPI_SUCCESS || base == nullptr) return false;
      // Every process maps a segment at its own address, but at the same
      // offset within a page: the same rounding finds the same bytes.
      segments_[static_cast<std::size_t>(q)] = line_aligned(base);
    }
    // Every rank's counters exist before any rank reads them.
    return MPI_Barrier(comm_) == MPI_SUCCESS;
  }

  static Index align(Index offset) { return (offset + kLine - 1) / kLine * kLine; }
  static char* line_aligned(void* address) {
    const auto at = reinterpret_cast<std::uintptr_t>(address);
    return static_cast<char*>(address) + (align(static_cast<Index>(at % kLine)) - static_cast<Index>(at % kLine));
  }

  Counter& counter(int q, int which) const {
    return *std::launder(reinterpret_cast<Counter*>(segments_[static_cast<std::size_t>(q)] + which * kLine));
  }
  void publish(int which, Ticket ticket) { counter(rank_, which).store(ticket, std::memory_order_release); }
  bool all_reached(int which, Ticket ticket) const {
    for (int q = 0; q < size_; ++q)
      if (counter(q, which).load(std::memory_order_acquire) < ticket) return false;
    return true;
  }

  /// Rank q's share of a sum: values [part_begin(q), part_begin(q + 1)).
  Index part_begin(const Sum& sum, int q) const { return sum.count * q / size_; }
  char* data(int q, const Sum& sum) const { return segments_[static_cast<std::size_t>(q)] + kHeader + sum.offset; }

  /// This rank's part, summed over the ranks in rank order, into the rank's
  /// segment (where its part's values were not copied) and then its values.
  template <class S>
  void reduce(const Sum& sum) {
    const Index begin = part_begin(sum, rank_), length = part_begin(sum, rank_ + 1) - begin;
    S* mine = static_cast<S*>(sum.values) + begin;
    const auto part_of = [&](int q) {
      const S* from = q == rank_ ? mine : reinterpret_cast<const S*>(data(q, sum)) + begin;
      return Eigen::Map<const Vector<S>>(from, length);
    };
    if (sum.kind == Kind::reduce_scatter && size_ == 2) {
      // No other rank reads these sums: straight into the values (one of the
      // two terms, each element read before it is written).
      Eigen::Map<Vector<S>>(mine, length) = part_of(0) + part_of(1);
      return;
    }
    Eigen::Map<Vector<S>> total(reinterpret_cast<S*>(data(rank_, sum)) + begin, length);
    total = part_of(0) + part_of(1);
    for (int q = 2; q < size_; ++q) total += part_of(q);
    Eigen::Map<Vector<S>>(mine, length) = total;
  }

  /// The other ranks' parts of the result, from their segments.
  void gather(const Sum& sum) {
    for (int q = 0; q < size_; ++q) {
      if (q == rank_) continue;
      const Index begin = part_begin(sum, q) * sum.width, end = part_begin(sum, q + 1) * sum.width;
      std::memcpy(static_cast<char*>(sum.values) + begin, data(q, sum) + begin, static_cast<std::size_t>(end - begin));
    }
  }

  MPI_Comm comm_;
  WaitUntil wait_until_;
  int rank_ = 0, size_ = 1;
  MPI_Win window_ = MPI_WIN_NULL;
  Index capacity_ = 0;
  std::vector<char*> segments_;
  Ticket started_ = 0;
  Index next_offset_ = 0;
  std::vector<Sum> pending_;  // the sums in flight from pending_[oldest_] on, oldest first
  std::size_t oldest_ = 0;
};

}  // namespace latent::mpi::detail
