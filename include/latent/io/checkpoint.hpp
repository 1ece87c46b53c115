// latent/io/checkpoint.hpp: saving and resuming training.
//
// A Checkpoint is an in-memory set of named values: float and double tensors,
// int64 integers, uint64 word arrays (an Rng's state) and text. save() writes
// it to a temporary file beside the target, fsyncs it, renames it over the
// target and fsyncs the folder, so a crash at any moment leaves either the old
// checkpoint or the new one, whole. load() and from_bytes() check the magic,
// the format version, the size and a CRC32 before they trust any field, and
// every length against the bytes present before they allocate for it.
//
// A Checkpointer binds the objects of a training run (models, optimizers,
// Rngs, epoch/step counters) by name once; save(path) then captures them all
// and load(path) restores them all, or throws and changes none of them.
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

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "latent/autodiff/parameter.hpp"
#include "latent/error.hpp"
#include "latent/matrix.hpp"
#include "latent/optim/optimizer.hpp"
#include "latent/random.hpp"

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

namespace detail {

/// Appends little-endian fields, byte by byte, whatever the host's byte order.
class ByteWriter {
 public:
  void u8(std::uint8_t value) { bytes_.push_back(value); }
  void u32(std::uint32_t value) { little_endian(value, 4); }
  void u64(std::uint64_t value) { little_endian(value, 8); }
  void raw(const void* data, std::size_t size) {
    const auto* first = static_cast<const std::uint8_t*>(data);
    bytes_.insert(bytes_.end(), first, first + size);
  }
  template <class S>
  void scalars(const Matrix<S>& values) {
    using Bits = typename checkpoint_format::ScalarTraits<S>::Bits;
    const std::size_t start = bytes_.size();
    bytes_.resize(start + sizeof(Bits) * static_cast<std::size_t>(values.size()));
    std::uint8_t* out = bytes_.data() + start;
    for (Index i = 0; i < values.size(); ++i) {
      Bits bits;
      std::memcpy(&bits, values.data() + i, sizeof bits);
      for (std::size_t b = 0; b < sizeof bits; ++b) *out++ = static_cast<std::uint8_t>(bits >> (8 * b));
    }
  }
  /// Overwrites 8 bytes at `offset` (a size known only after the entries are written).
  void patch_u64(std::size_t offset, std::uint64_t value) {
    for (std::size_t b = 0; b < 8; ++b) bytes_[offset + b] = static_cast<std::uint8_t>(value >> (8 * b));
  }
  std::size_t size() const { return bytes_.size(); }
  std::vector<std::uint8_t> take() { return std::move(bytes_); }
  const std::vector<std::uint8_t>& bytes() const { return bytes_; }

 private:
  void little_endian(std::uint64_t value, int count) {
    for (int b = 0; b < count; ++b) bytes_.push_back(static_cast<std::uint8_t>(value >> (8 * b)));
  }
  std::vector<std::uint8_t> bytes_;
};

/// Reads little-endian fields from a bounded buffer; running past its end is
/// an io_error naming the source, the field and the offset.
class ByteReader {
 public:
  ByteReader(const std::uint8_t* data, std::size_t size, const std::string& source)
      : data_(data), size_(size), source_(source) {}

  std::size_t offset() const { return offset_; }
  std::size_t remaining() const { return size_ - offset_; }

  std::uint8_t u8(const char* field) { return static_cast<std::uint8_t>(little_endian(1, field)); }
  std::uint32_t u32(const char* field) { return static_cast<std::uint32_t>(little_endian(4, field)); }
  std::uint64_t u64(const char* field) { return little_endian(8, field); }
  const std::uint8_t* raw(std::size_t count, const char* field) {
    require(count, field);
    const std::uint8_t* first = data_ + offset_;
    offset_ += count;
    return first;
  }
  template <class S>
  void scalars(Matrix<S>& values, const char* field) {
    using Bits = typename checkpoint_format::ScalarTraits<S>::Bits;
    const std::uint8_t* in = raw(sizeof(Bits) * static_cast<std::size_t>(values.size()), field);
    for (Index i = 0; i < values.size(); ++i) {
      Bits bits = 0;
      for (std::size_t b = 0; b < sizeof bits; ++b) bits |= static_cast<Bits>(static_cast<Bits>(*in++) << (8 * b));
      std::memcpy(values.data() + i, &bits, sizeof bits);
    }
  }

  [[noreturn]] void fail(const std::string& problem) const {
    throw io_error(source_ + ": " + problem + " (at byte " + std::to_string(offset_) + ")");
  }

  /// Throws unless `count` more bytes are present.
  void require(std::size_t count, const char* field) const {
    if (count > remaining())
      fail(std::string("truncated: ") + field + " needs " + std::to_string(count) + " bytes, " +
           std::to_string(remaining()) + " left");
  }

 private:
  std::uint64_t little_endian(std::size_t count, const char* field) {
    const std::uint8_t* in = raw(count, field);
    std::uint64_t value = 0;
    for (std::size_t b = 0; b < count; ++b) value |= static_cast<std::uint64_t>(in[b]) << (8 * b);
    return value;
  }

  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t offset_ = 0;
  const std::string& source_;
};

inline std::uint32_t crc32_of(const std::uint8_t* data, std::size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes 32-bit lengths: feed big buffers in pieces.
  constexpr std::size_t kPiece = std::size_t{1} << 30;
  for (std::size_t done = 0; done < size; done += kPiece)
    crc = crc32(crc, data + done, static_cast<uInt>(std::min(kPiece, size - done)));
  return static_cast<std::uint32_t>(crc);
}

/// Closes a POSIX file descriptor on every path out of a scope.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  /// Closes now and reports the result (a failed close can mean lost data).
  int close() {
    const int result = ::close(fd_);
    fd_ = -1;
    return result;
  }

 private:
  int fd_;
};

/// Throws an io_error for a failed system call: "checkpoint <path>: cannot <action><object>: <reason>".
/// errno is read first, before building the message can disturb it.
[[noreturn]] inline void throw_errno(const std::string& path, const char* action, const std::string& object = {}) {
  const int reason = errno;
  throw io_error("checkpoint " + path + ": cannot " + action + object + ": " + std::strerror(reason));
}

inline std::string folder_of(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

/// Replaces `path` with `bytes` so that a crash at any moment leaves either
/// the old file or the new one, whole: write a temporary file in the same
/// folder, fsync it, rename it over `path` (atomic within a file system),
/// then fsync the folder so the rename itself is on disk.
inline void write_file_atomically(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  const std::string temporary = path + ".tmp";
  {
    FileDescriptor file(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666));
    if (!file.valid()) throw_errno(path, "create the temporary file ", temporary);
    // Leaves no half-written temporary behind (a later save would overwrite it anyway).
    auto fail = [&](const char* action) {
      const int reason = errno;
      ::unlink(temporary.c_str());
      errno = reason;
      throw_errno(path, action, temporary);
    };
    std::size_t written = 0;
    while (written < bytes.size()) {
      const ::ssize_t n = ::write(file.get(), bytes.data() + written, bytes.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail("write ");
      written += static_cast<std::size_t>(n);
    }
    if (::fsync(file.get()) != 0) fail("fsync ");
    if (file.close() != 0) fail("close ");
    if (::rename(temporary.c_str(), path.c_str()) != 0) fail("rename ");
  }
  const std::string folder = folder_of(path);
  FileDescriptor directory(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!directory.valid()) throw_errno(path, "open to fsync its folder ", folder);
  // EINVAL: the file system cannot sync a folder; the rename is as durable as it gets there.
  if (::fsync(directory.get()) != 0 && errno != EINVAL) throw_errno(path, "fsync its folder ", folder);
}

}  // namespace detail

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
    detail::ByteWriter out;
    out.raw(format::kMagic, sizeof format::kMagic);
    out.u32(format::kVersion);
    out.u32(static_cast<std::uint32_t>(entries_.size()));
    const std::size_t payload_size_offset = out.size();
    out.u64(0);
    for (const auto& [name, value] : entries_) {
      out.u8(static_cast<std::uint8_t>(kind_of(value)));
      out.u32(static_cast<std::uint32_t>(name.size()));
      out.raw(name.data(), name.size());
      std::visit([&out](const auto& v) { write_value(out, v); }, value);
    }
    out.patch_u64(payload_size_offset, out.size() - format::kHeaderBytes);
    out.u32(detail::crc32_of(out.bytes().data(), out.size()));
    return out.take();
  }

  /// Parses a file image, checking it whole before trusting any of it; every
  /// defect (bad magic, another version, truncation, trailing bytes, a
  /// checksum mismatch, a malformed entry) is an io_error naming `source`.
  static Checkpoint from_bytes(const std::uint8_t* data, std::size_t size, const std::string& source = "checkpoint in memory") {
    namespace format = checkpoint_format;
    check_header(data, size, size, source);
    const std::size_t checked = size - format::kChecksumBytes;
    detail::ByteReader trailer(data + checked, format::kChecksumBytes, source);
    const std::uint32_t stored = trailer.u32("checksum");
    const std::uint32_t computed = detail::crc32_of(data, checked);
    if (stored != computed)
      throw io_error(source + ": checksum mismatch (stored " + hex(stored) + ", computed " + hex(computed) +
                     "): the file is corrupt");

    detail::ByteReader in(data, checked, source);
    in.raw(sizeof format::kMagic, "magic");
    in.u32("version");
    const std::uint32_t count = in.u32("entry count");
    in.u64("payload size");
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

  /// Writes the checkpoint to `path` atomically: afterwards the file holds
  /// either this checkpoint or, if this throws or the machine stops, what it
  /// held before. Uses (and overwrites) the temporary file `path` + ".tmp",
  /// so one process at a time may save to a given path.
  void save(const std::string& path) const { detail::write_file_atomically(path, to_bytes()); }

  /// Reads and checks a checkpoint file (see from_bytes); errors name `path`.
  static Checkpoint load(const std::string& path) {
    const std::string source = "checkpoint " + path;
    detail::FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!file.valid()) detail::throw_errno(path, "open it");
    struct stat info {};
    if (::fstat(file.get(), &info) != 0) detail::throw_errno(path, "stat it");
    if (!S_ISREG(info.st_mode)) throw io_error(source + ": not a regular file");
    const auto file_size = static_cast<std::size_t>(info.st_size);
    // The header is checked against the file's size before the whole file is read.
    std::vector<std::uint8_t> bytes(std::min(file_size, checkpoint_format::kHeaderBytes));
    read_exactly(file.get(), bytes.data(), bytes.size(), path);
    check_header(bytes.data(), bytes.size(), file_size, source);
    bytes.resize(file_size);
    read_exactly(file.get(), bytes.data() + checkpoint_format::kHeaderBytes, file_size - checkpoint_format::kHeaderBytes, path);
    std::uint8_t extra;
    if (::read(file.get(), &extra, 1) != 0) throw io_error(source + ": the file changed while it was read");
    return from_bytes(bytes.data(), bytes.size(), source);
  }

 private:
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
  static void write_value(detail::ByteWriter& out, const Matrix<S>& tensor) {
    out.u8(static_cast<std::uint8_t>(checkpoint_format::ScalarTraits<S>::code));
    out.u64(static_cast<std::uint64_t>(tensor.rows()));
    out.u64(static_cast<std::uint64_t>(tensor.cols()));
    out.scalars(tensor);
  }
  static void write_value(detail::ByteWriter& out, std::int64_t integer) { out.u64(static_cast<std::uint64_t>(integer)); }
  static void write_value(detail::ByteWriter& out, const std::vector<std::uint64_t>& words) {
    out.u64(words.size());
    for (const std::uint64_t word : words) out.u64(word);
  }
  static void write_value(detail::ByteWriter& out, const std::string& text) {
    out.u64(text.size());
    out.raw(text.data(), text.size());
  }

  void read_entry(detail::ByteReader& in) {
    using checkpoint_format::Kind;
    const auto kind = static_cast<Kind>(in.u8("entry kind"));
    const std::uint32_t name_size = in.u32("name size");
    if (name_size == 0 || name_size > checkpoint_format::kMaxNameBytes)
      in.fail("a name of " + std::to_string(name_size) + " bytes (1 to " + std::to_string(checkpoint_format::kMaxNameBytes) +
              " allowed)");
    const std::uint8_t* name_bytes = in.raw(name_size, "name");
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
        entries_.emplace_hint(entries_.end(), std::move(name), static_cast<std::int64_t>(in.u64("integer")));
        return;
      case Kind::words: {
        const std::uint64_t count = in.u64("word count");
        if (count > in.remaining() / 8)
          in.fail("truncated: entry '" + name + "' has " + std::to_string(count) + " words, " +
                  std::to_string(in.remaining()) + " bytes left");
        std::vector<std::uint64_t> words(static_cast<std::size_t>(count));
        for (auto& word : words) word = in.u64("word");
        entries_.emplace_hint(entries_.end(), std::move(name), std::move(words));
        return;
      }
      case Kind::text: {
        const std::uint64_t size = in.u64("text size");
        if (size > in.remaining())
          in.fail("truncated: text '" + name + "' has " + std::to_string(size) + " bytes, " + std::to_string(in.remaining()) +
                  " left");
        const std::uint8_t* text = in.raw(static_cast<std::size_t>(size), "text");
        std::string value(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
        entries_.emplace_hint(entries_.end(), std::move(name), std::move(value));
        return;
      }
    }
    in.fail("entry '" + name + "' has unknown kind " + std::to_string(static_cast<int>(kind)));
  }

  static Value read_tensor(detail::ByteReader& in, const std::string& name) {
    using checkpoint_format::ScalarCode;
    const auto code = static_cast<ScalarCode>(in.u8("scalar type"));
    if (code != ScalarCode::float32 && code != ScalarCode::float64)
      in.fail("tensor '" + name + "' has unknown scalar type " + std::to_string(static_cast<int>(code)));
    const std::uint64_t rows = in.u64("rows");
    const std::uint64_t cols = in.u64("cols");
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
  static Value read_values(detail::ByteReader& in, std::uint64_t rows, std::uint64_t cols) {
    Matrix<S> tensor(static_cast<Index>(rows), static_cast<Index>(cols));
    in.scalars(tensor, "tensor values");
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
    detail::ByteReader in(data, size, source);
    in.raw(sizeof format::kMagic, "magic");
    const std::uint32_t version = in.u32("version");
    if (version != format::kVersion)
      throw io_error(source + ": format version " + std::to_string(version) + ", this build of latent reads version " +
                     std::to_string(format::kVersion));
    in.u32("entry count");
    const std::uint64_t payload = in.u64("payload size");
    const std::uint64_t after_header = file_size - kSmallest;
    if (payload > after_header)
      throw io_error(source + ": truncated: the header promises " + std::to_string(payload) + " bytes of entries, " +
                     std::to_string(after_header) + " are present");
    if (payload < after_header)
      throw io_error(source + ": " + std::to_string(after_header - payload) + " trailing bytes after the checkpoint");
  }

  static void read_exactly(int fd, std::uint8_t* data, std::size_t size, const std::string& path) {
    std::size_t done = 0;
    while (done < size) {
      const ::ssize_t n = ::read(fd, data + done, size - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) detail::throw_errno(path, "read it");
      if (n == 0) throw io_error("checkpoint " + path + ": the file shrank while it was read");
      done += static_cast<std::size_t>(n);
    }
  }

  static std::string hex(std::uint32_t value) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string text = "0x00000000";
    for (int i = 0; i < 8; ++i) text[9 - i] = kDigits[(value >> (4 * i)) & 0xf];
    return text;
  }

  std::map<std::string, Value> entries_;
  std::string source_ = "checkpoint in memory";
};

namespace detail {

inline std::string join_name(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

/// Matrices to save or restore, named relative to a prefix.
template <class S>
using TensorSlots = std::vector<std::pair<std::string, Matrix<S>*>>;

template <class S>
void store_tensors(Checkpoint& checkpoint, const std::string& prefix, const TensorSlots<S>& slots) {
  for (const auto& [name, tensor] : slots) checkpoint.set_tensor(join_name(prefix, name), *tensor);
}

/// The assignment a restore runs once every check of every bound object has passed.
using Commit = std::function<void()>;

/// Checks that `checkpoint` holds, under `prefix`, exactly `slots` (plus
/// `other_names`), each a tensor of the same scalar type and shape; on any
/// mismatch throws a shape_error listing every one (names and both shapes).
/// Changes nothing: returns the assignment.
template <class S>
Commit plan_tensor_restore(const Checkpoint& checkpoint, const std::string& prefix, const TensorSlots<S>& slots,
                           const std::string& owner, const std::vector<std::string>& other_names = {}) {
  std::vector<std::string> problems;
  std::vector<std::pair<Matrix<S>*, const Matrix<S>*>> assignments;
  std::vector<std::string> expected = other_names;
  for (const auto& [name, tensor] : slots) {
    const std::string full = join_name(prefix, name);
    expected.push_back(full);
    const Checkpoint::Value* value = checkpoint.find(full);
    if (value == nullptr) {
      problems.push_back("'" + full + "' (" + shape_string(*tensor) + " in the " + owner + ") is missing from the checkpoint");
      continue;
    }
    const auto* stored = std::get_if<Matrix<S>>(value);
    if (stored == nullptr) {
      problems.push_back("'" + full + "' is " + Checkpoint::kind_name(*value) + " in the checkpoint but tensor<" +
                         checkpoint_format::ScalarTraits<S>::name + "> " + shape_string(*tensor) + " in the " + owner);
    } else if (stored->rows() != tensor->rows() || stored->cols() != tensor->cols()) {
      problems.push_back("'" + full + "' is " + shape_string(*stored) + " in the checkpoint but " + shape_string(*tensor) +
                         " in the " + owner);
    } else {
      assignments.emplace_back(tensor, stored);
    }
  }
  std::sort(expected.begin(), expected.end());
  for (const std::string& name : checkpoint.names_under(prefix)) {
    if (std::binary_search(expected.begin(), expected.end(), name)) continue;
    const Checkpoint::Value* value = checkpoint.find(name);
    const auto* as_float = std::get_if<Matrix<float>>(value);
    const auto* as_double = std::get_if<Matrix<double>>(value);
    const std::string shape = as_float ? shape_string(*as_float) : as_double ? shape_string(*as_double) : Checkpoint::kind_name(*value);
    problems.push_back("'" + name + "' (" + shape + " in the checkpoint) does not exist in the " + owner);
  }
  if (!problems.empty()) {
    std::string message = checkpoint.source() + ": does not fit the " + owner + " '" + prefix + "':";
    for (const std::string& problem : problems) message += "\n  " + problem;
    throw shape_error(message);
  }
  return [assignments = std::move(assignments)] {
    for (const auto& [target, source] : assignments) *target = *source;
  };
}

template <class S>
TensorSlots<S> parameter_slots(const NamedParameterList<S>& parameters) {
  TensorSlots<S> slots;
  for (const auto& entry : parameters) slots.emplace_back(entry.name, &entry.parameter->value);
  return slots;
}

template <class S>
TensorSlots<S> optimizer_slots(const std::vector<NamedTensor<S>>& state) {
  TensorSlots<S> slots;
  for (const auto& entry : state) slots.emplace_back(entry.name, entry.tensor);
  return slots;
}

/// The integer called `name`, or an io_error naming the checkpoint and `what` it was for.
inline std::int64_t required_integer(const Checkpoint& checkpoint, const std::string& name, const std::string& what) {
  const Checkpoint::Value* value = checkpoint.find(name);
  if (value == nullptr) throw io_error(checkpoint.source() + ": no integer '" + name + "' (" + what + ")");
  const auto* integer = std::get_if<std::int64_t>(value);
  if (integer == nullptr)
    throw io_error(checkpoint.source() + ": '" + name + "' (" + what + ") is " + Checkpoint::kind_name(*value) + ", not integer");
  return *integer;
}

}  // namespace detail

/// Stores every parameter's value as tensor "<prefix>.<parameter name>".
template <class S>
void store_parameters(Checkpoint& checkpoint, const std::string& prefix, const NamedParameterList<S>& parameters) {
  detail::store_tensors(checkpoint, prefix, detail::parameter_slots(parameters));
}

/// Restores every parameter's value from "<prefix>.<parameter name>". The
/// checkpoint must hold exactly these names under prefix, with the same
/// shapes and scalar type; otherwise a shape_error lists each mismatch and no
/// parameter changes.
template <class S>
void restore_parameters(const Checkpoint& checkpoint, const std::string& prefix, const NamedParameterList<S>& parameters) {
  detail::plan_tensor_restore(checkpoint, prefix, detail::parameter_slots(parameters), "model")();
}

/// Binds the objects of a training run by name (models, optimizers, Rngs,
/// counters such as the epoch) so that one call saves them all and one call
/// restores them all. Names must not nest ("generator" and "generator.adam"
/// clash; "generator" and "generator_adam" do not). The bound objects must
/// outlive the Checkpointer.
///
///   latent::Checkpointer state;
///   state.add_model("model", vae).add_optimizer("optimizer", adam, params)
///        .add_rng("rng", rng).add_counter("epoch", epoch);
///   state.save("run/last.ckpt");   // atomic
///   state.load("run/last.ckpt");   // all or nothing
class Checkpointer {
 public:
  /// A model (anything with named_parameters()): tensors "<name>.<parameter name>".
  template <class Model>
  Checkpointer& add_model(const std::string& name, Model& model) {
    return bind(name, [&model, name](Checkpoint& c) { store_parameters(c, name, model.named_parameters()); },
                [&model, name](const Checkpoint& c) {
                  return detail::plan_tensor_restore(c, name, detail::parameter_slots(model.named_parameters()), "model");
                });
  }

  /// An optimizer (Adam, Sgd) stepping `parameters`: its state tensors
  /// "<name>.<slot>.<index>" and its step count "<name>.steps". Saving and
  /// restoring bind the optimizer to `parameters` (as its first step would).
  /// Hyperparameters (learning rate, ...) belong to the program, not the file.
  template <class Optimizer, class S>
  Checkpointer& add_optimizer(const std::string& name, Optimizer& optimizer, ParameterList<S> parameters) {
    const std::string steps_name = detail::join_name(name, "steps");
    return bind(
        name,
        [&optimizer, parameters, name, steps_name](Checkpoint& c) {
          optimizer.bind(parameters);
          detail::store_tensors(c, name, detail::optimizer_slots(optimizer.state_tensors()));
          c.set_integer(steps_name, optimizer.steps());
        },
        [&optimizer, parameters, name, steps_name](const Checkpoint& c) -> detail::Commit {
          optimizer.bind(parameters);
          auto assign_state =
              detail::plan_tensor_restore(c, name, detail::optimizer_slots(optimizer.state_tensors()), "optimizer", {steps_name});
          const std::int64_t steps = detail::required_integer(c, steps_name, "the optimizer's step count");
          return [&optimizer, assign_state = std::move(assign_state), steps] {
            assign_state();
            optimizer.set_steps(steps);
          };
        });
  }

  /// An Rng: its whole state as words "<name>", so the resumed run draws the same numbers.
  Checkpointer& add_rng(const std::string& name, Rng& rng) {
    return bind(name,
                [&rng, name](Checkpoint& c) {
                  const Rng::State state = rng.state();
                  c.set_words(name, {state.begin(), state.end()});
                },
                [&rng, name](const Checkpoint& c) -> detail::Commit {
                  const std::vector<std::uint64_t>& words = c.words(name);
                  Rng::State state{};
                  if (words.size() != state.size())
                    throw io_error(c.source() + ": Rng state '" + name + "' has " + std::to_string(words.size()) + " words, expected " +
                                   std::to_string(state.size()));
                  std::copy(words.begin(), words.end(), state.begin());
                  return [&rng, state] { rng.set_state(state); };
                });
  }

  /// An integer counter (epoch, step, ...) as integer "<name>".
  template <class Int>
  Checkpointer& add_counter(const std::string& name, Int& counter) {
    static_assert(std::is_integral<Int>::value && !std::is_same<Int, bool>::value,
                  "Checkpointer::add_counter: counters are integers");
    return bind(name,
                [&counter, name](Checkpoint& c) {
                  if (!fits<std::int64_t>(counter))
                    throw error("Checkpointer: counter '" + name + "' = " + std::to_string(counter) + " does not fit in int64");
                  c.set_integer(name, static_cast<std::int64_t>(counter));
                },
                [&counter, name](const Checkpoint& c) -> detail::Commit {
                  const std::int64_t value = detail::required_integer(c, name, "a counter");
                  if (!fits<Int>(value))
                    throw io_error(c.source() + ": counter '" + name + "' = " + std::to_string(value) + " does not fit its variable");
                  return [&counter, value] { counter = static_cast<Int>(value); };
                });
  }

  /// Every bound object's state, in a new Checkpoint (add more entries before saving if useful).
  Checkpoint capture() const {
    Checkpoint checkpoint;
    for (const auto& binding : bindings_) binding.store(checkpoint);
    return checkpoint;
  }

  /// Restores every bound object from `checkpoint`: all of them are checked
  /// first, then all are assigned, so on an error nothing changes (beyond
  /// binding an unbound optimizer to its parameters). Entries of the
  /// checkpoint under no bound name are ignored.
  void restore(const Checkpoint& checkpoint) const {
    std::vector<detail::Commit> commits;
    commits.reserve(bindings_.size());
    for (const auto& binding : bindings_) commits.push_back(binding.plan(checkpoint));
    for (const auto& commit : commits) commit();
  }

  /// capture() then Checkpoint::save: atomic.
  void save(const std::string& path) const { capture().save(path); }
  /// Checkpoint::load then restore(): all or nothing.
  void load(const std::string& path) const { restore(Checkpoint::load(path)); }

 private:
  struct Binding {
    std::string name;
    std::function<void(Checkpoint&)> store;
    std::function<detail::Commit(const Checkpoint&)> plan;
  };

  template <class Store, class Plan>
  Checkpointer& bind(const std::string& name, Store store, Plan plan) {
    if (name.empty()) throw error("Checkpointer: a bound object needs a name");
    auto nests_in = [](const std::string& inner, const std::string& outer) {
      return inner.size() > outer.size() && inner.compare(0, outer.size(), outer) == 0 && inner[outer.size()] == '.';
    };
    for (const auto& binding : bindings_)
      if (binding.name == name || nests_in(name, binding.name) || nests_in(binding.name, name))
        throw error("Checkpointer: the name '" + name + "' clashes with the bound name '" + binding.name + "'");
    bindings_.push_back({name, std::move(store), std::move(plan)});
    return *this;
  }

  template <class To, class From>
  static bool fits(From value) {
    if constexpr (std::is_signed<From>::value == std::is_signed<To>::value) {
      return value >= std::numeric_limits<To>::min() && value <= std::numeric_limits<To>::max();
    } else if constexpr (std::is_signed<From>::value) {
      return value >= 0 && static_cast<std::make_unsigned_t<From>>(value) <= std::numeric_limits<To>::max();
    } else {
      return value <= static_cast<std::make_unsigned_t<To>>(std::numeric_limits<To>::max());
    }
  }

  std::vector<Binding> bindings_;
};

}  // namespace latent
