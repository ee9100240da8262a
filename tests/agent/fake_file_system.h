// FakeFileSystem: an in-memory FileSystem for tailer tests.
//
// Promise: behaves like a POSIX directory tree for what the tailer uses:
// files are inodes with contents; paths (and symlinks) name them. An open
// handle keeps reading its inode after rename, unlink or truncation, and
// fstat reports nlink 0 once the last path is gone. Tests change files with
// Append/Rename/Unlink/Truncate/Symlink and inject failures per path, or land
// a change between two calls of the code under test with before_access.
// Glob matches with fnmatch(FNM_PATHNAME) like glob(3), sorted. Not
// thread-safe.
#pragma once

#include <fnmatch.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "agent/file_system.h"

namespace apimeter::testing {

class FakeFileSystem final : public FileSystem {
 public:
  struct Inode {
    uint64_t ino = 0;
    std::string data;
    int64_t mtime_s = 0;
    uint64_t nlink = 0;
    int64_t mtime_ns = 0;  // a counter bumped by every change
  };

  // --- changing the tree -----------------------------------------------------
  void Write(const std::string& path, const std::string& data) {
    auto node = Resolve(path);
    if (!node) {
      node = std::make_shared<Inode>();
      node->ino = next_ino_++;
      node->nlink = 1;
      files_[path] = node;
    }
    node->data = data;
    Touch(*node);
  }
  void Append(const std::string& path, const std::string& data) {
    auto node = Resolve(path);
    if (!node) return Write(path, data);
    node->data += data;
    Touch(*node);
  }
  void Truncate(const std::string& path, size_t size) {
    auto node = Resolve(path);
    node->data.resize(std::min(size, node->data.size()));
    Touch(*node);
  }
  void Rename(const std::string& from, const std::string& to) {
    auto it = files_.find(from);
    if (it == files_.end()) return;
    Unlink(to);
    files_[to] = it->second;
    files_.erase(from);
  }
  void Unlink(const std::string& path) {
    auto it = files_.find(path);
    if (it != files_.end()) {
      --it->second->nlink;
      files_.erase(it);
    }
    links_.erase(path);
  }
  // logrotate's copytruncate: copy to `to`, then truncate `from` to 0.
  void CopyTruncate(const std::string& from, const std::string& to) {
    Write(to, Resolve(from)->data);
    Truncate(from, 0);
  }
  void Symlink(const std::string& link, const std::string& target) { links_[link] = target; }
  void SetMtime(const std::string& path, int64_t mtime_s) { Resolve(path)->mtime_s = mtime_s; }
  void SetNow(int64_t now_s) { now_s_ = now_s; }
  std::shared_ptr<Inode> Node(const std::string& path) { return Resolve(path); }

  // --- failure injection -----------------------------------------------------
  std::set<std::string> fail_open;  // Open() of these paths fails
  std::set<std::string> fail_read;  // ReadAt() of handles opened at these paths fails
  size_t open_handles() const { return open_handles_; }
  // Called before every Stat, Glob and Open, and every fstat and read
  // through a handle, with what is about to happen: a test changes files
  // here to land the change between two calls (say between the tailer's
  // fstat and its read). Changes made inside it do not call it again.
  struct Access {
    enum Op { kStat, kGlob, kOpen, kFstat, kRead } op;
    const std::string& path;          // as opened, for handles
    uint64_t offset = 0, length = 0;  // kRead
  };
  std::function<void(const Access&)> before_access;

  // --- FileSystem --------------------------------------------------------------
  Result<FileInfo> Stat(const std::string& path) override {
    Notify({Access::kStat, path});
    auto node = Resolve(path);
    if (!node) return Status::NotFound("no such file: " + path);
    return Info(*node);
  }
  Result<std::vector<std::string>> Glob(const std::string& pattern) override {
    Notify({Access::kGlob, pattern});
    std::vector<std::string> out;
    for (const auto& [p, n] : files_) {
      if (::fnmatch(pattern.c_str(), p.c_str(), FNM_PATHNAME) == 0) out.push_back(p);
    }
    for (const auto& [p, t] : links_) {
      if (::fnmatch(pattern.c_str(), p.c_str(), FNM_PATHNAME) == 0) out.push_back(p);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  Result<std::unique_ptr<OpenFile>> Open(const std::string& path) override {
    Notify({Access::kOpen, path});
    if (fail_open.count(path)) return Status::Unavailable("injected open failure: " + path);
    auto node = Resolve(path);
    if (!node) return Status::NotFound("no such file: " + path);
    return std::unique_ptr<OpenFile>(new Handle(this, node, path));
  }
  Result<std::string> RealPath(const std::string& path) override {
    std::string p = path;
    for (int hops = 0; hops < 8 && links_.count(p); ++hops) p = links_.at(p);
    if (!files_.count(p)) return Status::NotFound("no such file: " + path);
    return p;
  }

 private:
  class Handle final : public OpenFile {
   public:
    Handle(FakeFileSystem* fs, std::shared_ptr<Inode> node, std::string path)
        : fs_(fs), node_(std::move(node)), path_(std::move(path)) {
      ++fs_->open_handles_;
    }
    ~Handle() override { --fs_->open_handles_; }
    Result<FileInfo> Stat() override {
      fs_->Notify({Access::kFstat, path_});
      return Info(*node_);
    }
    Result<size_t> ReadAt(uint64_t offset, char* buf, size_t n) override {
      fs_->Notify({Access::kRead, path_, offset, n});
      if (fs_->fail_read.count(path_)) return Status::Unavailable("injected read failure");
      if (offset >= node_->data.size()) return size_t{0};
      size_t take = std::min<size_t>(n, node_->data.size() - offset);
      std::copy_n(node_->data.data() + offset, take, buf);
      return take;
    }

   private:
    FakeFileSystem* fs_;
    std::shared_ptr<Inode> node_;
    std::string path_;
  };

  void Notify(const Access& access) {
    if (!before_access || in_access_) return;
    in_access_ = true;
    before_access(access);
    in_access_ = false;
  }
  void Touch(Inode& n) {
    n.mtime_s = now_s_;
    n.mtime_ns = ++change_counter_;
  }
  static FileInfo Info(const Inode& n) {
    FileInfo info;
    info.dev = 1;
    info.ino = n.ino;
    info.size = n.data.size();
    info.mtime_s = n.mtime_s;
    info.mtime_ns = n.mtime_ns;
    info.nlink = n.nlink;
    return info;
  }
  std::shared_ptr<Inode> Resolve(const std::string& path) {
    std::string p = path;
    for (int hops = 0; hops < 8 && links_.count(p); ++hops) p = links_.at(p);
    auto it = files_.find(p);
    return it == files_.end() ? nullptr : it->second;
  }

  std::map<std::string, std::shared_ptr<Inode>> files_;
  std::map<std::string, std::string> links_;
  uint64_t next_ino_ = 100;
  int64_t now_s_ = 1000;
  size_t open_handles_ = 0;
  int64_t change_counter_ = 0;
  bool in_access_ = false;
};

}  // namespace apimeter::testing
