// latent/distributed/mpi.hpp: latent's Communicator over MPI, and MPI's
// start and end for a program. Only this header needs an MPI library (link
// the CMake target latent::mpi); no other latent header includes it. It uses
// MPI-3's standard C interface only, so any MPI library serves (Open MPI,
// MPICH, Intel MPI, ...).
//
//   int main(int argc, char** argv) {
//     latent::mpi::Environment mpi(argc, argv);
//     latent::mpi::Communicator world;
//     ...
//     trainer.distribute(world);   // every rank trains its slice of each batch
//     trainer.fit(train, test, options);
//   }
//
// When every rank runs on one machine, sums (and reduce-scatters and gathers)
// of floats and doubles go through memory the ranks share
// (mpi_shared_sums.hpp: each rank sums a part, with no copies through the MPI
// library's buffers), unless LATENT_MPI_SHARED_SUMS=0; across machines, and
// for requests larger than the shared segments, they are MPI_Iallreduce,
// MPI_Ireduce_scatter and MPI_Iallgatherv. Either way every rank ends with
// the same bits.
//
// Every wait has a time limit (LATENT_MPI_TIMEOUT seconds in the
// environment, else 300; 0 waits forever): a rank whose partners stopped
// without the launcher noticing throws latent::error naming itself and what it
// waited for, instead of hanging. A rank that fails should report and call
// Communicator::abort(), which stops every process of the job.
#pragma once

#if !__has_include(<mpi.h>)
#error "latent/distributed/mpi.hpp needs an MPI library (mpi.h): link the CMake target latent::mpi"
#endif

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "latent/distributed/communicator.hpp"
#include "latent/distributed/mpi_shared_sums.hpp"
#include "latent/error.hpp"

namespace latent::mpi {

namespace detail {

inline std::string error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, static_cast<std::size_t>(length));
}

inline void check(int code, const char* call) {
  if (code != MPI_SUCCESS) throw error(std::string("latent::mpi: ") + call + " failed: " + error_text(code));
}

}  // namespace detail

/// MPI for the whole program: initialized here (MPI_THREAD_FUNNELED: only
/// the thread that made this object calls MPI; latent's worker threads never
/// do), finalized when the object goes out of scope. Make one, in main.
class Environment {
 public:
  Environment(int& argc, char**& argv) { start(&argc, &argv); }
  /// Without the command line (MPI reads none of it in practice).
  Environment() { start(nullptr, nullptr); }
  ~Environment() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

 private:
  static void start(int* argc, char*** argv) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized) throw error("latent::mpi::Environment: MPI is already initialized");
    int provided = 0;
    detail::check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  }
};

/// A latent::Communicator over a copy of an MPI communicator (MPI_COMM_WORLD
/// by default), so that latent's calls never mix with the program's own.
class Communicator final : public latent::Communicator {
 public:
  /// The time limit of every wait: LATENT_MPI_TIMEOUT seconds if set, else 300.
  static double default_timeout_seconds() {
    const char* text = std::getenv("LATENT_MPI_TIMEOUT");
    return text != nullptr && *text != '\0' ? std::strtod(text, nullptr) : 300.0;
  }

  explicit Communicator(MPI_Comm parent = MPI_COMM_WORLD, double timeout_seconds = default_timeout_seconds())
      : timeout_seconds_(timeout_seconds) {
    detail::check(MPI_Comm_dup(parent, &comm_), "MPI_Comm_dup");
    // Errors come back as codes, and become exceptions naming the call.
    detail::check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    detail::check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    detail::check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
    MPI_Comm machine;
    detail::check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &machine), "MPI_Comm_split_type");
    MPI_Comm_size(machine, &local_size_);
    MPI_Comm_rank(machine, &local_rank_);
    MPI_Comm_free(&machine);
    share_memory_if_one_machine();
  }

  ~Communicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return;
    shared_sums_.reset();  // collective, like the communicator's end
    MPI_Comm_free(&comm_);
  }
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  /// The ranks on this machine, and this rank's number among them.
  int local_size() const { return local_size_; }
  int local_rank() const { return local_rank_; }
  MPI_Comm handle() const { return comm_; }
  /// Whether sums go through memory shared by the ranks (all on one machine)
  /// rather than through MPI_Iallreduce.
  bool shares_memory() const { return shared_sums_ != nullptr; }

  Request start_sum(float* values, Index count) override { return start_sum_of(values, count, MPI_FLOAT, "a sum of floats"); }
  Request start_sum(double* values, Index count) override { return start_sum_of(values, count, MPI_DOUBLE, "a sum of doubles"); }
  Request start_reduce_scatter(float* values, Index count) override {
    return start_reduce_scatter_of(values, count, MPI_FLOAT, "a sum of floats");
  }
  Request start_reduce_scatter(double* values, Index count) override {
    return start_reduce_scatter_of(values, count, MPI_DOUBLE, "a sum of doubles");
  }
  Request start_all_gather(float* values, Index count) override {
    return start_all_gather_of(values, count, MPI_FLOAT, "a gather of floats");
  }
  Request start_all_gather(double* values, Index count) override {
    return start_all_gather_of(values, count, MPI_DOUBLE, "a gather of doubles");
  }

  /// True once the request is done; a request found done is released (do not wait for it again).
  bool test(Request request) override {
    Slot& slot = slots_.at(static_cast<std::size_t>(request));
    int done = 0;
    if (slot.shared)
      done = shared_sums_->advance(slot.ticket);
    else
      detail::check(MPI_Testall(static_cast<int>(slot.requests.size()), slot.requests.data(), &done, MPI_STATUSES_IGNORE),
                    "MPI_Testall");
    if (!done) return false;
    // MPI's reduce-scatter leaves the rank's part at the values' start.
    if (slot.move_bytes > 0) std::memmove(slot.move_to, slot.move_from, slot.move_bytes);
    slot.busy = false;
    return true;
  }

  void wait(Request request) override {
    wait_until([&] { return test(request); }, slots_.at(static_cast<std::size_t>(request)).what);
  }

  void broadcast(std::vector<std::uint8_t>& bytes) override {
    std::uint64_t size = bytes.size();
    wait(track("the size of a broadcast", [&](MPI_Request* r) { return MPI_Ibcast(&size, 1, MPI_UINT64_T, 0, comm_, r); }));
    if (rank_ != 0) bytes.resize(static_cast<std::size_t>(size));
    for (std::size_t at = 0; at < bytes.size(); at += kChunk) {
      const int count = static_cast<int>(std::min<std::size_t>(kChunk, bytes.size() - at));
      wait(track("a broadcast", [&](MPI_Request* r) { return MPI_Ibcast(bytes.data() + at, count, MPI_BYTE, 0, comm_, r); }));
    }
  }

  std::vector<std::string> all_gather(const std::string& text) override {
    const std::uint64_t mine = text.size();
    std::vector<std::uint64_t> sizes(static_cast<std::size_t>(size_));
    wait(track("an exchange of sizes", [&](MPI_Request* r) {
      return MPI_Iallgather(&mine, 1, MPI_UINT64_T, sizes.data(), 1, MPI_UINT64_T, comm_, r);
    }));
    std::vector<int> counts(sizes.size()), offsets(sizes.size());
    std::uint64_t total = 0;
    for (std::size_t r = 0; r < sizes.size(); ++r) {
      if (sizes[r] > static_cast<std::uint64_t>(INT_MAX) - total) throw error("latent::mpi: all_gather of more than 2 GiB");
      counts[r] = static_cast<int>(sizes[r]);
      offsets[r] = static_cast<int>(total);
      total += sizes[r];
    }
    std::vector<char> all(static_cast<std::size_t>(total));
    wait(track("an exchange of text", [&](MPI_Request* r) {
      return MPI_Iallgatherv(text.data(), static_cast<int>(mine), MPI_CHAR, all.data(), counts.data(), offsets.data(), MPI_CHAR,
                             comm_, r);
    }));
    std::vector<std::string> texts;
    for (std::size_t r = 0; r < sizes.size(); ++r)
      texts.emplace_back(all.data() + offsets[r], static_cast<std::size_t>(counts[r]));
    return texts;
  }

  /// Stops every process of the job, with exit status `code` (MPI_Abort).
  /// Report why first: the launcher's own message names only the rank.
  [[noreturn]] void abort(int code = 1) const {
    MPI_Abort(comm_, code);
    std::abort();  // MPI_Abort does not return; this is for the compiler
  }

 private:
  // MPI counts are ints: longer buffers go in pieces of 2^30 elements.
  static constexpr std::size_t kChunk = std::size_t(1) << 30;

  struct Slot {
    std::vector<MPI_Request> requests;
    const char* what = "";
    bool busy = false;
    bool shared = false;  // a sum through shared memory, numbered `ticket`
    detail::SharedSums::Ticket ticket = 0;
    std::vector<int> counts, offsets;  // the ranks' parts, for MPI's reduce-scatter and gather
    void* move_to = nullptr;           // once done: move_bytes from move_from to move_to
    const void* move_from = nullptr;
    std::size_t move_bytes = 0;
  };

  /// Returns once done() holds; throws latent::error naming this rank and
  /// `what` past the time limit.
  void wait_until(const std::function<bool()>& done, const char* what) const {
    const auto start = std::chrono::steady_clock::now();
    double waited = 0;
    for (unsigned spins = 1;; ++spins) {
      if (done()) return;
      // Spin while the others are a moment away; past a millisecond they are
      // late (their core busy with another process, say): then sleep between
      // tests, so as not to take the core from a rank that shares it.
      if (spins % 256 == 0) waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (waited > 1e-3) std::this_thread::sleep_for(std::chrono::microseconds(50));
      if (spins % 256 == 0 && timeout_seconds_ > 0) {
        if (waited > timeout_seconds_)
          throw error("latent::mpi: rank " + std::to_string(rank_) + " of " + std::to_string(size_) + " waited " +
                      std::to_string(static_cast<long>(waited)) + " s for the other ranks to join " + what +
                      "; one of them may have stopped or hung (LATENT_MPI_TIMEOUT sets the limit in seconds)");
      }
    }
  }

  /// Sets up the shared-memory sums when every rank is on this machine and
  /// no rank's environment says LATENT_MPI_SHARED_SUMS=0 (the ranks agree).
  void share_memory_if_one_machine() {
    if (size_ < 2 || local_size_ != size_) return;
    const char* setting = std::getenv("LATENT_MPI_SHARED_SUMS");
    int wanted = setting != nullptr && std::strcmp(setting, "0") == 0 ? 0 : 1;
    int all_want = 0;
    detail::check(MPI_Allreduce(&wanted, &all_want, 1, MPI_INT, MPI_MIN, comm_), "MPI_Allreduce");
    if (!all_want) return;
    // Enough for a step's gradient sums in flight (larger sums take MPI):
    // 8 MiB a rank, less with many ranks (/dev/shm is often small in containers).
    const Index capacity = std::clamp<Index>((Index(32) << 20) / size_, Index(512) << 10, Index(8) << 20);
    shared_sums_ = detail::SharedSums::create(comm_, capacity, [this](const std::function<bool()>& done, const char* what) {
      wait_until(done, what);
    });
  }

  /// Starts a request of `kind` in the memory the ranks share, if it fits there.
  template <class S>
  bool started_in_shared_memory(Slot& slot, S* values, Index count, detail::SharedSums::Kind kind) {
    if (!shared_sums_ || !shared_sums_->fits(count * Index(sizeof(S)))) return false;
    slot.shared = true;
    slot.ticket = shared_sums_->start(values, count, kind);
    return true;
  }

  template <class S>
  Request start_sum_of(S* values, Index count, MPI_Datatype type, const char* what) {
    const Request request = free_slot(what);
    if (started_in_shared_memory(slots_[static_cast<std::size_t>(request)], values, count, detail::SharedSums::Kind::sum))
      return request;
    for (Index at = 0; at < count; at += static_cast<Index>(kChunk)) {
      const int piece = static_cast<int>(std::min<Index>(static_cast<Index>(kChunk), count - at));
      MPI_Request r;
      detail::check(MPI_Iallreduce(MPI_IN_PLACE, values + at, piece, type, MPI_SUM, comm_, &r), "MPI_Iallreduce");
      slots_[static_cast<std::size_t>(request)].requests.push_back(r);
    }
    return request;
  }

  template <class S>
  Request start_reduce_scatter_of(S* values, Index count, MPI_Datatype type, const char* what) {
    if (count > INT_MAX) return start_sum_of(values, count, type, what);  // all the sums: more than asked
    const Request request = free_slot(what);
    Slot& slot = slots_[static_cast<std::size_t>(request)];
    if (started_in_shared_memory(slot, values, count, detail::SharedSums::Kind::reduce_scatter)) return request;
    set_parts(slot, count);
    slot.move_to = values + part_begin(count, rank_);
    slot.move_from = values;
    slot.move_bytes = static_cast<std::size_t>(slot.counts[static_cast<std::size_t>(rank_)]) * sizeof(S);
    MPI_Request r;
    detail::check(MPI_Ireduce_scatter(MPI_IN_PLACE, values, slot.counts.data(), type, MPI_SUM, comm_, &r), "MPI_Ireduce_scatter");
    slot.requests.push_back(r);
    return request;
  }

  template <class S>
  Request start_all_gather_of(S* values, Index count, MPI_Datatype type, const char* what) {
    if (count > INT_MAX) throw error("latent::mpi: a gather of more than 2^31 - 1 values");
    const Request request = free_slot(what);
    Slot& slot = slots_[static_cast<std::size_t>(request)];
    if (started_in_shared_memory(slot, values, count, detail::SharedSums::Kind::all_gather)) return request;
    set_parts(slot, count);
    MPI_Request r;
    detail::check(MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, values, slot.counts.data(), slot.offsets.data(), type,
                                  comm_, &r),
                  "MPI_Iallgatherv");
    slot.requests.push_back(r);
    return request;
  }

  /// The ranks' parts of `count` values (Communicator::part_begin), as MPI's counts and offsets.
  void set_parts(Slot& slot, Index count) const {
    slot.counts.resize(static_cast<std::size_t>(size_));
    slot.offsets.resize(static_cast<std::size_t>(size_));
    for (int q = 0; q < size_; ++q) {
      slot.offsets[static_cast<std::size_t>(q)] = static_cast<int>(part_begin(count, q));
      slot.counts[static_cast<std::size_t>(q)] = static_cast<int>(part_begin(count, q + 1) - part_begin(count, q));
    }
  }

  template <class Start>
  Request track(const char* what, const Start& start) {
    const Request request = free_slot(what);
    MPI_Request r;
    detail::check(start(&r), what);
    slots_[static_cast<std::size_t>(request)].requests.push_back(r);
    return request;
  }

  /// A slot for a new request; slots are reused, so a steady step allocates nothing.
  Request free_slot(const char* what) {
    std::size_t k = 0;
    while (k < slots_.size() && slots_[k].busy) ++k;
    if (k == slots_.size()) slots_.emplace_back();
    slots_[k].requests.clear();
    slots_[k].what = what;
    slots_[k].busy = true;
    slots_[k].shared = false;
    slots_[k].move_bytes = 0;
    return static_cast<Request>(k);
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  int local_size_ = 1;
  int local_rank_ = 0;
  double timeout_seconds_;
  std::vector<Slot> slots_;
  std::unique_ptr<detail::SharedSums> shared_sums_;
};

}  // namespace latent::mpi
