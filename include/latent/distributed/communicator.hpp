// latent/distributed/communicator.hpp: how the processes ("ranks") of a
// data-parallel run talk to each other: sums of gradients and figures, rank
// 0's bytes for everyone, every rank's text for comparisons. The interface
// knows nothing of MPI (latent/distributed/mpi.hpp implements it over MPI;
// the tests implement it over threads), so trainers include it at no cost: a
// trainer given no communicator makes no call at all.
//
// Why an interface with virtual calls rather than a template policy: the
// choice is made on a program's command line (--distributed), a template
// parameter would compile every trainer twice, and a training step makes a
// handful of these calls, each nanoseconds against milliseconds of arithmetic.
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "latent/error.hpp"
#include "latent/matrix.hpp"

namespace latent {

class Communicator {
 public:
  /// A sum or gather in flight (see start_sum).
  using Request = int;

  virtual ~Communicator() = default;

  /// This process's number, 0 .. size() - 1.
  virtual int rank() const = 0;
  /// The number of processes.
  virtual int size() const = 0;

  /// Starts summing `count` values element by element over all ranks, in
  /// place: once the request is done, every rank holds the same sums, bit for
  /// bit. Every rank starts the same sums (same counts) in the same order,
  /// and leaves the values alone until the request is done.
  virtual Request start_sum(float* values, Index count) = 0;
  virtual Request start_sum(double* values, Index count) = 0;
  /// Rank q's part of `count` values in the calls below: values
  /// [part_begin(count, q), part_begin(count, q + 1)).
  Index part_begin(Index count, int q) const { return count * q / size(); }

  /// Starts start_sum's sums of which this rank needs only its part: once
  /// the request is done, that part holds them (the same bits start_sum
  /// gives) and the rest of the values is unspecified. This default sums
  /// them all.
  virtual Request start_reduce_scatter(float* values, Index count) { return start_sum(values, count); }
  virtual Request start_reduce_scatter(double* values, Index count) { return start_sum(values, count); }
  /// Starts giving every rank each rank's part of `count` values, in place:
  /// once the request is done, every rank holds every rank's part, bit for
  /// bit. Same rules as start_sum.
  virtual Request start_all_gather(float* values, Index count) = 0;
  virtual Request start_all_gather(double* values, Index count) = 0;

  /// Lets the requests in flight progress; true once `request` is done.
  virtual bool test(Request request) = 0;
  /// Returns once `request` is done. Throws latent::error when the other
  /// ranks do not take part within the communicator's time limit.
  virtual void wait(Request request) = 0;

  /// Replaces every rank's `bytes` with rank 0's (resized to fit).
  virtual void broadcast(std::vector<std::uint8_t>& bytes) = 0;
  /// Every rank's `text`, in rank order, on every rank.
  virtual std::vector<std::string> all_gather(const std::string& text) = 0;

  /// A blocking sum: start_sum, then wait.
  template <class S>
  void sum(S* values, Index count) {
    wait(start_sum(values, count));
  }
};

/// A setting that must be the same on every rank (a flag, a batch size) and
/// its value as text.
struct Setting {
  std::string name;
  std::string value;
};

namespace detail {

inline std::string join_settings(const std::vector<Setting>& settings) {
  std::string text;
  for (const Setting& setting : settings) text += setting.name + '\0' + setting.value + '\0';
  return text;
}

inline std::vector<Setting> split_settings(const std::string& text) {
  std::vector<Setting> settings;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t name_end = text.find('\0', at);
    const std::size_t value_end = text.find('\0', name_end + 1);
    settings.push_back({text.substr(at, name_end - at), text.substr(name_end + 1, value_end - name_end - 1)});
    at = value_end + 1;
  }
  return settings;
}

}  // namespace detail

/// Checks that every rank passes the same settings (names and values, in the
/// same order); otherwise throws latent::error, on every rank alike, naming
/// the first setting that differs and each rank's value of it. `what` says
/// whose settings they are (a program, fit()).
inline void require_same_settings(Communicator& comm, const std::vector<Setting>& settings, const std::string& what) {
  const std::vector<std::string> all = comm.all_gather(detail::join_settings(settings));
  if (std::all_of(all.begin(), all.end(), [&](const std::string& text) { return text == all.front(); })) return;
  std::vector<std::vector<Setting>> per_rank;
  for (const std::string& text : all) per_rank.push_back(detail::split_settings(text));
  std::size_t longest = 0;
  for (const auto& list : per_rank) longest = std::max(longest, list.size());
  const std::vector<Setting>& first = per_rank.front();
  for (std::size_t i = 0; i < longest; ++i) {
    // The first index at which some rank's list differs from rank 0's.
    const auto same_as_first = [&](const std::vector<Setting>& list) {
      return i < list.size() && i < first.size() && list[i].name == first[i].name && list[i].value == first[i].value;
    };
    if (std::all_of(per_rank.begin(), per_rank.end(), same_as_first)) continue;
    std::string name;
    for (const auto& list : per_rank)
      if (name.empty() && i < list.size()) name = list[i].name;
    // Each value once, with the ranks that have it: "'128' on ranks 0 2 3, '256' on rank 1".
    std::vector<std::pair<std::string, std::string>> values;
    for (std::size_t r = 0; r < per_rank.size(); ++r) {
      const auto& list = per_rank[r];
      const std::string value = i < list.size() && list[i].name == name ? "'" + list[i].value + "'" : "not set";
      auto it = std::find_if(values.begin(), values.end(), [&](const auto& entry) { return entry.first == value; });
      if (it == values.end()) it = values.insert(values.end(), {value, ""});
      it->second += (it->second.empty() ? "" : " ") + std::to_string(r);
    }
    std::string message = what + ": the ranks were started with different settings: " + name + " is";
    for (std::size_t v = 0; v < values.size(); ++v)
      message += (v ? ", " : " ") + values[v].first + (values[v].second.find(' ') == std::string::npos ? " on rank " : " on ranks ") +
                 values[v].second;
    throw error(message + "; start every rank with the same settings");
  }
  throw error(what + ": the ranks were started with different settings");
}

/// Runs make() on rank 0 and gives its result to every rank. When make()
/// throws on rank 0, rank 0 rethrows its exception and every other rank
/// throws latent::error with its message, so that all ranks stop alike.
inline std::vector<std::uint8_t> from_rank_zero(Communicator& comm, const std::function<std::vector<std::uint8_t>()>& make) {
  // One broadcast: a status byte (0 = bytes follow, 1 = an error message follows), then the payload.
  std::vector<std::uint8_t> message;
  std::exception_ptr failure;
  if (comm.rank() == 0) {
    try {
      message = make();
      message.insert(message.begin(), std::uint8_t{0});
    } catch (const std::exception& e) {
      failure = std::current_exception();
      const std::string what = e.what();
      message.assign(1, std::uint8_t{1});
      message.insert(message.end(), what.begin(), what.end());
    }
  }
  comm.broadcast(message);
  if (failure) std::rethrow_exception(failure);
  if (message.empty()) throw error("from_rank_zero: rank 0 sent nothing");
  if (message.front() != 0) throw error("rank 0: " + std::string(message.begin() + 1, message.end()));
  message.erase(message.begin());
  return message;
}

}  // namespace latent
