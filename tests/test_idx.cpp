// latent/data/idx.hpp: IDX files round-trip raw and gzip, writes are atomic,
// and every malformed file is an io_error naming the file and the problem,
// raised before any memory is set aside for data that is not there.
#include <latent/data/idx.hpp>

#include <cstdint>
#include <limits>
#include <vector>

#include "data_test_helpers.hpp"

namespace test_idx {

using Catch::Matchers::Contains;
using latent::data::Compression;
using latent::data::IdxArray;
using latent::data::IdxType;
using test::Bytes;

namespace {

const std::vector<std::uint8_t> kImageBytes = [] {
  std::vector<std::uint8_t> bytes(3 * 2 * 4);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i * 11);
  return bytes;
}();

template <class T>
IdxArray make_array(std::vector<std::size_t> dims, std::vector<T> values) {
  IdxArray array;
  array.dims = std::move(dims);
  array.values = std::move(values);
  return array;
}

/// A valid raw IDX file of 3 u8 images of 2 x 4.
Bytes valid_images_file() { return test::concat(test::idx_header(0x08, {3, 2, 4}), Bytes(kImageBytes.begin(), kImageBytes.end())); }

}  // namespace

TEST_CASE("IDX files round-trip through write and read", "[idx]") {
  test::TempDir dir;

  SECTION("u8 images, raw: type, dimensions and bytes come back") {
    latent::data::write_idx_ubyte(dir / "images", {3, 2, 4}, kImageBytes);
    const IdxArray array = latent::data::read_idx(dir / "images");
    CHECK(array.type() == IdxType::u8);
    CHECK(array.dims == std::vector<std::size_t>{3, 2, 4});
    CHECK(array.get<std::uint8_t>() == kImageBytes);
    CHECK(test::read_bytes(dir / "images") == valid_images_file());
  }

  SECTION("u8 images, gzip: the file is gzip and reads back the same") {
    latent::data::write_idx_ubyte(dir / "images.gz", {3, 2, 4}, kImageBytes, Compression::gzip);
    const Bytes file = test::read_bytes(dir / "images.gz");
    REQUIRE(file.size() > 2);
    CHECK(file[0] == 0x1f);
    CHECK(file[1] == 0x8b);
    const IdxArray array = latent::data::read_idx(dir / "images.gz");
    CHECK(array.dims == std::vector<std::size_t>{3, 2, 4});
    CHECK(array.get<std::uint8_t>() == kImageBytes);
  }

  SECTION("u8 labels, one dimension") {
    const std::vector<std::uint8_t> labels = {5, 0, 4, 1, 9};
    latent::data::write_idx_ubyte(dir / "labels", {5}, labels);
    const IdxArray array = latent::data::read_idx(dir / "labels");
    CHECK(array.dims == std::vector<std::size_t>{5});
    CHECK(array.get<std::uint8_t>() == labels);
  }

  SECTION("every element type keeps its values, stored big-endian") {
    const auto round_trip = [&](const IdxArray& array, Compression compression) {
      latent::data::write_idx(dir / "array", array, compression);
      return latent::data::read_idx(dir / "array");
    };
    for (const Compression compression : {Compression::none, Compression::gzip}) {
      CHECK(round_trip(make_array<std::int8_t>({3}, {-128, 0, 127}), compression).get<std::int8_t>() ==
            std::vector<std::int8_t>{-128, 0, 127});
      CHECK(round_trip(make_array<std::int16_t>({2, 2}, {-32768, -1, 258, 32767}), compression).get<std::int16_t>() ==
            std::vector<std::int16_t>{-32768, -1, 258, 32767});
      CHECK(round_trip(make_array<std::int32_t>({2}, {std::numeric_limits<std::int32_t>::min(), 16909060}), compression)
                .get<std::int32_t>() == std::vector<std::int32_t>{std::numeric_limits<std::int32_t>::min(), 16909060});
      CHECK(round_trip(make_array<float>({1, 3}, {-1.5f, 0.1f, 3e38f}), compression).get<float>() ==
            std::vector<float>{-1.5f, 0.1f, 3e38f});
      CHECK(round_trip(make_array<double>({2}, {-2.25, 1e-300}), compression).get<double>() ==
            std::vector<double>{-2.25, 1e-300});
    }
    latent::data::write_idx(dir / "shorts", make_array<std::int16_t>({1}, {0x0102}));
    CHECK(test::read_bytes(dir / "shorts") == test::concat(test::idx_header(0x0B, {1}), {0x01, 0x02}));
  }

  SECTION("gzip is recognised by its magic bytes, not by the file name") {
    latent::data::write_idx_ubyte(dir / "looks-raw", {3, 2, 4}, kImageBytes, Compression::gzip);
    latent::data::write_idx_ubyte(dir / "looks-gzipped.gz", {3, 2, 4}, kImageBytes);
    CHECK(latent::data::read_idx(dir / "looks-raw").get<std::uint8_t>() == kImageBytes);
    CHECK(latent::data::read_idx(dir / "looks-gzipped.gz").get<std::uint8_t>() == kImageBytes);
  }

  SECTION("concatenated gzip members read as one stream, as gunzip reads them") {
    const Bytes file = valid_images_file();
    const Bytes first(file.begin(), file.begin() + 10);
    const Bytes second(file.begin() + 10, file.end());
    const Bytes members = test::concat(latent::io::gzip_compress(first.data(), first.size()),
                                       latent::io::gzip_compress(second.data(), second.size()));
    test::write_bytes(dir / "members.gz", members);
    CHECK(latent::data::read_idx(dir / "members.gz").get<std::uint8_t>() == kImageBytes);
  }

  SECTION("parse_idx reads the same arrays from memory") {
    const Bytes raw = valid_images_file();
    const Bytes gzipped = latent::io::gzip_compress(raw.data(), raw.size());
    CHECK(latent::data::parse_idx(raw.data(), raw.size()).get<std::uint8_t>() == kImageBytes);
    CHECK(latent::data::parse_idx(gzipped.data(), gzipped.size()).get<std::uint8_t>() == kImageBytes);
    CHECK(latent::data::encode_idx(latent::data::parse_idx(raw.data(), raw.size())) == raw);
  }

  SECTION("an empty list of items (first dimension 0) is a valid array") {
    latent::data::write_idx_ubyte(dir / "none", {0, 28, 28}, std::vector<std::uint8_t>{});
    const IdxArray array = latent::data::read_idx(dir / "none");
    CHECK(array.dims == std::vector<std::size_t>{0, 28, 28});
    CHECK(array.size() == 0);
  }

  SECTION("asking for the wrong element type is an error") {
    latent::data::write_idx_ubyte(dir / "labels", {1}, std::vector<std::uint8_t>{7});
    const IdxArray array = latent::data::read_idx(dir / "labels");
    CHECK_THROWS_AS(array.get<float>(), latent::error);
  }
}

TEST_CASE("IDX writes are atomic", "[idx]") {
  test::TempDir dir;

  SECTION("a rewrite replaces the whole file and leaves no temporary file") {
    latent::data::write_idx_ubyte(dir / "labels", {2}, std::vector<std::uint8_t>{1, 2});
    latent::data::write_idx_ubyte(dir / "labels", {3}, std::vector<std::uint8_t>{7, 8, 9}, Compression::gzip);
    CHECK(latent::data::read_idx(dir / "labels").get<std::uint8_t>() == std::vector<std::uint8_t>{7, 8, 9});
    CHECK(test::folder_entries(dir.path()) == std::vector<std::string>{"labels"});
  }

  SECTION("a write that cannot happen names the file and leaves the old one alone") {
    latent::data::write_idx_ubyte(dir / "labels", {2}, std::vector<std::uint8_t>{1, 2});
    const std::string message = test::io_error_message(
        [&] { latent::data::write_idx_ubyte(dir / "labels", {5}, std::vector<std::uint8_t>{1, 2}); });
    CHECK_THAT(message, Contains((dir / "labels").string()));
    CHECK(latent::data::read_idx(dir / "labels").get<std::uint8_t>() == std::vector<std::uint8_t>{1, 2});
    CHECK(test::folder_entries(dir.path()) == std::vector<std::string>{"labels"});
  }

  SECTION("a missing folder is an io_error naming the file") {
    const auto target = dir / "missing/labels";
    const std::string message =
        test::io_error_message([&] { latent::data::write_idx_ubyte(target, {1}, std::vector<std::uint8_t>{1}); });
    CHECK_THAT(message, Contains(target.string()) && Contains("No such file or directory"));
    CHECK(test::folder_entries(dir.path()).empty());
  }

  SECTION("dimensions the format cannot hold are refused") {
    CHECK_THROWS_AS(latent::data::write_idx_ubyte(dir / "x", {}, std::vector<std::uint8_t>{}), latent::io_error);
    CHECK_THROWS_AS(latent::data::write_idx_ubyte(dir / "x", {std::size_t{1} << 32}, nullptr), latent::io_error);
    CHECK_THROWS_AS(latent::data::write_idx_ubyte(dir / "x", {1, 0}, std::vector<std::uint8_t>{}), latent::io_error);
    CHECK(test::folder_entries(dir.path()).empty());
  }
}

TEST_CASE("Malformed IDX files are io_errors that name the file and the problem", "[idx]") {
  test::TempDir dir;
  const auto path = dir / "bad-file";
  // Writes `bytes` to the file (raw, or gzip-compressed) and returns the
  // message read_idx fails with, having checked that it names the file.
  const auto read_failure = [&](const Bytes& bytes, Compression compression = Compression::none,
                                std::uint64_t max_data_bytes = latent::data::kIdxDefaultMaxBytes) {
    test::write_bytes(path, compression == Compression::gzip ? latent::io::gzip_compress(bytes.data(), bytes.size())
                                                             : bytes);
    const std::string message = test::io_error_message([&] { latent::data::read_idx(path, max_data_bytes); });
    CHECK_THAT(message, Contains(path.string()));
    return message;
  };

  SECTION("missing file") {
    CHECK_THAT(test::io_error_message([&] { latent::data::read_idx(dir / "absent"); }),
               Contains((dir / "absent").string()) && Contains("No such file"));
  }
  SECTION("a folder is not a file") {
    CHECK_THAT(test::io_error_message([&] { latent::data::read_idx(dir.path()); }), Contains("not a regular file"));
  }
  SECTION("empty file") { CHECK_THAT(read_failure({}), Contains("truncated") && Contains("header")); }
  SECTION("file shorter than the header") { CHECK_THAT(read_failure({0, 0, 8}), Contains("truncated")); }
  SECTION("wrong magic") {
    CHECK_THAT(read_failure({'P', 'K', 3, 4, 0, 0, 0, 1, 0}), Contains("not an IDX file") && Contains("50 4b"));
  }
  SECTION("unknown element type") {
    CHECK_THAT(read_failure(test::concat(test::idx_header(0x0A, {1}), {0})), Contains("unknown IDX element type 0x0a"));
  }
  SECTION("zero dimensions") { CHECK_THAT(read_failure(test::idx_header(0x08, {})), Contains("zero dimensions")); }
  SECTION("absurd number of dimensions") {
    CHECK_THAT(read_failure(test::concat({0, 0, 8, 200}, Bytes(800, 1))), Contains("200 dimensions"));
  }
  SECTION("header cut inside the dimension sizes") {
    CHECK_THAT(read_failure({0, 0, 8, 3, 0, 0, 0, 2, 0, 0}), Contains("truncated inside the IDX header"));
  }
  SECTION("a zero-size dimension after the first") {
    CHECK_THAT(read_failure(test::idx_header(0x08, {2, 0, 4})), Contains("dimension 2 of 3 has size 0"));
  }
  SECTION("dimension product overflows 64 bits") {
    const std::uint32_t max = std::numeric_limits<std::uint32_t>::max();
    CHECK_THAT(read_failure(test::concat(test::idx_header(0x0E, {max, max, max}), Bytes(8, 0))), Contains("overflow"));
  }
  SECTION("a header claiming 2^32 x 2^32 items, raw: refused before allocating") {
    const std::uint32_t max = std::numeric_limits<std::uint32_t>::max();
    CHECK_THAT(read_failure(test::concat(test::idx_header(0x08, {max, max}), Bytes(16, 0))), Contains("limit"));
    // With no limit the bytes actually present still decide.
    CHECK_THAT(read_failure(test::concat(test::idx_header(0x08, {max, max}), Bytes(16, 0)), Compression::none,
                            std::numeric_limits<std::uint64_t>::max()),
               Contains("truncated") && Contains("the file holds 16"));
  }
  SECTION("a header claiming 2^32 x 2^32 items, gzip: refused before allocating") {
    const std::uint32_t max = std::numeric_limits<std::uint32_t>::max();
    CHECK_THAT(read_failure(test::concat(test::idx_header(0x08, {max, max}), Bytes(16, 0)), Compression::gzip),
               Contains("limit"));
    // With no limit, memory grows only with the decompressed bytes that arrive.
    CHECK_THAT(read_failure(test::concat(test::idx_header(0x08, {max, max}), Bytes(16, 0)), Compression::gzip,
                            std::numeric_limits<std::uint64_t>::max()),
               Contains("truncated") && Contains("the stream holds 16"));
  }
  SECTION("dimensions need more bytes than the file holds") {
    CHECK_THAT(read_failure(test::concat(test::idx_header(0x08, {1000, 1000}), Bytes(10, 0))),
               Contains("need 1000000 bytes") && Contains("holds 10"));
  }
  SECTION("truncated data, raw") {
    const Bytes file = valid_images_file();
    CHECK_THAT(read_failure(Bytes(file.begin(), file.end() - 1)), Contains("truncated"));
  }
  SECTION("truncated data, gzip") {
    const Bytes file = valid_images_file();
    CHECK_THAT(read_failure(Bytes(file.begin(), file.end() - 1), Compression::gzip), Contains("truncated"));
  }
  SECTION("multi-byte elements cut in the middle") {
    CHECK_THAT(read_failure(test::concat(test::idx_header(0x0D, {2}), Bytes(7, 0))), Contains("truncated"));
  }
  SECTION("trailing garbage after the data, raw") {
    CHECK_THAT(read_failure(test::concat(valid_images_file(), {1, 2, 3})),
               Contains("trailing garbage") && Contains("3 bytes"));
  }
  SECTION("trailing garbage after the data, inside the gzip stream") {
    CHECK_THAT(read_failure(test::concat(valid_images_file(), {1, 2, 3}), Compression::gzip),
               Contains("trailing garbage"));
  }
  SECTION("trailing garbage after the gzip stream") {
    const Bytes file = valid_images_file();
    test::write_bytes(path, test::concat(latent::io::gzip_compress(file.data(), file.size()), {0, 0, 0, 0}));
    CHECK_THAT(test::io_error_message([&] { latent::data::read_idx(path); }),
               Contains(path.string()) && Contains("trailing garbage after the gzip stream"));
  }
  SECTION("gzip stream cut short") {
    const Bytes file = valid_images_file();
    const Bytes gzipped = latent::io::gzip_compress(file.data(), file.size());
    test::write_bytes(path, Bytes(gzipped.begin(), gzipped.end() - 6));
    CHECK_THAT(test::io_error_message([&] { latent::data::read_idx(path); }),
               Contains(path.string()) && Contains("truncated gzip stream"));
  }
  SECTION("corrupt gzip: an invalid deflate block") {
    const Bytes file = valid_images_file();
    Bytes gzipped = latent::io::gzip_compress(file.data(), file.size());
    gzipped[10] = 0xff;  // first block header after the 10-byte gzip header: block type 3 does not exist
    test::write_bytes(path, gzipped);
    CHECK_THAT(test::io_error_message([&] { latent::data::read_idx(path); }),
               Contains(path.string()) && Contains("corrupt gzip stream"));
  }
  SECTION("corrupt gzip: a wrong checksum") {
    const Bytes file = valid_images_file();
    Bytes gzipped = latent::io::gzip_compress(file.data(), file.size());
    gzipped[gzipped.size() - 8] ^= 0xff;  // the trailer's CRC-32
    test::write_bytes(path, gzipped);
    CHECK_THAT(test::io_error_message([&] { latent::data::read_idx(path); }),
               Contains(path.string()) && Contains("corrupt gzip stream"));
  }
  SECTION("parse_idx names the buffer it was given") {
    const Bytes bad = {1, 2, 3, 4};
    CHECK_THAT(test::io_error_message([&] { latent::data::parse_idx(bad.data(), bad.size(), "sample buffer"); }),
               Contains("sample buffer") && Contains("not an IDX file"));
  }
}

}  // namespace test_idx
