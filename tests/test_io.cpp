// latent/io: bytes in an explicit order whatever the host's, CRC32 and hex
// digits; atomic writes that leave the old file or the new one, whole, and
// no temporary file, whichever system call fails; bounded reads; gzip
// streams; and one style of error message for all of them.
#include <latent/io/bytes.hpp>
#include <latent/io/file.hpp>
#include <latent/io/gzip.hpp>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "data_test_helpers.hpp"

namespace test_io {

using Catch::Matchers::Contains;
using latent::io::ByteOrder;
using latent::io::testing::Call;
using latent::io::testing::FailingDisk;
using test::Bytes;

namespace {

template <ByteOrder order, class T>
Bytes stored(T value) {
  Bytes bytes(sizeof(T));
  latent::io::store<order>(bytes.data(), value);
  return bytes;
}

/// Matches the message of an io_error for a failed system call: "<path>: cannot <what>...: <reason>".
class SystemFailure : public Catch::MatcherBase<std::string> {
 public:
  SystemFailure(std::string path, std::string what, int error_number)
      : start_(std::move(path) + ": cannot " + std::move(what)), reason_(std::strerror(error_number)) {}
  bool match(const std::string& message) const override {
    return message.compare(0, start_.size(), start_) == 0 && message.size() > reason_.size() &&
           message.compare(message.size() - reason_.size(), reason_.size(), reason_) == 0;
  }
  std::string describe() const override { return "starts with \"" + start_ + "\" and ends with \"" + reason_ + "\""; }

 private:
  std::string start_, reason_;
};

SystemFailure names_system_failure(const std::string& path, const std::string& what, int error_number) {
  return {path, what, error_number};
}

Bytes counting_bytes(std::size_t size) {
  Bytes bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::uint8_t>(i * 7 + 3);
  return bytes;
}

}  // namespace

TEST_CASE("io bytes: integers and floats in either byte order, whatever the host's", "[io]") {
  CHECK(stored<ByteOrder::little>(std::uint32_t{0x01020304}) == Bytes{4, 3, 2, 1});
  CHECK(stored<ByteOrder::big>(std::uint32_t{0x01020304}) == Bytes{1, 2, 3, 4});
  CHECK(stored<ByteOrder::big>(std::uint16_t{0xabcd}) == Bytes{0xab, 0xcd});
  CHECK(stored<ByteOrder::little>(std::int64_t{-2}) == Bytes{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  CHECK(stored<ByteOrder::big>(1.0f) == Bytes{0x3f, 0x80, 0, 0});
  CHECK(stored<ByteOrder::little>(-2.0) == Bytes{0, 0, 0, 0, 0, 0, 0, 0xc0});
  CHECK(stored<ByteOrder::big>(std::uint8_t{0x7f}) == Bytes{0x7f});

  const Bytes bytes = {0x80, 1, 2, 3, 4, 5, 6, 7};
  CHECK(latent::io::load<ByteOrder::big, std::int16_t>(bytes.data()) == -32767);
  CHECK(latent::io::load<ByteOrder::little, std::uint64_t>(bytes.data()) == 0x0706050403020180ULL);
  CHECK(latent::io::load<ByteOrder::big, std::uint32_t>(bytes.data() + 4) == 0x04050607u);
  const double tiny = std::numeric_limits<double>::denorm_min();
  CHECK(latent::io::load<ByteOrder::big, double>(stored<ByteOrder::big>(tiny).data()) == tiny);

  std::vector<std::int32_t> values(2);
  const Bytes big = {0xff, 0xff, 0xff, 0xfe, 0, 0, 1, 0};
  std::memcpy(values.data(), big.data(), big.size());
  latent::io::to_host_order<ByteOrder::big>(values.data(), values.size());
  CHECK(values == std::vector<std::int32_t>{-2, 256});
}

TEST_CASE("io bytes: a writer appends, a reader takes back and names what it lacks", "[io]") {
  latent::io::ByteWriter<ByteOrder::big> out;
  out.put(std::uint8_t{9});
  out.put<std::uint32_t>(0);
  const float floats[] = {0.5f, -0.0f};
  out.put_values(floats, 2);
  out.write("ab", 2);
  out.patch<std::uint32_t>(1, 0xdeadbeef);
  CHECK(out.bytes() == Bytes{9, 0xde, 0xad, 0xbe, 0xef, 0x3f, 0, 0, 0, 0x80, 0, 0, 0, 'a', 'b'});

  const Bytes bytes = out.take();
  latent::io::ByteReader<ByteOrder::big> in(bytes.data(), bytes.size(), "sample");
  CHECK(in.get<std::uint8_t>("kind") == 9);
  CHECK(in.get<std::uint32_t>("size") == 0xdeadbeef);
  float back[2];
  in.get_values(back, 2, "values");
  CHECK(std::memcmp(back, floats, sizeof floats) == 0);
  CHECK(in.offset() == 13);
  CHECK(in.remaining() == 2);
  CHECK_THAT(test::io_error_message([&] { in.get<std::uint32_t>("count"); }),
             Contains("sample: truncated: count needs 4 bytes, 2 left (at byte 13)"));
  CHECK_THAT(test::io_error_message([&] { in.get_values(back, std::numeric_limits<std::size_t>::max() / 2, "values"); }),
             Contains("sample: truncated: values needs") && Contains("2 left"));

  SECTION("as a source: read returns what is there, rewind starts over") {
    std::uint8_t buffer[4] = {};
    CHECK(in.read(buffer, 4) == 2);
    CHECK(buffer[0] == 'a');
    CHECK(in.read(buffer, 4) == 0);
    in.rewind();
    CHECK(in.remaining() == bytes.size());
  }
}

TEST_CASE("io bytes: CRC32 and hex digits", "[io]") {
  const std::string check = "123456789";
  CHECK(latent::io::crc32_of(check.data(), check.size()) == 0xcbf43926u);  // the CRC-32 check value
  CHECK(latent::io::crc32_of(check.data() + 4, 5, latent::io::crc32_of(check.data(), 4)) == 0xcbf43926u);
  CHECK(latent::io::crc32_of(nullptr, 0) == 0u);
  CHECK(latent::io::hex_digits(0x8b, 2) == "8b");
  CHECK(latent::io::hex_digits(0x0a, 2) == "0a");
  CHECK(latent::io::hex_digits(0xcbf43926u, 8) == "cbf43926");
  CHECK(latent::io::hex_digits(0x1ff, 2) == "ff");
}

TEST_CASE("io file: an atomic write replaces the file whole and leaves nothing else", "[io]") {
  test::TempDir dir;
  const std::string path = (dir / "data.bin").string();
  const Bytes first = counting_bytes(100), second = counting_bytes(70000);

  latent::io::write_file_atomically(path, first);
  CHECK(test::read_bytes(path) == first);
  latent::io::write_file_atomically(path, second);
  CHECK(test::read_bytes(path) == second);
  latent::io::write_file_atomically(path, std::string_view("text"));
  CHECK(test::read_bytes(path) == Bytes{'t', 'e', 'x', 't'});
  CHECK(test::folder_entries(dir.path()) == std::vector<std::string>{"data.bin"});

  SECTION("a file in the working folder") {
    const std::string name = "latent-io-test-" + std::to_string(::getpid());
    latent::io::write_file_atomically(name, first);
    CHECK(latent::io::read_file(name, 1000) == first);
    std::filesystem::remove(name);
  }
  SECTION("until commit() the target is untouched; without it the temporary goes") {
    {
      latent::io::AtomicFile file(path);
      file.write(first.data(), first.size());
      CHECK(test::folder_entries(dir.path()).size() == 2);
      CHECK(test::read_bytes(path) == Bytes{'t', 'e', 'x', 't'});
    }
    CHECK(test::folder_entries(dir.path()) == std::vector<std::string>{"data.bin"});
    CHECK(test::read_bytes(path) == Bytes{'t', 'e', 'x', 't'});
  }
  SECTION("two writers of one target at once use two temporary files; the last commit wins") {
    latent::io::AtomicFile a(path), b(path);
    a.write(first.data(), first.size());
    b.write(second.data(), second.size());
    a.commit();
    b.commit();
    CHECK(test::read_bytes(path) == second);
    CHECK(test::folder_entries(dir.path()) == std::vector<std::string>{"data.bin"});
  }
  SECTION("a missing folder") {
    const std::string target = (dir / "missing/data.bin").string();
    CHECK_THAT(test::io_error_message([&] { latent::io::write_file_atomically(target, first); }),
               names_system_failure(target, "create a temporary file in " + (dir / "missing").string(), ENOENT));
  }
}

TEST_CASE("io file: whichever system call of a write fails, the old file stays whole and no temporary is left", "[io]") {
  test::TempDir dir;
  const std::string path = (dir / "data.bin").string();
  const Bytes old_bytes = counting_bytes(1000), new_bytes = counting_bytes(200000);
  latent::io::write_file_atomically(path, old_bytes);

  // Writes new_bytes in pieces, as encoders do, so that a disk can fail between them.
  const auto write_new = [&] {
    latent::io::AtomicFile file(path);
    for (std::size_t at = 0; at < new_bytes.size(); at += 30000)
      file.write(new_bytes.data() + at, std::min<std::size_t>(30000, new_bytes.size() - at));
    file.commit();
  };
  const auto require_old_file_alone = [&] {
    REQUIRE(test::read_bytes(path) == old_bytes);
    REQUIRE(test::folder_entries(dir.path()) == std::vector<std::string>{"data.bin"});
  };

  SECTION("each call, failing with its own reason") {
    const struct {
      Call call;
      int nth;
      int error_number;
      const char* what;
    } faults[] = {
        {Call::create, 1, EACCES, "create a temporary file"},
        {Call::write, 1, EIO, "write the temporary file"},
        {Call::write, 3, EDQUOT, "write the temporary file"},
        {Call::sync, 1, EIO, "fsync the temporary file"},
        {Call::close, 1, EIO, "close the temporary file"},
        {Call::rename, 1, EXDEV, "rename the temporary file"},
    };
    for (const auto& fault : faults) {
      CAPTURE(fault.what, fault.nth);
      FailingDisk disk(fault.call, fault.nth, fault.error_number);
      REQUIRE_THAT(test::io_error_message(write_new), names_system_failure(path, fault.what, fault.error_number));
      REQUIRE(disk.failures() == 1);
      require_old_file_alone();
    }
  }
  SECTION("a disk that fills up at any point of the data") {
    for (std::size_t space : {std::size_t{0}, std::size_t{1}, std::size_t{29999}, std::size_t{30000}, std::size_t{123456},
                              new_bytes.size() - 1}) {
      CAPTURE(space);
      FailingDisk disk(FailingDisk::FullAfter{space});
      REQUIRE_THAT(test::io_error_message(write_new), names_system_failure(path, "write the temporary file", ENOSPC));
      REQUIRE(disk.failures() == 1);
      require_old_file_alone();
    }
    FailingDisk roomy(FailingDisk::FullAfter{new_bytes.size()});
    write_new();
    CHECK(test::read_bytes(path) == new_bytes);
  }
  SECTION("a folder that cannot be synced after the rename: the new file is in place, whole, and the error says so") {
    FailingDisk disk(Call::sync_folder, 1, EIO);
    REQUIRE_THAT(test::io_error_message(write_new), names_system_failure(path, "fsync its folder", EIO) && Contains("after the rename"));
    CHECK(test::read_bytes(path) == new_bytes);
    CHECK(test::folder_entries(dir.path()) == std::vector<std::string>{"data.bin"});
  }
  SECTION("a disk outlives no scope: the next write works") {
    { FailingDisk disk(Call::write); }
    write_new();
    CHECK(test::read_bytes(path) == new_bytes);
  }
}

TEST_CASE("io file: reads are of regular files, bounded, with the same style of message", "[io]") {
  test::TempDir dir;
  const auto path = (dir / "data.bin").string();
  const Bytes bytes = counting_bytes(5000);
  test::write_bytes(path, bytes);

  CHECK(latent::io::read_file(path, 5000) == bytes);
  CHECK_THAT(test::io_error_message([&] { latent::io::read_file(path, 4999); }),
             Contains(path + ": 5000 bytes, more than the 4999-byte limit"));
  CHECK_THAT(test::io_error_message([&] { latent::io::read_file((dir / "absent").string(), 10); }),
             names_system_failure((dir / "absent").string(), "open it", ENOENT));
  CHECK_THAT(test::io_error_message([&] { latent::io::read_file(dir.path().string(), 10); }),
             Contains(dir.path().string() + ": not a regular file"));
  {
    FailingDisk disk(Call::read, 1, EIO);
    CHECK_THAT(test::io_error_message([&] { latent::io::read_file(path, 5000); }), names_system_failure(path, "read it", EIO));
  }
  {
    FailingDisk disk(Call::open, 1, EMFILE);
    CHECK_THAT(test::io_error_message([&] { latent::io::read_file(path, 5000); }), names_system_failure(path, "open it", EMFILE));
  }

  SECTION("as a source: size first, then reads up to the end, rewind") {
    latent::io::InputFile file(path);
    CHECK(file.size() == 5000);
    Bytes head(10);
    CHECK(file.read(head.data(), head.size()) == 10);
    CHECK(head == Bytes(bytes.begin(), bytes.begin() + 10));
    CHECK(file.remaining() == 4990);
    Bytes rest(6000);
    CHECK(file.read(rest.data(), rest.size()) == 4990);
    CHECK(file.remaining() == 0);
    CHECK_THAT(test::io_error_message([&] { file.read_exactly(rest.data(), 1); }), Contains(path + ": the file shrank"));
    file.rewind();
    CHECK(file.read(head.data(), 1) == 1);
    CHECK(head[0] == bytes[0]);
  }
  SECTION("a file that grows while it is read is refused") {
    latent::io::InputFile file(path);
    test::write_bytes(path, counting_bytes(5001));
    CHECK_THAT(test::io_error_message([&] { file.read_all(10000); }), Contains(path + ": the file grew while it was read"));
  }
}

TEST_CASE("io file: create_folders makes the missing folders of a path, or says why it cannot", "[io]") {
  test::TempDir dir;
  const std::string nested = (dir / "a/b/c").string();
  latent::io::create_folders(nested);
  latent::io::create_folders(nested);  // existing already: nothing to do
  CHECK(std::filesystem::is_directory(nested));
  test::write_bytes(dir / "file", {1});
  const std::string under_file = (dir / "file/d").string();
  CHECK_THAT(test::io_error_message([&] { latent::io::create_folders(under_file); }),
             names_system_failure(under_file, "create the folder", ENOTDIR));
}

TEST_CASE("io gzip: streams into an atomic file and back out of a file, bounded by what is asked", "[io]") {
  test::TempDir dir;
  const std::string path = (dir / "data.gz").string();
  const Bytes bytes = counting_bytes(300000);

  {
    latent::io::AtomicFile file(path);
    latent::io::GzipSink<latent::io::AtomicFile> gzip(file, path);
    gzip.write(bytes.data(), bytes.size());
    gzip.finish();
    file.commit();
  }
  const Bytes compressed = test::read_bytes(path);
  REQUIRE(latent::io::starts_as_gzip(compressed.data(), compressed.size()));
  CHECK(compressed == latent::io::gzip_compress(bytes.data(), bytes.size()));

  latent::io::InputFile file(path);
  latent::io::GunzipBytes<latent::io::InputFile> gunzip(file, path);
  Bytes back(1000);
  CHECK(gunzip.read(back.data(), back.size()) == 1000);  // what was asked, no more
  CHECK(back == Bytes(bytes.begin(), bytes.begin() + 1000));
  back.resize(bytes.size());
  CHECK(gunzip.read(back.data() + 1000, bytes.size()) == bytes.size() - 1000);
  CHECK(back == bytes);

  SECTION("a stream cut short, from memory") {
    latent::io::ByteReader<ByteOrder::little> cut(compressed.data(), compressed.size() - 9, "cut stream");
    latent::io::GunzipBytes<latent::io::ByteReader<ByteOrder::little>> broken(cut, "cut stream");
    Bytes more(bytes.size() + 1);  // asks past the end: the missing trailer must be noticed
    CHECK_THAT(test::io_error_message([&] { broken.read(more.data(), more.size()); }),
               Contains("cut stream: truncated gzip stream"));
  }
  SECTION("a disk that fills up while compressing leaves the old file") {
    FailingDisk disk(FailingDisk::FullAfter{100});
    CHECK_THAT(test::io_error_message([&] {
                 latent::io::AtomicFile out(path);
                 latent::io::GzipSink<latent::io::AtomicFile> gzip(out, path);
                 gzip.write(bytes.data(), bytes.size());
                 gzip.finish();
                 out.commit();
               }),
               names_system_failure(path, "write", ENOSPC));
    CHECK(test::read_bytes(path) == compressed);
    CHECK(test::folder_entries(dir.path()) == std::vector<std::string>{"data.gz"});
  }
}

}  // namespace test_io
