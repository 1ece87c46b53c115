// Checkpoints: what a Checkpoint holds survives the file bit for bit; a
// resumed run continues exactly where it stopped; a crash while saving leaves
// a whole checkpoint; damaged files and checkpoints of other architectures
// are refused with a message, and nothing is changed by a refused load.
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include "helpers.hpp"

namespace test_checkpoint {

using Catch::Matchers::Contains;
using latent::Checkpoint;
using latent::Checkpointer;
using latent::Matrix;
using Bytes = std::vector<std::uint8_t>;
using namespace std::string_literals;

namespace {

namespace fs = std::filesystem;

/// A fresh folder for one test, removed with everything in it afterwards.
class ScratchFolder {
 public:
  ScratchFolder() {
    std::string pattern = (fs::temp_directory_path() / "latent-checkpoint-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ScratchFolder(const ScratchFolder&) = delete;
  ScratchFolder& operator=(const ScratchFolder&) = delete;
  ~ScratchFolder() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  fs::path path() const { return path_; }

 private:
  fs::path path_;
};

Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

/// The message of the E that `action` throws (the test fails if it throws nothing).
template <class E, class F>
std::string message_of(F&& action) {
  try {
    action();
  } catch (const E& e) {
    return e.what();
  }
  FAIL("expected an exception, none was thrown");
  return {};
}

/// Little-endian fields for hand-made files, independent of the library's writer.
struct FileBuilder {
  Bytes bytes;
  FileBuilder& u8(std::uint8_t v) {
    bytes.push_back(v);
    return *this;
  }
  FileBuilder& u32(std::uint32_t v) {
    for (int b = 0; b < 4; ++b) bytes.push_back(static_cast<std::uint8_t>(v >> (8 * b)));
    return *this;
  }
  FileBuilder& u64(std::uint64_t v) {
    for (int b = 0; b < 8; ++b) bytes.push_back(static_cast<std::uint8_t>(v >> (8 * b)));
    return *this;
  }
  FileBuilder& text(const std::string& s) {
    bytes.insert(bytes.end(), s.begin(), s.end());
    return *this;
  }
  FileBuilder& name(const std::string& s) { return u32(static_cast<std::uint32_t>(s.size())).text(s); }
  /// Header for `entries` entries and a payload of the bytes still to come.
  FileBuilder& header(std::uint32_t entries, std::uint64_t payload, std::uint32_t version = 1) {
    return text("LATENTCK").u32(version).u32(entries).u64(payload);
  }
  /// Appends the CRC32 of everything so far, as a valid file ends.
  Bytes finish() const {
    FileBuilder done = *this;
    done.u32(static_cast<std::uint32_t>(crc32(crc32(0L, Z_NULL, 0), bytes.data(), static_cast<uInt>(bytes.size()))));
    return done.bytes;
  }
};

/// A file holding `payload` as its only entries, with a valid header and CRC:
/// what is left to reject is the entries themselves.
Bytes file_with_entries(std::uint32_t entries, const FileBuilder& payload) {
  FileBuilder file;
  file.header(entries, payload.bytes.size());
  file.bytes.insert(file.bytes.end(), payload.bytes.begin(), payload.bytes.end());
  return file.finish();
}

using Net = latent::Mlp<float, latent::ReLU, latent::Identity>;

/// One small training run: a model, Adam, the Rng that draws its data, a step
/// counter, all bound to one Checkpointer.
struct Run {
  latent::Rng rng;
  Net net;
  latent::Adam<float> adam{1e-2f};
  latent::ParameterList<float> params;
  std::int64_t step = 0;
  Checkpointer state;

  explicit Run(std::uint64_t seed, std::vector<latent::Index> sizes = {3, 16, 16, 2})
      : rng(seed), net(sizes, rng), params(net.parameters()) {
    state.add_model("model", net).add_optimizer("optimizer", adam, params).add_rng("rng", rng).add_counter("step", step);
  }
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  void train(int steps) {
    latent::Tape<float> tape;
    for (int i = 0; i < steps; ++i, ++step) {
      // A batch of 7: an odd count of normals when the input size is odd, so
      // the Rng holds a cached normal between steps.
      Matrix<float> inputs(net.in_features(), 7), targets(net.out_features(), 7);
      rng.fill_normal(inputs);
      rng.fill_uniform(targets);
      tape.reset();
      auto loss = latent::bce_with_logits(net(tape.constant(inputs)), tape.constant(targets));
      tape.backward(loss);
      adam.step(params);
      latent::zero_grad(params);
    }
  }

  std::vector<Matrix<float>> values() const {
    std::vector<Matrix<float>> out;
    for (const auto* p : params) out.push_back(p->value);
    return out;
  }
};

Checkpoint sample_checkpoint() {
  Checkpoint c;
  c.set_tensor("weights", test::random_matrix(3, 4, 1).cast<float>());
  c.set_integer("epoch", 12);
  c.set_words("rng", {1, 2, 3});
  c.set_text("description", "Mlp 3-4");
  return c;
}

}  // namespace

TEST_CASE("checkpoint: every kind of entry survives a round trip bit for bit", "[checkpoint]") {
  ScratchFolder folder;
  Checkpoint original;
  Matrix<float> floats(3, 2);
  floats << 0.1f, -0.0f, std::numeric_limits<float>::infinity(), std::numeric_limits<float>::denorm_min(),
      std::numeric_limits<float>::max(), std::numeric_limits<float>::quiet_NaN();
  const Matrix<double> doubles = test::random_matrix(5, 7, 3) * 1e300;
  original.set_tensor("floats", floats);
  original.set_tensor("doubles", doubles);
  original.set_tensor("empty", Matrix<float>(0, 4));
  original.set_integer("min", std::numeric_limits<std::int64_t>::min());
  original.set_integer("max", std::numeric_limits<std::int64_t>::max());
  original.set_words("words", {0, ~std::uint64_t{0}, 0x0123456789abcdefULL});
  original.set_text("text", "zero\0byte and \xc3\xa9"s);

  auto check = [&](const Checkpoint& copy) {
    REQUIRE(copy.names() == original.names());
    const Matrix<float>& f = copy.tensor<float>("floats");
    REQUIRE(f.rows() == 3);
    REQUIRE(f.cols() == 2);
    REQUIRE(std::memcmp(f.data(), floats.data(), sizeof(float) * 6) == 0);  // NaN and -0 too
    REQUIRE(copy.tensor<double>("doubles") == doubles);
    REQUIRE(copy.tensor<float>("empty").rows() == 0);
    REQUIRE(copy.tensor<float>("empty").cols() == 4);
    REQUIRE(copy.integer("min") == std::numeric_limits<std::int64_t>::min());
    REQUIRE(copy.integer("max") == std::numeric_limits<std::int64_t>::max());
    REQUIRE(copy.words("words") == original.words("words"));
    REQUIRE(copy.text("text") == original.text("text"));
  };

  SECTION("through memory") { check(Checkpoint::from_bytes(original.to_bytes())); }
  SECTION("through a file") {
    original.save(folder.file("all.ckpt"));
    const Checkpoint loaded = Checkpoint::load(folder.file("all.ckpt"));
    check(loaded);
    REQUIRE_THAT(loaded.source(), Contains("all.ckpt"));
  }
  SECTION("equal contents give equal files, whatever the order of setting") {
    Checkpoint reordered;
    reordered.set_text("text", original.text("text"));
    reordered.set_words("words", original.words("words"));
    reordered.set_integer("max", original.integer("max"));
    reordered.set_integer("min", original.integer("min"));
    reordered.set_tensor("empty", Matrix<float>(0, 4));
    reordered.set_tensor("doubles", doubles);
    reordered.set_tensor("floats", floats);
    REQUIRE(reordered.to_bytes() == original.to_bytes());
  }
}

TEST_CASE("checkpoint: the file layout is explicit little-endian with a trailing CRC32", "[checkpoint]") {
  Checkpoint c;
  c.set_integer("n", 0x0102030405060708LL);
  c.set_tensor("t", Matrix<float>::Constant(1, 1, 1.0f));  // 0x3f800000
  FileBuilder expected;
  FileBuilder payload;
  payload.u8(2).name("n").u64(0x0102030405060708ULL);
  payload.u8(1).name("t").u8(1).u64(1).u64(1).u32(0x3f800000);
  expected.header(2, payload.bytes.size());
  expected.bytes.insert(expected.bytes.end(), payload.bytes.begin(), payload.bytes.end());
  REQUIRE(c.to_bytes() == expected.finish());
}

TEST_CASE("checkpoint: a resumed run continues bit for bit like an uninterrupted one", "[checkpoint]") {
  latent::set_num_threads(1);
  ScratchFolder folder;
  const int half = 25;

  Run uninterrupted(42);
  uninterrupted.train(2 * half);

  {
    Run first_half(42);
    first_half.train(half);
    first_half.state.save(folder.file("run.ckpt"));
  }
  Run resumed(7);  // other initial weights and data: everything must come from the file
  resumed.state.load(folder.file("run.ckpt"));
  REQUIRE(resumed.step == half);
  REQUIRE(resumed.adam.steps() == half);
  resumed.train(half);

  const auto expected = uninterrupted.values();
  const auto actual = resumed.values();
  REQUIRE(actual.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(i);
    REQUIRE(actual[i] == expected[i]);
  }
  const auto expected_moments = uninterrupted.adam.state_tensors();
  const auto actual_moments = resumed.adam.state_tensors();
  for (std::size_t i = 0; i < expected_moments.size(); ++i) REQUIRE(*actual_moments[i].tensor == *expected_moments[i].tensor);
  REQUIRE(resumed.rng() == uninterrupted.rng());
  REQUIRE(resumed.step == uninterrupted.step);
}

TEST_CASE("checkpoint: a GAN's two models and two optimizers live side by side under their own names", "[checkpoint]") {
  latent::Rng rng(3);
  Net generator({2, 4, 3}, rng), discriminator({3, 4, 1}, rng);
  latent::Adam<float> generator_adam, discriminator_adam;
  const auto generator_params = generator.parameters(), discriminator_params = discriminator.parameters();
  std::int64_t epoch = 9;
  Checkpointer state;
  state.add_model("generator", generator)
      .add_model("discriminator", discriminator)
      .add_optimizer("generator_optimizer", generator_adam, generator_params)
      .add_optimizer("discriminator_optimizer", discriminator_adam, discriminator_params)
      .add_rng("rng", rng)
      .add_counter("epoch", epoch);
  const Checkpoint saved = state.capture();
  REQUIRE(saved.contains("generator.0.weight"));
  REQUIRE(saved.contains("discriminator.1.bias"));
  REQUIRE(saved.contains("generator_optimizer.m.0"));
  REQUIRE(saved.contains("discriminator_optimizer.steps"));

  latent::Rng other_rng(4);
  Net generator2({2, 4, 3}, other_rng), discriminator2({3, 4, 1}, other_rng);
  latent::Adam<float> generator_adam2, discriminator_adam2;
  std::int64_t epoch2 = 0;
  Checkpointer()
      .add_model("generator", generator2)
      .add_model("discriminator", discriminator2)
      .add_optimizer("generator_optimizer", generator_adam2, generator2.parameters())
      .add_optimizer("discriminator_optimizer", discriminator_adam2, discriminator2.parameters())
      .add_rng("rng", other_rng)
      .add_counter("epoch", epoch2)
      .restore(saved);
  REQUIRE(generator2.parameters()[0]->value == generator_params[0]->value);
  REQUIRE(discriminator2.parameters()[3]->value == discriminator_params[3]->value);
  REQUIRE(other_rng() == rng());
  REQUIRE(epoch2 == 9);

  SECTION("a program that needs only the generator loads just that") {
    latent::Rng seed(5);
    Net sampler({2, 4, 3}, seed);
    Checkpointer().add_model("generator", sampler).restore(saved);
    REQUIRE(sampler.parameters()[2]->value == generator_params[2]->value);
  }
  SECTION("bound names must not nest") {
    const auto message = message_of<latent::error>([&] { Checkpointer().add_model("generator", generator).add_rng("generator.rng", rng); });
    REQUIRE_THAT(message, Contains("generator.rng") && Contains("clashes"));
  }
}

TEST_CASE("checkpoint: saving replaces the file atomically", "[checkpoint]") {
  ScratchFolder folder;
  const std::string path = folder.file("model.ckpt");
  Checkpoint old_checkpoint = sample_checkpoint();
  old_checkpoint.save(path);
  Checkpoint new_checkpoint = sample_checkpoint();
  new_checkpoint.set_integer("epoch", 13);

  SECTION("a half-written file beside the checkpoint (a killed save's temporary) is ignored") {
    const Bytes next = new_checkpoint.to_bytes();
    write_bytes(path + ".tmp", Bytes(next.begin(), next.begin() + static_cast<std::ptrdiff_t>(next.size() / 2)));
    REQUIRE(Checkpoint::load(path).integer("epoch") == 12);
    new_checkpoint.save(path);
    REQUIRE(Checkpoint::load(path).integer("epoch") == 13);
  }
  SECTION("no temporary file is left behind") {
    new_checkpoint.save(path);
    REQUIRE_FALSE(fs::exists(path + ".tmp"));
    REQUIRE(read_bytes(path) == new_checkpoint.to_bytes());
    REQUIRE(fs::directory_iterator(folder.path())->path() == path);
    REQUIRE(std::distance(fs::directory_iterator(folder.path()), fs::directory_iterator()) == 1);
  }
  SECTION("a save that cannot complete throws io_error naming the file and leaves the old checkpoint") {
    latent::io::testing::FailingDisk disk(latent::io::testing::Call::create, 1, EACCES);  // the temporary file cannot be created
    const auto message = message_of<latent::io_error>([&] { new_checkpoint.save(path); });
    REQUIRE_THAT(message, Contains(path));
    REQUIRE(Checkpoint::load(path).integer("epoch") == 12);
  }
  SECTION("a folder that does not exist is an io_error") {
    const auto message = message_of<latent::io_error>([&] { new_checkpoint.save(folder.file("missing/model.ckpt")); });
    REQUIRE_THAT(message, Contains("missing/model.ckpt"));
  }
  SECTION("a process killed at any moment of a save leaves the old or the new checkpoint, whole") {
    // The child saves the two checkpoints in turn until it is killed; each
    // kill lands at another moment of a save.
    Checkpoint big = sample_checkpoint();
    big.set_tensor("weights", Matrix<double>::Constant(300, 300, 0.5));
    big.set_integer("epoch", 13);
    const Bytes old_bytes = old_checkpoint.to_bytes(), new_bytes = big.to_bytes();
    for (int attempt = 0; attempt < 20; ++attempt) {
      CAPTURE(attempt);
      const pid_t child = ::fork();
      REQUIRE(child >= 0);
      if (child == 0) {
        try {
          for (;;) {
            big.save(path);
            old_checkpoint.save(path);
          }
        } catch (...) {
          ::_exit(1);
        }
      }
      ::usleep(static_cast<useconds_t>(1000 + 3000 * attempt));  // a save takes milliseconds: kills land all over it
      ::kill(child, SIGKILL);
      int status = 0;
      ::waitpid(child, &status, 0);
      const Bytes found = read_bytes(path);
      REQUIRE((found == old_bytes || found == new_bytes));
      REQUIRE_NOTHROW(Checkpoint::load(path));
    }
  }
}

TEST_CASE("checkpoint: damaged files are refused with io_error and change nothing", "[checkpoint]") {
  ScratchFolder folder;
  const std::string good_path = folder.file("good.ckpt"), damaged_path = folder.file("damaged.ckpt");
  Run saved(1, {2, 3, 2});
  saved.train(2);
  saved.state.save(good_path);
  const Bytes good = read_bytes(good_path);
  Run target(2, {2, 3, 2});
  const auto before = target.values();

  // Loading `bytes` from a file must throw io_error naming the file and leave the run untouched.
  auto require_refused = [&](const Bytes& bytes) {
    write_bytes(damaged_path, bytes);
    const auto message = message_of<latent::io_error>([&] { target.state.load(damaged_path); });
    REQUIRE_THAT(message, Contains(damaged_path));
    REQUIRE(target.values() == before);
    REQUIRE(target.step == 0);
    return message;
  };

  SECTION("truncated at every offset") {
    for (std::size_t size = 0; size < good.size(); ++size) {
      CAPTURE(size);
      REQUIRE_THROWS_AS(Checkpoint::from_bytes(good.data(), size), latent::io_error);
    }
    for (std::size_t size : {std::size_t{0}, std::size_t{5}, std::size_t{27}, good.size() / 2, good.size() - 1}) {
      CAPTURE(size);
      REQUIRE_THAT(require_refused(Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(size))), Contains("truncated"));
    }
  }
  SECTION("any single flipped bit") {
    Bytes flipped = good;
    for (std::size_t bit = 0; bit < 8 * good.size(); ++bit) {
      CAPTURE(bit);
      flipped[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
      REQUIRE_THROWS_AS(Checkpoint::from_bytes(flipped), latent::io_error);
      flipped[bit / 8] = good[bit / 8];
    }
    flipped[flipped.size() / 2] ^= 0x10;
    REQUIRE_THAT(require_refused(flipped), Contains("checksum mismatch"));
  }
  SECTION("trailing bytes") {
    Bytes longer = good;
    longer.push_back(0);
    REQUIRE_THAT(require_refused(longer), Contains("1 trailing bytes"));
  }
  SECTION("another file type") {
    Bytes png = good;
    std::memcpy(png.data(), "\x89PNG\r\n\x1a\n", 8);
    REQUIRE_THAT(require_refused(png), Contains("bad magic"));
  }
  SECTION("another format version") {
    REQUIRE_THAT(require_refused(FileBuilder().header(0, 0, 2).finish()), Contains("format version 2"));
  }
  SECTION("a missing file") {
    REQUIRE_THAT(message_of<latent::io_error>([&] { target.state.load(folder.file("absent.ckpt")); }),
                 Contains("absent.ckpt") && Contains("No such file"));
    REQUIRE(target.values() == before);
  }
  target.state.load(good_path);
  REQUIRE(target.values() == saved.values());
}

TEST_CASE("checkpoint: malformed entries behind a valid checksum are refused before allocating", "[checkpoint]") {
  auto refuse = [](const Bytes& bytes) { return message_of<latent::io_error>([&] { Checkpoint::from_bytes(bytes, "crafted"); }); };
  SECTION("a tensor larger than the bytes present") {
    FileBuilder payload;
    payload.u8(1).name("huge").u8(2).u64(std::uint64_t{1} << 62).u64(1 << 20);
    REQUIRE_THAT(refuse(file_with_entries(1, payload)), Contains("crafted") && Contains("truncated") && Contains("huge"));
  }
  SECTION("an empty tensor with a dimension beyond Eigen's index") {
    FileBuilder payload;
    payload.u8(1).name("wide").u8(1).u64(0).u64(std::uint64_t{1} << 63);
    REQUIRE_THAT(refuse(file_with_entries(1, payload)), Contains("'wide' has a dimension beyond"));
  }
  SECTION("more words than the bytes present") {
    FileBuilder payload;
    payload.u8(3).name("rng").u64(~std::uint64_t{0});
    REQUIRE_THAT(refuse(file_with_entries(1, payload)), Contains("truncated"));
  }
  SECTION("more entries than present") {
    FileBuilder payload;
    payload.u8(2).name("epoch").u64(1);
    REQUIRE_THAT(refuse(file_with_entries(2, payload)), Contains("truncated"));
  }
  SECTION("fewer entries than present") {
    FileBuilder payload;
    payload.u8(2).name("epoch").u64(1).u8(2).name("step").u64(1);
    REQUIRE_THAT(refuse(file_with_entries(1, payload)), Contains("after the last of 1 entries"));
  }
  SECTION("a name twice") {
    FileBuilder payload;
    payload.u8(2).name("epoch").u64(1).u8(2).name("epoch").u64(2);
    REQUIRE_THAT(refuse(file_with_entries(2, payload)), Contains("'epoch' appears twice"));
  }
  SECTION("names out of order") {
    FileBuilder payload;
    payload.u8(2).name("step").u64(1).u8(2).name("epoch").u64(2);
    REQUIRE_THAT(refuse(file_with_entries(2, payload)), Contains("'epoch' is out of name order (after 'step')"));
  }
  SECTION("an empty name") {
    FileBuilder payload;
    payload.u8(2).name("").u64(1);
    REQUIRE_THAT(refuse(file_with_entries(1, payload)), Contains("a name of 0 bytes"));
  }
  SECTION("an unknown kind of entry") {
    FileBuilder payload;
    payload.u8(9).name("x").u64(1);
    REQUIRE_THAT(refuse(file_with_entries(1, payload)), Contains("unknown kind 9"));
  }
  SECTION("an unknown scalar type") {
    FileBuilder payload;
    payload.u8(1).name("t").u8(3).u64(1).u64(1).u64(0);
    REQUIRE_THAT(refuse(file_with_entries(1, payload)), Contains("unknown scalar type 3"));
  }
}

TEST_CASE("checkpoint: restoring into another architecture throws naming the parameter and changes nothing", "[checkpoint]") {
  Run saved(1, {2, 3, 2});
  saved.train(1);
  const Checkpoint checkpoint = saved.state.capture();

  SECTION("a parameter of another shape") {
    Run wider(2, {2, 5, 2});
    const auto before = wider.values();
    const auto message = message_of<latent::shape_error>([&] { wider.state.restore(checkpoint); });
    REQUIRE_THAT(message, Contains("'model.0.weight' is 3x2 in the checkpoint but 5x2 in the model"));
    REQUIRE_THAT(message, Contains("'model.1.weight' is 2x3 in the checkpoint but 2x5 in the model"));
    REQUIRE(wider.values() == before);
  }
  SECTION("a parameter missing from the checkpoint") {
    Checkpoint partial = checkpoint;
    partial.erase("model.1.bias");
    Run same(2, {2, 3, 2});
    const auto before = same.values();
    const auto message = message_of<latent::shape_error>([&] { same.state.restore(partial); });
    REQUIRE_THAT(message, Contains("'model.1.bias' (2x1 in the model) is missing from the checkpoint"));
    REQUIRE(same.values() == before);
  }
  SECTION("a parameter the model does not have") {
    Checkpoint extra = checkpoint;
    extra.set_tensor("model.2.weight", Matrix<float>::Zero(4, 2));
    Run same(2, {2, 3, 2});
    const auto before = same.values();
    const auto message = message_of<latent::shape_error>([&] { same.state.restore(extra); });
    REQUIRE_THAT(message, Contains("'model.2.weight' (4x2 in the checkpoint) does not exist in the model"));
    REQUIRE(same.values() == before);
  }
  SECTION("a double checkpoint into a float model") {
    Checkpoint doubles = checkpoint;
    doubles.set_tensor("model.0.bias", Matrix<double>::Zero(3, 1));
    Run same(2, {2, 3, 2});
    const auto message = message_of<latent::shape_error>([&] { same.state.restore(doubles); });
    REQUIRE_THAT(message, Contains("'model.0.bias' is tensor<double> in the checkpoint but tensor<float> 3x1 in the model"));
  }
  SECTION("a fitting model with a misfitting optimizer state changes neither") {
    Checkpoint bad_optimizer = checkpoint;
    bad_optimizer.set_tensor("optimizer.m.0", Matrix<float>::Zero(1, 1));
    Run same(2, {2, 3, 2});
    const auto before = same.values();
    const auto message = message_of<latent::shape_error>([&] { same.state.restore(bad_optimizer); });
    REQUIRE_THAT(message, Contains("'optimizer.m.0' is 1x1 in the checkpoint but 3x2 in the optimizer"));
    REQUIRE(same.values() == before);
    REQUIRE(same.adam.steps() == 0);
  }
  SECTION("an Rng state of the wrong length") {
    Checkpoint bad_rng = checkpoint;
    bad_rng.set_words("rng", {1, 2});
    Run same(2, {2, 3, 2});
    const auto before = same.values();
    REQUIRE_THAT(message_of<latent::io_error>([&] { same.state.restore(bad_rng); }), Contains("'rng' has 2 words, expected 6"));
    REQUIRE(same.values() == before);
  }
}

TEST_CASE("checkpoint: entries are typed and looked up by name", "[checkpoint]") {
  const Checkpoint c = sample_checkpoint();
  REQUIRE_THAT(message_of<latent::io_error>([&] { c.tensor<double>("weights"); }),
               Contains("'weights' is tensor<float>, not tensor<double>"));
  REQUIRE_THAT(message_of<latent::io_error>([&] { c.integer("step"); }), Contains("no entry 'step'"));
  REQUIRE(c.names_under("") == c.names());
  REQUIRE(Checkpoint().names().empty());
  REQUIRE_THROWS_AS(Checkpoint().set_integer("", 1), latent::error);

  std::int8_t small = 0;
  Checkpoint large;
  large.set_integer("small", 1000);
  REQUIRE_THAT(message_of<latent::io_error>([&] { Checkpointer().add_counter("small", small).restore(large); }),
               Contains("does not fit"));
}

}  // namespace test_checkpoint
