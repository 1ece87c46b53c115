// latent/train/history.hpp and the history's way through a checkpoint: the
// CSV a run writes (columns in first-seen order, empty cells for missing
// figures), a History saved and restored by a Checkpointer, and a trainer
// resumed from a checkpoint whose history still holds the epochs before it.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "data_test_helpers.hpp"
#include "helpers.hpp"

namespace test_history {

using Catch::Matchers::Contains;
using latent::Index;

namespace {

latent::EpochRecord record(int epoch, std::vector<std::pair<std::string, double>> values) {
  latent::EpochRecord r;
  r.epoch = epoch;
  for (const auto& [name, value] : values) r.set(name, value);
  return r;
}

/// Three epochs whose figures come and go: "grad" appears in epoch 2, "test_loss" is missing from it.
latent::History uneven_history() {
  latent::History history;
  history.add(record(1, {{"train_loss", 0.5}, {"test_loss", 1234567.0}, {"seconds", 2.25}}));
  history.add(record(2, {{"train_loss", 0.1}, {"grad", -3e-7}, {"seconds", 2.0}}));
  history.add(record(3, {{"train_loss", std::nan("")}, {"test_loss", 1.0 / 3}, {"grad", 4.0}, {"seconds", 1.5}}));
  return history;
}

bool same_figures(const latent::EpochRecord& a, const latent::EpochRecord& b, const std::vector<std::string>& names) {
  for (const auto& name : names) {
    const double x = a.get(name), y = b.get(name);
    if (!(x == y || (std::isnan(x) && std::isnan(y)))) return false;
  }
  return a.epoch == b.epoch;
}

}  // namespace

TEST_CASE("History::write_csv: epoch, then every figure in first-seen order, a line per epoch, empty where a figure is missing",
          "[history]") {
  const latent::History history = uneven_history();
  REQUIRE(history.columns() == std::vector<std::string>{"train_loss", "test_loss", "seconds", "grad"});
  const std::string expected =
      "epoch,train_loss,test_loss,seconds,grad\n"
      "1,0.5,1.23457e+06,2.25,\n"
      "2,0.1,,2,-3e-07\n"
      "3,,0.333333,1.5,4\n";
  REQUIRE(history.csv() == expected);

  test::TempDir dir;
  const auto path = (dir / "history.csv").string();
  history.write_csv(path);
  CHECK(test::read_bytes(path) == test::Bytes(expected.begin(), expected.end()));

  SECTION("an empty history is its header") {
    latent::History().write_csv(path);
    CHECK(test::read_bytes(path) == test::Bytes{'e', 'p', 'o', 'c', 'h', '\n'});
  }
  SECTION("a folder that does not exist is an io_error naming the file") {
    const auto missing = (dir / "missing/history.csv").string();
    CHECK_THAT(test::io_error_message([&] { history.write_csv(missing); }), Contains(missing) && Contains("No such file"));
  }
}

TEST_CASE("Checkpointer::add_history: a history survives a checkpoint file, figure for figure", "[history][checkpoint]") {
  latent::History saved = uneven_history();
  test::TempDir dir;
  const auto path = (dir / "run.ckpt").string();
  latent::Checkpointer().add_history("history", saved).save(path);

  latent::History restored;
  restored.add(record(9, {{"other", 1}}));
  latent::Checkpointer().add_history("history", restored).load(path);
  REQUIRE(restored.csv() == saved.csv());
  REQUIRE(restored.epochs().size() == 3);
  CHECK(restored.epochs()[2].get("test_loss") == 1.0 / 3);  // every bit, not the CSV's 6 digits

  const latent::Checkpoint checkpoint = latent::Checkpoint::load(path);
  CHECK(checkpoint.text("history.figures") == "train_loss\ntest_loss\nseconds\ngrad\n");
  CHECK(checkpoint.tensor<double>("history.values").rows() == 3);
  CHECK(checkpoint.tensor<double>("history.values").cols() == 5);

  SECTION("a checkpoint written before histories were saved restores an empty history") {
    latent::Checkpoint old = checkpoint;
    old.erase("history.figures");
    old.erase("history.values");
    latent::Checkpointer().add_history("history", restored).restore(old);
    CHECK(restored.empty());
  }
  SECTION("a malformed history is an io_error naming the checkpoint, and changes nothing") {
    const auto refused = [&](latent::Checkpoint bad) {
      const std::string message = test::io_error_message([&] { latent::Checkpointer().add_history("history", restored).restore(bad); });
      CHECK(restored.csv() == saved.csv());
      return message;
    };
    latent::Checkpoint bad = checkpoint;
    bad.set_text("history.figures", "train_loss\ntest_loss\n");
    CHECK_THAT(refused(bad), Contains(path) && Contains("2 figures but 5 columns"));
    bad = checkpoint;
    bad.set_text("history.figures", "train_loss\ntest_loss\nseconds\ngrad");
    CHECK_THAT(refused(bad), Contains("line feed"));
    bad = checkpoint;
    bad.set_text("history.figures", "train_loss\ntest_loss\ntrain_loss\ngrad\n");
    CHECK_THAT(refused(bad), Contains("appears twice"));
    bad = checkpoint;
    latent::Matrix<double> values = checkpoint.tensor<double>("history.values");
    values(2, 0) = 2;
    bad.set_tensor("history.values", values);
    CHECK_THAT(refused(bad), Contains("row 3") && Contains("epoch numbers"));
    bad = checkpoint;
    bad.erase("history.values");
    CHECK_THAT(refused(bad), Contains("history.values"));
  }
}

TEST_CASE("a trainer resumed from a checkpoint keeps the history of the epochs before it", "[history][checkpoint][training]") {
  // 64 random 4x4 images and a 16-8-2 VAE: what matters is the epochs, not what they learn.
  latent::Rng data_rng(5);
  std::vector<std::uint8_t> pixels(64 * 16), labels(64);
  for (auto& p : pixels) p = static_cast<std::uint8_t>(data_rng.below(256));
  const latent::data::Dataset data(std::move(pixels), std::move(labels), 4, 4);
  using Encoder = latent::GaussianEncoder<latent::Mlp<float, latent::Tanh, latent::Tanh>>;
  using Decoder = latent::Decoder<latent::Mlp<float, latent::Tanh, latent::Identity>>;
  using Vae = latent::Vae<Encoder, Decoder>;
  struct Run {
    latent::Rng rng;
    Vae vae;
    latent::VaeTrainer<Vae> trainer;
    explicit Run(std::uint64_t seed)
        : rng(seed), vae(Encoder({16, 8}, 2, rng), Decoder({2, 8, 16}, rng)), trainer(vae, latent::Adam<float>(1e-2f)) {}
  };
  latent::FitOptions fit;
  fit.batch_size = 16;
  fit.progress = latent::Progress::Mode::quiet;

  test::TempDir dir;
  const auto path = (dir / "run.ckpt").string();
  Run first(1);
  fit.epochs = 2;
  first.trainer.on_epoch_end([&](const latent::EpochRecord&) { first.trainer.save_checkpoint(path); });
  first.trainer.fit(data, data, fit);
  REQUIRE(first.trainer.history().epochs().size() == 2);

  Run resumed(2);  // other weights: everything comes from the checkpoint
  resumed.trainer.load_checkpoint(path);
  REQUIRE(resumed.trainer.history().csv() == first.trainer.history().csv());
  fit.epochs = 3;
  std::size_t epochs_seen_by_callback = 0;
  resumed.trainer.on_epoch_end([&](const latent::EpochRecord& record) {
    epochs_seen_by_callback = resumed.trainer.history().epochs().size();
    CHECK(resumed.trainer.history().back().epoch == record.epoch);
  });
  const latent::History this_call = resumed.trainer.fit(data, data, fit);
  REQUIRE(this_call.epochs().size() == 1);
  CHECK(epochs_seen_by_callback == 3);

  const latent::History& whole = resumed.trainer.history();
  REQUIRE(whole.epochs().size() == 3);
  const auto names = first.trainer.history().columns();
  for (std::size_t e = 0; e < 2; ++e) CHECK(same_figures(whole.epochs()[e], first.trainer.history().epochs()[e], names));
  CHECK(whole.epochs()[2].epoch == 3);
  CHECK(whole.columns() == names);
  // The CSV a resumed run writes starts with the lines of the run it resumed.
  const std::string before = first.trainer.history().csv();
  CHECK(whole.csv().compare(0, before.size(), before) == 0);
}

}  // namespace test_history
