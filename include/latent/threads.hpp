// latent/threads.hpp: the threads latent's ops run on. set_num_threads(n)
// says how many (by default LATENT_NUM_THREADS, else the machine's cores);
// the large matrix products (autodiff/gemm.hpp) with the element-wise work
// that follows them, and the optimizers' updates, are split into one share
// per thread and run on a small pool of latent's own: the calling thread
// plus n - 1 workers, started the first time they are needed.
//
// Why a pool of its own, and not Eigen's parallel GEMM or OpenMP regions:
// - Eigen's threads spin-wait on each other many times within a product;
//   with another process busy on the machine, each wait can last a scheduler
//   time slice, and a training step on two threads ran 15x slower than on one.
//   Here a product is one fork and one join.
// - Between two products of a step, OpenMP's threads either spin without
//   bound (OMP_WAIT_POLICY=ACTIVE) or go to sleep at once (PASSIVE); on a
//   virtual machine, waking a sleeping thread costs tens of microseconds, and
//   a VAE step on two threads took 3.4 ms with PASSIVE against 2.9 with
//   ACTIVE. The pool's workers spin for a bounded time (kSpinWait, longer
//   than the gap between two products of a step) and then sleep.
// - Shares are claimed, not assigned: when a worker is slow to wake (its core
//   busy with another process), the caller runs the shares nobody claimed, so
//   a split degrades to about one thread's speed instead of waiting. Each
//   thread claims its own share first, so that work split as the last job
//   split it (element-wise work after a product, split by the product's
//   rows: part_begin) finds its part in that thread's cache.
// - Workers take on the caller's floating-point mode (denormals.hpp).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "latent/denormals.hpp"
#include "latent/error.hpp"
#include "latent/matrix.hpp"

namespace latent {
namespace detail {

/// The count set by set_num_threads; 0 until then (num_threads() is then the default).
inline int& requested_threads() {
  static int threads = 0;
  return threads;
}

/// Runs shares of a task on the calling thread and a set of workers; see the
/// file's comment for why.
class ThreadPool {
 public:
  /// How long an idle worker spins before it sleeps.
  static constexpr std::chrono::microseconds kSpinWait{500};

  static ThreadPool& instance() {
    static ThreadPool pool;
    return pool;
  }

  ThreadPool() = default;
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  ~ThreadPool() {
    {
      const std::lock_guard<std::mutex> lock(sleep_mutex_);
      stopping_.store(true);
    }
    wake_.notify_all();
    for (std::thread& worker : workers_) worker.join();
  }

  /// Calls task(share) for every share in [0, shares), on this thread and up
  /// to shares - 1 workers, and returns when all calls have returned. The
  /// task must not throw. Calls made from inside a task, or while another
  /// thread's run() is in progress, run their shares on the calling thread.
  template <class Task>
  void run(int shares, const Task& task) {
    std::unique_lock<std::mutex> caller(caller_mutex_, std::defer_lock);
    if (shares <= 1 || in_task() || !caller.try_lock()) {
      for (int share = 0; share < shares; ++share) task(share);
      return;
    }
    const int slots = std::min(shares, kSlots);
    start_workers(slots - 1);
    Job job{&task, &call<Task>, shares, float_control(), {0}};
    job_.store(&job, std::memory_order_relaxed);
    const std::uint32_t tag = ++tag_;
    {
      // Under the sleepers' mutex, so that a worker about to sleep sees the job.
      const std::lock_guard<std::mutex> lock(sleep_mutex_);
      work_.store(word(tag, unused_slots(slots)), std::memory_order_release);
    }
    wake_.notify_all();
    in_task() = true;
    run_slots(tag, 0);
    in_task() = false;
    for (unsigned spins = 1; job.done.load(std::memory_order_acquire) < slots; ++spins) pause(spins);
  }

 private:
  // Shares are claimed in slots, at most kSlots (slot k runs shares k,
  // k + kSlots, ...). Thread k (the caller is thread 0, the k-th worker
  // thread k) claims slot k first: a job that splits the same data as the
  // last one (an optimizer's parameters, a layer's output rows) then finds
  // each part in the cache of the thread that last wrote it. Writing to cache
  // lines that another core holds costs several times a write to one's own
  // (README: Speed). Then each thread claims whatever slot is left, so that a
  // worker slow to wake costs its share, not a wait.
  static constexpr int kSlots = 32;

  struct Job {
    const void* task;
    void (*call)(const void* task, int share);
    int shares;
    unsigned float_control;  // the caller's, for the workers (denormals.hpp)
    std::atomic<int> done;   // slots
  };

  template <class Task>
  static void call(const void* task, int share) noexcept {
    (*static_cast<const Task*>(task))(share);
  }

  // The work word: the job's tag (32 bits) and its slots' claims (a bit per
  // slot; the bits of slots it does not have are set). Claiming a slot is
  // one compare-exchange, which also proves the job is still the tagged one
  // (and alive).
  static std::uint64_t word(std::uint32_t tag, std::uint32_t claimed) {
    return (std::uint64_t(tag) << 32) | std::uint64_t(claimed);
  }
  static std::uint32_t tag_of(std::uint64_t w) { return static_cast<std::uint32_t>(w >> 32); }
  static std::uint32_t claimed_of(std::uint64_t w) { return static_cast<std::uint32_t>(w); }
  // The claim bits of a job of `slots` slots before any is claimed.
  static std::uint32_t unused_slots(int slots) { return slots >= kSlots ? 0 : ~std::uint32_t(0) << slots; }

  static bool& in_task() {
    thread_local bool inside = false;
    return inside;
  }

  // One turn of a spin loop: tells the core that this thread is waiting.
  static void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

  // Spins briefly, then yields the core (to a worker that shares it, or to
  // another process) while a job's last shares finish.
  static void pause(unsigned spins) {
    if (spins % 64 == 0)
      std::this_thread::yield();
    else
      cpu_relax();
  }

  // The slot thread `self` claims next of those not claimed (`free`, not 0):
  // its own if free, else the first free one.
  static int pick_slot(std::uint32_t free, int self) {
    if (self < kSlots && ((free >> self) & 1u)) return self;
    int slot = 0;
    while (((free >> slot) & 1u) == 0) ++slot;
    return slot;
  }

  // Claims and runs slots of job `tag`, as thread `self`, until none is left.
  void run_slots(std::uint32_t tag, int self) {
    std::uint64_t w = work_.load(std::memory_order_acquire);
    while (tag_of(w) == tag && claimed_of(w) != ~std::uint32_t(0)) {
      const int slot = pick_slot(~claimed_of(w), self);
      if (!work_.compare_exchange_weak(w, w | (std::uint64_t(1) << slot), std::memory_order_acq_rel,
                                       std::memory_order_acquire))
        continue;
      // The claimed slot keeps the job from completing, so job_ is this job's.
      Job& job = *job_.load(std::memory_order_relaxed);
      if (self != 0 && float_control() != job.float_control) set_float_control(job.float_control);
      for (int share = slot; share < job.shares; share += kSlots) job.call(job.task, share);
      job.done.fetch_add(1, std::memory_order_release);
      w = work_.load(std::memory_order_acquire);
    }
  }

  void start_workers(int count) {
    while (static_cast<int>(workers_.size()) < count) {
      const int self = static_cast<int>(workers_.size()) + 1;
      workers_.emplace_back([this, self] { work(self); });
    }
  }

  // Worker `self` (1, 2, ...): takes part in the jobs with a free slot from
  // its own on, so that a job of fewer slots than workers stays on the
  // threads that ran the last one like it (the caller runs what is left).
  void work(int self) {
    in_task() = true;
    std::uint32_t seen = tag_.load();
    for (;;) {
      const std::uint32_t tag = wait_for_job(seen);
      if (stopping_.load()) return;
      if (self < kSlots && (~claimed_of(work_.load(std::memory_order_acquire)) >> self) != 0) run_slots(tag, self);
      seen = tag;
    }
  }

  // The tag of the next job after `seen`; spins for kSpinWait, then sleeps.
  std::uint32_t wait_for_job(std::uint32_t seen) {
    const auto spin_until = std::chrono::steady_clock::now() + kSpinWait;
    for (unsigned spins = 1;; ++spins) {
      const std::uint32_t tag = tag_of(work_.load(std::memory_order_acquire));
      if (tag != seen || stopping_.load(std::memory_order_relaxed)) return tag;
      cpu_relax();
      if (spins % 256 == 0 && std::chrono::steady_clock::now() > spin_until) break;
    }
    std::unique_lock<std::mutex> lock(sleep_mutex_);
    wake_.wait(lock, [&] { return tag_of(work_.load()) != seen || stopping_.load(); });
    return tag_of(work_.load(std::memory_order_acquire));
  }

  std::mutex caller_mutex_;  // one run() at a time; others run serially
  std::vector<std::thread> workers_;
  std::atomic<std::uint32_t> tag_{0};
  std::atomic<std::uint64_t> work_{0};
  std::atomic<Job*> job_{nullptr};
  std::atomic<bool> stopping_{false};
  std::mutex sleep_mutex_;
  std::condition_variable wake_;
};

}  // namespace detail

/// The thread count a program gets unless it sets one: LATENT_NUM_THREADS
/// when set (a whole number >= 1; anything else is an error), else the
/// machine's cores as std::thread::hardware_concurrency counts them (1 where
/// it cannot tell), as PyTorch does.
inline int default_num_threads() {
  if (const char* text = std::getenv("LATENT_NUM_THREADS"); text != nullptr && *text != '\0') {
    char* end = nullptr;
    const long n = std::strtol(text, &end, 10);
    if (*end != '\0' || n < 1 || n > 4096)
      throw error(std::string("LATENT_NUM_THREADS=") + text + ": expected a whole number of threads, at least 1");
    return static_cast<int>(n);
  }
  const unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 ? static_cast<int>(cores) : 1;
}

/// Sets the number of threads for latent's products and optimizer updates
/// (n >= 1; smaller means 1) and turns Eigen's own product threading off
/// (Eigen::setNbThreads(1)), for the program's other Eigen products too.
/// Without it, default_num_threads(). On a machine shared with other work,
/// fewer threads than cores can be faster (README: Speed).
inline void set_num_threads(int n) {
  detail::requested_threads() = n < 1 ? 1 : n;
  Eigen::setNbThreads(1);
}

/// The number of threads latent's products and optimizer updates use: the
/// count set by set_num_threads, else default_num_threads() (read once; the
/// first call also turns Eigen's own product threading off, since latent's
/// shares are single-threaded products).
inline int num_threads() {
  const int requested = detail::requested_threads();
  if (requested > 0) return requested;
  static const int fallback = [] {
    const int n = default_num_threads();
    Eigen::setNbThreads(1);
    return n;
  }();
  return fallback;
}

/// Calls task(share) for share = 0 .. shares - 1, on up to `shares` threads
/// (this one and latent's workers), and returns when all are done. For
/// splitting work that latent's ops do; tasks must not throw.
template <class Task>
void run_shares(int shares, const Task& task) {
  detail::ThreadPool::instance().run(shares, task);
}

namespace detail {

/// Threads to split `elements` of element-wise work over: one per 2^15
/// elements (a share worth handing to another thread), at most num_threads().
inline int element_shares(Index elements) {
  return static_cast<int>(std::clamp<Index>(elements >> 15, 1, num_threads()));
}

/// Where part `part` of `parts` of 0 .. length - 1 begins (part == parts: the
/// end): equal parts, their boundaries rounded up to a multiple of `granule`.
/// The one split of rows and columns, so that ops that split the same matrix
/// split it alike, and each thread's part is where it left it (in its cache).
inline Index part_begin(Index length, int part, int parts, Index granule) {
  if (part >= parts) return length;
  return std::min(length, (length * part / parts + granule - 1) / granule * granule);
}

/// Rows of a matrix split in parts of whole cache lines of floats (16 rows),
/// as the products split their results (autodiff/gemm.hpp).
constexpr Index kRowGranule = 16;

/// Threads to split element-wise work over a rows x cols matrix by rows: one
/// per 2^14 elements, at most num_threads(). Work that reads a product's
/// result is split by the product's rows, even where a share is small,
/// because on a single thread half of it would be read from the other
/// core's cache.
inline int row_shares(Index rows, Index cols) {
  return static_cast<int>(std::clamp<Index>(rows * cols >> 14, 1, std::min<Index>(num_threads(), rows / kRowGranule + 1)));
}

/// The sum of rows_sum(begin, count) over parts of the rows of a rows x cols
/// matrix, computed on row_shares(rows, cols) threads (at most 64), each
/// part split as the products split their results; the parts' sums are
/// added in row order.
template <class S, class RowsSum>
S sum_over_row_parts(Index rows, Index cols, const RowsSum& rows_sum) {
  constexpr int kMaxParts = 64;
  const int parts = std::min(row_shares(rows, cols), kMaxParts);
  if (parts == 1) return rows_sum(Index(0), rows);
  S sums[kMaxParts] = {};
  run_shares(parts, [&](int part) {
    const Index begin = part_begin(rows, part, parts, kRowGranule), end = part_begin(rows, part + 1, parts, kRowGranule);
    if (end > begin) sums[part] = rows_sum(begin, end - begin);
  });
  S total = 0;
  for (int part = 0; part < parts; ++part) total += sums[part];
  return total;
}

}  // namespace detail
}  // namespace latent
