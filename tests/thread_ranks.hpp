// A Communicator whose ranks are threads of one process: data-parallel
// training tested without MPI (and under the sanitizers). Sums add the ranks'
// values in rank order, so every rank gets the same bits, as MPI's do.
#pragma once

#include <latent/distributed/communicator.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace test {

class ThreadRanks {
 public:
  /// One rank of the group: a latent::Communicator for one thread.
  class Rank final : public latent::Communicator {
   public:
    Rank(ThreadRanks& group, int rank) : group_(group), rank_(rank) {}
    int rank() const override { return rank_; }
    int size() const override { return group_.size_; }
    Request start_sum(float* values, latent::Index count) override { return sum_now(values, count); }
    Request start_sum(double* values, latent::Index count) override { return sum_now(values, count); }
    // Leaves NaN outside the rank's part, so that a test sees any use of it.
    Request start_reduce_scatter(float* values, latent::Index count) override { return sum_now(values, count, true); }
    Request start_reduce_scatter(double* values, latent::Index count) override { return sum_now(values, count, true); }
    Request start_all_gather(float* values, latent::Index count) override { return gather_now(values, count); }
    Request start_all_gather(double* values, latent::Index count) override { return gather_now(values, count); }
    bool test(Request) override { return true; }
    void wait(Request) override {}
    void broadcast(std::vector<std::uint8_t>& bytes) override {
      if (rank_ == 0) group_.pointers_[0] = &bytes;
      group_.barrier();
      if (rank_ != 0) bytes = *static_cast<const std::vector<std::uint8_t>*>(group_.pointers_[0]);
      group_.barrier();
    }
    std::vector<std::string> all_gather(const std::string& text) override {
      group_.texts_[static_cast<std::size_t>(rank_)] = text;
      group_.barrier();
      std::vector<std::string> all = group_.texts_;
      group_.barrier();
      return all;
    }
    /// The sums (reduce-scatters included) and gathers this rank has made.
    int sums() const { return sums_; }
    int gathers() const { return gathers_; }

   private:
    // Sums at once: every rank starts the same sums in the same order.
    template <class S>
    Request sum_now(S* values, latent::Index count, bool own_part_only = false) {
      group_.pointers_[static_cast<std::size_t>(rank_)] = values;
      group_.barrier();
      std::vector<S> total(static_cast<std::size_t>(count), S(0));
      for (int r = 0; r < group_.size_; ++r) {
        const S* other = static_cast<const S*>(group_.pointers_[static_cast<std::size_t>(r)]);
        for (latent::Index i = 0; i < count; ++i) total[static_cast<std::size_t>(i)] += other[i];
      }
      group_.barrier();
      for (latent::Index i = 0; i < count; ++i) values[i] = total[static_cast<std::size_t>(i)];
      if (own_part_only) {
        std::fill(values, values + part_begin(count, rank_), std::numeric_limits<S>::quiet_NaN());
        std::fill(values + part_begin(count, rank_ + 1), values + count, std::numeric_limits<S>::quiet_NaN());
      }
      ++sums_;
      return 0;
    }

    template <class S>
    Request gather_now(S* values, latent::Index count) {
      group_.pointers_[static_cast<std::size_t>(rank_)] = values;
      group_.barrier();
      for (int r = 0; r < group_.size_; ++r) {
        const S* other = static_cast<const S*>(group_.pointers_[static_cast<std::size_t>(r)]);
        if (r != rank_) std::copy(other + part_begin(count, r), other + part_begin(count, r + 1), values + part_begin(count, r));
      }
      group_.barrier();
      ++gathers_;
      return 0;
    }

    ThreadRanks& group_;
    int rank_;
    int sums_ = 0;
    int gathers_ = 0;
  };

  /// Runs body(rank) for `size` ranks, each on a thread of its own, and
  /// returns when all have; rethrows the first exception a rank threw (the
  /// other ranks then stop at their next call instead of waiting for it).
  template <class Body>
  static void run(int size, const Body& body) {
    ThreadRanks group(size);
    std::vector<Rank> ranks;
    ranks.reserve(static_cast<std::size_t>(size));
    for (int r = 0; r < size; ++r) ranks.emplace_back(group, r);
    std::vector<std::exception_ptr> failures(static_cast<std::size_t>(size));
    std::vector<std::thread> threads;
    for (int r = 0; r < size; ++r)
      threads.emplace_back([&, r] {
        try {
          body(ranks[static_cast<std::size_t>(r)]);
        } catch (...) {
          failures[static_cast<std::size_t>(r)] = std::current_exception();
          group.fail();
        }
      });
    for (auto& thread : threads) thread.join();
    for (auto& failure : failures)
      if (failure && !group.stopped_by_other(failure)) std::rethrow_exception(failure);
    for (auto& failure : failures)
      if (failure) std::rethrow_exception(failure);
  }

 private:
  struct Stopped : std::runtime_error {
    Stopped() : std::runtime_error("stopped: another rank failed") {}
  };

  explicit ThreadRanks(int size)
      : size_(size), pointers_(static_cast<std::size_t>(size)), texts_(static_cast<std::size_t>(size)) {}

  void barrier() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (failed_) throw Stopped();
    const std::uint64_t generation = generation_;
    if (++arrived_ == size_) {
      arrived_ = 0;
      ++generation_;
      changed_.notify_all();
      return;
    }
    if (!changed_.wait_for(lock, std::chrono::seconds(60), [&] { return generation_ != generation || failed_; }))
      throw std::runtime_error("ThreadRanks: a rank waited 60 s for the others");
    if (generation_ == generation) throw Stopped();
  }

  void fail() {
    const std::lock_guard<std::mutex> lock(mutex_);
    failed_ = true;
    changed_.notify_all();
  }

  static bool stopped_by_other(const std::exception_ptr& failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const Stopped&) {
      return true;
    } catch (...) {
      return false;
    }
  }

  int size_;
  std::vector<const void*> pointers_;
  std::vector<std::string> texts_;
  std::mutex mutex_;
  std::condition_variable changed_;
  int arrived_ = 0;
  std::uint64_t generation_ = 0;
  bool failed_ = false;
};

}  // namespace test
