#include "agent/tailer.h"

#include <algorithm>
#include <charconv>

#include "agent/log_file_reader.h"
#include "agent/tailer_file.h"

// Polling, reading, delivering lines and the checkpoint hand-over of
// agent/tailer.h. Discovery and rotation live in agent/tailer_discovery.cpp.
namespace apimeter {

std::string CheckpointKey(const ByteIntervals& counted, const std::string& head) {
  if (head.size() >= kFingerprintBytes) return ContentFingerprint(head);
  const uint64_t end = counted.End();
  // End() of a short file is always inside the bytes we know; "" otherwise
  // keeps a nonsensical key (and the ".0" shared by all empty files) out.
  if (end == 0 || end > head.size()) return "";
  return ContentFingerprint(std::string_view(head).substr(0, end));
}

bool CheckpointKeyMatches(const std::string& key, const std::string& head) {
  const size_t dot = key.find('.');
  if (dot == std::string::npos) {
    return head.size() >= kFingerprintBytes && ContentFingerprint(head) == key;
  }
  size_t n = 0;
  auto r = std::from_chars(key.data() + dot + 1, key.data() + key.size(), n);
  if (r.ec != std::errc() || n > head.size()) return false;
  return ContentFingerprint(std::string_view(head).substr(0, n)) == key;
}

Tailer::Tailer(TailerOptions options, FileSystem* fs, const Clock* clock, CheckpointLookup* lookup)
    : options_(std::move(options)), fs_(fs), clock_(clock), lookup_(lookup) {
  options_.read_chunk_bytes = std::max<size_t>(options_.read_chunk_bytes, 1);
  options_.max_line_bytes = std::max<size_t>(options_.max_line_bytes, 1);
  chunk_.resize(options_.read_chunk_bytes + kTailBytes);
}

Tailer::~Tailer() = default;

Result<size_t> Tailer::Poll(LineConsumer& consumer, size_t byte_budget) {
  if (!started_) {
    Start();
  } else {
    Discover();
  }
  for (auto it = sibling_scans_.begin(); it != sibling_scans_.end();) {
    it = ScanSiblings(*it) ? sibling_scans_.erase(it) : std::next(it);
  }
  // Draining (rotated/deleted) files first: their lines are older.
  std::vector<File*> order;
  std::vector<File*> live;
  for (auto& f : files_) {
    if (!f->stream || f->finished) continue;
    (f->live ? live : order).push_back(f.get());
  }
  if (!live.empty()) {
    next_live_ %= live.size();
    std::rotate(live.begin(), live.begin() + static_cast<std::ptrdiff_t>(next_live_), live.end());
    ++next_live_;  // so a small budget does not always favour the same file
  }
  order.insert(order.end(), live.begin(), live.end());
  size_t total = 0;
  for (File* f : order) {
    if (total >= byte_budget) break;
    total += ReadFile(*f, consumer, byte_budget - total);
  }
  const int64_t now = clock_->NowMicros();
  for (File* f : order) {
    if (!f->live && f->at_eof && now - f->last_growth_us >= options_.rotated_idle_grace_us) {
      LetGo(*f, consumer);
    }
  }
  DropCommittedRetired();
  return total;
}

// Reads a plain file from kTailBytes before its position and checks those
// bytes are the ones read last: a file truncated and written again between
// our fstat and this pread (or between two preads) has other bytes there,
// and what it holds at our position is not the continuation of what we
// delivered. Such bytes are not delivered; the file is marked rewritten and
// handled as a truncation (rule 5) by the next CheckFile. A .gz cannot be
// rewritten in place and is read forwards only.
size_t Tailer::ReadFile(File& f, LineConsumer& consumer, size_t budget) {
  size_t total = 0;
  auto on_line = [&](std::string_view line, uint64_t end, bool too_long) {
    Deliver(f, consumer, line, end, too_long);
  };
  while (total < budget && !f.rewritten) {
    const size_t want = std::min(options_.read_chunk_bytes, budget - total);
    const uint64_t at = f.read_pos;
    const std::string_view expect = f.stream->compressed() ? std::string_view() : f.tail;
    const size_t overlap = expect.size();
    auto got = f.stream->Read(at - overlap, chunk_.data(), overlap + want);
    if (!got.ok()) {
      ++stats_.read_errors;  // retried on the next poll from the same position
      break;
    }
    if (*got < overlap || std::string_view(chunk_.data(), overlap) != expect) {
      f.rewritten = true;  // shorter than our position, or other bytes before it
      break;
    }
    const size_t fresh = *got - overlap;
    if (fresh == 0) {
      f.at_eof = true;
      break;
    }
    if (overlap == 0 && !f.stream->compressed() && !SameHead(f, at, chunk_.data(), fresh)) {
      f.rewritten = true;
      break;
    }
    f.at_eof = false;
    f.read_pos += fresh;
    f.known_size = std::max(f.known_size, f.read_pos);
    f.last_growth_us = clock_->NowMicros();
    total += fresh;
    std::string_view chunk(chunk_.data() + overlap, fresh);
    ExtendHead(f, at, chunk);
    KeepTail(f, chunk);
    f.splitter.Feed(chunk, on_line);
  }
  stats_.bytes_read += total;
  return total;
}

// The first read since a Reposition has no bytes before it to compare: the
// file's first bytes are compared instead, with those just read where they
// overlap, else read again after the data (a truncation before our read of
// the data shows there as well).
bool Tailer::SameHead(File& f, uint64_t at, const char* data, size_t n) {
  const uint64_t known = f.head.size();
  if (at < known) {
    const size_t k = static_cast<size_t>(std::min<uint64_t>(known - at, n));
    return std::string_view(data, k) == std::string_view(f.head).substr(static_cast<size_t>(at), k);
  }
  return !HeadChanged(f, known);
}

void Tailer::KeepTail(File& f, std::string_view chunk) {
  if (f.stream->compressed()) return;
  if (chunk.size() >= kTailBytes) {
    f.tail.assign(chunk.substr(chunk.size() - kTailBytes));
    return;
  }
  f.tail.append(chunk);
  if (f.tail.size() > kTailBytes) f.tail.erase(0, f.tail.size() - kTailBytes);
}

// Keeps `head` = the first min(1024, read) bytes while a file is short.
void Tailer::ExtendHead(File& f, uint64_t at, std::string_view chunk) {
  const uint64_t have = f.head.size();
  if (have >= kFingerprintBytes || at > have || at + chunk.size() <= have) return;
  const size_t skip = static_cast<size_t>(have - at);
  f.head.append(chunk.substr(skip, kFingerprintBytes - have));
}

void Tailer::Deliver(File& f, LineConsumer& consumer, std::string_view line, uint64_t end,
                     bool too_long) {
  const uint64_t begin = f.line_begin;
  f.line_begin = end;
  if (f.skip_fragment) {  // rule 2 without a newline near the end: not a whole line
    f.skip_fragment = false;
    f.counted.AddCursor(end);
    return;
  }
  // Never twice: a line inside a counted interval was delivered already.
  if (f.counted.Overlaps(begin, end)) return;
  consumer.OnLine(f.path, line, begin, end, too_long);
  f.counted.Add(begin, end);
  ++stats_.lines;
}

// Rule 10: a file that will not grow any more hands out its last line.
void Tailer::LetGo(File& f, LineConsumer& consumer) {
  if (!f.stream->truncated()) {
    f.splitter.Finish([&](std::string_view line, uint64_t end, bool too_long) {
      Deliver(f, consumer, line, end, too_long);
    });
  }
  f.finished = true;
}

bool Tailer::HasPendingCheckpoint(const File& f) const {
  const std::string key = CheckpointKey(f.counted, f.head);
  if (key.empty() || f.counted.empty()) return false;
  return key != f.committed_key || f.counted.ToString() != f.committed_value;
}

void Tailer::DropCommittedRetired() {
  files_.erase(std::remove_if(files_.begin(), files_.end(),
                              [&](const auto& f) {
                                return (f->finished || !f->stream) && !HasPendingCheckpoint(*f);
                              }),
               files_.end());
}

std::vector<FileCheckpoint> Tailer::PendingCheckpoints() const {
  std::vector<FileCheckpoint> out;
  for (const auto& f : files_) {
    if (!HasPendingCheckpoint(*f)) continue;
    FileCheckpoint cp;
    cp.fingerprint = CheckpointKey(f->counted, f->head);
    cp.expected = cp.fingerprint == f->committed_key ? f->committed_value
                  : cp.fingerprint == f->stored_key  ? f->stored_value
                                                     : "";
    cp.updated = f->counted.ToString();
    // One entry per key: the sink refuses a batch listing a checkpoint twice.
    const bool dup = std::any_of(out.begin(), out.end(), [&](const FileCheckpoint& o) {
      return o.fingerprint == cp.fingerprint;
    });
    if (!dup) out.push_back(std::move(cp));
  }
  return out;
}

void Tailer::MarkCommitted(const std::vector<FileCheckpoint>& committed) {
  for (const auto& cp : committed) {
    for (auto& f : files_) {
      if (!CheckpointKeyMatches(cp.fingerprint, f->head)) continue;
      f->committed_key = cp.fingerprint;
      f->committed_value = cp.updated;
    }
  }
  DropCommittedRetired();
}

Status Tailer::Rewind(const std::vector<FileCheckpoint>& aborted) {
  for (const auto& cp : aborted) {
    auto stored = lookup_->Read(cp.fingerprint);
    if (!stored.ok()) return stored.status().WithContext("re-reading checkpoint " + cp.fingerprint);
    for (auto& f : files_) {
      if (!CheckpointKeyMatches(cp.fingerprint, f->head)) continue;
      // An empty answer under a new key says nothing about the file's older
      // (shorter) key, which keeps its committed value.
      if (stored->empty() && cp.fingerprint != f->committed_key) continue;
      f->committed_key = cp.fingerprint;
      f->committed_value = *stored;
    }
  }
  for (auto& f : files_) RewindFile(*f);
  DropCommittedRetired();
  return Status::Ok();
}

void Tailer::RewindFile(File& f) {
  auto committed = ByteIntervals::Parse(f.committed_value);
  const bool use_committed = committed.ok() && !committed->empty();
  f.counted = use_committed ? *committed : f.baseline;
  if (!f.stream) return;  // its bytes are gone (truncated, no copy)
  f.Reposition(options_.max_line_bytes, f.counted.End());
  f.skip_fragment = use_committed ? false : f.baseline_skip;
  f.finished = false;
}

Tailer::Stats Tailer::stats() const {
  Stats s = stats_;
  s.files_open = 0;
  s.bytes_behind = 0;
  for (const auto& f : files_) {
    if (!f->stream) continue;
    ++s.files_open;
    if (f->live && f->known_size > f->read_pos) s.bytes_behind += f->known_size - f->read_pos;
  }
  return s;
}

}  // namespace apimeter
