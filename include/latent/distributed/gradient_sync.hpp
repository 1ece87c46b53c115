// latent/distributed/gradient_sync.hpp: averages the gradient of a parameter
// list over the ranks of a data-parallel run while the backward sweep that
// computes it is still going, as PyTorch's DistributedDataParallel does.
//
// The parameters are laid out once, in reverse order (the order in which a
// sweep usually finishes them: the last layer first), in a few buckets: a
// parameter of at least bucket_bytes is summed alone, in place in its
// gradient; smaller ones are copied into shared buckets of up to
// bucket_bytes, so that biases do not cost a collective call each. During the
// sweep, a parameter's gradient is final once the sweep has passed the last
// of its leaves on the tape; a bucket's sum starts as soon as all its
// parameters are final and every bucket before it has started, so every rank
// starts the same sums in the same order whatever its sweep does. Between
// two nodes of the sweep the sums in flight are given a chance to progress.
//
// Each rank's gradient is weighted by its share of the global batch (its
// examples / the batch's) through the sweep's seed, so that after the sum
// every rank holds the gradient of the global batch's mean loss, whether the
// batch divided evenly or not. The rank's loss, weighted alike, travels in
// the last bucket: the sum is the global batch's loss, and it is not finite
// on every rank when it is not finite on one, so all ranks skip the same step.
//
// With Sharding::large_parameters, each parameter summed alone is sharded
// over the ranks, as ZeRO's first stage does: its sum is a reduce-scatter
// (each rank gets the sums of its part only), the optimizer updates each
// rank's part alone (own_ranges()), and finish_update() gives every rank the
// other parts' new values. The ranks share an update's work (Adam's is a
// tenth of an MLP VAE step) for the bytes a plain sum moves: a reduce-scatter
// and a gather make one. An optimizer's state is then whole on no rank between
// checkpoints; gather_state() makes it whole.
#pragma once

#include <chrono>
#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

#include "latent/autodiff/elementwise.hpp"
#include "latent/autodiff/parameter.hpp"
#include "latent/autodiff/tape.hpp"
#include "latent/distributed/communicator.hpp"
#include "latent/distributed/data_parallel.hpp"
#include "latent/matrix.hpp"

namespace latent {

/// Whether a GradientSync shards the large parameters' updates over the ranks.
enum class Sharding { none, large_parameters };

template <class S>
class GradientSync final : private SweepObserver<S> {
 public:
  /// The default bucket size: parameters of 256 KiB and more are summed
  /// alone, in place; smaller ones share buckets of up to 256 KiB.
  static constexpr Index kBucketBytes = Index(256) * 1024;

  explicit GradientSync(ParameterList<S> params, Index bucket_bytes = kBucketBytes, Sharding sharding = Sharding::none)
      : params_(std::move(params)), sharding_(sharding) {
    if (bucket_bytes < 1) throw error("GradientSync: the bucket size must be positive");
    const std::size_t n = params_.size();
    bucket_of_.assign(n, 0);
    offset_of_.assign(n, 0);
    leaves_.assign(n, 0);
    final_.assign(n, false);
    const auto push = [this](std::vector<std::size_t> members, bool packed) {
      Index values = 0;
      for (std::size_t k : members) {
        bucket_of_[k] = buckets_.size();
        offset_of_[k] = values;
        values += params_[k]->size();
      }
      buckets_.push_back(Bucket{std::move(members), packed, {}, 0, 0});
      if (packed) buckets_.back().buffer.resize(static_cast<std::size_t>(values));
    };
    std::vector<std::size_t> open;  // small parameters waiting for their bucket to fill
    Index open_bytes = 0;
    for (std::size_t k = n; k-- > 0;) {
      const Index bytes = params_[k]->size() * Index(sizeof(S));
      if (bytes >= bucket_bytes) {
        push({k}, false);
      } else {
        if (!open.empty() && open_bytes + bytes > bucket_bytes) {
          push(std::move(open), true);
          open.clear();
          open_bytes = 0;
        }
        open.push_back(k);
        open_bytes += bytes;
      }
    }
    // The last bucket is packed and carries the loss after its parameters.
    push(std::move(open), true);
    buckets_.back().buffer.push_back(S(0));
  }

  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  /// Sweeps `tape` back from `loss`, this rank's loss on its `slice` of the
  /// global batch, and leaves in every parameter's grad the gradient of the
  /// global batch's mean loss, the same on every rank (when sharded(), in
  /// the rank's part of a large parameter's grad alone); returns the global
  /// batch's loss. A rank whose loss is not finite does not sweep but takes
  /// part in the sums. For one process, this is tape.backward(loss) when the
  /// loss is finite.
  double backward(DataParallel& parallel, const Slice& slice, Tape<S>& tape, Var<S> loss) {
    const double local = static_cast<double>(loss.item());
    sharded_ = false;
    if (!parallel.distributed()) {
      if (std::isfinite(local)) tape.backward(loss);
      return local;
    }
    const double share = slice.share();
    begin(parallel, share * local);
    if (std::isfinite(local)) {
      count_leaves(tape, loss.index());
      tape.backward(share == 1.0 ? loss : scale(loss, share), this);
    }
    return end(parallel);
  }

  /// The same for a rank without examples in this batch (an empty slice):
  /// it sweeps nothing and adds nothing, but takes part in the sums. Its
  /// gradients must be zero.
  double backward(DataParallel& parallel) {
    sharded_ = false;
    if (!parallel.distributed()) return 0;
    begin(parallel, 0.0);
    return end(parallel);
  }

  const ParameterList<S>& parameters() const { return params_; }
  /// The number of collective sums a step makes.
  std::size_t buckets() const { return buckets_.size(); }

  /// Whether the last backward left each large parameter's gradient summed
  /// in this rank's part alone (Sharding::large_parameters, distributed): then
  /// an update steps own_ranges() only, and finish_update() completes it.
  bool sharded() const { return sharded_; }
  /// This rank's elements of each parameter: its part of a large one, all of
  /// the others (when sharded()).
  const ElementRanges& own_ranges() const { return own_ranges_; }

  /// The squared L2 norm of the global batch's gradient, on every rank alike
  /// (when sharded(); collective).
  double squared_norm() {
    // The parameters whole on every rank count on rank 0 alone.
    norm_ranges_ = own_ranges_;
    if (comm_->rank() != 0)
      for (std::size_t k = 0; k < params_.size(); ++k)
        if (!large(k)) norm_ranges_[k].count = 0;
    double squared = detail::squared_grad_norm(params_, norm_ranges_);
    comm_->sum(&squared, 1);
    return squared;
  }

  /// After an update of own_ranges(): clears the gradients out of them, and
  /// gives every rank every rank's part of the large parameters' new values
  /// (when sharded(); collective). The wait counts as the step's
  /// communication.
  void finish_update(DataParallel& parallel) {
    for (std::size_t k = 0; k < params_.size(); ++k) {
      if (!large(k)) continue;
      Matrix<S>& grad = params_[k]->grad;
      const ElementRange mine = own_ranges_[k];
      detail::piece(grad, 0, mine.begin).setZero();
      detail::piece(grad, mine.begin + mine.count, grad.size() - mine.begin - mine.count).setZero();
    }
    const auto start = std::chrono::steady_clock::now();
    gather_large([&](std::size_t k) -> Matrix<S>& { return params_[k]->value; });
    parallel.add_sync_seconds(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }

  /// Makes `optimizer`'s state of the large parameters whole on every rank,
  /// where sharded updates left each rank its part (collective: every rank
  /// calls it, before the state is saved or compared).
  template <class Optimizer>
  void gather_state(DataParallel& parallel, Optimizer& optimizer) {
    if (sharding_ == Sharding::none || !parallel.distributed() || !optimizer.bound()) return;
    comm_ = parallel.communicator();
    for (std::size_t slot = 0; slot < Optimizer::kSlots; ++slot)
      gather_large([&](std::size_t k) -> Matrix<S>& { return optimizer.slot(slot, k); });
  }

 private:
  struct Bucket {
    std::vector<std::size_t> members;  ///< indices into params_
    bool packed = false;               ///< else: one parameter, summed in its grad
    std::vector<S> buffer;             ///< packed: the members' gradients back to back (+ the loss in the last bucket)
    int pending = 0;                   ///< members not yet final in this step
    Communicator::Request request = 0;
  };

  void begin(DataParallel& parallel, double weighted_loss) {
    comm_ = parallel.communicator();
    sharded_ = sharding_ == Sharding::large_parameters;
    own_ranges_.resize(params_.size());
    const int rank = comm_->rank();
    for (std::size_t k = 0; k < params_.size(); ++k) {
      const Index size = params_[k]->value.size(), begin = comm_->part_begin(size, rank);
      own_ranges_[k] = sharded_ && large(k) ? ElementRange{begin, comm_->part_begin(size, rank + 1) - begin} : ElementRange{0, size};
    }
    weighted_loss_ = weighted_loss;
    next_ = 0;
    finished_ = 0;
    for (Bucket& bucket : buckets_) bucket.pending = static_cast<int>(bucket.members.size());
    std::fill(leaves_.begin(), leaves_.end(), 0);
    std::fill(final_.begin(), final_.end(), false);
  }

  /// Counts each parameter's trainable leaves up to the loss; parameters
  /// without one are final already.
  void count_leaves(const Tape<S>& tape, Index last) {
    for (Index i = 0; i <= last; ++i) {
      const Node<S>& node = tape.node(i);
      if (node.parameter == nullptr || !node.requires_grad) continue;
      const std::size_t k = index_of(node.parameter);
      if (k < params_.size()) ++leaves_[k];
    }
    for (std::size_t k = 0; k < params_.size(); ++k)
      if (leaves_[k] == 0) make_final(k);
  }

  void leaf_swept(Parameter<S>& parameter) override {
    const std::size_t k = index_of(&parameter);
    if (k < params_.size() && leaves_[k] > 0 && --leaves_[k] == 0) make_final(k);
  }

  void node_swept() override {
    while (finished_ < next_ && comm_->test(buckets_[finished_].request)) ++finished_;
  }

  /// Waits for every sum, then copies the packed buckets back into the
  /// gradients. The time from the end of the sweep to here is what the sweep
  /// did not hide: it counts as the step's communication.
  double end(DataParallel& parallel) {
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t k = 0; k < params_.size(); ++k)
      if (!final_[k]) make_final(k);
    for (; finished_ < buckets_.size(); ++finished_) comm_->wait(buckets_[finished_].request);
    for (Bucket& bucket : buckets_) {
      if (!bucket.packed) continue;
      for (std::size_t k : bucket.members) {
        Parameter<S>& p = *params_[k];
        p.grad = Eigen::Map<const Matrix<S>>(bucket.buffer.data() + offset_of_[k], p.value.rows(), p.value.cols());
      }
    }
    parallel.add_sync_seconds(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return static_cast<double>(buckets_.back().buffer.back());
  }

  void make_final(std::size_t k) {
    final_[k] = true;
    Parameter<S>& p = *params_[k];
    if (!p.grad_has_value_shape()) p.grad.setZero(p.value.rows(), p.value.cols());
    Bucket& bucket = buckets_[bucket_of_[k]];
    if (bucket.packed)
      Eigen::Map<Matrix<S>>(bucket.buffer.data() + offset_of_[k], p.value.rows(), p.value.cols()) = p.grad;
    --bucket.pending;
    // Buckets start in their order only, so that every rank starts the same sums in the same order.
    while (next_ < buckets_.size() && buckets_[next_].pending == 0) start(buckets_[next_++]);
  }

  void start(Bucket& bucket) {
    if (!bucket.packed) {
      Matrix<S>& grad = params_[bucket.members.front()]->grad;
      bucket.request = sharded_ ? comm_->start_reduce_scatter(grad.data(), grad.size()) : comm_->start_sum(grad.data(), grad.size());
      return;
    }
    if (&bucket == &buckets_.back()) bucket.buffer.back() = static_cast<S>(weighted_loss_);
    bucket.request = comm_->start_sum(bucket.buffer.data(), static_cast<Index>(bucket.buffer.size()));
  }

  /// Whether parameter k is summed alone (and sharded, with Sharding::large_parameters).
  bool large(std::size_t k) const { return !buckets_[bucket_of_[k]].packed; }

  /// Gives every rank every rank's part of matrix(k) for each large parameter k.
  template <class MatrixOf>
  void gather_large(const MatrixOf& matrix) {
    requests_.clear();
    for (std::size_t k = 0; k < params_.size(); ++k)
      if (large(k)) requests_.push_back(comm_->start_all_gather(matrix(k).data(), matrix(k).size()));
    for (const Communicator::Request request : requests_) comm_->wait(request);
  }

  std::size_t index_of(const Parameter<S>* parameter) const {
    std::size_t k = 0;
    while (k < params_.size() && params_[k] != parameter) ++k;
    return k;
  }

  ParameterList<S> params_;
  std::vector<Bucket> buckets_;
  std::vector<std::size_t> bucket_of_;  ///< per parameter
  std::vector<Index> offset_of_;        ///< per parameter: where a packed bucket holds it
  std::vector<int> leaves_;             ///< per parameter: leaves the sweep has yet to pass
  std::vector<bool> final_;             ///< per parameter: its gradient is final in this step
  Sharding sharding_;
  bool sharded_ = false;                          ///< the last backward was a sharded one
  ElementRanges own_ranges_;                      ///< per parameter, when sharded_
  ElementRanges norm_ranges_;                     ///< what this rank adds to the gradient's norm
  std::vector<Communicator::Request> requests_;  ///< gathers in flight
  Communicator* comm_ = nullptr;
  double weighted_loss_ = 0;
  std::size_t next_ = 0;      ///< buckets started in this step
  std::size_t finished_ = 0;  ///< buckets known to be summed in this step
};

}  // namespace latent
