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
// Files are read and written through io/ (io/file.hpp, io/gzip.hpp): writes
// are atomic, so a reader never sees half a file and a failed write leaves
// the old one.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "latent/error.hpp"
#include "latent/io/bytes.hpp"
#include "latent/io/file.hpp"
#include "latent/io/gzip.hpp"

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

/// Parses one IDX array from source. `known_size` is the exact number of bytes
/// the source holds when that is known up front (a raw file or buffer); a
/// gzip stream does not know it and is read with a growing buffer instead.
template <class Source>
IdxArray parse_idx_from(Source& source, const std::string& name, std::uint64_t max_data_bytes,
                        const std::uint64_t* known_size) {
  const auto fail = [&name](const std::string& problem) { return io_error(name + ": " + problem); };

  std::uint8_t header[4];
  const std::size_t header_bytes = source.read(header, 4);
  if (header_bytes < 4)
    throw fail("truncated: " + std::to_string(header_bytes) + " bytes, shorter than the 4-byte IDX header");
  if (header[0] != 0 || header[1] != 0)
    throw fail("not an IDX file (its first bytes are " + io::hex_digits(header[0], 2) + " " + io::hex_digits(header[1], 2) +
               "; an IDX file starts with 00 00)");
  IdxArray array;
  if (!empty_values_for(header[2], array.values)) throw fail("unknown IDX element type 0x" + io::hex_digits(header[2], 2));
  const int dimension_count = header[3];
  if (dimension_count == 0) throw fail("IDX header declares zero dimensions");
  if (dimension_count > kIdxMaxDimensions)
    throw fail("IDX header declares " + std::to_string(dimension_count) + " dimensions (at most " +
               std::to_string(kIdxMaxDimensions) + " are accepted)");

  std::uint8_t size_bytes[4 * kIdxMaxDimensions];
  const std::size_t size_bytes_wanted = 4 * static_cast<std::size_t>(dimension_count);
  if (source.read(size_bytes, size_bytes_wanted) < size_bytes_wanted)
    throw fail("truncated inside the IDX header (" + std::to_string(dimension_count) + " dimension sizes declared)");

  const std::size_t element_bytes = std::visit([](const auto& v) { return sizeof(v[0]); }, array.values);
  std::uint64_t data_bytes = element_bytes;
  bool overflow = false;
  for (int d = 0; d < dimension_count; ++d) {
    const auto size = io::load<io::ByteOrder::big, std::uint32_t>(size_bytes + 4 * d);
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
          const std::size_t got = source.read(values.data() + filled, want);
          if (got < want) {
            const std::uint64_t present = filled * sizeof(T) + got;
            throw fail("truncated: dimensions " + array.shape() + " need " + std::to_string(data_bytes) +
                       " bytes of data, the stream holds " + std::to_string(present));
          }
          filled += got / sizeof(T);
        }
        io::to_host_order<io::ByteOrder::big>(values.data(), values.size());
      },
      array.values);

  if (!known_size) {
    // Reading on also makes zlib verify the gzip trailer (CRC and length).
    std::uint8_t extra;
    if (source.read(&extra, 1) != 0)
      throw fail("trailing garbage: bytes after the " + std::to_string(data_bytes) + " bytes of data");
  }
  return array;
}

/// Parses source as gzip if it starts with the gzip magic bytes, else as raw IDX.
template <class Source>
IdxArray parse_raw_or_gzip(Source& source, const std::string& name, std::uint64_t max_data_bytes) {
  std::uint8_t magic[2] = {0, 0};
  const std::size_t magic_count = source.read(magic, 2);
  source.rewind();
  if (io::starts_as_gzip(magic, magic_count)) {
    io::GunzipBytes<Source> gunzip(source, name);
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
  io::ByteReader<io::ByteOrder::big> source(bytes, size, name);
  return detail::parse_raw_or_gzip(source, name, max_data_bytes);
}

/// Reads an IDX file, raw or gzip. Throws io_error naming the file and the problem.
inline IdxArray read_idx(const std::filesystem::path& path, std::uint64_t max_data_bytes = kIdxDefaultMaxBytes) {
  io::InputFile source(path.string());
  return detail::parse_raw_or_gzip(source, path.string(), max_data_bytes);
}

namespace detail {

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
  io::ByteWriter<io::ByteOrder::big> header;
  header.put(std::uint16_t{0});
  header.put(static_cast<std::uint8_t>(idx_type_of<T>()));
  header.put(static_cast<std::uint8_t>(dims.size()));
  for (std::size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] > std::numeric_limits<std::uint32_t>::max())
      throw fail("dimension size " + std::to_string(dims[d]) + " exceeds the format's 32 bits");
    if (dims[d] == 0 && d > 0) throw fail("dimension " + std::to_string(d + 1) + " has size 0");
    header.put(static_cast<std::uint32_t>(dims[d]));
  }
  const std::size_t count = element_count(dims);
  if (count > std::numeric_limits<std::size_t>::max() / sizeof(T))
    throw fail("dimensions hold more elements than any memory (overflow)");
  sink.write(header.bytes().data(), header.size());
  if constexpr (sizeof(T) == 1) {
    sink.write(elements, count);
  } else {
    // Big-endian in chunks, so a large array needs no second full copy.
    std::vector<std::uint8_t> chunk;
    constexpr std::size_t kChunkElements = 1 << 14;
    for (std::size_t start = 0; start < count; start += kChunkElements) {
      const std::size_t n = std::min(kChunkElements, count - start);
      chunk.resize(n * sizeof(T));
      for (std::size_t i = 0; i < n; ++i) io::store<io::ByteOrder::big>(chunk.data() + i * sizeof(T), elements[start + i]);
      sink.write(chunk.data(), chunk.size());
    }
  }
  sink.finish();
}

template <class T>
void write_idx_file(const std::filesystem::path& path, const std::vector<std::size_t>& dims, const T* elements,
                    Compression compression) {
  io::AtomicFile file(path.string());
  if (compression == Compression::gzip) {
    io::GzipSink<io::AtomicFile> gzip(file, path.string());
    encode_idx_to(gzip, path.string(), dims, elements);
  } else {
    encode_idx_to(file, path.string(), dims, elements);
  }
  file.commit();
}


}  // namespace detail

/// The IDX file of `array`, raw, in memory.
inline std::vector<std::uint8_t> encode_idx(const IdxArray& array) {
  io::ByteWriter<io::ByteOrder::big> sink;
  std::visit([&](const auto& values) { detail::encode_idx_to(sink, "<memory>", array.dims, values.data()); },
             array.values);
  return sink.take();
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
