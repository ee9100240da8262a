// LogFileReader: reads one log file as a byte stream, plain or gzip.
//
// Promise: gzip is detected by its magic bytes, not its name, and read
// decompressed; offsets are always offsets in the decompressed stream, so a
// file and its later .gz share offsets and fingerprint. A truncated .gz
// (still being written) yields what could be decompressed and reports the
// truncation in truncated(). Fingerprint() is the content identity used for
// checkpoints (docs/redis-schema.md). Errors are Status values with the path.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace apimeter {

constexpr size_t kFingerprintBytes = 1024;

// "<16 hex>" of FNV-1a 64 over the first 1024 bytes; "<16 hex>.<n>" when the
// content is shorter (n bytes), so a file that grows gets a new identity.
std::string ContentFingerprint(std::string_view first_bytes);

class LogFileReader {
 public:
  static Result<std::unique_ptr<LogFileReader>> Open(const std::string& path);
  ~LogFileReader();

  // Reads up to n bytes; 0 at end of input.
  Result<size_t> Read(char* buf, size_t n);
  // The fingerprint of the file's first bytes. Reads ahead (and keeps) up to
  // kFingerprintBytes, which later Read() calls return first.
  Result<std::string> Fingerprint();

  const std::string& path() const { return path_; }
  bool compressed() const { return compressed_; }
  bool truncated() const { return truncated_; }
  // Size of the file on disk (compressed size for .gz), for progress display.
  uint64_t disk_size() const { return disk_size_; }
  // Compressed bytes consumed so far (for progress on .gz), or bytes read.
  uint64_t disk_offset() const;

 private:
  LogFileReader() = default;
  Result<size_t> ReadRaw(char* buf, size_t n);

  std::string path_;
  void* gz_ = nullptr;  // gzFile
  bool compressed_ = false;
  bool truncated_ = false;
  uint64_t disk_size_ = 0;
  std::string lookahead_;  // bytes read for the fingerprint, not yet returned
  size_t lookahead_pos_ = 0;
  bool fingerprint_done_ = false;
  std::string fingerprint_;
};

}  // namespace apimeter
