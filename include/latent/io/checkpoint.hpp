// latent/io/checkpoint.hpp: the checkpoint file format.
//
// A Checkpoint is an in-memory set of named values: float and double tensors,
// int64 integers, uint64 word arrays (an Rng's state) and text. save() writes
// it atomically (io/file.hpp): a crash at any moment leaves either the old
// checkpoint or the new one, whole. load() and from_bytes() check the magic,
// the format version, the size and a CRC32 before they trust any field, and
// every length against the bytes present before they allocate for it.
// What binds a training run's models, optimizers and counters to a
// Checkpoint is train/checkpointer.hpp.
//
// File layout (format version 1), every integer little-endian:
//   header   8 bytes magic "LATENTCK", u32 version, u32 entry count,
//            u64 payload size (the bytes of all entries)
//   entry    u8 kind, u32 name size, name bytes (UTF-8), then by kind:
//              1 tensor:  u8 scalar (1 float32, 2 float64), u64 rows,
//                         u64 cols, rows*cols IEEE-754 values, column-major
//              2 integer: i64 (two's complement)
//              3 words:   u64 count, count u64 words
//              4 text:    u64 size, bytes
//   trailer  u32 CRC32 (zlib's) of every byte before it
// Entries are in strictly increasing name order (bytewise), so equal
// checkpoints are equal files, and a file that parses is exactly what
// to_bytes() writes for its contents.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "latent/error.hpp"
#include "latent/io/bytes.hpp"
#include "latent/io/file.hpp"
#include "latent/matrix.hpp"

namespace latent {

namespace checkpoint_format {

inline constexpr char kMagic[8] = {'L', 'A', 'T', 'E', 'N', 'T', 'C', 'K'};
inline constexpr std::uint32_t kVersion = 1;
inline constexpr std::size_t kHeaderBytes = 24;
inline constexpr std::size_t kChecksumBytes = 4;
inline constexpr std::size_t kMaxNameBytes = 4096;

enum class Kind : std::uint8_t { tensor = 1, integer = 2, words = 3, text = 4 };
enum class ScalarCode : std::uint8_t { float32 = 1, float64 = 2 };

static_assert(std::numeric_limits<float>::is_iec559 && std::numeric_limits<double>::is_iec559,
              "checkpoints store IEEE-754 floats");

template <class S>
struct ScalarTraits;
template <>
struct ScalarTraits<float> {
  using Bits = std::uint32_t;
  static constexpr ScalarCode code = ScalarCode::float32;
  static constexpr const char* name = "float";
};
template <>
struct ScalarTraits<double> {
  using Bits = std::uint64_t;
  static constexpr ScalarCode code = ScalarCode::float64;
  static constexpr const char* name = "double";
};

}  // namespace checkpoint_format

/// Named float/double tensors, int64 integers, uint64 word arrays and text:
/// everything a training run needs to resume, in memory. Names are unique
/// across kinds; setting a name again replaces its value.
class Checkpoint {
 public:
  using Value = std::variant<Matrix<float>, Matrix<double>, std::int64_t, std::vector<std::uint64_t>, std::string>;

  Checkpoint() = default;

  template <class Derived>
  void set_tensor(const std::string& name, const Eigen::MatrixBase<Derived>& value) {
    using S = typename Derived::Scalar;
    static_assert(std::is_same<S, float>::value || std::is_same<S, double>::value,
                  "Checkpoint::set_tensor: tensors are float or double");
    set(name, Matrix<S>(value));
  }
  void set_integer(const std::string& name, std::int64_t value) { set(name, value); }
  void set_words(const std::string& name, std::vector<std::uint64_t> words) { set(name, std::move(words)); }
  void set_text(const std::string& name, std::string text) { set(name, std::move(text)); }

  /// The tensor called `name`; io_error if there is none or it holds another scalar type.
  template <class S>
  const Matrix<S>& tensor(const std::string& name) const {
    return get<Matrix<S>>(name);
  }
  std::int64_t integer(const std::string& name) const { return get<std::int64_t>(name); }
  const std::vector<std::uint64_t>& words(const std::string& name) const { return get<std::vector<std::uint64_t>>(name); }
  const std::string& text(const std::string& name) const { return get<std::string>(name); }

  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  /// The value called `name`, or nullptr.
  const Value* find(const std::string& name) const {
    const auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : &it->second;
  }
  void erase(const std::string& name) { entries_.erase(name); }
  std::size_t size() const { return entries_.size(); }

  /// Every name, sorted.
  std::vector<std::string> names() const { return names_under(""); }
  /// The names that start with `prefix` + "." (every name when prefix is empty), sorted.
  std::vector<std::string> names_under(const std::string& prefix) const {
    const std::string start = prefix.empty() ? "" : prefix + ".";
    std::vector<std::string> found;
    for (auto it = entries_.lower_bound(start); it != entries_.end() && it->first.compare(0, start.size(), start) == 0; ++it)
      found.push_back(it->first);
    return found;
  }

  /// Where this checkpoint came from (its file), for error messages.
  const std::string& source() const { return source_; }

  /// "tensor<float>", "integer", ...: what a value is, for error messages.
  static std::string kind_name(const Value& value) {
    static constexpr const char* kNames[] = {"tensor<float>", "tensor<double>", "integer", "words", "text"};
    return kNames[value.index()];
  }

  /// The file image (see the layout at the top of this header).
  std::vector<std::uint8_t> to_bytes() const {
    namespace format = checkpoint_format;
    Writer out;
    out.write(format::kMagic, sizeof format::kMagic);
    out.put<std::uint32_t>(format::kVersion);
    out.put(static_cast<std::uint32_t>(entries_.size()));
    const std::size_t payload_size_offset = out.size();
    out.put<std::uint64_t>(0);
    for (const auto& [name, value] : entries_) {
      out.put(static_cast<std::uint8_t>(kind_of(value)));
      out.put(static_cast<std::uint32_t>(name.size()));
      out.write(name.data(), name.size());
      std::visit([&out](const auto& v) { write_value(out, v); }, value);
    }
    out.patch(payload_size_offset, static_cast<std::uint64_t>(out.size() - format::kHeaderBytes));
    out.put(io::crc32_of(out.bytes().data(), out.size()));
    return out.take();
  }

  /// Parses a file image, checking it whole before trusting any of it; every
  /// defect (bad magic, another version, truncation, trailing bytes, a
  /// checksum mismatch, a malformed entry) is an io_error naming `source`.
  static Checkpoint from_bytes(const std::uint8_t* data, std::size_t size, const std::string& source = "checkpoint in memory") {
    namespace format = checkpoint_format;
    check_header(data, size, size, source);
    const std::size_t checked = size - format::kChecksumBytes;
    Reader trailer(data + checked, format::kChecksumBytes, source);
    const auto stored = trailer.get<std::uint32_t>("checksum");
    const std::uint32_t computed = io::crc32_of(data, checked);
    if (stored != computed)
      throw io_error(source + ": checksum mismatch (stored 0x" + io::hex_digits(stored, 8) + ", computed 0x" + io::hex_digits(computed, 8) +
                     "): the file is corrupt");

    Reader in(data, checked, source);
    in.take(sizeof format::kMagic, "magic");
    in.get<std::uint32_t>("version");
    const auto count = in.get<std::uint32_t>("entry count");
    in.get<std::uint64_t>("payload size");
    Checkpoint checkpoint;
    checkpoint.source_ = source;
    for (std::uint32_t i = 0; i < count; ++i) checkpoint.read_entry(in);
    if (in.remaining() != 0)
      in.fail(std::to_string(in.remaining()) + " bytes after the last of " + std::to_string(count) + " entries");
    return checkpoint;
  }
  static Checkpoint from_bytes(const std::vector<std::uint8_t>& bytes, const std::string& source = "checkpoint in memory") {
    return from_bytes(bytes.data(), bytes.size(), source);
  }

  /// Writes the checkpoint to `path` atomically (io::AtomicFile): afterwards
  /// the file holds either this checkpoint or, if this throws or the machine
  /// stops, what it held before.
  void save(const std::string& path) const { io::write_file_atomically(path, to_bytes()); }

  /// Reads and checks a checkpoint file (see from_bytes); errors name `path`.
  static Checkpoint load(const std::string& path) {
    io::InputFile file(path);
    // The header is checked against the file's size before the whole file is read.
    std::uint8_t header[checkpoint_format::kHeaderBytes];
    const std::size_t header_bytes = file.read(header, sizeof header);
    check_header(header, header_bytes, static_cast<std::size_t>(file.size()), path);
    const std::vector<std::uint8_t> bytes = file.read_all(file.size());
    return from_bytes(bytes.data(), bytes.size(), path);
  }

 private:
  using Writer = io::ByteWriter<io::ByteOrder::little>;
  using Reader = io::ByteReader<io::ByteOrder::little>;

  template <class T>
  void set(const std::string& name, T value) {
    if (name.empty() || name.size() > checkpoint_format::kMaxNameBytes)
      throw error("Checkpoint: a name must have 1 to " + std::to_string(checkpoint_format::kMaxNameBytes) + " bytes, got " +
                  std::to_string(name.size()));
    entries_[name].template emplace<T>(std::move(value));
  }

  template <class T>
  const T& get(const std::string& name) const {
    const Value* value = find(name);
    if (value == nullptr) throw io_error(source_ + ": no entry '" + name + "'");
    const T* typed = std::get_if<T>(value);
    if (typed == nullptr)
      throw io_error(source_ + ": entry '" + name + "' is " + kind_name(*value) + ", not " + kind_name(Value(std::in_place_type<T>)));
    return *typed;
  }

  static checkpoint_format::Kind kind_of(const Value& value) {
    using checkpoint_format::Kind;
    static constexpr Kind kKinds[] = {Kind::tensor, Kind::tensor, Kind::integer, Kind::words, Kind::text};
    return kKinds[value.index()];
  }

  template <class S>
  static void write_value(Writer& out, const Matrix<S>& tensor) {
    out.put(static_cast<std::uint8_t>(checkpoint_format::ScalarTraits<S>::code));
    out.put(static_cast<std::uint64_t>(tensor.rows()));
    out.put(static_cast<std::uint64_t>(tensor.cols()));
    out.put_values(tensor.data(), static_cast<std::size_t>(tensor.size()));
  }
  static void write_value(Writer& out, std::int64_t integer) { out.put(integer); }
  static void write_value(Writer& out, const std::vector<std::uint64_t>& words) {
    out.put(static_cast<std::uint64_t>(words.size()));
    out.put_values(words.data(), words.size());
  }
  static void write_value(Writer& out, const std::string& text) {
    out.put(static_cast<std::uint64_t>(text.size()));
    out.write(text.data(), text.size());
  }

  void read_entry(Reader& in) {
    using checkpoint_format::Kind;
    const auto kind = static_cast<Kind>(in.get<std::uint8_t>("entry kind"));
    const auto name_size = in.get<std::uint32_t>("name size");
    if (name_size == 0 || name_size > checkpoint_format::kMaxNameBytes)
      in.fail("a name of " + std::to_string(name_size) + " bytes (1 to " + std::to_string(checkpoint_format::kMaxNameBytes) +
              " allowed)");
    const std::uint8_t* name_bytes = in.take(name_size, "name");
    std::string name(reinterpret_cast<const char*>(name_bytes), name_size);
    // Names in strictly increasing order make the encoding canonical: a file
    // that parses is byte for byte what to_bytes() writes for its contents.
    if (!entries_.empty()) {
      const std::string& previous = entries_.rbegin()->first;
      if (name == previous) in.fail("entry '" + name + "' appears twice");
      if (name < previous) in.fail("entry '" + name + "' is out of name order (after '" + previous + "')");
    }
    switch (kind) {
      case Kind::tensor:
        entries_.emplace_hint(entries_.end(), std::move(name), read_tensor(in, name));
        return;
      case Kind::integer:
        entries_.emplace_hint(entries_.end(), std::move(name), in.get<std::int64_t>("integer"));
        return;
      case Kind::words: {
        const auto count = in.get<std::uint64_t>("word count");
        if (count > in.remaining() / 8)
          in.fail("truncated: entry '" + name + "' has " + std::to_string(count) + " words, " +
                  std::to_string(in.remaining()) + " bytes left");
        std::vector<std::uint64_t> words(static_cast<std::size_t>(count));
        in.get_values(words.data(), words.size(), "words");
        entries_.emplace_hint(entries_.end(), std::move(name), std::move(words));
        return;
      }
      case Kind::text: {
        const auto size = in.get<std::uint64_t>("text size");
        if (size > in.remaining())
          in.fail("truncated: text '" + name + "' has " + std::to_string(size) + " bytes, " + std::to_string(in.remaining()) +
                  " left");
        const std::uint8_t* text = in.take(static_cast<std::size_t>(size), "text");
        std::string value(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
        entries_.emplace_hint(entries_.end(), std::move(name), std::move(value));
        return;
      }
    }
    in.fail("entry '" + name + "' has unknown kind " + std::to_string(static_cast<int>(kind)));
  }

  static Value read_tensor(Reader& in, const std::string& name) {
    using checkpoint_format::ScalarCode;
    const auto code = static_cast<ScalarCode>(in.get<std::uint8_t>("scalar type"));
    if (code != ScalarCode::float32 && code != ScalarCode::float64)
      in.fail("tensor '" + name + "' has unknown scalar type " + std::to_string(static_cast<int>(code)));
    const auto rows = in.get<std::uint64_t>("rows");
    const auto cols = in.get<std::uint64_t>("cols");
    constexpr auto kLargestDimension = static_cast<std::uint64_t>(std::numeric_limits<Index>::max());
    if (rows > kLargestDimension || cols > kLargestDimension)
      in.fail("tensor '" + name + "' has a dimension beyond " + std::to_string(kLargestDimension));
    const std::size_t scalar_bytes = code == ScalarCode::float32 ? 4 : 8;
    // rows * cols * scalar_bytes <= remaining, without overflow, before allocating.
    const std::uint64_t capacity = in.remaining() / scalar_bytes;
    if (rows != 0 && cols > capacity / rows)
      in.fail("truncated: tensor '" + name + "' is " + std::to_string(rows) + "x" + std::to_string(cols) + ", " +
              std::to_string(in.remaining()) + " bytes left");
    if (code == ScalarCode::float32) return read_values<float>(in, rows, cols);
    return read_values<double>(in, rows, cols);
  }

  template <class S>
  static Value read_values(Reader& in, std::uint64_t rows, std::uint64_t cols) {
    Matrix<S> tensor(static_cast<Index>(rows), static_cast<Index>(cols));
    in.get_values(tensor.data(), static_cast<std::size_t>(tensor.size()), "tensor values");
    return tensor;
  }

  /// Checks magic, version and that the header's payload size matches a file of `file_size` bytes.
  static void check_header(const std::uint8_t* data, std::size_t size, std::size_t file_size, const std::string& source) {
    namespace format = checkpoint_format;
    constexpr std::size_t kSmallest = format::kHeaderBytes + format::kChecksumBytes;
    const std::size_t magic_bytes = std::min(size, sizeof format::kMagic);
    if (magic_bytes > 0 && std::memcmp(data, format::kMagic, magic_bytes) != 0) throw io_error(source + ": not a latent checkpoint (bad magic)");
    if (file_size < kSmallest)
      throw io_error(source + ": truncated: " + std::to_string(file_size) + " bytes, a checkpoint has at least " +
                     std::to_string(kSmallest));
    Reader in(data, size, source);
    in.take(sizeof format::kMagic, "magic");
    const auto version = in.get<std::uint32_t>("version");
    if (version != format::kVersion)
      throw io_error(source + ": format version " + std::to_string(version) + ", this build of latent reads version " +
                     std::to_string(format::kVersion));
    in.get<std::uint32_t>("entry count");
    const auto payload = in.get<std::uint64_t>("payload size");
    const std::uint64_t after_header = file_size - kSmallest;
    if (payload > after_header)
      throw io_error(source + ": truncated: the header promises " + std::to_string(payload) + " bytes of entries, " +
                     std::to_string(after_header) + " are present");
    if (payload < after_header)
      throw io_error(source + ": " + std::to_string(after_header - payload) + " trailing bytes after the checkpoint");
  }

  std::map<std::string, Value> entries_;
  std::string source_ = "checkpoint in memory";
};

}  // namespace latent
