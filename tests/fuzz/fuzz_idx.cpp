// fuzz_idx: libFuzzer harness for latent/data/idx.hpp. Any input must either
// parse or raise latent::io_error: no crash, no sanitizer report, no hang, no
// allocation beyond the limit. Two properties are checked on top:
//  - a raw input that parses re-encodes to exactly the same bytes;
//  - the same bytes gzip-compressed parse to the same array, or fail too.
#include <latent/data/idx.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <vector>

namespace {

// Memory budget for one input's data, far below libFuzzer's RSS limit.
constexpr std::uint64_t kMaxDataBytes = std::uint64_t{1} << 24;

/// The raw IDX encoding of what `bytes` parse to, or nothing if they are rejected.
std::optional<std::vector<unsigned char>> parse_and_encode(const unsigned char* bytes, std::size_t size) {
  try {
    return latent::data::encode_idx(latent::data::parse_idx(bytes, size, "fuzz input", kMaxDataBytes));
  } catch (const latent::io_error&) {
    return std::nullopt;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parsed = parse_and_encode(data, size);
  const bool input_is_gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  if (input_is_gzip) return 0;  // already took the gzip path; compressing it again would nest gzip

  if (parsed && *parsed != std::vector<unsigned char>(data, data + size)) std::abort();

  const std::vector<unsigned char> gzipped = latent::io::gzip_compress(data, size);
  const auto parsed_from_gzip = parse_and_encode(gzipped.data(), gzipped.size());
  if (parsed.has_value() != parsed_from_gzip.has_value()) std::abort();
  if (parsed && *parsed != *parsed_from_gzip) std::abort();
  return 0;
}
