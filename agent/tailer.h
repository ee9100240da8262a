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
// Identity. While open, a file is its (dev, inode), read through its open
// handle. For checkpoints it is its content fingerprint (ContentFingerprint of
// the first 1024 bytes, agent/log_file_reader.h); the checkpoint value is the
// ByteIntervals of bytes counted and a file's resume position is End() of
// them. A file shorter than 1024 bytes has no stable fingerprint yet: it is
// read normally but checkpointed under the fingerprint of exactly its counted
// prefix, "<hash of bytes [0,n)>.<n>" with n = the resume position (always
// just after a newline). Once 1024 bytes are known it is checkpointed under
// its full fingerprint, the value carrying every interval so far. A restart
// looks up the full fingerprint first, then the prefix ending at each newline
// in the first 1023 bytes, longest first; so the newest committed checkpoint
// of the file is found and nothing is counted twice. (Cost: one lookup per
// line start in the first KiB, only for files with no full checkpoint.)
//
// Rules (each has a test in tests/agent/tailer_test.cpp):
//  1. New file (matches a glob, not followed before, no checkpoint): read from
//     its start.
//  2. First start (options.first_start): files present at the first Poll are
//     read from their end, line-aligned (just after the last '\n' found within
//     max_line_bytes of the end; with none, the first newline ends a skipped
//     fragment), unless from_start. The start position is recorded as a cursor
//     ("p-p") and handed out by PendingCheckpoints, so a restart before any
//     line resumes there instead of skipping lines written meanwhile.
//  3. Restart: a file with a checkpoint resumes at its resume position (this
//     wins over rules 1 and 2).
//  4. rename + create: when the path names another (dev, inode), the old file
//     keeps being read through its open handle; it is let go when it is at its
//     end and has not grown for rotated_idle_grace_us (nginx writes to it until
//     it reopens on USR1). The new file at the path is read from its start.
//  5. copytruncate: same inode, and size < read position, or the first bytes
//     changed, or the bytes just before our position changed (Reading,
//     below): truncated. The bytes between our position and the truncation
//     were copied to a sibling (path*, i.e. path.1, path-DATE, path.1.gz, in
//     the glob path's and the symlink target's directory) whose first bytes
//     equal ours (or, a copy shorter than 1 KiB, are all the start of ours)
//     and which holds the bytes we read last before our position when it
//     reaches that far: it takes over our state and is read from our position
//     to its end, under the same checkpoint. A copy ending before our
//     position lacks lines copytruncate destroyed after we read them: they
//     stay counted once, the state is cut back to the copy's end (a partial
//     line held from them is dropped) and keyed by the copy's first bytes.
//     The live file restarts at 0 as new content. With no such sibling the
//     tail is lost and counted in stats().lost_bytes.
//  6. Deletion while open: the handle is read to its end and let go like a
//     renamed file (same grace: nginx may still be writing to it).
//  7. A file that shrinks but not to 0: like copytruncate. If its first 1024
//     bytes are unchanged it is the same content for checkpoints: the state
//     is kept and reading resumes at the new end (also when only the bytes
//     before our position changed); a line rewritten inside an already
//     counted range is not delivered (never twice, possibly lost).
//  8. Symlinks: a glob path may be a symlink; Stat follows it, so identity is
//     the target's; retargeting the link is rename + create.
//  9. Rotated while stopped (not first_start): at the first Poll, siblings of
//     each live path (path.N, path.N.gz, path-DATE[.gz]; gzip by magic bytes)
//     whose fingerprint has a checkpoint are read from their resume position
//     to their end; siblings without one but modified after last_alive_s are
//     read from their start (written while the agent was down); older ones
//     are left to `apimeter backfill`. A sibling whose first bytes agree with
//     a followed file's as far as both go is that content and is not read
//     again (x.1 and x.1.gz during compression, logrotate's copy while it is
//     written, a followed file known only in part); an empty one is not
//     followed (gzip creates its output empty). The scan runs again after a
//     rotation, truncation, deletion or new live file.
// 10. A partial last line is held until its newline. A rotated file's final
//     line without a newline is delivered when the file is let go (unless it
//     is a cut-short .gz, or was read from bytes copytruncate destroyed).
//
// Reading: a plain file is read from 64 bytes before its position, which
// must be the bytes read last (the first read after the position was set
// compares the first KiB instead); otherwise it was truncated and written
// again, maybe between our fstat and this read: nothing of it is delivered
// and it is handled as rule 5. A file opened with fewer than 2 bytes is
// decided plain or gzip once it has them. docs/tailer.md says what
// copytruncate can and cannot guarantee.
//
// Exactly once with the sink: PendingCheckpoints() lists the files whose
// counted intervals changed since they were last committed; the agent adds
// them to the batch holding every line delivered so far, flushes, then calls
// MarkCommitted. After a flush fails with kAborted the agent discards every
// uncommitted aggregate and calls Rewind(): the tailer re-reads the aborted
// checkpoints and re-delivers every line not covered by a committed
// checkpoint. A let-go file keeps its handle until its checkpoint commits.
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
