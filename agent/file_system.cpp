#include "agent/file_system.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace apimeter {
namespace {

FileInfo FromStat(const struct stat& st) {
  FileInfo info;
  info.dev = static_cast<uint64_t>(st.st_dev);
  info.ino = static_cast<uint64_t>(st.st_ino);
  info.size = static_cast<uint64_t>(st.st_size);
  info.mtime_s = static_cast<int64_t>(st.st_mtime);
  info.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  info.nlink = static_cast<uint64_t>(st.st_nlink);
  return info;
}

Status ErrnoStatus(const std::string& what, const std::string& path, int err) {
  std::string msg = what + " " + path + ": " + std::strerror(err);
  if (err == ENOENT || err == ENOTDIR) return Status::NotFound(msg);
  return Status::Unavailable(msg);
}

class RealOpenFile final : public OpenFile {
 public:
  RealOpenFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~RealOpenFile() override { ::close(fd_); }
  RealOpenFile(const RealOpenFile&) = delete;
  RealOpenFile& operator=(const RealOpenFile&) = delete;

  Result<FileInfo> Stat() override {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return ErrnoStatus("cannot fstat", path_, errno);
    return FromStat(st);
  }

  Result<size_t> ReadAt(uint64_t offset, char* buf, size_t n) override {
    if (offset > static_cast<uint64_t>(LLONG_MAX)) return size_t{0};
    for (;;) {
      ssize_t got = ::pread(fd_, buf, n, static_cast<off_t>(offset));
      if (got >= 0) return static_cast<size_t>(got);
      if (errno != EINTR) return ErrnoStatus("cannot read", path_, errno);
    }
  }

 private:
  int fd_;
  std::string path_;
};

}  // namespace

Result<FileInfo> RealFileSystem::Stat(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("cannot stat", path, errno);
  return FromStat(st);
}

Result<std::vector<std::string>> RealFileSystem::Glob(const std::string& pattern) {
  glob_t g{};
  int rc = ::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g);
  std::vector<std::string> out;
  if (rc == 0) {
    out.assign(g.gl_pathv, g.gl_pathv + g.gl_pathc);
  }
  ::globfree(&g);
  if (rc != 0 && rc != GLOB_NOMATCH) {
    return Status::Unavailable("cannot list files matching " + pattern +
                               (rc == GLOB_NOSPACE ? ": out of memory" : ": read error"));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::unique_ptr<OpenFile>> RealFileSystem::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open", path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument(path + " is not a regular file");
  }
  return std::unique_ptr<OpenFile>(new RealOpenFile(fd, path));
}

Result<std::string> RealFileSystem::RealPath(const std::string& path) {
  char* resolved = ::realpath(path.c_str(), nullptr);
  if (!resolved) return ErrnoStatus("cannot resolve", path, errno);
  std::string out(resolved);
  std::free(resolved);
  return out;
}

// --- FileStream -------------------------------------------------------------

struct FileStream::Inflater {
  z_stream z{};
  bool initialised = false;
  uint64_t in_pos = 0;  // compressed offset of the next byte to read
  std::string in;       // compressed input buffer
  bool end_of_input = false;
  ~Inflater() {
    if (initialised) ::inflateEnd(&z);
  }
};

namespace {
constexpr size_t kCompressedChunk = 64 * 1024;
}  // namespace

Result<std::unique_ptr<FileStream>> FileStream::Open(std::unique_ptr<OpenFile> file,
                                                     std::string path) {
  std::unique_ptr<FileStream> s(new FileStream(std::move(file), std::move(path)));
  APIMETER_RETURN_IF_ERROR(s->DetectKind());
  return s;
}

// gzip or plain, by the magic bytes. A file with fewer than 2 bytes is not
// decided yet (gzip creates its output empty and writes it afterwards): it
// reads as empty until it has 2 bytes, then is decided for good.
Status FileStream::DetectKind() {
  unsigned char magic[2] = {0, 0};
  auto got = file_->ReadAt(0, reinterpret_cast<char*>(magic), 2);
  if (!got.ok()) return got.status();
  if (*got < 2) return Status::Ok();
  decided_ = true;
  if (magic[0] == 0x1f && magic[1] == 0x8b) {
    gz_ = std::make_unique<Inflater>();
    APIMETER_RETURN_IF_ERROR(RestartInflate());
  }
  return Status::Ok();
}

FileStream::FileStream(std::unique_ptr<OpenFile> file, std::string path)
    : file_(std::move(file)), path_(std::move(path)) {}

FileStream::~FileStream() = default;

Status FileStream::RestartInflate() {
  if (gz_->initialised) ::inflateEnd(&gz_->z);
  gz_->z = z_stream{};
  // 15 + 32: zlib or gzip header, detected automatically.
  if (::inflateInit2(&gz_->z, 15 + 32) != Z_OK) {
    gz_->initialised = false;
    return Status::Internal("cannot start inflating " + path_);
  }
  gz_->initialised = true;
  gz_->in_pos = 0;
  gz_->in.assign(kCompressedChunk, '\0');
  gz_->z.avail_in = 0;
  gz_->end_of_input = false;
  out_pos_ = 0;
  truncated_ = false;
  return Status::Ok();
}

Result<size_t> FileStream::Inflate(char* buf, size_t n) {
  Inflater& g = *gz_;
  g.z.next_out = reinterpret_cast<Bytef*>(buf);
  g.z.avail_out = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
  const uInt want = g.z.avail_out;
  while (g.z.avail_out == want && !truncated_) {
    if (g.z.avail_in == 0) {
      auto got = file_->ReadAt(g.in_pos, g.in.data(), g.in.size());
      if (!got.ok()) return got.status();
      if (*got == 0) {
        // Input ended inside a member: cut short (or still being written).
        if (g.z.total_in > 0 || g.in_pos > 0) truncated_ = !g.end_of_input;
        break;
      }
      g.in_pos += *got;
      g.z.next_in = reinterpret_cast<Bytef*>(g.in.data());
      g.z.avail_in = static_cast<uInt>(*got);
      g.end_of_input = false;
    }
    int rc = ::inflate(&g.z, Z_NO_FLUSH);
    if (rc == Z_STREAM_END) {
      g.end_of_input = true;  // a complete member; another may follow (multi-member gzip)
      if (::inflateReset(&g.z) != Z_OK) return Status::Internal("inflate reset " + path_);
      continue;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      truncated_ = true;  // damaged data: keep what was inflated, stop here
      break;
    }
  }
  size_t produced = want - g.z.avail_out;
  out_pos_ += produced;
  return produced;
}

Result<size_t> FileStream::Read(uint64_t offset, char* buf, size_t n) {
  if (!decided_) {
    APIMETER_RETURN_IF_ERROR(DetectKind());
    if (!decided_) return size_t{0};
  }
  if (!gz_) return file_->ReadAt(offset, buf, n);
  if (offset < out_pos_) APIMETER_RETURN_IF_ERROR(RestartInflate());
  // Skip forward by inflating into the caller's buffer and discarding.
  while (out_pos_ < offset) {
    size_t step = static_cast<size_t>(std::min<uint64_t>(offset - out_pos_, n));
    auto got = Inflate(buf, step);
    if (!got.ok()) return got.status();
    if (*got == 0) return size_t{0};
  }
  return Inflate(buf, n);
}

}  // namespace apimeter
