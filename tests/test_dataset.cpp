// latent/data/dataset.hpp: datasets keep bytes and convert batches on demand,
// batches come in a seeded per-epoch order, and MNIST loads from its IDX files
// (raw or .gz), with every inconsistency between the files an io_error.
#include <latent/data/dataset.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <vector>

#include "data_test_helpers.hpp"
#include "helpers.hpp"

namespace test_dataset {

using Catch::Matchers::Contains;
using latent::Index;
using latent::data::BatchSampler;
using latent::data::Dataset;
using latent::data::LastBatch;
using latent::data::Shuffle;

namespace {

/// n images of 2 x 3 pixels; pixel k of image i is (40 * i + 10 * k) % 256,
/// label i % 10.
Dataset small_dataset(Index n) {
  std::vector<std::uint8_t> pixels;
  std::vector<std::uint8_t> labels;
  for (Index i = 0; i < n; ++i) {
    for (Index k = 0; k < 6; ++k) pixels.push_back(static_cast<std::uint8_t>((40 * i + 10 * k) % 256));
    labels.push_back(static_cast<std::uint8_t>(i % 10));
  }
  return Dataset(pixels, labels, 2, 3);
}

std::vector<std::vector<Index>> batches_of(BatchSampler& sampler, std::uint64_t epoch) {
  std::vector<std::vector<Index>> batches;
  for (const auto batch : sampler.epoch(epoch)) batches.emplace_back(batch.begin(), batch.end());
  return batches;
}

/// Writes MNIST-named IDX files for `count` examples into dir, with `suffix`
/// (".gz" writes gzip) and labels given by label(i).
template <class Label>
void write_mnist_files(const std::filesystem::path& dir, const std::string& prefix, std::size_t count,
                       const std::string& suffix, Label label) {
  std::vector<std::uint8_t> pixels(count * 4 * 4, 7);
  std::vector<std::uint8_t> labels(count);
  for (std::size_t i = 0; i < count; ++i) labels[i] = static_cast<std::uint8_t>(label(i));
  const auto compression = suffix == ".gz" ? latent::data::Compression::gzip : latent::data::Compression::none;
  latent::data::write_idx_ubyte(dir / (prefix + "-images-idx3-ubyte" + suffix), {count, 4, 4}, pixels, compression);
  latent::data::write_idx_ubyte(dir / (prefix + "-labels-idx1-ubyte" + suffix), {count}, labels, compression);
}

}  // namespace

TEST_CASE("A Dataset keeps images as bytes with their labels", "[dataset]") {
  const Dataset data = small_dataset(5);

  SECTION("sizes come from the images") {
    CHECK(data.size() == 5);
    CHECK(data.rows() == 2);
    CHECK(data.cols() == 3);
    CHECK(data.features() == 6);
    CHECK(data.pixels().size() == 30);
  }
  SECTION("image and label access") {
    CHECK(data.image(2)[1] == 90);
    CHECK(data.label(3) == 3);
    CHECK(data.labels() == std::vector<std::uint8_t>{0, 1, 2, 3, 4});
    CHECK_THROWS_AS(data.image(5), latent::error);
    CHECK_THROWS_AS(data.label(-1), latent::error);
  }
  SECTION("head(n) is the first n examples") {
    const Dataset first = data.head(2);
    CHECK(first.size() == 2);
    CHECK(first.rows() == 2);
    CHECK(first.labels() == std::vector<std::uint8_t>{0, 1});
    CHECK(std::equal(first.pixels().begin(), first.pixels().end(), data.pixels().begin()));
    CHECK(data.head(100).size() == 5);
  }
  SECTION("pixels that are not whole images are refused") {
    CHECK_THROWS_AS(Dataset(std::vector<std::uint8_t>(7), std::vector<std::uint8_t>(1), 2, 3), latent::shape_error);
  }
}

TEST_CASE("fill_batch writes scaled images into the columns of a matrix", "[dataset]") {
  const Dataset data = small_dataset(5);
  const std::vector<Index> indices = {4, 0, 2};

  SECTION("column j is image indices[j], pixel (r, c) at row r * cols + c, scaled to [0, 1]") {
    latent::Matrix<float> batch(6, 3);
    data.fill_batch(batch, indices);
    for (Index j = 0; j < 3; ++j)
      for (Index k = 0; k < 6; ++k) CHECK(batch(k, j) == Approx(data.image(indices[j])[k] / 255.0f));
    CHECK(batch(0, 0) == Approx(160 / 255.0f));
  }
  SECTION("MinusOneToOne maps 0 to -1 and 255 to 1") {
    const Dataset extremes(std::vector<std::uint8_t>{0, 255, 51, 204}, std::vector<std::uint8_t>{0}, 2, 2);
    latent::Matrix<double> batch(4, 1);
    extremes.fill_batch<latent::data::MinusOneToOne>(batch, std::vector<Index>{0});
    CHECK(batch(0, 0) == Approx(-1.0));
    CHECK(batch(1, 0) == Approx(1.0));
    CHECK(batch(2, 0) == Approx(-0.6));
    CHECK(batch(3, 0) == Approx(0.6));
  }
  SECTION("any writable Eigen expression is a destination, e.g. a block") {
    latent::Matrix<double> wide = latent::Matrix<double>::Constant(6, 5, -7);
    data.fill_batch(wide.middleCols(1, 3), indices);
    CHECK((wide.col(0).array() == -7).all());
    CHECK((wide.col(4).array() == -7).all());
    CHECK(wide(1, 2) == Approx(10 / 255.0));
  }
  SECTION("batch<S>() returns a new matrix with the same values") {
    latent::Matrix<float> filled(6, 3);
    data.fill_batch(filled, indices);
    CHECK(data.batch<float>(indices) == filled);
  }
  SECTION("a destination of the wrong shape is a shape_error") {
    latent::Matrix<float> batch(6, 2);
    CHECK_THROWS_AS(data.fill_batch(batch, indices), latent::shape_error);
    latent::Matrix<float> tall(7, 3);
    CHECK_THROWS_AS(data.fill_batch(tall, indices), latent::shape_error);
  }
  SECTION("an index outside the dataset is an error") {
    latent::Matrix<float> batch(6, 1);
    CHECK_THROWS_AS(data.fill_batch(batch, std::vector<Index>{5}), latent::error);
  }
}

TEST_CASE("fill_batch split over two threads fills the batch one thread fills", "[dataset][threads]") {
  // 80 images of 30 x 30 pixels: 72,000 values, enough to be split in two.
  const Index images = 80, side = 30;
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(images * side * side));
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>((i * 37 + i / 900) % 256);
  const Dataset data(std::move(pixels), std::vector<std::uint8_t>(static_cast<std::size_t>(images)), side, side);
  std::vector<Index> indices(static_cast<std::size_t>(images));
  std::iota(indices.rbegin(), indices.rend(), Index(0));  // in reverse: column j is image 79 - j
  const test::ThreadSettings restore;
  std::vector<latent::Matrix<float>> batches;
  for (int threads : {1, 2}) {
    latent::set_num_threads(threads);
    REQUIRE(latent::detail::element_shares(side * side * images) == threads);
    batches.emplace_back(side * side, images);
    data.fill_batch(batches.back(), indices);
  }
  CHECK(batches[1] == batches[0]);
  for (Index j = 0; j < images; ++j) CHECK(batches[1](5, j) == Approx(data.image(images - 1 - j)[5] / 255.0f));
  SECTION("an index outside the dataset is an error before any share runs") {
    indices.back() = images;
    CHECK_THROWS_AS(data.fill_batch(batches[1], indices), latent::error);
  }
}

TEST_CASE("BatchSampler splits examples into batches, epoch by epoch", "[dataset]") {
  SECTION("without Shuffle, batches follow dataset order and the last one is smaller") {
    BatchSampler sampler(10, 4);
    CHECK(sampler.batches_per_epoch() == 3);
    CHECK(batches_of(sampler, 0) == std::vector<std::vector<Index>>{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}});
    CHECK(batches_of(sampler, 5) == batches_of(sampler, 0));
  }
  SECTION("LastBatch::drop leaves the partial batch out") {
    BatchSampler sampler(10, 4, LastBatch::drop);
    CHECK(sampler.batches_per_epoch() == 2);
    CHECK(batches_of(sampler, 0) == std::vector<std::vector<Index>>{{0, 1, 2, 3}, {4, 5, 6, 7}});
  }
  SECTION("a batch size above the dataset size: one small batch, or none when dropped") {
    BatchSampler keep(3, 8);
    CHECK(batches_of(keep, 0) == std::vector<std::vector<Index>>{{0, 1, 2}});
    BatchSampler drop(3, 8, Shuffle{1}, LastBatch::drop);
    CHECK(batches_of(drop, 0).empty());
  }
  SECTION("shuffled, each epoch visits every example exactly once") {
    BatchSampler sampler(103, 10, Shuffle{42});
    for (std::uint64_t epoch = 0; epoch < 3; ++epoch) {
      std::vector<Index> seen;
      for (const auto& batch : batches_of(sampler, epoch)) seen.insert(seen.end(), batch.begin(), batch.end());
      std::sort(seen.begin(), seen.end());
      std::vector<Index> all(103);
      std::iota(all.begin(), all.end(), Index{0});
      CHECK(seen == all);
    }
    CHECK(batches_of(sampler, 0).back().size() == 3);
  }
  SECTION("the same seed gives the same batches; another epoch or seed, others") {
    BatchSampler a(50, 7, Shuffle{42});
    BatchSampler b(50, 7, Shuffle{42});
    BatchSampler c(50, 7, Shuffle{43});
    CHECK(batches_of(a, 0) == batches_of(b, 0));
    CHECK(batches_of(a, 1) != batches_of(a, 0));
    CHECK(batches_of(c, 0) != batches_of(a, 0));
  }
  SECTION("an epoch's order depends on (seed, epoch) alone, so a resumed run matches") {
    BatchSampler uninterrupted(50, 7, Shuffle{9});
    batches_of(uninterrupted, 0);
    batches_of(uninterrupted, 1);
    const auto third = batches_of(uninterrupted, 2);
    BatchSampler resumed(50, 7, Shuffle{9});
    CHECK(batches_of(resumed, 2) == third);
  }
  SECTION("batches feed fill_batch directly") {
    const Dataset data = small_dataset(5);
    BatchSampler sampler(data.size(), 2, Shuffle{3});
    for (const auto batch : sampler.epoch(0)) {
      latent::Matrix<float> x(data.features(), batch.size());
      data.fill_batch(x, batch);
      CHECK(x(0, 0) == Approx(data.image(batch[0])[0] / 255.0f));
    }
  }
  SECTION("a batch size below 1 is an error") { CHECK_THROWS_AS(BatchSampler(10, 0), latent::error); }
}

TEST_CASE("load_idx_dataset and load_mnist read image and label files", "[dataset]") {
  test::TempDir dir;
  const auto digit = [](std::size_t i) { return i % 10; };

  SECTION("raw files under the MNIST names") {
    write_mnist_files(dir.path(), "train", 12, "", digit);
    write_mnist_files(dir.path(), "t10k", 5, "", digit);
    const latent::data::Mnist mnist = latent::data::load_mnist(dir.path());
    CHECK(mnist.train.size() == 12);
    CHECK(mnist.test.size() == 5);
    CHECK(mnist.train.rows() == 4);
    CHECK(mnist.train.cols() == 4);
    CHECK(mnist.train.label(11) == 1);
  }
  SECTION("gzipped files with the .gz suffix") {
    write_mnist_files(dir.path(), "t10k", 5, ".gz", digit);
    CHECK(latent::data::load_mnist(dir.path(), latent::data::Split::test).size() == 5);
  }
  SECTION("where both exist, the raw file is read") {
    write_mnist_files(dir.path(), "t10k", 5, "", digit);
    write_mnist_files(dir.path(), "t10k", 6, ".gz", digit);
    CHECK(latent::data::load_mnist(dir.path(), latent::data::Split::test).size() == 5);
  }
  SECTION("a missing folder points at the fetch script") {
    CHECK_THAT(test::io_error_message([&] { latent::data::load_mnist(dir / "nowhere"); }),
               Contains("nowhere") && Contains("fetch-data.sh"));
  }
  SECTION("a missing file is named") {
    write_mnist_files(dir.path(), "train", 3, "", digit);
    CHECK_THAT(test::io_error_message([&] { latent::data::load_mnist(dir.path()); }),
               Contains("t10k-images-idx3-ubyte"));
  }
  SECTION("image and label counts that differ name both files") {
    latent::data::write_idx_ubyte(dir / "images", {3, 2, 2}, std::vector<std::uint8_t>(12));
    latent::data::write_idx_ubyte(dir / "labels", {4}, std::vector<std::uint8_t>(4));
    CHECK_THAT(test::io_error_message([&] { latent::data::load_idx_dataset(dir / "images", dir / "labels"); }),
               Contains((dir / "images").string()) && Contains((dir / "labels").string()) &&
                   Contains("3 images") && Contains("4 labels"));
  }
  SECTION("images that are not 3-D unsigned bytes are refused") {
    latent::data::write_idx_ubyte(dir / "labels", {2}, std::vector<std::uint8_t>(2));
    latent::data::write_idx_ubyte(dir / "flat", {2, 4}, std::vector<std::uint8_t>(8));
    CHECK_THAT(test::io_error_message([&] { latent::data::load_idx_dataset(dir / "flat", dir / "labels"); }),
               Contains("flat") && Contains("3-dimensional"));
    latent::data::IdxArray floats;
    floats.dims = {2, 1, 1};
    floats.values = std::vector<float>{0.5f, 1.0f};
    latent::data::write_idx(dir / "floats", floats);
    CHECK_THAT(test::io_error_message([&] { latent::data::load_idx_dataset(dir / "floats", dir / "labels"); }),
               Contains("floats") && Contains("f32") && Contains("u8"));
  }
  SECTION("an empty set of images is refused") {
    latent::data::write_idx_ubyte(dir / "images", {0, 2, 2}, std::vector<std::uint8_t>{});
    latent::data::write_idx_ubyte(dir / "labels", {0}, std::vector<std::uint8_t>{});
    CHECK_THAT(test::io_error_message([&] { latent::data::load_idx_dataset(dir / "images", dir / "labels"); }),
               Contains("no images"));
  }
  SECTION("an MNIST label outside 0..9 is refused") {
    write_mnist_files(dir.path(), "t10k", 5, "", [](std::size_t i) { return i == 3 ? 12 : 1; });
    CHECK_THAT(test::io_error_message([&] { latent::data::load_mnist(dir.path(), latent::data::Split::test); }),
               Contains("label 12 of example 3"));
  }
}

TEST_CASE("The real MNIST training set loads as published", "[dataset][mnist]") {
  const char* data_dir = std::getenv("LATENT_DATA_DIR");
  const std::filesystem::path mnist_dir = std::filesystem::path(data_dir ? data_dir : "data") / "mnist";
  std::error_code ec;
  if (!std::filesystem::exists(mnist_dir / "train-images-idx3-ubyte", ec) &&
      !std::filesystem::exists(mnist_dir / "train-images-idx3-ubyte.gz", ec)) {
    WARN("MNIST is not in " << mnist_dir.string() << " (run examples/fetch-data.sh mnist); test skipped");
    SUCCEED();
    return;
  }
  const Dataset train = latent::data::load_mnist(mnist_dir, latent::data::Split::train);
  CHECK(train.size() == 60000);
  CHECK(train.rows() == 28);
  CHECK(train.cols() == 28);
  const std::vector<std::uint8_t> first(train.labels().begin(), train.labels().begin() + 10);
  CHECK(first == std::vector<std::uint8_t>{5, 0, 4, 1, 9, 2, 1, 3, 1, 4});
  CHECK(*std::max_element(train.labels().begin(), train.labels().end()) == 9);
  CHECK(*std::min_element(train.labels().begin(), train.labels().end()) == 0);
  const double total = std::accumulate(train.pixels().begin(), train.pixels().end(), 0.0);
  CHECK(total / 255.0 / static_cast<double>(train.pixels().size()) == Approx(0.1307).margin(1e-3));
}

}  // namespace test_dataset
