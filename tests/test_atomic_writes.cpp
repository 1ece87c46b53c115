// Every file latent writes is whole or absent after a failure: for each
// writer (checkpoints, a Checkpointer's save, IDX files raw and gzip, sample
// exports, PNG grids, CSV histories), a write whose disk fails at any system
// call, or fills up at any byte, throws an io_error naming the file and the
// system's reason, leaves the old file byte for byte, and leaves no
// temporary file beside it.
#include <cerrno>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "data_test_helpers.hpp"
#include "helpers.hpp"

namespace test_atomic_writes {

using latent::Index;
using latent::Matrix;
using latent::io::testing::Call;
using latent::io::testing::FailingDisk;

namespace {

/// A writer of one kind of file: write(path, version) writes version 0 (the
/// old file) or version 1 (the new one); the two differ.
struct Writer {
  std::string name;
  std::function<void(const std::string&, int)> write;
};

/// 4x4 images, a batch of 6, their pixels depending on `version`.
Matrix<float> images(int version) {
  Matrix<float> batch(16, 6);
  for (Index j = 0; j < batch.cols(); ++j)
    for (Index i = 0; i < batch.rows(); ++i) batch(i, j) = float((i * 7 + j * 3 + version * 5) % 17) / 16.0f;
  return batch;
}

std::vector<Writer> writers() {
  return {
      {"Checkpoint::save",
       [](const std::string& path, int version) {
         latent::Checkpoint checkpoint;
         checkpoint.set_integer("epoch", version);
         checkpoint.set_tensor("weights", Matrix<double>::Constant(40, 30 + version, 0.25 * version));
         checkpoint.save(path);
       }},
      {"Checkpointer::save",
       [](const std::string& path, int version) {
         latent::Rng rng(static_cast<std::uint64_t>(version) + 1);
         latent::Mlp<float, latent::ReLU, latent::Identity> net({3, 8, 2}, rng);
         latent::Adam<float> adam;
         std::int64_t epoch = version;
         latent::Checkpointer state;
         state.add_model("model", net).add_optimizer("optimizer", adam, net.parameters()).add_rng("rng", rng).add_counter("epoch", epoch);
         state.save(path);
       }},
      {"write_idx_ubyte",
       [](const std::string& path, int version) {
         std::vector<std::uint8_t> bytes(5 * 28 * 28);
         for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i * (version + 3));
         latent::data::write_idx_ubyte(path, {5, 28, 28}, bytes);
       }},
      {"write_idx (gzip)",
       [](const std::string& path, int version) {
         latent::data::IdxArray array;
         array.dims = {300, 10};
         std::vector<float> values(3000);
         for (std::size_t i = 0; i < values.size(); ++i) values[i] = float(i % 97) * float(version + 1);
         array.values = std::move(values);
         latent::data::write_idx(path, array, latent::data::Compression::gzip);
       }},
      {"write_samples_idx",
       [](const std::string& path, int version) {
         latent::data::write_samples_idx(path, images(version), 4, 4, latent::data::PixelRange::zero_to_one);
       }},
      {"write_png_grid", [](const std::string& path, int version) { latent::data::write_png_grid(path, images(version), 4, 4, 2, 3); }},
      {"History::write_csv",
       [](const std::string& path, int version) {
         latent::History history;
         for (int epoch = 1; epoch <= 20 + version; ++epoch) {
           latent::EpochRecord record;
           record.epoch = epoch;
           record.set("train_loss", 100.0 / epoch);
           record.set("test_loss", 110.0 / epoch + version);
           history.add(record);
         }
         history.write_csv(path);
       }},
  };
}

}  // namespace

TEST_CASE("atomic writes: every writer leaves the old file whole and nothing else when its disk fails", "[io][atomic]") {
  for (const Writer& writer : writers()) {
    CAPTURE(writer.name);
    test::TempDir dir;
    const std::string path = (dir / "file").string();
    writer.write(path, 1);
    const test::Bytes new_bytes = test::read_bytes(path);
    writer.write(path, 0);
    const test::Bytes old_bytes = test::read_bytes(path);
    REQUIRE(old_bytes != new_bytes);

    // Writes the new version under `disk`, which must fail it with `error_number`.
    const auto require_failure_loses_nothing = [&](FailingDisk& disk, int error_number) {
      const std::string message = test::io_error_message([&] { writer.write(path, 1); });
      REQUIRE_THAT(message, Catch::Matchers::StartsWith(path + ": cannot ") &&
                                Catch::Matchers::EndsWith(std::strerror(error_number)));
      REQUIRE(disk.failures() == 1);
      REQUIRE(test::read_bytes(path) == old_bytes);
      REQUIRE(test::folder_entries(dir.path()) == std::vector<std::string>{"file"});
    };

    for (const Call call : {Call::create, Call::write, Call::sync, Call::close, Call::rename}) {
      CAPTURE(static_cast<int>(call));
      FailingDisk disk(call, 1, EIO);
      require_failure_loses_nothing(disk, EIO);
    }
    for (const std::size_t space : {std::size_t{0}, std::size_t{1}, new_bytes.size() / 2, new_bytes.size() - 1}) {
      CAPTURE(space);
      FailingDisk disk(FailingDisk::FullAfter{space});
      require_failure_loses_nothing(disk, ENOSPC);
    }
    {
      // After the rename only the folder's fsync can fail: the new file is then in place, whole.
      FailingDisk disk(Call::sync_folder, 1, EIO);
      CHECK_THAT(test::io_error_message([&] { writer.write(path, 1); }), Catch::Matchers::StartsWith(path + ": cannot fsync its folder"));
      CHECK(test::read_bytes(path) == new_bytes);
      CHECK(test::folder_entries(dir.path()) == std::vector<std::string>{"file"});
    }
    writer.write(path, 0);
    {
      FailingDisk roomy(FailingDisk::FullAfter{new_bytes.size()});
      writer.write(path, 1);
      CHECK(roomy.failures() == 0);
      CHECK(test::read_bytes(path) == new_bytes);
    }
  }
}

}  // namespace test_atomic_writes
