// latent/data/dataset.hpp: image datasets in the MNIST format, and the batches
// a trainer feeds on. Images stay bytes in memory (MNIST's training set is
// 47 MB, not 188 MB of floats); a batch is converted when it is needed,
// straight from the bytes into the destination matrix (features x batch, one
// image per column), so a trainer can fill a tape's input buffer in place.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "latent/data/idx.hpp"
#include "latent/error.hpp"
#include "latent/matrix.hpp"
#include "latent/random.hpp"
#include "latent/threads.hpp"

namespace latent::data {

/// Pixel scaling policies: a byte b in 0..255 becomes b * scale + offset.
/// ZeroToOne suits sigmoid outputs and Bernoulli likelihoods.
struct ZeroToOne {
  static constexpr double scale = 1.0 / 255.0;
  static constexpr double offset = 0.0;
};
/// MinusOneToOne suits tanh outputs (the usual GAN generator).
struct MinusOneToOne {
  static constexpr double scale = 2.0 / 255.0;
  static constexpr double offset = -1.0;
};

/// Labelled images of one size, kept as bytes. Image i is rows() x cols()
/// bytes, row-major; as a feature vector, pixel (r, c) is feature r * cols() + c.
class Dataset {
 public:
  Dataset() = default;

  /// `pixels` holds labels.size() images of rows x cols bytes, one after another.
  Dataset(std::vector<std::uint8_t> pixels, std::vector<std::uint8_t> labels, Index rows, Index cols)
      : pixels_(std::move(pixels)), labels_(std::move(labels)), rows_(rows), cols_(cols) {
    if (rows <= 0 || cols <= 0) throw shape_error("Dataset: images of " + shape_string(rows, cols) + " pixels");
    if (pixels_.size() != labels_.size() * static_cast<std::size_t>(rows * cols))
      throw shape_error("Dataset: " + std::to_string(pixels_.size()) + " pixel bytes are not " +
                        std::to_string(labels_.size()) + " images of " + shape_string(rows, cols));
  }

  /// Number of examples.
  Index size() const { return static_cast<Index>(labels_.size()); }
  bool empty() const { return labels_.empty(); }
  Index rows() const { return rows_; }
  Index cols() const { return cols_; }
  /// Pixels per image: the row count of a batch matrix.
  Index features() const { return rows_ * cols_; }

  /// The features() bytes of image i.
  const std::uint8_t* image(Index i) const {
    check_index(i, "image");
    return pixels_.data() + i * features();
  }
  std::uint8_t label(Index i) const {
    check_index(i, "label");
    return labels_[static_cast<std::size_t>(i)];
  }
  const std::vector<std::uint8_t>& labels() const { return labels_; }
  /// All images, size() x features() bytes.
  const std::vector<std::uint8_t>& pixels() const { return pixels_; }

  /// The first n examples (all of them if n >= size()), copied: small sets for tests.
  Dataset head(Index n) const {
    const auto count = static_cast<std::size_t>(std::clamp<Index>(n, 0, size()));
    const auto bytes = count * static_cast<std::size_t>(features());
    return Dataset(std::vector<std::uint8_t>(pixels_.begin(), pixels_.begin() + static_cast<std::ptrdiff_t>(bytes)),
                   std::vector<std::uint8_t>(labels_.begin(), labels_.begin() + static_cast<std::ptrdiff_t>(count)),
                   rows_, cols_);
  }

  /// Writes the images named by `indices` (any sized range of example
  /// indices: a Batch, a std::vector<Index>, ...) into the columns of
  /// `destination`, which must be features() x indices.size(), scaled by the
  /// Scaling policy. Any writable Eigen expression works (a Matrix, a block,
  /// a Map); it is taken by const reference as Eigen documents for writable
  /// temporaries such as m.leftCols(k).
  template <class Scaling = ZeroToOne, class Derived, class Indices>
  void fill_batch(const Eigen::MatrixBase<Derived>& destination, const Indices& indices) const {
    using S = typename Derived::Scalar;
    auto& out = const_cast<Eigen::MatrixBase<Derived>&>(destination);
    const auto count = static_cast<Index>(indices.size());
    if (out.rows() != features() || out.cols() != count)
      throw shape_error("Dataset::fill_batch: destination is " + shape_string(out) + ", a batch of " +
                        std::to_string(count) + " images is " + shape_string(features(), count));
    // A shuffled batch's images lie anywhere in the set, a cache miss each:
    // asking for all of them before converting any lets the misses overlap.
    // image() checks each index here, since the shares below must not throw.
    for (const auto index : indices) prefetch_image(image(static_cast<Index>(index)));
    // Split by columns over latent's threads, as the element-wise work is.
    const int shares = latent::detail::element_shares(out.rows() * count);
    run_shares(shares, [&](int share) {
      const Index first = latent::detail::part_begin(count, share, shares, 1);
      const Index end = latent::detail::part_begin(count, share + 1, shares, 1);
      auto index = std::begin(indices);
      std::advance(index, first);
      for (Index column = first; column < end; ++column, ++index) {
        const Eigen::Map<const Eigen::Array<std::uint8_t, Eigen::Dynamic, 1>> bytes(image(static_cast<Index>(*index)),
                                                                                    features());
        out.col(column).array() = bytes.template cast<S>() * static_cast<S>(Scaling::scale) +
                                  static_cast<S>(Scaling::offset);
      }
    });
  }

  /// A new features x indices.size() matrix holding those images.
  template <class S, class Scaling = ZeroToOne, class Indices>
  Matrix<S> batch(const Indices& indices) const {
    Matrix<S> result(features(), static_cast<Index>(indices.size()));
    fill_batch<Scaling>(result, indices);
    return result;
  }

 private:
  /// Asks the cache for an image's bytes.
  void prefetch_image(const std::uint8_t* bytes) const {
#if defined(__GNUC__)
    constexpr Index kCacheLine = 64;
    for (Index offset = 0; offset < features(); offset += kCacheLine) {
      __builtin_prefetch(bytes + offset);
      // GCC deletes a loop of prefetches alone (at -O1 to -O3 here: to it the
      // loop has no effect); an empty asm that takes the address keeps it.
      __asm__ __volatile__("" : : "r"(bytes + offset));
    }
#else
    (void)bytes;
#endif
  }

  void check_index(Index i, const char* what) const {
    if (i < 0 || i >= size())
      throw error("Dataset: " + std::string(what) + " " + std::to_string(i) + " requested, the dataset holds " +
                  std::to_string(size()));
  }

  std::vector<std::uint8_t> pixels_;
  std::vector<std::uint8_t> labels_;
  Index rows_ = 0;
  Index cols_ = 0;
};

/// What happens to the examples left over when the batch size does not divide
/// the dataset: kept as one smaller last batch, or left out of the epoch.
enum class LastBatch { keep, drop };

/// Asks a BatchSampler to reshuffle every epoch, from this seed.
struct Shuffle {
  std::uint64_t seed;
};

/// The example indices of one batch: a view into its sampler's order, valid
/// until the sampler starts another epoch.
class Batch {
 public:
  Batch(const Index* first, Index size) : first_(first), size_(size) {}
  const Index* begin() const { return first_; }
  const Index* end() const { return first_ + size_; }
  Index size() const { return size_; }
  Index operator[](Index i) const { return first_[i]; }

 private:
  const Index* first_;
  Index size_;
};

/// Splits the examples 0..n-1 into batches, epoch after epoch:
///
///     BatchSampler sampler(mnist.train.size(), 128, Shuffle{seed});
///     for (int epoch = 0; epoch < epochs; ++epoch)
///       for (Batch batch : sampler.epoch(epoch))
///         mnist.train.fill_batch(x, batch);     // x: 784 x batch.size()
///
/// Shuffled, epoch e's order is a Fisher-Yates permutation drawn from a Rng
/// seeded by (seed, e) alone: the same seed gives the same batches, and a run
/// resumed at epoch e sees what an uninterrupted run would. Without Shuffle,
/// every epoch is 0..n-1 in order. The last batch is smaller when batch_size
/// does not divide n (LastBatch::keep, the default), or left out (drop).
class BatchSampler {
 public:
  class Epoch;

  /// Batches in dataset order.
  BatchSampler(Index examples, Index batch_size, LastBatch last = LastBatch::keep)
      : BatchSampler(examples, batch_size, last, false, 0) {}
  /// Batches in an order reshuffled every epoch.
  BatchSampler(Index examples, Index batch_size, Shuffle shuffle, LastBatch last = LastBatch::keep)
      : BatchSampler(examples, batch_size, last, true, shuffle.seed) {}

  Index examples() const { return static_cast<Index>(order_.size()); }
  Index batch_size() const { return batch_size_; }
  /// Batches in one epoch.
  Index batches_per_epoch() const {
    const Index full = examples() / batch_size_;
    return last_ == LastBatch::keep && examples() % batch_size_ != 0 ? full + 1 : full;
  }

  /// Orders the examples for epoch `epoch` and returns its batches.
  Epoch epoch(std::uint64_t epoch);

  /// The order of the current epoch: every example once.
  const std::vector<Index>& order() const { return order_; }

 private:
  BatchSampler(Index examples, Index batch_size, LastBatch last, bool shuffled, std::uint64_t seed)
      : order_(static_cast<std::size_t>(examples > 0 ? examples : 0)),
        batch_size_(batch_size),
        last_(last),
        shuffled_(shuffled),
        seed_(seed) {
    if (examples < 0) throw error("BatchSampler: " + std::to_string(examples) + " examples");
    if (batch_size <= 0) throw error("BatchSampler: batch size " + std::to_string(batch_size) + ", must be positive");
    for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = static_cast<Index>(i);
  }

  std::vector<Index> order_;
  Index batch_size_;
  LastBatch last_;
  bool shuffled_;
  std::uint64_t seed_;
};

/// The batches of one epoch, a range of Batch.
class BatchSampler::Epoch {
 public:
  class iterator {
   public:
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    using reference = Batch;
    using pointer = void;
    using iterator_category = std::input_iterator_tag;

    iterator(const Epoch* epoch, Index batch) : epoch_(epoch), batch_(batch) {}
    Batch operator*() const { return (*epoch_)[batch_]; }
    iterator& operator++() {
      ++batch_;
      return *this;
    }
    bool operator==(const iterator& other) const { return batch_ == other.batch_; }
    bool operator!=(const iterator& other) const { return batch_ != other.batch_; }

   private:
    const Epoch* epoch_;
    Index batch_;
  };

  explicit Epoch(const BatchSampler& sampler) : sampler_(&sampler) {}
  Index size() const { return sampler_->batches_per_epoch(); }
  Batch operator[](Index b) const {
    const Index first = b * sampler_->batch_size_;
    return Batch(sampler_->order_.data() + first, std::min(sampler_->batch_size_, sampler_->examples() - first));
  }
  iterator begin() const { return iterator(this, 0); }
  iterator end() const { return iterator(this, size()); }

 private:
  const BatchSampler* sampler_;
};

inline BatchSampler::Epoch BatchSampler::epoch(std::uint64_t epoch) {
  for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = static_cast<Index>(i);
  if (shuffled_) {
    Rng rng(mix64(seed_ ^ mix64(epoch + 1)));  // nearby (seed, epoch) pairs, unrelated orders
    for (std::size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng.below(i)]);
  }
  return Epoch(*this);
}

/// The two halves of MNIST (or Fashion-MNIST).
struct Mnist {
  Dataset train;
  Dataset test;
};

enum class Split { train, test };

/// Loads images (u8, N x rows x cols) and labels (u8, N) from two IDX files,
/// raw or gzip. Throws io_error naming the file and the problem.
inline Dataset load_idx_dataset(const std::filesystem::path& images_path, const std::filesystem::path& labels_path) {
  IdxArray images = read_idx(images_path);
  IdxArray labels = read_idx(labels_path);
  const auto expect = [](const IdxArray& array, const std::filesystem::path& path, std::size_t dims, const char* layout) {
    if (array.type() != IdxType::u8)
      throw io_error(path.string() + ": holds " + idx_type_name(array.type()) + " elements, " + layout +
                     " must be unsigned bytes (u8)");
    if (array.dims.size() != dims)
      throw io_error(path.string() + ": has dimensions " + array.shape() + ", " + layout + " must be " +
                     std::to_string(dims) + "-dimensional");
  };
  expect(images, images_path, 3, "images (N x rows x cols)");
  expect(labels, labels_path, 1, "labels (N)");
  if (images.dims[0] != labels.dims[0])
    throw io_error(images_path.string() + " holds " + std::to_string(images.dims[0]) + " images but " +
                   labels_path.string() + " holds " + std::to_string(labels.dims[0]) + " labels");
  if (images.dims[0] == 0) throw io_error(images_path.string() + ": holds no images");
  const auto rows = static_cast<Index>(images.dims[1]);
  const auto cols = static_cast<Index>(images.dims[2]);
  return Dataset(std::move(images.get<std::uint8_t>()), std::move(labels.get<std::uint8_t>()), rows, cols);
}

namespace detail {

/// dir/base if it exists, else dir/base.gz; throws io_error if neither does.
inline std::filesystem::path raw_or_gzip_file(const std::filesystem::path& dir, const std::string& base) {
  std::error_code ec;
  if (std::filesystem::exists(dir / base, ec)) return dir / base;
  if (std::filesystem::exists(dir / (base + ".gz"), ec)) return dir / (base + ".gz");
  if (!std::filesystem::is_directory(dir, ec))
    throw io_error(dir.string() + ": no such folder (examples/fetch-data.sh downloads MNIST and Fashion-MNIST)");
  throw io_error(dir.string() + ": holds neither " + base + " nor " + base + ".gz");
}

}  // namespace detail

/// One split of MNIST or Fashion-MNIST from `dir`, which holds the original
/// file names (train-images-idx3-ubyte, ..., t10k-labels-idx1-ubyte), each raw
/// or gzipped with a .gz suffix (raw preferred where both exist).
inline Dataset load_mnist(const std::filesystem::path& dir, Split split) {
  const std::string prefix = split == Split::train ? "train" : "t10k";
  const auto images_path = detail::raw_or_gzip_file(dir, prefix + "-images-idx3-ubyte");
  const auto labels_path = detail::raw_or_gzip_file(dir, prefix + "-labels-idx1-ubyte");
  Dataset dataset = load_idx_dataset(images_path, labels_path);
  for (Index i = 0; i < dataset.size(); ++i)
    if (dataset.label(i) > 9)
      throw io_error(labels_path.string() + ": label " + std::to_string(dataset.label(i)) + " of example " +
                     std::to_string(i) + " is outside 0..9");
  return dataset;
}

/// Both splits of MNIST or Fashion-MNIST from `dir`.
inline Mnist load_mnist(const std::filesystem::path& dir) {
  return Mnist{load_mnist(dir, Split::train), load_mnist(dir, Split::test)};
}

}  // namespace latent::data
