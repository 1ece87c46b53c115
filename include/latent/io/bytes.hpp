// latent/io/bytes.hpp: bytes in memory, the layer under every file format.
// Integers and IEEE-754 floats are stored in an explicit byte order
// (checkpoints are little-endian, IDX files big-endian) whatever the host's;
// ByteWriter appends them to a growing buffer and ByteReader takes them from a
// bounded one, where running past the end is an io_error naming the source,
// the field and the offset. Also CRC32 and hex digits for messages.
//
// ByteWriter and ByteReader are the in-memory ends of the stream interface
// that gzip.hpp and file.hpp speak too: a sink has write(data, size) and
// finish(); a source has read(destination, count) (returns the bytes read,
// fewer than count only at its end), remaining() and rewind().
#pragma once

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "latent/error.hpp"

namespace latent::io {

enum class ByteOrder { little, big };

/// The unsigned integer as wide as T (1, 2, 4 or 8 bytes): what T's bytes are reordered as.
template <class T>
using BitsOf = std::conditional_t<
    sizeof(T) == 1, std::uint8_t,
    std::conditional_t<sizeof(T) == 2, std::uint16_t, std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>>;

namespace detail {

template <class T>
constexpr void check_storable() {
  static_assert(std::is_arithmetic<T>::value && !std::is_same<T, bool>::value &&
                    (sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8),
                "io: stores integers and floats of 1, 2, 4 or 8 bytes");
  static_assert(!std::is_floating_point<T>::value || std::numeric_limits<T>::is_iec559, "io: floats are stored as IEEE-754");
}

/// Where byte b of a sizeof(T)-byte value sits, counted from its least significant byte.
template <ByteOrder order, class T>
constexpr unsigned shift_of(std::size_t b) {
  return static_cast<unsigned>(8 * (order == ByteOrder::little ? b : sizeof(T) - 1 - b));
}

}  // namespace detail

/// Writes `value` as sizeof(T) bytes in `order` at `out`.
template <ByteOrder order, class T>
void store(std::uint8_t* out, T value) {
  detail::check_storable<T>();
  BitsOf<T> bits;
  std::memcpy(&bits, &value, sizeof bits);
  for (std::size_t b = 0; b < sizeof(T); ++b) out[b] = static_cast<std::uint8_t>(bits >> detail::shift_of<order, T>(b));
}

/// The T stored as sizeof(T) bytes in `order` at `in`.
template <ByteOrder order, class T>
T load(const std::uint8_t* in) {
  detail::check_storable<T>();
  BitsOf<T> bits = 0;
  for (std::size_t b = 0; b < sizeof(T); ++b) bits = static_cast<BitsOf<T>>(bits | BitsOf<T>(in[b]) << detail::shift_of<order, T>(b));
  T value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

/// Reorders `count` values whose bytes were copied in raw from `order` into host order, in place.
template <ByteOrder order, class T>
void to_host_order(T* values, std::size_t count) {
  if constexpr (sizeof(T) == 1) return;  // single bytes have no order
  for (std::size_t i = 0; i < count; ++i) {
    std::uint8_t bytes[sizeof(T)];
    std::memcpy(bytes, values + i, sizeof(T));
    values[i] = load<order, T>(bytes);
  }
}

/// Appends values in `order` to a buffer; also a sink (write, finish) for gzip and encoders.
template <ByteOrder order>
class ByteWriter {
 public:
  template <class T>
  void put(T value) {
    store<order>(grow(sizeof(T)), value);
  }
  template <class T>
  void put_values(const T* values, std::size_t count) {
    std::uint8_t* out = grow(sizeof(T) * count);
    for (std::size_t i = 0; i < count; ++i) store<order>(out + sizeof(T) * i, values[i]);
  }
  /// Overwrites the T at `offset` (a size known only after what follows it is written).
  template <class T>
  void patch(std::size_t offset, T value) {
    store<order>(bytes_.data() + offset, value);
  }
  /// Raw bytes, as they are.
  void write(const void* data, std::size_t size) {
    if (size > 0) std::memcpy(grow(size), data, size);
  }
  void finish() {}

  std::size_t size() const { return bytes_.size(); }
  const std::vector<std::uint8_t>& bytes() const { return bytes_; }
  std::vector<std::uint8_t> take() { return std::move(bytes_); }

 private:
  std::uint8_t* grow(std::size_t count) {
    const std::size_t start = bytes_.size();
    bytes_.resize(start + count);
    return bytes_.data() + start;
  }
  std::vector<std::uint8_t> bytes_;
};

/// Takes values in `order` from a buffer the caller owns; asking for more
/// than is left is an io_error "<source>: truncated: <field> needs N bytes,
/// M left (at byte K)". Also a source (read, remaining, rewind).
template <ByteOrder order>
class ByteReader {
 public:
  ByteReader(const void* data, std::size_t size, std::string source)
      : data_(static_cast<const std::uint8_t*>(data)), size_(size), source_(std::move(source)) {}

  std::size_t offset() const { return offset_; }
  std::size_t remaining() const { return size_ - offset_; }
  const std::string& source() const { return source_; }

  template <class T>
  T get(const char* field) {
    return load<order, T>(take(sizeof(T), field));
  }
  template <class T>
  void get_values(T* values, std::size_t count, const char* field) {
    if (count > remaining() / sizeof(T)) truncated(field, count, sizeof(T));
    const std::uint8_t* in = take(sizeof(T) * count, field);
    for (std::size_t i = 0; i < count; ++i) values[i] = load<order, T>(in + sizeof(T) * i);
  }
  /// The next `count` bytes, in place.
  const std::uint8_t* take(std::size_t count, const char* field) {
    require(count, field);
    const std::uint8_t* first = data_ + offset_;
    offset_ += count;
    return first;
  }

  /// Throws unless `count` more bytes are present.
  void require(std::size_t count, const char* field) const {
    if (count > remaining()) truncated(field, count, 1);
  }
  [[noreturn]] void fail(const std::string& problem) const {
    throw io_error(source_ + ": " + problem + " (at byte " + std::to_string(offset_) + ")");
  }

  std::size_t read(void* destination, std::size_t count) {
    const std::size_t n = std::min(count, remaining());
    if (n > 0) std::memcpy(destination, data_ + offset_, n);
    offset_ += n;
    return n;
  }
  void rewind() { offset_ = 0; }

 private:
  [[noreturn]] void truncated(const char* field, std::size_t count, std::size_t unit) const {
    const std::string needs = unit == 1 ? std::to_string(count) : std::to_string(count) + " x " + std::to_string(unit);
    fail(std::string("truncated: ") + field + " needs " + needs + " bytes, " + std::to_string(remaining()) + " left");
  }

  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t offset_ = 0;
  std::string source_;
};

/// The CRC32 of `size` bytes (zlib's, as gzip and PNG use), continuing from `crc`.
inline std::uint32_t crc32_of(const void* data, std::size_t size, std::uint32_t crc = 0) {
  const auto* bytes = static_cast<const Bytef*>(data);
  uLong sum = crc;
  // zlib takes 32-bit lengths: feed big buffers in pieces.
  constexpr std::size_t kPiece = std::size_t{1} << 30;
  for (std::size_t done = 0; done < size; done += kPiece)
    sum = ::crc32(sum, bytes + done, static_cast<uInt>(std::min(kPiece, size - done)));
  return static_cast<std::uint32_t>(sum);
}

/// The lowest `digits` hex digits of `value`, lower case, zero-padded: hex_digits(0x8b, 2) == "8b".
inline std::string hex_digits(std::uint64_t value, int digits) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text(static_cast<std::size_t>(digits), '0');
  for (int i = 0; i < digits && i < 16; ++i) text[static_cast<std::size_t>(digits - 1 - i)] = kDigits[(value >> (4 * i)) & 0xf];
  return text;
}

}  // namespace latent::io
