// Tailer: follows live nginx access logs through rotation and hands out each
// complete line exactly once, with the byte range it occupies in its file.
//
// Promise: driven only by explicit Poll() calls (no threads, timers, sleeps or
// Asio); all OS access goes through the injected FileSystem and all time
// through the Clock. Poll never loses or skips bytes between calls, whatever
// byte_budget it is given: a file's read position and its held partial line
// persist. Memory is bounded: one read chunk, and per followed file one
// partial line (<= max_line_bytes), 1 KiB of head bytes, the 64 bytes read
// last and its intervals.
// Never throws; an unreadable file or a failed checkpoint lookup is counted in
// stats() and retried on the next Poll.
// Thread-safety: not thread-safe; one owner (the agent's event loop) calls it.
//
// The rules themselves are written once, in docs/tailer.md: identity and
// checkpoints (including files shorter than 1 KiB), the rotation rules 1-10
// that the code and tests cite by number, how a read checks it continues
// what was delivered, what copytruncate can and cannot guarantee, and the
// exactly-once hand-over with the sink (PendingCheckpoints, MarkCommitted,
// Rewind). Each rule has its own test in tests/agent/tailer_test.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "agent/byte_intervals.h"
#include "agent/file_system.h"
#include "agent/line_splitter.h"
#include "aggregator/flush_batch.h"
#include "common/clock.h"
#include "common/result.h"

namespace apimeter {

// Where the tailer learns what was already counted (RedisSink::ReadCheckpoint
// for this host in production; agent/live_agent.cpp adapts it).
class CheckpointLookup {
 public:
  virtual ~CheckpointLookup() = default;
  // The stored checkpoint value of a fingerprint; "" = none.
  virtual Result<std::string> Read(std::string_view fingerprint) = 0;
};

class LineConsumer {
 public:
  virtual ~LineConsumer() = default;
  // A complete line of `path` spanning [begin, end) in that file (too_long:
  // over max_line_bytes, its bytes dropped, `line` empty).
  virtual void OnLine(std::string_view path, std::string_view line, uint64_t begin, uint64_t end,
                      bool too_long) = 0;
};

struct TailerOptions {
  std::vector<std::string> paths;  // globs of LIVE files, e.g. "/var/log/nginx/*.access.log"
  bool from_start = false;         // read files present at first start from their beginning
  bool first_start = true;         // no state for this host yet
  int64_t last_alive_s = 0;        // when the agent last ran (rule 9)
  size_t read_chunk_bytes = 256 * 1024;
  size_t max_line_bytes = 64 * 1024;
  int64_t rotated_idle_grace_us = 5'000'000;  // let a renamed/deleted file go after this idle time
};

class Tailer {
 public:
  struct Stats {
    uint64_t bytes_read = 0;
    uint64_t lines = 0;
    uint64_t rotations = 0;      // renamed/retargeted files detected
    uint64_t truncations = 0;    // copytruncate or shrink
    uint64_t deletions = 0;      // live files unlinked while open
    uint64_t files_open = 0;     // handles held now
    uint64_t read_errors = 0;    // failed stat/open/read/glob calls
    uint64_t lookup_errors = 0;  // failed checkpoint lookups (file retried later)
    uint64_t lost_bytes = 0;     // truncated away before being read, no copy found
    uint64_t bytes_behind = 0;   // known file bytes not read yet
  };

  Tailer(TailerOptions options, FileSystem* fs, const Clock* clock, CheckpointLookup* lookup);
  ~Tailer();
  Tailer(const Tailer&) = delete;
  Tailer& operator=(const Tailer&) = delete;

  // One pass: (re)discover files, detect rename/create, copytruncate, shrink,
  // delete and symlink retarget; read at most byte_budget new bytes across
  // files and deliver complete lines in file order. Returns bytes read.
  Result<size_t> Poll(LineConsumer& consumer, size_t byte_budget);

  // Checkpoints to commit with the aggregates of every line delivered so far:
  // files whose counted intervals (or checkpoint key) changed since last
  // committed. `expected` is the value last read or committed under that key.
  std::vector<FileCheckpoint> PendingCheckpoints() const;
  // After the flush carrying `committed` succeeded.
  void MarkCommitted(const std::vector<FileCheckpoint>& committed);
  // After a flush failed with kAborted: re-reads the checkpoints of `aborted`
  // and rewinds every file to its committed state; the caller must have
  // dropped every aggregate not yet committed. Lines are then delivered again
  // from each file's committed resume position.
  Status Rewind(const std::vector<FileCheckpoint>& aborted);

  Stats stats() const;

 private:
  struct File;

  // Discovery and rotation (agent/tailer_discovery.cpp).
  void Start();
  void Discover();
  std::vector<std::string> GlobAll();
  bool MatchesLiveGlob(const std::string& path) const;
  bool TrackPath(const std::string& path, bool initial);
  Result<std::unique_ptr<File>> OpenFileAt(const std::string& path);
  static Status ReadHead(FileStream& stream, std::string* head);
  Result<bool> ResumeFromCheckpoint(File& f);
  Status StartAtEnd(File& f);
  void CheckFile(File& f);
  static bool HeadChanged(File& f, uint64_t size);
  void Detach(File& f, bool deleted);
  void CompleteHead(File& f);
  void HandleTruncation(File& f, const FileInfo& info);
  bool AdoptCopy(File& moved);
  static bool HoldsTail(File& copy, const File& moved);
  static uint64_t ContentEnd(File& f);
  static void ClipCommitted(File& f, uint64_t end);
  std::vector<std::string> SiblingsOf(const std::string& path);
  void RescanRotated();
  std::vector<std::string> RotatedCandidates(const std::string& pattern);
  bool ScanSiblings(const std::string& pattern);
  File* FindByIdentity(uint64_t dev, uint64_t ino);
  bool FollowsContent(const std::string& head) const;

  // Reading and checkpoints (agent/tailer.cpp).
  size_t ReadFile(File& f, LineConsumer& consumer, size_t budget);
  static void ExtendHead(File& f, uint64_t at, std::string_view chunk);
  static void KeepTail(File& f, std::string_view chunk);
  static bool SameHead(File& f, uint64_t at, const char* data, size_t n);
  void Deliver(File& f, LineConsumer& consumer, std::string_view line, uint64_t end, bool too_long);
  void LetGo(File& f, LineConsumer& consumer);
  bool HasPendingCheckpoint(const File& f) const;
  void DropCommittedRetired();
  void RewindFile(File& f);

  TailerOptions options_;
  FileSystem* fs_;
  const Clock* clock_;
  CheckpointLookup* lookup_;
  bool started_ = false;
  std::vector<std::unique_ptr<File>> files_;  // live, draining and let-go files
  std::set<std::string> initial_paths_;       // present at first start, not yet followed
  std::set<std::string> sibling_scans_;       // glob patterns whose rule-9 scan is still due
  std::string chunk_;
  int64_t scan_after_s_ = 0;  // rule 9: unknown rotated files modified after this are read
  size_t next_live_ = 0;      // round-robin start among live files
  Stats stats_;
};

}  // namespace apimeter
