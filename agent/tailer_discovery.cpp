// Discovery and rotation rules 1-9 of the Tailer (agent/tailer.h); the rules: docs/tailer.md.
#include <fnmatch.h>

#include <algorithm>

#include "agent/log_file_reader.h"
#include "agent/tailer.h"
#include "agent/tailer_file.h"

namespace apimeter {

Result<std::unique_ptr<Tailer::File>> Tailer::OpenFileAt(const std::string& path) {
  auto opened = fs_->Open(path);
  if (!opened.ok()) return opened.status();
  auto info = (*opened)->Stat();
  if (!info.ok()) return info.status();
  auto stream = FileStream::Open(std::move(*opened), path);
  if (!stream.ok()) return stream.status();
  auto f = std::make_unique<File>();
  f->path = path;
  f->stream = std::move(*stream);
  f->dev = info->dev;
  f->ino = info->ino;
  f->last_growth_us = clock_->NowMicros();
  // Its size as of after the head was read: a file truncated meanwhile must
  // not look as long as before (that would read as a truncation to come).
  for (int attempt = 0;; ++attempt) {
    APIMETER_RETURN_IF_ERROR(ReadHead(*f->stream, &f->head));
    auto after = f->stream->Stat();
    if (!after.ok()) return after.status();
    f->known_size = after->size;
    f->mtime_s = after->mtime_s;
    f->mtime_ns = after->mtime_ns;
    if (f->stream->compressed() || after->size >= f->head.size()) break;
    if (attempt == 2) return Status::Unavailable(path + " keeps shrinking while opened");
  }
  f->Reposition(options_.max_line_bytes, 0);
  return f;
}

// Rule 3 (and docs/tailer.md on files shorter than 1 KiB): the newest committed
// checkpoint of this content, longest fingerprint first.
Result<bool> Tailer::ResumeFromCheckpoint(File& f) {
  std::vector<std::string> keys;
  if (f.head.size() >= kFingerprintBytes) keys.push_back(ContentFingerprint(f.head));
  const size_t short_limit = std::min(f.head.size(), kFingerprintBytes - 1);
  for (size_t i = short_limit; i-- > 0;) {
    if (f.head[i] == '\n')
      keys.push_back(ContentFingerprint(std::string_view(f.head).substr(0, i + 1)));
  }
  for (const auto& key : keys) {
    auto value = lookup_->Read(key);
    if (!value.ok()) return value.status();
    if (value->empty()) continue;
    auto parsed = ByteIntervals::Parse(*value);
    if (!parsed.ok()) return parsed.status().WithContext(f.path);
    f.counted = *parsed;
    f.baseline = *parsed;
    f.committed_key = key;
    f.committed_value = *value;
    f.Reposition(options_.max_line_bytes, parsed->End());
    return true;
  }
  return false;
}

// Rule 2: just after the last newline within max_line_bytes of the end.
Status Tailer::StartAtEnd(File& f) {
  const uint64_t size = f.known_size;
  const uint64_t window_begin =
      size > options_.max_line_bytes + 1 ? size - options_.max_line_bytes - 1 : 0;
  uint64_t pos = size;
  bool found = false;
  while (pos > window_begin && !found) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(pos - window_begin, chunk_.size()));
    auto got = f.stream->Read(pos - n, chunk_.data(), n);
    if (!got.ok()) return got.status();
    if (*got < n) return Status::Unavailable(f.path + " shrank while finding its end");
    std::string_view view(chunk_.data(), n);
    const size_t nl = view.rfind('\n');
    if (nl != std::string_view::npos) {
      pos = pos - n + nl + 1;
      found = true;
    } else {
      pos -= n;
    }
  }
  uint64_t start = found ? pos : (window_begin == 0 ? 0 : size);
  f.Reposition(options_.max_line_bytes, start);
  f.skip_fragment = !found && window_begin > 0;
  f.counted.AddCursor(start);
  f.baseline = f.counted;
  f.baseline_skip = f.skip_fragment;
  return Status::Ok();
}

Tailer::File* Tailer::FindByIdentity(uint64_t dev, uint64_t ino) {
  for (auto& f : files_) {
    if (f->stream && f->dev == dev && f->ino == ino) return f.get();
  }
  return nullptr;
}

// True when `head` (a rotated file's first bytes) and a followed file's
// first bytes agree as far as both go: the same content, as far as can be
// told. A rotated file caught while logrotate or gzip is still writing it
// shows only part of its content (an empty .gz, the start of a copy), and a
// followed file may know only the few bytes it had when we looked; either
// way, taken for new content it would be read again from its start. Such a
// copy is found by the truncation (rule 5) once complete, and a .gz holds
// what its source held. An empty file has nothing to read yet.
bool Tailer::FollowsContent(const std::string& head) const {
  if (head.empty()) return true;
  return std::any_of(files_.begin(), files_.end(), [&](const auto& f) {
    const size_t common = std::min(f->head.size(), head.size());
    return common > 0 && f->head.compare(0, common, head, 0, common) == 0;
  });
}

bool Tailer::TrackPath(const std::string& path, bool initial) {
  auto st = fs_->Stat(path);
  if (!st.ok()) {
    if (st.status().code() != StatusCode::kNotFound) ++stats_.read_errors;
    return false;
  }
  if (File* known = FindByIdentity(st->dev, st->ino)) {
    if (!known->live && !known->finished) {  // moved back to a live path
      known->live = true;
      known->path = path;
    }
    return true;
  }
  auto opened = OpenFileAt(path);
  if (!opened.ok()) {
    ++stats_.read_errors;
    return false;
  }
  File& f = **opened;
  auto resumed = ResumeFromCheckpoint(f);
  if (!resumed.ok()) {
    ++stats_.lookup_errors;
    return false;
  }
  if (!*resumed && initial && options_.first_start && !options_.from_start) {
    if (!StartAtEnd(f).ok()) {
      ++stats_.read_errors;
      return false;
    }
  }
  files_.push_back(std::move(*opened));
  return true;
}

bool Tailer::MatchesLiveGlob(const std::string& path) const {
  return std::any_of(options_.paths.begin(), options_.paths.end(), [&](const std::string& p) {
    return ::fnmatch(p.c_str(), path.c_str(), FNM_PATHNAME) == 0;
  });
}

std::vector<std::string> Tailer::GlobAll() {
  std::set<std::string> all;
  for (const auto& pattern : options_.paths) {
    auto matches = fs_->Glob(pattern);
    if (!matches.ok()) {
      ++stats_.read_errors;
      continue;
    }
    all.insert(matches->begin(), matches->end());
  }
  return {all.begin(), all.end()};
}

void Tailer::Start() {
  started_ = true;
  scan_after_s_ = options_.first_start ? clock_->NowSeconds() : options_.last_alive_s;
  const auto matches = GlobAll();
  for (const auto& p : matches) {
    if (!TrackPath(p, true)) initial_paths_.insert(p);
  }
  if (!options_.first_start) sibling_scans_.insert(options_.paths.begin(), options_.paths.end());
}

void Tailer::Discover() {
  const auto matches = GlobAll();
  const uint64_t rotations_before = stats_.rotations + stats_.deletions;
  for (size_t i = 0; i < files_.size(); ++i) {
    File& f = *files_[i];
    if (f.stream && !f.finished) CheckFile(f);
  }
  bool new_live_file = false;
  for (const auto& p : matches) {
    const bool followed = std::any_of(files_.begin(), files_.end(), [&](const auto& f) {
      return f->live && f->stream && f->path == p;
    });
    if (followed) continue;
    const bool initial = initial_paths_.count(p) > 0;
    if (TrackPath(p, initial)) {
      initial_paths_.erase(p);
      new_live_file = true;
    }
  }
  // A file created and rotated again between two polls was never seen at
  // its live path: look among the rotated files, as at start (rule 9).
  if (new_live_file || stats_.rotations + stats_.deletions != rotations_before) RescanRotated();
}

// --- rotation rules ------------------------------------------------------------

void Tailer::Detach(File& f, bool deleted) {
  f.live = false;
  f.last_growth_us = clock_->NowMicros();
  if (deleted) {
    ++stats_.deletions;
  } else {
    ++stats_.rotations;
  }
}

bool Tailer::HeadChanged(File& f, uint64_t size) {
  const size_t n = static_cast<size_t>(std::min<uint64_t>(f.head.size(), size));
  if (n == 0) return false;
  std::string now(n, '\0');
  auto got = f.stream->Read(0, now.data(), n);
  if (!got.ok()) return false;  // unreadable now: judged on a later poll
  return *got == n && std::string_view(f.head).substr(0, n) != now;
}

void Tailer::CheckFile(File& f) {
  auto handle = f.stream->Stat();
  if (!handle.ok()) {
    ++stats_.read_errors;
    return;
  }
  // Through the handle, before any rename is looked at: a file may be
  // truncated and renamed between two polls. The head is compared on every
  // poll (one pread of <= 1 KiB) because after a copytruncate the file may
  // already have regrown to any size. A .gz cannot be truncated in place.
  if (!f.stream->compressed()) {
    const uint64_t size = handle->size;
    if (f.rewritten || size < f.read_pos || size < f.known_size || size < f.head.size() ||
        HeadChanged(f, size)) {
      HandleTruncation(f, *handle);  // rules 5 and 7
      RescanRotated();               // it may have been truncated more than once since we looked
    } else if ((f.head.empty() && size > 0) ||
               (handle->mtime_ns != f.mtime_ns && size <= f.known_size)) {
      // Changed without visible growth (e.g. empty when we last looked, then
      // written and copied away by copytruncate): the copy is among the
      // rotated files, which nothing else would show.
      RescanRotated();
    }
    f.mtime_ns = handle->mtime_ns;
    // Know the first bytes even of a file not read yet, so that a
    // truncation before we reach it still finds its copy.
    if (size > f.head.size()) CompleteHead(f);
    f.known_size = size;
  }
  if (!f.live) return;
  auto st = fs_->Stat(f.path);
  if (!st.ok()) {
    if (st.status().code() == StatusCode::kNotFound) {
      Detach(f, handle->nlink == 0);  // rules 4 and 6
    } else {
      ++stats_.read_errors;
    }
    return;
  }
  if (st->dev != f.dev || st->ino != f.ino) Detach(f, false);  // rules 4 and 8
}

// Reads a plain file's first KiB again while fewer bytes are known, keeping
// them only if they continue what was known (not after a truncation).
void Tailer::CompleteHead(File& f) {
  if (!f.stream || f.stream->compressed() || f.head.size() >= kFingerprintBytes) return;
  std::string head;
  if (ReadHead(*f.stream, &head).ok() && head.size() > f.head.size() &&
      head.compare(0, f.head.size(), f.head) == 0) {
    f.head = std::move(head);
  }
}

// Rules 5 and 7. The live file's old state moves to the copy logrotate made
// (if any); the live file starts again at 0 as new content.
void Tailer::HandleTruncation(File& f, const FileInfo& info) {
  ++stats_.truncations;
  std::string new_head;
  if (!ReadHead(*f.stream, &new_head).ok()) {
    ++stats_.read_errors;
    return;  // judged again on the next poll
  }
  if (new_head.size() >= kFingerprintBytes && new_head == f.head) {
    // Rule 7, same first KiB: the same content for checkpoints; keep its
    // state. Rewritten past our position: what is there is not ours to
    // continue, so reading goes on from the end.
    f.Reposition(options_.max_line_bytes,
                 f.rewritten ? info.size : std::min(f.read_pos, info.size));
    return;
  }
  auto moved = std::make_unique<File>();
  moved->path = f.path;
  moved->head = f.head;
  moved->read_pos = f.read_pos;
  moved->line_begin = f.line_begin;
  moved->splitter = f.splitter;
  moved->skip_fragment = f.skip_fragment;
  moved->tail = f.tail;  // the copy must hold the same bytes before our position
  moved->counted = f.counted;
  moved->baseline = f.baseline;
  moved->baseline_skip = f.baseline_skip;
  moved->committed_key = f.committed_key;
  moved->committed_value = f.committed_value;
  moved->live = false;
  moved->finished = true;
  moved->last_growth_us = clock_->NowMicros();
  if (!AdoptCopy(*moved)) {
    stats_.lost_bytes += f.known_size > f.read_pos ? f.known_size - f.read_pos : 0;
  }
  files_.push_back(std::move(moved));
  // The live file: new content from 0, nothing counted, nothing committed.
  f.head = std::move(new_head);
  f.counted = ByteIntervals();
  f.baseline = ByteIntervals();
  f.baseline_skip = false;
  f.skip_fragment = false;
  f.committed_key.clear();
  f.committed_value.clear();
  f.Reposition(options_.max_line_bytes, 0);
}

// Finds the sibling whose content starts with `moved.head` (or is all of it,
// when copytruncate left a copy shorter than what we knew) and lets `moved`
// read it from its position. False when there is none.
bool Tailer::AdoptCopy(File& moved) {
  if (moved.head.empty()) return false;
  for (const auto& path : SiblingsOf(moved.path)) {
    auto copy = OpenFileAt(path);
    if (!copy.ok()) continue;
    File& c = **copy;
    const bool plain = !c.stream->compressed();
    const size_t common = std::min(c.head.size(), moved.head.size());
    const bool whole_copy = plain && c.known_size == c.head.size();
    if (common == 0 || (c.head.size() < moved.head.size() && !whole_copy) ||
        c.head.compare(0, common, moved.head, 0, common) != 0) {
      continue;
    }
    if (FindByIdentity(c.dev, c.ino)) continue;
    if (!HoldsTail(c, moved)) continue;
    moved.path = path;
    moved.stream = std::move(c.stream);
    moved.dev = c.dev;
    moved.ino = c.ino;
    moved.known_size = c.known_size;
    moved.head = std::move(c.head);  // may complete a short head: its key becomes the full one
    moved.finished = false;
    const uint64_t end = ContentEnd(moved);
    if (end < moved.read_pos) {
      // We had read past the end of the copy: copytruncate destroyed those
      // bytes (written between its copy and its truncate). They are in no
      // file, so no checkpoint can cover them, and a partial line held from
      // them is no line (rule 10 must not hand it out).
      ClipCommitted(moved, end);
      moved.Reposition(options_.max_line_bytes, end);
      moved.skip_fragment = false;
    }
    // Keyed by the copy's own first bytes now. When they are shorter than
    // what we knew, that key (a prefix the file had earlier in its life) may
    // already hold a value: the one its next commit expects.
    const std::string key = CheckpointKey(moved.counted, moved.head);
    if (!key.empty() && key != moved.committed_key && moved.head.size() < kFingerprintBytes) {
      auto stored = lookup_->Read(key);
      if (stored.ok()) {
        moved.stored_key = key;
        moved.stored_value = *stored;
      } else {
        ++stats_.lookup_errors;  // its commit may then be refused, and rewound
      }
    }
    return true;
  }
  return false;
}

// Forgets what was counted at or past `end`, committed included: bytes in no
// file any more (a Rewind must not go back to them).
void Tailer::ClipCommitted(File& f, uint64_t end) {
  f.counted.ClipTo(end);
  f.baseline.ClipTo(end);
  auto committed = ByteIntervals::Parse(f.committed_value);
  if (committed.ok() && !committed->empty()) {
    committed->ClipTo(end);
    f.committed_value = committed->ToString();
  }
}

// The length of f's content if it ends before f.read_pos, else read_pos.
uint64_t Tailer::ContentEnd(File& f) {
  if (f.read_pos == 0) return 0;
  char last = 0;
  auto got = f.stream->Read(f.read_pos - 1, &last, 1);
  if (!got.ok() || *got == 1) return f.read_pos;
  return f.stream->compressed() ? std::min(f.stream->inflated(), f.read_pos)
                                : std::min(f.known_size, f.read_pos);
}

// A copy of `moved`'s content long enough to reach its position holds the
// bytes `moved` read last just before it (a sibling that only starts the same
// way does not).
bool Tailer::HoldsTail(File& copy, const File& moved) {
  const size_t n = moved.tail.size();
  if (n == 0 || copy.stream->compressed() || copy.known_size < moved.read_pos) return true;
  std::string bytes(n, '\0');
  auto got = copy.stream->Read(moved.read_pos - n, bytes.data(), n);
  return got.ok() && *got == n && bytes == moved.tail;
}

Status Tailer::ReadHead(FileStream& stream, std::string* head) {
  head->assign(kFingerprintBytes, '\0');
  size_t have = 0;
  while (have < kFingerprintBytes) {
    auto got = stream.Read(have, head->data() + have, kFingerprintBytes - have);
    if (!got.ok()) return got.status();
    if (*got == 0) break;
    have += *got;
  }
  head->resize(have);
  return Status::Ok();
}

// Rotated siblings: "<path>*" next to the glob path and next to the symlink
// target, except the live paths themselves.
std::vector<std::string> Tailer::SiblingsOf(const std::string& path) {
  std::vector<std::string> bases{path};
  auto real = fs_->RealPath(path);
  if (real.ok() && *real != path) bases.push_back(*real);
  std::set<std::string> out;
  for (const auto& base : bases) {
    auto matches = fs_->Glob(base + "*");
    if (!matches.ok()) {
      ++stats_.read_errors;
      continue;
    }
    for (auto& m : *matches) {
      if (m != path && (!real.ok() || m != *real) && !MatchesLiveGlob(m)) out.insert(m);
    }
  }
  return {out.begin(), out.end()};
}

// Rule 9 again at the next Poll: cheap unless files were rotated.
void Tailer::RescanRotated() {
  sibling_scans_.insert(options_.paths.begin(), options_.paths.end());
}

// Rule 9: rotated versions of any live file the pattern matches (also when
// the live file itself is missing at start, between rename and create).
std::vector<std::string> Tailer::RotatedCandidates(const std::string& pattern) {
  std::set<std::string> out;
  auto rotated = fs_->Glob(pattern + "*");
  if (rotated.ok()) {
    for (auto& m : *rotated) {
      if (!MatchesLiveGlob(m)) out.insert(m);
    }
  } else {
    ++stats_.read_errors;
  }
  auto live = fs_->Glob(pattern);
  if (live.ok()) {
    for (const auto& m : *live) {
      for (auto& s : SiblingsOf(m)) out.insert(std::move(s));
    }
  }
  return {out.begin(), out.end()};
}

// Rule 9. False when a lookup failed and the scan must be retried.
bool Tailer::ScanSiblings(const std::string& pattern) {
  bool complete = true;
  for (const auto& path : RotatedCandidates(pattern)) {
    auto opened = OpenFileAt(path);
    if (!opened.ok()) {
      ++stats_.read_errors;  // e.g. not a regular file: nothing to tail there
      continue;
    }
    File& f = **opened;
    if (FindByIdentity(f.dev, f.ino) || FollowsContent(f.head)) continue;
    // A followed file that was short when we looked may have grown since, and
    // been copied: compare with its first bytes as they are now.
    for (auto& followed : files_) CompleteHead(*followed);
    if (FollowsContent(f.head)) continue;
    auto resumed = ResumeFromCheckpoint(f);
    if (!resumed.ok()) {
      ++stats_.lookup_errors;
      complete = false;
      continue;
    }
    if (!*resumed && f.mtime_s <= scan_after_s_) continue;  // left to backfill
    f.live = false;
    files_.push_back(std::move(*opened));
  }
  return complete;
}

}  // namespace apimeter
