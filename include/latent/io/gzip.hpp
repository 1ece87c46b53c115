// latent/io/gzip.hpp: gzip streams over the sources and sinks of bytes.hpp
// and file.hpp. GunzipBytes decompresses a source on demand: it holds one
// fixed chunk of compressed input and writes only into the caller's buffer,
// so a reader that asks for what a format's header allows, and no more,
// never allocates for bytes that are not there. GzipSink compresses into a
// sink (an AtomicFile, a ByteWriter); gzip_compress does it in memory.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "latent/error.hpp"
#include "latent/io/bytes.hpp"

namespace latent::io {

/// Whether `bytes` start with the gzip magic bytes 1f 8b.
inline bool starts_as_gzip(const std::uint8_t* bytes, std::size_t size) {
  return size >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

/// The decompressed bytes of the gzip stream in a source (ByteReader,
/// InputFile): itself a source. Concatenated gzip members are one stream, as
/// gunzip reads them. Damage (a bad block, a wrong CRC or length in a
/// member's trailer, a stream cut short, bytes after the last member) is an
/// io_error naming `name`.
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
  std::size_t read(void* destination, std::size_t count) {
    auto* out = static_cast<std::uint8_t*>(destination);
    std::size_t produced = 0;
    while (produced < count) {
      if (stream_.avail_in == 0) {
        stream_.next_in = chunk_.data();
        stream_.avail_in = static_cast<uInt>(input_.read(chunk_.data(), chunk_.size()));
        if (stream_.avail_in == 0) {
          if (in_member_) throw io_error(name_ + ": truncated gzip stream (it ends inside compressed data)");
          break;  // the last member ended exactly at the end of the input
        }
      }
      in_member_ = true;
      const std::size_t want = std::min<std::size_t>(count - produced, std::numeric_limits<uInt>::max());
      stream_.next_out = out + produced;
      stream_.avail_out = static_cast<uInt>(want);
      const int rc = inflate(&stream_, Z_NO_FLUSH);
      produced += want - stream_.avail_out;
      if (rc == Z_STREAM_END) {
        in_member_ = false;
        ++members_;
        inflateReset(&stream_);
      } else if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT) {
        // Bytes after a complete member that do not start another one
        // (inflateReset zeroed total_out when that member ended).
        if (members_ > 0 && stream_.total_out == 0) throw io_error(name_ + ": trailing garbage after the gzip stream");
        throw io_error(name_ + ": corrupt gzip stream (" + (stream_.msg ? stream_.msg : "invalid data") + ")");
      } else if (rc == Z_MEM_ERROR) {
        throw io_error(name_ + ": out of memory while decompressing");
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        throw io_error(name_ + ": gzip error " + std::to_string(rc));
      }
    }
    return produced;
  }

 private:
  Compressed& input_;
  std::string name_;
  z_stream stream_{};
  std::array<std::uint8_t, 1 << 16> chunk_{};
  bool in_member_ = true;  // the stream starts with a member (its magic was seen)
  int members_ = 0;        // complete members so far
};

/// Gzip-compresses what is written to it into Sink (a single gzip member, as
/// gzip(1) writes it); finish() ends the member and finishes the sink.
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

  void write(const void* data, std::size_t size) {
    const auto* bytes = static_cast<const std::uint8_t*>(data);
    while (size > 0) {
      const std::size_t piece = std::min<std::size_t>(size, std::numeric_limits<uInt>::max());
      stream_.next_in = const_cast<std::uint8_t*>(bytes);  // zlib's API is not const-correct
      stream_.avail_in = static_cast<uInt>(piece);
      deflate_all(Z_NO_FLUSH);
      bytes += piece;
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
  std::array<std::uint8_t, 1 << 16> chunk_{};
};

/// `bytes` gzip-compressed, in memory (a single gzip member, as gzip(1) writes it).
inline std::vector<std::uint8_t> gzip_compress(const void* bytes, std::size_t size) {
  ByteWriter<ByteOrder::little> sink;
  {
    GzipSink<ByteWriter<ByteOrder::little>> gzip(sink, "<memory>");
    gzip.write(bytes, size);
    gzip.finish();
  }
  return sink.take();
}

}  // namespace latent::io
