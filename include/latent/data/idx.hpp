// latent/data/idx.hpp: reading and writing IDX files, the array format of MNIST
// and Fashion-MNIST (yann.lecun.com/exdb/mnist): two zero bytes, an element
// type code, the number of dimensions, big-endian u32 dimension sizes, then the
// elements, big-endian. Files may be raw or gzip-compressed (told apart by the
// gzip magic bytes 1f 8b, never by the name).
//
// A file is untrusted input: the header is checked against the bytes actually
// present before any memory is set aside for the data, and a gzip stream is
// inflated into a buffer that grows only as decompressed bytes arrive, so a
// header that lies about its size is an io_error, not a giant allocation.
// Writes go to a temporary file in the target's folder and are renamed into
// place, so a reader never sees half a file.
#pragma once

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "latent/error.hpp"

namespace latent::data {

/// The element type codes of the IDX format.
enum class IdxType : std::uint8_t {
  u8 = 0x08,   ///< unsigned byte (MNIST pixels and labels)
  i8 = 0x09,   ///< signed byte
  i16 = 0x0B,  ///< short
  i32 = 0x0C,  ///< int
  f32 = 0x0D,  ///< float
  f64 = 0x0E,  ///< double
};

/// How a written IDX file is stored.
enum class Compression { none, gzip };

/// Largest data section read_idx accepts unless told otherwise (16 GiB): far
/// above any MNIST-like set, far below what a lying header could claim.
inline constexpr std::uint64_t kIdxDefaultMaxBytes = std::uint64_t{1} << 34;

/// Most dimensions an IDX header may declare. The format allows 255; no real
/// array has more than a handful, so more is taken as a corrupt header.
inline constexpr int kIdxMaxDimensions = 16;

/// An IDX array in memory: its dimension sizes (outermost first, e.g.
/// 60000 x 28 x 28) and its elements in row-major order, in host byte order,
/// each in its own C++ type: bytes stay bytes, a u8 file of 47 MB takes 47 MB.
struct IdxArray {
  /// One alternative per IdxType, in the order of kTypes.
  using Values = std::variant<std::vector<std::uint8_t>, std::vector<std::int8_t>, std::vector<std::int16_t>,
                              std::vector<std::int32_t>, std::vector<float>, std::vector<double>>;
  static constexpr std::array<IdxType, 6> kTypes{IdxType::u8,  IdxType::i8,  IdxType::i16,
                                                 IdxType::i32, IdxType::f32, IdxType::f64};

  static_assert(kTypes.size() == std::variant_size_v<Values>);

  std::vector<std::size_t> dims;
  Values values;

  IdxType type() const { return kTypes[values.index()]; }

  /// Number of elements (the product of dims).
  std::size_t size() const {
    return std::visit([](const auto& v) { return v.size(); }, values);
  }

  /// The elements as T; throws latent::error if the array holds another type.
  template <class T>
  const std::vector<T>& get() const {
    check_holds<T>();
    return std::get<std::vector<T>>(values);
  }
  template <class T>
  std::vector<T>& get() {
    check_holds<T>();
    return std::get<std::vector<T>>(values);
  }

  /// "60000 x 28 x 28", for messages.
  std::string shape() const {
    std::string text;
    for (std::size_t i = 0; i < dims.size(); ++i) text += (i ? " x " : "") + std::to_string(dims[i]);
    return text;
  }

 private:
  template <class T>
  void check_holds() const;
};

/// The IdxType stored as the C++ type T.
template <class T>
constexpr IdxType idx_type_of() {
  constexpr std::size_t index = [] {
    std::size_t i = 0;
    if constexpr (std::is_same_v<T, std::uint8_t>) i = 0;
    else if constexpr (std::is_same_v<T, std::int8_t>) i = 1;
    else if constexpr (std::is_same_v<T, std::int16_t>) i = 2;
    else if constexpr (std::is_same_v<T, std::int32_t>) i = 3;
    else if constexpr (std::is_same_v<T, float>) i = 4;
    else if constexpr (std::is_same_v<T, double>) i = 5;
    else static_assert(sizeof(T) == 0, "IDX holds u8, i8, i16, i32, f32 or f64 elements only");
    return i;
  }();
  return IdxArray::kTypes[index];
}

/// "u8", "i8", "i16", "i32", "f32", "f64".
inline const char* idx_type_name(IdxType type) {
  switch (type) {
    case IdxType::u8: return "u8";
    case IdxType::i8: return "i8";
    case IdxType::i16: return "i16";
    case IdxType::i32: return "i32";
    case IdxType::f32: return "f32";
    case IdxType::f64: return "f64";
  }
  return "unknown";
}

template <class T>
void IdxArray::check_holds() const {
  if (type() != idx_type_of<T>())
    throw error(std::string("IdxArray holds ") + idx_type_name(type()) + " elements, not " +
                idx_type_name(idx_type_of<T>()));
}

namespace detail {

template <std::size_t... I>
void emplace_alternative(std::size_t index, IdxArray::Values& out, std::index_sequence<I...>) {
  ((index == I ? (out.emplace<I>(), 0) : 0), ...);
}

/// Sets `out` to the empty vector of the element type `code`; false if the code is no IDX type.
inline bool empty_values_for(std::uint8_t code, IdxArray::Values& out) {
  const auto& types = IdxArray::kTypes;
  const auto found = std::find(types.begin(), types.end(), static_cast<IdxType>(code));
  if (found == types.end()) return false;
  emplace_alternative(static_cast<std::size_t>(found - types.begin()), out,
                      std::make_index_sequence<std::variant_size_v<IdxArray::Values>>{});
  return true;
}

inline std::string hex_byte(unsigned value) {
  char text[8];
  std::snprintf(text, sizeof text, "%02x", value & 0xffu);
  return text;
}

inline std::string system_message(int errno_value) { return std::generic_category().message(errno_value); }

/// Bytes from a buffer the caller owns.
class MemoryBytes {
 public:
  MemoryBytes(const unsigned char* data, std::size_t size) : data_(data), size_(size) {}

  std::size_t read(unsigned char* destination, std::size_t count) {
    const std::size_t n = std::min(count, size_ - position_);
    if (n > 0) std::memcpy(destination, data_ + position_, n);
    position_ += n;
    return n;
  }
  std::uint64_t remaining() const { return size_ - position_; }
  void rewind() { position_ = 0; }

 private:
  const unsigned char* data_;
  std::size_t size_;
  std::size_t position_ = 0;
};

/// Bytes from a regular file, read on demand.
class FileBytes {
 public:
  explicit FileBytes(const std::filesystem::path& path) : name_(path.string()) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec) throw io_error(name_ + ": cannot open: " + ec.message());
    if (!std::filesystem::is_regular_file(status)) throw io_error(name_ + ": cannot open: not a regular file");
    file_.reset(std::fopen(name_.c_str(), "rb"));
    if (!file_) throw io_error(name_ + ": cannot open: " + system_message(errno));
    remaining_ = std::filesystem::file_size(path, ec);
    if (ec) throw io_error(name_ + ": cannot read its size: " + ec.message());
    size_ = remaining_;
  }

  std::size_t read(unsigned char* destination, std::size_t count) {
    const std::size_t n = std::fread(destination, 1, count, file_.get());
    if (n < count && std::ferror(file_.get())) throw io_error(name_ + ": read failed: " + system_message(errno));
    remaining_ -= std::min<std::uint64_t>(n, remaining_);
    return n;
  }
  /// Bytes left according to the size the file had when opened.
  std::uint64_t remaining() const { return remaining_; }
  void rewind() {
    if (std::fseek(file_.get(), 0, SEEK_SET) != 0) throw io_error(name_ + ": cannot seek: " + system_message(errno));
    remaining_ = size_;
  }

 private:
  struct Close {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::string name_;
  std::unique_ptr<std::FILE, Close> file_;
  std::uint64_t size_ = 0;
  std::uint64_t remaining_ = 0;
};

/// The decompressed bytes of a gzip stream read from Compressed (MemoryBytes or
/// FileBytes). Concatenated gzip members are one stream, as gunzip reads them.
template <class Compressed>
class GunzipBytes {
 public:
  GunzipBytes(Compressed& input, std::string name) : input_(input), name_(std::move(name)) {
    // 16 + MAX_WBITS: accept the gzip wrapper only, and check its CRC.
    if (inflateInit2(&stream_, 16 + MAX_WBITS) != Z_OK) throw io_error(name_ + ": cannot start zlib");
  }
  ~GunzipBytes() { inflateEnd(&stream_); }
  GunzipBytes(const GunzipBytes&) = delete;
  GunzipBytes& operator=(const GunzipBytes&) = delete;

  /// Up to count decompressed bytes; fewer only at the end of the stream.
  std::size_t read(unsigned char* destination, std::size_t count) {
    std::size_t produced = 0;
    while (produced < count) {
      if (stream_.avail_in == 0) {
        stream_.next_in = chunk_.data();
        stream_.avail_in = static_cast<uInt>(input_.read(chunk_.data(), chunk_.size()));
        if (stream_.avail_in == 0) {
          if (in_member_) throw io_error(name_ + ": truncated gzip stream (it ends inside compressed data)");
          break;  // the last member ended exactly at the end of the file
        }
      }
      in_member_ = true;
      const std::size_t want = std::min<std::size_t>(count - produced, std::numeric_limits<uInt>::max());
      stream_.next_out = destination + produced;
      stream_.avail_out = static_cast<uInt>(want);
      const int rc = inflate(&stream_, Z_NO_FLUSH);
      produced += want - stream_.avail_out;
      if (rc == Z_STREAM_END) {
        in_member_ = false;
        inflateReset(&stream_);
      } else if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT) {
        // Bytes after a complete member that do not start another one
        // (inflateReset zeroed total_out when that member ended).
        if (members_ > 0 && stream_.total_out == 0)
          throw io_error(name_ + ": trailing garbage after the gzip stream");
        throw io_error(name_ + ": corrupt gzip stream (" + (stream_.msg ? stream_.msg : "invalid data") + ")");
      } else if (rc == Z_MEM_ERROR) {
        throw io_error(name_ + ": out of memory while decompressing");
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        throw io_error(name_ + ": gzip error " + std::to_string(rc));
      }
      if (rc == Z_STREAM_END) ++members_;
    }
    return produced;
  }

 private:
  Compressed& input_;
  std::string name_;
  z_stream stream_{};
  std::array<unsigned char, 1 << 16> chunk_{};
  bool in_member_ = true;  // the stream starts with a member (its magic was seen)
  int members_ = 0;        // complete members so far
};

inline std::uint32_t big_endian_u32(const unsigned char* b) {
  return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | std::uint32_t{b[3]};
}

/// The unsigned integer as wide as T (2, 4 or 8 bytes), for byte reordering.
template <class T>
using BitsOf = std::conditional_t<sizeof(T) == 2, std::uint16_t,
                                  std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>;

/// Reorders elements read as big-endian bytes into host order, in place.
template <class T>
void big_endian_to_host(std::vector<T>& values) {
  if constexpr (sizeof(T) > 1) {
    using Bits = BitsOf<T>;
    for (T& value : values) {
      unsigned char bytes[sizeof(T)];
      std::memcpy(bytes, &value, sizeof(T));
      Bits bits = 0;
      for (unsigned char byte : bytes) bits = static_cast<Bits>((bits << 8) | byte);
      std::memcpy(&value, &bits, sizeof(T));
    }
  }
}

/// Reads exactly `count` bytes unless the source ends first; returns how many came.
template <class Source>
std::size_t read_fully(Source& source, unsigned char* destination, std::size_t count) {
  std::size_t got = 0;
  while (got < count) {
    const std::size_t n = source.read(destination + got, count - got);
    if (n == 0) break;
    got += n;
  }
  return got;
}

/// Parses one IDX array from source. `known_size` is the exact number of bytes
/// the source holds when that is known up front (a raw file or buffer); a
/// gzip stream does not know it and is read with a growing buffer instead.
template <class Source>
IdxArray parse_idx_from(Source& source, const std::string& name, std::uint64_t max_data_bytes,
                        const std::uint64_t* known_size) {
  const auto fail = [&name](const std::string& problem) { return io_error(name + ": " + problem); };

  unsigned char header[4];
  const std::size_t header_bytes = read_fully(source, header, 4);
  if (header_bytes < 4)
    throw fail("truncated: " + std::to_string(header_bytes) + " bytes, shorter than the 4-byte IDX header");
  if (header[0] != 0 || header[1] != 0)
    throw fail("not an IDX file (its first bytes are " + hex_byte(header[0]) + " " + hex_byte(header[1]) +
               "; an IDX file starts with 00 00)");
  IdxArray array;
  if (!empty_values_for(header[2], array.values)) throw fail("unknown IDX element type 0x" + hex_byte(header[2]));
  const int dimension_count = header[3];
  if (dimension_count == 0) throw fail("IDX header declares zero dimensions");
  if (dimension_count > kIdxMaxDimensions)
    throw fail("IDX header declares " + std::to_string(dimension_count) + " dimensions (at most " +
               std::to_string(kIdxMaxDimensions) + " are accepted)");

  unsigned char size_bytes[4 * kIdxMaxDimensions];
  const std::size_t size_bytes_wanted = 4 * static_cast<std::size_t>(dimension_count);
  if (read_fully(source, size_bytes, size_bytes_wanted) < size_bytes_wanted)
    throw fail("truncated inside the IDX header (" + std::to_string(dimension_count) + " dimension sizes declared)");

  const std::size_t element_bytes = std::visit([](const auto& v) { return sizeof(v[0]); }, array.values);
  std::uint64_t data_bytes = element_bytes;
  bool overflow = false;
  for (int d = 0; d < dimension_count; ++d) {
    const std::uint32_t size = big_endian_u32(size_bytes + 4 * d);
    // An empty list of items is an array; an item with an empty axis is not.
    if (size == 0 && d > 0)
      throw fail("dimension " + std::to_string(d + 1) + " of " + std::to_string(dimension_count) + " has size 0");
    array.dims.push_back(size);
    if (size != 0 && data_bytes > std::numeric_limits<std::uint64_t>::max() / size) overflow = true;
    data_bytes *= size;
  }
  if (overflow) throw fail("dimensions " + array.shape() + " hold more elements than any memory (overflow)");
  if (data_bytes > max_data_bytes)
    throw fail("dimensions " + array.shape() + " need " + std::to_string(data_bytes) + " bytes of data, more than the " +
               std::to_string(max_data_bytes) + "-byte limit");
  if (known_size) {
    const std::uint64_t header_size = 4 + size_bytes_wanted;
    const std::uint64_t present = *known_size > header_size ? *known_size - header_size : 0;
    if (present < data_bytes)
      throw fail("truncated: dimensions " + array.shape() + " need " + std::to_string(data_bytes) +
                 " bytes of data, the file holds " + std::to_string(present));
    if (present > data_bytes)
      throw fail("trailing garbage: " + std::to_string(present - data_bytes) + " bytes after the " +
                 std::to_string(data_bytes) + " bytes of data");
  }

  std::visit(
      [&](auto& values) {
        using T = typename std::decay_t<decltype(values)>::value_type;
        const std::size_t count = static_cast<std::size_t>(data_bytes / sizeof(T));
        // Known size: allocate once. Unknown: grow with the bytes that arrive,
        // so memory never runs ahead of real data by more than a factor 2.
        std::size_t filled = 0;
        std::size_t capacity = known_size ? count : std::min<std::size_t>(count, (std::size_t{1} << 20) / sizeof(T));
        values.resize(capacity);
        while (filled < count) {
          if (filled == capacity) {
            capacity = std::min(count, 2 * capacity);
            values.resize(capacity);
          }
          const std::size_t want = (capacity - filled) * sizeof(T);
          const std::size_t got = read_fully(source, reinterpret_cast<unsigned char*>(values.data() + filled), want);
          if (got < want) {
            const std::uint64_t present = filled * sizeof(T) + got;
            throw fail("truncated: dimensions " + array.shape() + " need " + std::to_string(data_bytes) +
                       " bytes of data, the stream holds " + std::to_string(present));
          }
          filled += got / sizeof(T);
        }
        big_endian_to_host(values);
      },
      array.values);

  if (!known_size) {
    // Reading on also makes zlib verify the gzip trailer (CRC and length).
    unsigned char extra;
    if (read_fully(source, &extra, 1) != 0)
      throw fail("trailing garbage: bytes after the " + std::to_string(data_bytes) + " bytes of data");
  }
  return array;
}

/// Parses source as gzip if it starts with the gzip magic bytes, else as raw IDX.
template <class Source>
IdxArray parse_raw_or_gzip(Source& source, const std::string& name, std::uint64_t max_data_bytes) {
  unsigned char magic[2] = {0, 0};
  const std::size_t magic_count = read_fully(source, magic, 2);
  source.rewind();
  if (magic_count == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    GunzipBytes<Source> gunzip(source, name);
    return parse_idx_from(gunzip, name, max_data_bytes, nullptr);
  }
  const std::uint64_t size = source.remaining();
  return parse_idx_from(source, name, max_data_bytes, &size);
}

}  // namespace detail

/// Parses an IDX array (raw or gzip) from bytes in memory. `name` labels error
/// messages. Throws io_error for every malformed input.
inline IdxArray parse_idx(const void* bytes, std::size_t size, const std::string& name = "<memory>",
                          std::uint64_t max_data_bytes = kIdxDefaultMaxBytes) {
  detail::MemoryBytes source(static_cast<const unsigned char*>(bytes), size);
  return detail::parse_raw_or_gzip(source, name, max_data_bytes);
}

/// Reads an IDX file, raw or gzip. Throws io_error naming the file and the problem.
inline IdxArray read_idx(const std::filesystem::path& path, std::uint64_t max_data_bytes = kIdxDefaultMaxBytes) {
  detail::FileBytes source(path);
  return detail::parse_raw_or_gzip(source, path.string(), max_data_bytes);
}

namespace detail {

/// Collects bytes in memory.
class VectorSink {
 public:
  void write(const unsigned char* data, std::size_t size) { bytes.insert(bytes.end(), data, data + size); }
  void finish() {}
  std::vector<unsigned char> bytes;
};

/// Writes a file under a temporary name in the target's folder; commit()
/// renames it into place, so the target is either the old file or the whole
/// new one. Destroyed without commit(), it removes the temporary file.
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path target) : target_(std::move(target)) {
    static std::atomic<unsigned> counter{0};
    const auto folder = target_.has_parent_path() ? target_.parent_path() : std::filesystem::path(".");
    for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
      const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
      temporary_ = folder / ("." + target_.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                             std::to_string(counter++) + "-" + std::to_string(stamp % 1000000));
      // open(), not mkstemp(): the file gets the usual 0666 & ~umask permissions.
      fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ < 0 && errno != EEXIST)
        throw io_error(target_.string() + ": cannot create a temporary file in " + folder.string() + ": " +
                       system_message(errno));
    }
    if (fd_ < 0) throw io_error(target_.string() + ": cannot find a free temporary file name");
  }
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temporary_.c_str());
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const unsigned char* data, std::size_t size) {
    while (size > 0) {
      const ::ssize_t n = ::write(fd_, data, size);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw io_error(target_.string() + ": write failed: " + system_message(n < 0 ? errno : EIO));
      data += n;
      size -= static_cast<std::size_t>(n);
    }
  }
  void finish() {}

  void commit() {
    // fsync before rename: after a crash the name points at complete data.
    if (::fsync(fd_) != 0) throw io_error(target_.string() + ": fsync failed: " + system_message(errno));
    const int closed = ::close(fd_);
    fd_ = -1;
    if (closed != 0) throw io_error(target_.string() + ": close failed: " + system_message(errno));
    if (std::rename(temporary_.c_str(), target_.c_str()) != 0)
      throw io_error(target_.string() + ": cannot rename the temporary file into place: " + system_message(errno));
    committed_ = true;
  }

 private:
  std::filesystem::path target_;
  std::filesystem::path temporary_;
  int fd_ = -1;
  bool committed_ = false;
};

/// Gzip-compresses what is written to it into Sink.
template <class Sink>
class GzipSink {
 public:
  GzipSink(Sink& sink, std::string name) : sink_(sink), name_(std::move(name)) {
    if (deflateInit2(&stream_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      throw io_error(name_ + ": cannot start zlib");
  }
  ~GzipSink() { deflateEnd(&stream_); }
  GzipSink(const GzipSink&) = delete;
  GzipSink& operator=(const GzipSink&) = delete;

  void write(const unsigned char* data, std::size_t size) {
    while (size > 0) {
      const std::size_t piece = std::min<std::size_t>(size, std::numeric_limits<uInt>::max());
      stream_.next_in = const_cast<unsigned char*>(data);  // zlib's API is not const-correct
      stream_.avail_in = static_cast<uInt>(piece);
      deflate_all(Z_NO_FLUSH);
      data += piece;
      size -= piece;
    }
  }
  void finish() {
    deflate_all(Z_FINISH);
    sink_.finish();
  }

 private:
  void deflate_all(int flush) {
    int rc;
    do {
      stream_.next_out = chunk_.data();
      stream_.avail_out = static_cast<uInt>(chunk_.size());
      rc = deflate(&stream_, flush);
      if (rc == Z_STREAM_ERROR) throw io_error(name_ + ": gzip compression failed");
      sink_.write(chunk_.data(), chunk_.size() - stream_.avail_out);
    } while (stream_.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  }

  Sink& sink_;
  std::string name_;
  z_stream stream_{};
  std::array<unsigned char, 1 << 16> chunk_{};
};

/// The product of dims; the largest size_t if it overflows (no buffer is that big).
inline std::size_t element_count(const std::vector<std::size_t>& dims) {
  std::size_t count = 1;
  for (std::size_t d : dims) {
    if (d != 0 && count > std::numeric_limits<std::size_t>::max() / d) return std::numeric_limits<std::size_t>::max();
    count *= d;
  }
  return count;
}

/// Writes header and elements (row-major, host order) as an IDX file to sink.
template <class T, class Sink>
void encode_idx_to(Sink& sink, const std::string& name, const std::vector<std::size_t>& dims, const T* elements) {
  const auto fail = [&name](const std::string& problem) { return io_error(name + ": cannot write IDX: " + problem); };
  if (dims.empty() || dims.size() > static_cast<std::size_t>(kIdxMaxDimensions))
    throw fail(std::to_string(dims.size()) + " dimensions (1 to " + std::to_string(kIdxMaxDimensions) + " allowed)");
  std::vector<unsigned char> header = {0, 0, static_cast<unsigned char>(idx_type_of<T>()),
                                       static_cast<unsigned char>(dims.size())};
  for (std::size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] > std::numeric_limits<std::uint32_t>::max())
      throw fail("dimension size " + std::to_string(dims[d]) + " exceeds the format's 32 bits");
    if (dims[d] == 0 && d > 0) throw fail("dimension " + std::to_string(d + 1) + " has size 0");
    for (int shift = 24; shift >= 0; shift -= 8) header.push_back(static_cast<unsigned char>(dims[d] >> shift));
  }
  const std::size_t count = element_count(dims);
  if (count > std::numeric_limits<std::size_t>::max() / sizeof(T))
    throw fail("dimensions hold more elements than any memory (overflow)");
  sink.write(header.data(), header.size());
  if constexpr (sizeof(T) == 1) {
    sink.write(reinterpret_cast<const unsigned char*>(elements), count);
  } else {
    // Big-endian in chunks, so a large array needs no second full copy.
    std::vector<unsigned char> chunk;
    constexpr std::size_t kChunkElements = 1 << 14;
    for (std::size_t start = 0; start < count; start += kChunkElements) {
      const std::size_t n = std::min(kChunkElements, count - start);
      chunk.resize(n * sizeof(T));
      for (std::size_t i = 0; i < n; ++i) {
        BitsOf<T> bits;
        std::memcpy(&bits, elements + start + i, sizeof(T));
        for (std::size_t b = 0; b < sizeof(T); ++b)
          chunk[i * sizeof(T) + b] = static_cast<unsigned char>(bits >> (8 * (sizeof(T) - 1 - b)));
      }
      sink.write(chunk.data(), chunk.size());
    }
  }
  sink.finish();
}

template <class T>
void write_idx_file(const std::filesystem::path& path, const std::vector<std::size_t>& dims, const T* elements,
                    Compression compression) {
  AtomicFile file(path);
  if (compression == Compression::gzip) {
    GzipSink<AtomicFile> gzip(file, path.string());
    encode_idx_to(gzip, path.string(), dims, elements);
  } else {
    encode_idx_to(file, path.string(), dims, elements);
  }
  file.commit();
}


}  // namespace detail

/// The IDX file of `array`, raw, in memory.
inline std::vector<unsigned char> encode_idx(const IdxArray& array) {
  detail::VectorSink sink;
  std::visit([&](const auto& values) { detail::encode_idx_to(sink, "<memory>", array.dims, values.data()); },
             array.values);
  return std::move(sink.bytes);
}

/// `bytes` gzip-compressed (a single gzip member, as gzip(1) writes it).
inline std::vector<unsigned char> gzip_compress(const void* bytes, std::size_t size) {
  detail::VectorSink sink;
  {
    detail::GzipSink<detail::VectorSink> gzip(sink, "<memory>");
    gzip.write(static_cast<const unsigned char*>(bytes), size);
    gzip.finish();
  }
  return std::move(sink.bytes);
}

/// Writes `array` as an IDX file, atomically. Throws io_error if its dims do
/// not match its element count or the file cannot be written.
inline void write_idx(const std::filesystem::path& path, const IdxArray& array,
                      Compression compression = Compression::none) {
  if (detail::element_count(array.dims) != array.size())
    throw io_error(path.string() + ": cannot write IDX: dimensions " + array.shape() + " do not match its " +
                   std::to_string(array.size()) + " elements");
  std::visit([&](const auto& values) { detail::write_idx_file(path, array.dims, values.data(), compression); },
             array.values);
}

/// Writes unsigned bytes as an IDX file, atomically: images as {N, rows, cols},
/// labels as {N}. `bytes` holds the product of dims bytes, row-major.
inline void write_idx_ubyte(const std::filesystem::path& path, const std::vector<std::size_t>& dims,
                            const std::uint8_t* bytes, Compression compression = Compression::none) {
  detail::write_idx_file(path, dims, bytes, compression);
}

/// As above, checking that `bytes` holds exactly the product of dims.
inline void write_idx_ubyte(const std::filesystem::path& path, const std::vector<std::size_t>& dims,
                            const std::vector<std::uint8_t>& bytes, Compression compression = Compression::none) {
  if (detail::element_count(dims) != bytes.size())
    throw io_error(path.string() + ": cannot write IDX: dimensions hold " + std::to_string(detail::element_count(dims)) +
                   " elements, the data " + std::to_string(bytes.size()));
  write_idx_ubyte(path, dims, bytes.data(), compression);
}

}  // namespace latent::data
