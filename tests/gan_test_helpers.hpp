// Helpers for the GAN tests: the promise that a run resumed from a
// checkpoint continues bit for bit like one that never stopped, for any model.
#pragma once

#include <catch2/catch.hpp>
#include <latent/models/gan.hpp>
#include <latent/train/gan_trainer.hpp>

#include <string>

#include "data_test_helpers.hpp"
#include "training_helpers.hpp"

namespace test {

/// Trains make(seed) for `epochs` epochs straight; trains another make(seed)
/// for `stop` epochs and checkpoints it; restores a third GAN built with other
/// weights (make(seed + 1)) from the file and trains it to `epochs`. Every
/// parameter and every buffer of the resumed GAN must equal the straight one's
/// bit for bit.
template <class Make>
void require_bit_exact_resume(const Make& make, std::uint64_t seed, const latent::data::Dataset& data, int stop, int epochs,
                              latent::Index batch,
                              const typename latent::GanTrainer<decltype(make(seed))>::Options& options = {}) {
  using Model = decltype(make(seed));
  using Trainer = latent::GanTrainer<Model>;
  Model straight = make(seed);
  Trainer straight_trainer(straight, Trainer::default_adam(), Trainer::default_adam(), options);
  straight_trainer.fit(data, latent::data::Dataset(), quiet_fit(epochs, batch));

  TempDir dir;
  const std::string path = (dir / "run.ckpt").string();
  Model first = make(seed);
  Trainer first_trainer(first, Trainer::default_adam(), Trainer::default_adam(), options);
  first_trainer.fit(data, latent::data::Dataset(), quiet_fit(stop, batch));
  first_trainer.save_checkpoint(path);
  Model resumed = make(seed + 1);  // other weights: all of them must come from the file
  Trainer resumed_trainer(resumed, Trainer::default_adam(), Trainer::default_adam(), options);
  resumed_trainer.load_checkpoint(path);
  REQUIRE(resumed_trainer.epochs_done() == stop);
  const auto history = resumed_trainer.fit(data, latent::data::Dataset(), quiet_fit(epochs, batch));
  REQUIRE(history.epochs().size() == static_cast<std::size_t>(epochs - stop));

  const auto a = straight.named_parameters(), b = resumed.named_parameters();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CAPTURE(a[i].name);
    REQUIRE(a[i].parameter->value == b[i].parameter->value);
  }
  const auto x = straight.named_buffers(), y = resumed.named_buffers();
  REQUIRE(x.size() == y.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    CAPTURE(x[i].name);
    REQUIRE(*x[i].value == *y[i].value);
  }
}

}  // namespace test
