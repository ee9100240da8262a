// FileSystem: the small window through which the live tailer sees files, so
// tests replace the operating system with an in-memory fake.
//
// Promise:
// - FileSystem::Stat follows symlinks and answers kNotFound for a missing
//   path; Glob returns the sorted matches of a pattern (no match is an empty
//   list, not an error); RealPath resolves symlinks.
// - OpenFile reads the file it opened, by offset, even after the path was
//   renamed, unlinked or pointed elsewhere (an open handle, like an fd).
// - FileStream reads one opened file as a byte stream addressed by offset in
//   the *decompressed* content: gzip is detected by its magic bytes (not the
//   name) and inflated with zlib, so a file and its later .gz share offsets and
//   fingerprint. A file of fewer than 2 bytes is not decided yet and reads as
//   empty until it has 2 (gzip creates its output empty, then writes it). A
//   cut-short .gz yields what could be inflated and says so in truncated().
// - Errors are Status values naming the path; nothing throws.
// Thread-safety: RealFileSystem is stateless and thread-safe; an OpenFile or
// FileStream is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace apimeter {

struct FileInfo {
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t size = 0;
  int64_t mtime_s = 0;
  int64_t mtime_ns = 0;  // full modification time in ns: tells a rewrite that kept the size
  uint64_t nlink = 1;    // 0: deleted while open
};

class OpenFile {
 public:
  virtual ~OpenFile() = default;
  // fstat: the open file, even after rename/unlink.
  virtual Result<FileInfo> Stat() = 0;
  // Up to n bytes at offset; 0 at end of file.
  virtual Result<size_t> ReadAt(uint64_t offset, char* buf, size_t n) = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  virtual Result<FileInfo> Stat(const std::string& path) = 0;
  virtual Result<std::vector<std::string>> Glob(const std::string& pattern) = 0;
  virtual Result<std::unique_ptr<OpenFile>> Open(const std::string& path) = 0;
  // The path with every symlink resolved (the path itself if none).
  virtual Result<std::string> RealPath(const std::string& path) = 0;
};

// pread/fstat/glob(3)/realpath(3).
class RealFileSystem final : public FileSystem {
 public:
  Result<FileInfo> Stat(const std::string& path) override;
  Result<std::vector<std::string>> Glob(const std::string& pattern) override;
  Result<std::unique_ptr<OpenFile>> Open(const std::string& path) override;
  Result<std::string> RealPath(const std::string& path) override;
};

// Reads one opened file, plain or gzip, by decompressed offset.
class FileStream {
 public:
  static Result<std::unique_ptr<FileStream>> Open(std::unique_ptr<OpenFile> file, std::string path);
  ~FileStream();
  FileStream(const FileStream&) = delete;
  FileStream& operator=(const FileStream&) = delete;

  // Up to n bytes of the (decompressed) content at offset; 0 at its end.
  // Plain files are read at any offset. A .gz is inflated forwards: reading
  // ahead skips, reading behind restarts from the beginning (rare: only after
  // a rewind), so memory stays one inflate window.
  Result<size_t> Read(uint64_t offset, char* buf, size_t n);
  Result<FileInfo> Stat() { return file_->Stat(); }
  bool compressed() const { return gz_ != nullptr; }
  // For a .gz: how far it has been inflated (after a Read that returned 0,
  // the length of its content).
  uint64_t inflated() const { return out_pos_; }
  bool truncated() const { return truncated_; }
  const std::string& path() const { return path_; }

 private:
  struct Inflater;
  FileStream(std::unique_ptr<OpenFile> file, std::string path);
  Status DetectKind();
  Status RestartInflate();
  Result<size_t> Inflate(char* buf, size_t n);

  std::unique_ptr<OpenFile> file_;
  std::string path_;
  std::unique_ptr<Inflater> gz_;  // null for plain files
  bool decided_ = false;          // plain or gzip known (the file had 2 bytes)
  uint64_t out_pos_ = 0;          // decompressed offset of the next inflated byte
  bool truncated_ = false;
};

}  // namespace apimeter
