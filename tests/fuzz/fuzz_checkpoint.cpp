// fuzz_checkpoint: libFuzzer harness for latent/io/checkpoint.hpp. Any input
// must either parse or raise latent::io_error: no crash, no sanitizer report,
// no allocation beyond the input's size. Random bytes rarely pass the CRC32,
// so each input is also parsed with its last four bytes replaced by the right
// checksum: that reaches the entry parser with arbitrary entries. On top, the
// encoding is canonical: an input that parses is exactly what to_bytes()
// writes for the parsed checkpoint.
#include <latent/io/checkpoint.hpp>

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace {

void parse_and_check(const std::uint8_t* data, std::size_t size) {
  latent::Checkpoint checkpoint;
  try {
    checkpoint = latent::Checkpoint::from_bytes(data, size, "fuzz input");
  } catch (const latent::io_error&) {
    return;
  }
  if (checkpoint.to_bytes() != std::vector<std::uint8_t>(data, data + size)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  parse_and_check(data, size);
  if (size < 4) return 0;
  std::vector<std::uint8_t> with_checksum(data, data + size);
  const std::size_t body = size - 4;
  const auto crc = static_cast<std::uint32_t>(crc32(crc32(0L, Z_NULL, 0), with_checksum.data(), static_cast<uInt>(body)));
  for (int b = 0; b < 4; ++b) with_checksum[body + b] = static_cast<std::uint8_t>(crc >> (8 * b));
  parse_and_check(with_checksum.data(), with_checksum.size());
  return 0;
}
