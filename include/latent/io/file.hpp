// latent/io/file.hpp: the one way latent touches a disk.
//
// Every file latent writes (checkpoints, IDX files, PNG grids, CSV
// histories, sample exports) goes through AtomicFile: the bytes go to a new
// temporary file beside the target, which is fsynced, renamed over the
// target, and then the folder is fsynced so that the rename itself is on
// disk. After a crash at any moment the target is the old file or the new
// one, whole; a write that fails removes its temporary file and leaves the
// old file as it was. (A process killed in the middle of a write cannot
// remove its temporary: a stray ".NAME.tmp-*" beside NAME is safe to delete.)
// Every file latent reads goes through InputFile, which opens regular files
// only and knows their size before it reads, so that formats can check
// their headers against the bytes present before they allocate.
//
// Errors are io_errors in one style: "<path>: cannot <what failed>: <the
// system's reason>" when a system call fails, "<path>: <problem>" when a
// file's contents are wrong.
//
// testing::FailingDisk makes a chosen system call of this header fail, so
// that tests can check that a write failing midway loses nothing, without
// the privileges that mounting a small file system needs.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "latent/error.hpp"

namespace latent::io {

/// The io_error for a system call that failed with `error_number`:
/// "<path>: cannot <action>: <reason>", the reason as strerror words it.
inline io_error system_error(const std::string& path, const std::string& action, int error_number) {
  return io_error(path + ": cannot " + action + ": " + std::generic_category().message(error_number));
}

namespace testing {

/// The system calls of io/file.hpp that FailingDisk can make fail.
enum class Call { create, write, sync, close, rename, sync_folder, open, read };

/// While it lives, makes one system call of this thread's file operations
/// fail: the `nth` call (from 1) of `call`, with `error_number`. Made with
/// FullAfter{n}, it is a disk that fills up: writes store n bytes in all,
/// then fail with ENOSPC. failures() says how many calls it failed, so that
/// a test can check its fault was reached.
class FailingDisk {
 public:
  struct FullAfter {
    std::size_t bytes;
  };

  explicit FailingDisk(Call call, int nth = 1, int error_number = EIO)
      : call_(call), countdown_(nth), error_number_(error_number), previous_(active()) {
    active() = this;
  }
  explicit FailingDisk(FullAfter full) : call_(Call::write), space_(full.bytes), error_number_(ENOSPC), previous_(active()) {
    active() = this;
  }
  ~FailingDisk() { active() = previous_; }
  FailingDisk(const FailingDisk&) = delete;
  FailingDisk& operator=(const FailingDisk&) = delete;

  int failures() const { return failures_; }

  /// The disk in effect on this thread, or nullptr.
  static FailingDisk*& active() {
    static thread_local FailingDisk* disk = nullptr;
    return disk;
  }

  /// 0 if `call` may proceed, else the error it fails with. For writes,
  /// `size` is cut to the space left on a full disk.
  int intercept(Call call, std::size_t* size = nullptr) {
    if (call != call_) return 0;
    if (space_ != kUnlimited) {
      if (space_ == 0) return fail();
      *size = std::min(*size, space_);
      space_ -= *size;
      return 0;
    }
    return --countdown_ == 0 ? fail() : 0;
  }

 private:
  static constexpr std::size_t kUnlimited = ~std::size_t{0};
  int fail() {
    ++failures_;
    return error_number_;
  }

  Call call_;
  int countdown_ = 0;
  std::size_t space_ = kUnlimited;
  int error_number_;
  int failures_ = 0;
  FailingDisk* previous_;
};

}  // namespace testing

namespace detail {

/// Runs a system call unless a FailingDisk fails it (then sets errno and returns -1).
template <class Syscall>
auto checked_call(testing::Call call, Syscall syscall) -> decltype(syscall()) {
  testing::FailingDisk* disk = testing::FailingDisk::active();
  if (disk != nullptr)
    if (const int error_number = disk->intercept(call)) {
      errno = error_number;
      return -1;
    }
  return syscall();
}

/// write(2) of at most `size` bytes, retried on EINTR; a full FailingDisk shortens it.
inline ::ssize_t write_some(int fd, const void* data, std::size_t size) {
  if (testing::FailingDisk* disk = testing::FailingDisk::active())
    if (const int error_number = disk->intercept(testing::Call::write, &size)) {
      errno = error_number;
      return -1;
    }
  ::ssize_t n;
  do n = ::write(fd, data, size);
  while (n < 0 && errno == EINTR);
  return n;
}

inline ::ssize_t read_some(int fd, void* data, std::size_t size) {
  return checked_call(testing::Call::read, [&] {
    ::ssize_t n;
    do n = ::read(fd, data, size);
    while (n < 0 && errno == EINTR);
    return n;
  });
}

inline std::string folder_of(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

inline std::string file_name_of(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace detail

/// Writes a file atomically (see the top of this header): write() the bytes,
/// then commit(). Destroyed without a commit (an exception on the way), it
/// removes its temporary file and the target stays as it was. A sink
/// (write, finish), so encoders and GzipSink write straight into it.
class AtomicFile {
 public:
  /// Creates the temporary file ".<name>.tmp-<pid>-<n>-<stamp>" beside `path`
  /// (a new name each time, created exclusively: concurrent writers never share one).
  explicit AtomicFile(std::string path) : path_(std::move(path)) {
    static std::atomic<unsigned> counter{0};
    const std::string folder = detail::folder_of(path_);
    const std::string prefix = folder + "/." + detail::file_name_of(path_) + ".tmp-" + std::to_string(::getpid()) + "-";
    for (int attempt = 0; attempt < 100; ++attempt) {
      const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count() % 1000000;
      temporary_ = prefix + std::to_string(counter++) + "-" + std::to_string(stamp);
      // open(), not mkstemp(): the file gets the usual 0666 & ~umask permissions.
      fd_ = detail::checked_call(testing::Call::create, [&] {
        return ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      });
      if (fd_ >= 0) return;
      if (errno != EEXIST) break;
    }
    const int reason = errno;
    throw system_error(path_, "create a temporary file in " + folder, reason);
  }
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temporary_.c_str());
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::string& path() const { return path_; }

  void write(const void* data, std::size_t size) {
    const auto* bytes = static_cast<const std::uint8_t*>(data);
    while (size > 0) {
      const ::ssize_t n = detail::write_some(fd_, bytes, size);
      if (n < 0) fail("write");
      if (n == 0) fail("write", ENOSPC);  // no progress and no error: nothing better to say
      bytes += n;
      size -= static_cast<std::size_t>(n);
    }
  }
  void finish() {}

  /// fsync, close, rename over the target, fsync the folder. If the folder
  /// cannot be synced, the new file is in place but this still throws: the
  /// rename may not survive a crash.
  void commit() {
    if (detail::checked_call(testing::Call::sync, [&] { return ::fsync(fd_); }) != 0) fail("fsync");
    const int fd = fd_;
    fd_ = -1;
    if (detail::checked_call(testing::Call::close, [&] { return ::close(fd); }) != 0) fail("close");
    if (detail::checked_call(testing::Call::rename, [&] { return ::rename(temporary_.c_str(), path_.c_str()); }) != 0)
      fail("rename");
    committed_ = true;
    sync_folder();
  }

 private:
  /// Throws the io_error for a failed step with the temporary file (which the destructor removes).
  [[noreturn]] void fail(const char* step, int error_number = 0) const {
    const int reason = error_number != 0 ? error_number : errno;
    throw system_error(path_, std::string(step) + " the temporary file " + temporary_, reason);
  }

  void sync_folder() const {
    const std::string folder = detail::folder_of(path_);
    int reason = 0;
    const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      reason = errno;
    } else {
      // EINVAL: the file system cannot sync a folder; the rename is as durable as it gets there.
      if (detail::checked_call(testing::Call::sync_folder, [&] { return ::fsync(fd); }) != 0 && errno != EINVAL) reason = errno;
      ::close(fd);
    }
    if (reason != 0) throw system_error(path_, "fsync its folder " + folder + " after the rename", reason);
  }

  std::string path_;
  std::string temporary_;
  int fd_ = -1;
  bool committed_ = false;
};

/// Replaces the file at `path` by `bytes`, atomically (see AtomicFile).
inline void write_file_atomically(const std::string& path, const void* bytes, std::size_t size) {
  AtomicFile file(path);
  file.write(bytes, size);
  file.commit();
}
inline void write_file_atomically(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  write_file_atomically(path, bytes.data(), bytes.size());
}
inline void write_file_atomically(const std::string& path, std::string_view text) {
  write_file_atomically(path, text.data(), text.size());
}

/// Creates the folder `path` and any missing parents (nothing if it exists).
inline void create_folders(const std::string& path) {
  std::error_code failure;
  std::filesystem::create_directories(path, failure);
  if (failure) throw system_error(path, "create the folder", failure.value());
}

/// A regular file opened for reading; its size is known before any byte is
/// read. A source (read, remaining, rewind) for parsers and GunzipBytes.
class InputFile {
 public:
  explicit InputFile(std::string path) : path_(std::move(path)) {
    fd_ = detail::checked_call(testing::Call::open, [&] { return ::open(path_.c_str(), O_RDONLY | O_CLOEXEC); });
    if (fd_ < 0) {
      const int reason = errno;
      throw system_error(path_, "open it", reason);
    }
    struct stat info {};
    if (::fstat(fd_, &info) != 0) {
      const int reason = errno;
      ::close(fd_);
      throw system_error(path_, "stat it", reason);
    }
    if (!S_ISREG(info.st_mode)) {
      ::close(fd_);
      throw io_error(path_ + ": not a regular file");
    }
    size_ = static_cast<std::uint64_t>(info.st_size);
  }
  ~InputFile() { ::close(fd_); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  const std::string& path() const { return path_; }
  /// The size the file had when it was opened.
  std::uint64_t size() const { return size_; }

  /// Up to `count` bytes; fewer only at the end of the file.
  std::size_t read(void* destination, std::size_t count) {
    auto* bytes = static_cast<std::uint8_t*>(destination);
    std::size_t done = 0;
    while (done < count) {
      const ::ssize_t n = detail::read_some(fd_, bytes + done, count - done);
      if (n < 0) {
        const int reason = errno;
        throw system_error(path_, "read it", reason);
      }
      if (n == 0) break;
      done += static_cast<std::size_t>(n);
    }
    position_ += done;
    return done;
  }
  /// Exactly `count` bytes, or an io_error if the file ends first.
  void read_exactly(void* destination, std::size_t count) {
    if (read(destination, count) != count) throw io_error(path_ + ": the file shrank while it was read");
  }
  /// Bytes left by the size at opening.
  std::uint64_t remaining() const { return size_ > position_ ? size_ - position_ : 0; }
  void rewind() {
    if (::lseek(fd_, 0, SEEK_SET) != 0) {
      const int reason = errno;
      throw system_error(path_, "seek in it", reason);
    }
    position_ = 0;
  }

  /// The whole file, read from its start; a file larger than `max_bytes` is
  /// an io_error before any memory is set aside for it.
  std::vector<std::uint8_t> read_all(std::uint64_t max_bytes) {
    if (size_ > max_bytes)
      throw io_error(path_ + ": " + std::to_string(size_) + " bytes, more than the " + std::to_string(max_bytes) +
                     "-byte limit");
    rewind();
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size_));
    read_exactly(bytes.data(), bytes.size());
    std::uint8_t extra;
    if (read(&extra, 1) != 0) throw io_error(path_ + ": the file grew while it was read");
    return bytes;
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::uint64_t position_ = 0;
};

/// The whole of the regular file at `path` (see InputFile::read_all).
inline std::vector<std::uint8_t> read_file(const std::string& path, std::uint64_t max_bytes) {
  return InputFile(path).read_all(max_bytes);
}

}  // namespace latent::io
