#include "agent/log_file_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace apimeter {

std::string ContentFingerprint(std::string_view first) {
  first = first.substr(0, kFingerprintBytes);
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : first) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[48];
  if (first.size() < kFingerprintBytes) {
    std::snprintf(buf, sizeof buf, "%016llx.%zu", static_cast<unsigned long long>(h),
                  first.size());
  } else {
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  }
  return buf;
}

Result<std::unique_ptr<LogFileReader>> LogFileReader::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status::NotFound("cannot open " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument(path + " is not a regular file");
  }
  unsigned char magic[2] = {0, 0};
  ssize_t got = ::pread(fd, magic, 2, 0);
  std::unique_ptr<LogFileReader> r(new LogFileReader());
  r->path_ = path;
  r->disk_size_ = static_cast<uint64_t>(st.st_size);
  r->compressed_ = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  gzFile gz = ::gzdopen(fd, "rb");
  if (!gz) {
    ::close(fd);
    return Status::Internal("cannot start reading " + path);
  }
  ::gzbuffer(gz, 256 * 1024);
  r->gz_ = gz;
  return r;
}

LogFileReader::~LogFileReader() {
  if (gz_) ::gzclose(static_cast<gzFile>(gz_));
}

uint64_t LogFileReader::disk_offset() const {
  if (!gz_) return 0;
  z_off_t off = ::gzoffset(static_cast<gzFile>(gz_));
  return off < 0 ? 0 : static_cast<uint64_t>(off);
}

Result<size_t> LogFileReader::ReadRaw(char* buf, size_t n) {
  if (truncated_) return size_t{0};
  const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n, 1u << 30));
  int got = ::gzread(static_cast<gzFile>(gz_), buf, chunk);
  if (got < 0) {
    int err = 0;
    const char* msg = ::gzerror(static_cast<gzFile>(gz_), &err);
    if (err == Z_BUF_ERROR || err == Z_DATA_ERROR) {
      // A .gz cut short or damaged: keep what was read, say so, stop here.
      truncated_ = true;
      return size_t{0};
    }
    return Status::Unavailable("reading " + path_ + ": " + (msg ? msg : "I/O error"));
  }
  if (got == 0 && compressed_) {
    int err = 0;
    ::gzerror(static_cast<gzFile>(gz_), &err);
    if (err == Z_BUF_ERROR) truncated_ = true;
  }
  return static_cast<size_t>(got);
}

Result<std::string> LogFileReader::Fingerprint() {
  if (fingerprint_done_) return fingerprint_;
  lookahead_.resize(kFingerprintBytes);
  size_t have = 0;
  while (have < kFingerprintBytes) {
    auto got = ReadRaw(lookahead_.data() + have, kFingerprintBytes - have);
    if (!got.ok()) return got.status();
    if (*got == 0) break;
    have += *got;
  }
  lookahead_.resize(have);
  fingerprint_ = ContentFingerprint(lookahead_);
  fingerprint_done_ = true;
  return fingerprint_;
}

Result<size_t> LogFileReader::Read(char* buf, size_t n) {
  if (lookahead_pos_ < lookahead_.size()) {
    size_t take = std::min(n, lookahead_.size() - lookahead_pos_);
    std::memcpy(buf, lookahead_.data() + lookahead_pos_, take);
    lookahead_pos_ += take;
    return take;
  }
  return ReadRaw(buf, n);
}

}  // namespace apimeter
