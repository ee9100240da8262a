// Tests for agent/tailer.h: one test per rotation rule of docs/tailer.md (fake filesystem,
// manual clock, no sleeps), the exactly-once properties, and a smoke test of
// RealFileSystem on a temporary directory.
#include "agent/tailer.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "agent/file_system.h"
#include "agent/log_file_reader.h"
#include "tests/agent/fake_file_system.h"
#include "tests/agent/tailer_test_util.h"

namespace apimeter {
namespace {

using testing::Collector;
using testing::FakeFileSystem;
using testing::Gzip;
using testing::kLive;
using testing::kSecond;
using testing::MapLookup;
using testing::Padded;

class TailerTest : public ::testing::Test {
 protected:
  TailerOptions Options(bool first_start) {
    TailerOptions o;
    o.paths = {"/log/*.access.log"};
    o.first_start = first_start;
    o.read_chunk_bytes = 64;
    o.max_line_bytes = 4096;
    o.rotated_idle_grace_us = 5 * kSecond;
    return o;
  }
  std::unique_ptr<Tailer> Make(TailerOptions o) {
    return std::make_unique<Tailer>(std::move(o), &fs_, &clock_, &lookup_);
  }
  // Polls once with a large budget and returns the texts delivered.
  std::vector<std::string> Poll(Tailer& t, size_t budget = 1 << 20) {
    Collector c;
    auto r = t.Poll(c, budget);
    EXPECT_TRUE(r.ok());
    return c.Texts();
  }
  // What the agent does after a successful flush: store and mark committed.
  void Commit(Tailer& t) {
    auto cps = t.PendingCheckpoints();
    for (const auto& cp : cps) {
      EXPECT_EQ(lookup_.values[cp.fingerprint], cp.expected) << cp.fingerprint;
      lookup_.values[cp.fingerprint] = cp.updated;
    }
    t.MarkCommitted(cps);
  }
  void PassGrace() { clock_.Advance(6 * kSecond); }

  FakeFileSystem fs_;
  ManualClock clock_{1'700'000'000 * kSecond};
  MapLookup lookup_;
};

using Texts = std::vector<std::string>;
using Bag = std::multiset<std::string>;
using Access = FakeFileSystem::Access;

// n lines "<prefix><i> xx..." of `width` bytes each, newline included.
std::string Lines(const std::string& prefix, int n, size_t width = 100) {
  std::string out;
  for (int i = 0; i < n; ++i) out += Padded(prefix + std::to_string(i), width);
  return out;
}
// The texts of Lines(prefix, n), as a multiset.
Bag LineTexts(const std::string& prefix, int n, size_t width = 100) {
  Bag out;
  for (int i = 0; i < n; ++i)
    out.insert(Padded(prefix + std::to_string(i), width).substr(0, width - 1));
  return out;
}
Bag Union(Bag a, const Bag& b) {
  a.insert(b.begin(), b.end());
  return a;
}

// Rule 1.
TEST_F(TailerTest, NewFileIsReadFromItsStart) {
  fs_.Write(kLive, "old\n");
  auto t = Make(Options(/*first_start=*/true));
  EXPECT_EQ(Poll(*t), Texts{});  // present at first start: from its end (rule 2)
  fs_.Write("/log/web.access.log", "w1\nw2\n");
  EXPECT_EQ(Poll(*t), (Texts{"w1", "w2"}));
  fs_.Write("/log/ignored.log", "x\n");  // not matched by the glob
  EXPECT_EQ(Poll(*t), Texts{});
}

// Rule 2.
TEST_F(TailerTest, FirstStartBeginsAfterTheLastNewlineAndRecordsACursor) {
  fs_.Write(kLive, "old1\nold2\npart");
  auto t = Make(Options(true));
  EXPECT_EQ(Poll(*t), Texts{});
  auto cps = t->PendingCheckpoints();
  ASSERT_EQ(cps.size(), 1u);
  EXPECT_EQ(cps[0].fingerprint, ContentFingerprint("old1\nold2\n"));  // short: counted prefix
  EXPECT_EQ(cps[0].expected, "");
  EXPECT_EQ(cps[0].updated, "10-10");
  Commit(*t);
  EXPECT_TRUE(t->PendingCheckpoints().empty());

  // A restart before any line: the cursor, not the new end, is where it resumes.
  fs_.Append(kLive, "ial\nnew1\n");
  auto restarted = Make(Options(true));  // still "first start" as far as the agent knows
  EXPECT_EQ(Poll(*restarted), (Texts{"partial", "new1"}));
  EXPECT_EQ(restarted->PendingCheckpoints()[0].updated, "10-23");
}

TEST_F(TailerTest, FirstStartFromStartReadsEverything) {
  fs_.Write(kLive, "a\nb\n");
  auto o = Options(true);
  o.from_start = true;
  auto t = Make(o);
  EXPECT_EQ(Poll(*t), (Texts{"a", "b"}));
}

TEST_F(TailerTest, FirstStartWithoutNewlineNearTheEndSkipsTheFragment) {
  auto o = Options(true);
  o.max_line_bytes = 16;
  fs_.Write(kLive, "a\n" + std::string(40, 'y'));
  auto t = Make(o);
  EXPECT_EQ(Poll(*t), Texts{});
  fs_.Append(kLive, "yy\nnext\n");
  Collector c;
  ASSERT_TRUE(t->Poll(c, 1 << 20).ok());
  ASSERT_EQ(c.lines.size(), 1u);  // the tail of the old line is not a line
  EXPECT_EQ(c.lines[0].text, "next");
  EXPECT_EQ(c.lines[0].begin, 45u);
}

// Rule 3, with both a full (>= 1 KiB) and a short file.
TEST_F(TailerTest, RestartResumesAtTheCommittedPosition) {
  std::string big;
  for (int i = 0; i < 20; ++i) big += Padded("b" + std::to_string(i), 100);
  fs_.Write(kLive, big);
  fs_.Write("/log/small.access.log", "s1\ns2\n");
  auto t = Make(Options(false));
  EXPECT_EQ(Poll(*t).size(), 22u);
  Commit(*t);
  fs_.Append(kLive, "b-new\n");
  fs_.Append("/log/small.access.log", "s3\n");
  EXPECT_EQ(Poll(*t).size(), 2u);  // delivered, never committed

  auto restarted = Make(Options(false));
  Texts again_texts = Poll(*restarted);
  std::sort(again_texts.begin(), again_texts.end());
  EXPECT_EQ(again_texts, (Texts{"b-new", "s3"}));
  Commit(*restarted);
  EXPECT_EQ(lookup_.values[ContentFingerprint(big)], "0-2006");
  EXPECT_EQ(lookup_.values[ContentFingerprint("s1\ns2\ns3\n")], "0-9");
  auto again = Make(Options(false));
  EXPECT_EQ(Poll(*again), Texts{});
}

// The short-file rule: a file that crosses 1 KiB while stopped is found
// under the prefix key and its checkpoint moves to the full key.
TEST_F(TailerTest, ShortFileCheckpointCarriesOverToTheFullFingerprint) {
  fs_.Write(kLive, "s1\ns2\n");
  auto t = Make(Options(false));
  EXPECT_EQ(Poll(*t), (Texts{"s1", "s2"}));
  Commit(*t);
  std::string more;
  for (int i = 0; i < 12; ++i) more += Padded("m" + std::to_string(i), 100);
  fs_.Append(kLive, more);
  auto restarted = Make(Options(false));
  EXPECT_EQ(Poll(*restarted).size(), 12u);  // s1, s2 not again
  auto cps = restarted->PendingCheckpoints();
  ASSERT_EQ(cps.size(), 1u);
  EXPECT_EQ(cps[0].fingerprint, ContentFingerprint(fs_.Node(kLive)->data.substr(0, 1024)));
  EXPECT_EQ(cps[0].expected, "");
  EXPECT_EQ(cps[0].updated, "0-1206");
}

// Rules 4 and 10.
TEST_F(TailerTest, RenameAndCreateDrainsTheOldFileThenLetsItGo) {
  fs_.Write(kLive, "a1\n");
  auto t = Make(Options(false));
  EXPECT_EQ(Poll(*t), Texts{"a1"});
  fs_.Append(kLive, "a2\n");
  fs_.Rename(kLive, std::string(kLive) + ".1");
  fs_.Write(kLive, "n1\n");
  EXPECT_EQ(Poll(*t), (Texts{"a2", "n1"}));
  EXPECT_EQ(t->stats().rotations, 1u);
  // nginx writes to the old file until USR1; a partial last line.
  fs_.Append(std::string(kLive) + ".1", "a3\ntail");
  EXPECT_EQ(Poll(*t), Texts{"a3"});
  clock_.Advance(4 * kSecond);
  EXPECT_EQ(Poll(*t), Texts{});  // within the grace: still followed
  EXPECT_EQ(t->stats().files_open, 2u);
  clock_.Advance(2 * kSecond);
  Collector c;
  ASSERT_TRUE(t->Poll(c, 1 << 20).ok());
  ASSERT_EQ(c.lines.size(), 1u);
  EXPECT_EQ(c.lines[0].text, "tail");  // rule 10: the last line, at let-go
  EXPECT_EQ(c.lines[0].path, kLive);
  EXPECT_EQ(t->stats().files_open, 2u);  // kept until its checkpoint commits
  Commit(*t);
  EXPECT_EQ(t->stats().files_open, 1u);
  EXPECT_EQ(fs_.open_handles(), 1u);
  EXPECT_EQ(lookup_.values[ContentFingerprint("a1\na2\na3\ntail")], "0-13");
}

// Rule 5.
TEST_F(TailerTest, CopytruncateReadsTheRestFromTheCopyThenTheLiveFileFromZero) {
  std::string content;
  for (int i = 0; i < 12; ++i) content += Padded("c" + std::to_string(i), 100);
  fs_.Write(kLive, content);
  auto t = Make(Options(false));
  EXPECT_EQ(Poll(*t).size(), 12u);
  Commit(*t);
  fs_.Append(kLive, "x1\nx2\n");  // written, not read yet
  fs_.CopyTruncate(kLive, std::string(kLive) + ".1");
  fs_.Append(kLive, "new1\n");
  Collector c;
  ASSERT_TRUE(t->Poll(c, 1 << 20).ok());
  EXPECT_EQ(c.Texts(), (Texts{"x1", "x2", "new1"}));
  EXPECT_EQ(c.lines[0].path, std::string(kLive) + ".1");
  EXPECT_EQ(c.lines[0].begin, 1200u);
  EXPECT_EQ(c.lines[2].begin, 0u);
  EXPECT_EQ(t->stats().truncations, 1u);
  EXPECT_EQ(t->stats().lost_bytes, 0u);
  auto cps = t->PendingCheckpoints();
  ASSERT_EQ(cps.size(), 2u);
  std::map<std::string, FileCheckpoint> by_key;
  for (auto& cp : cps) by_key[cp.fingerprint] = cp;
  EXPECT_EQ(by_key[ContentFingerprint(content)].expected, "0-1200");
  EXPECT_EQ(by_key[ContentFingerprint(content)].updated, "0-1206");
  EXPECT_EQ(by_key[ContentFingerprint("new1\n")].updated, "0-5");
}

TEST_F(TailerTest, CopytruncateIsSeenEvenWhenTheFileRegrewPastThePosition) {
  fs_.Write(kLive, "old1\nold2\n");
  auto t = Make(Options(false));
  EXPECT_EQ(Poll(*t), (Texts{"old1", "old2"}));
  fs_.Append(kLive, "old3\n");
  fs_.CopyTruncate(kLive, std::string(kLive) + "-20240101");
  fs_.Append(kLive, "fresh1\nfresh2\nfresh3\n");  // longer than our position
  EXPECT_EQ(Poll(*t), (Texts{"old3", "fresh1", "fresh2", "fresh3"}));
}

TEST_F(TailerTest, CopytruncateWithoutACopyCountsLostBytes) {
  fs_.Write(kLive, "a\n");
  auto t = Make(Options(false));
  EXPECT_EQ(Poll(*t), Texts{"a"});
  fs_.Append(kLive, "lost\n");
  Collector seen;
  ASSERT_TRUE(t->Poll(seen, 0).ok());  // sees the size, reads nothing
  fs_.Truncate(kLive, 0);
  fs_.Append(kLive, "b\n");
  EXPECT_EQ(Poll(*t), Texts{"b"});
  EXPECT_EQ(t->stats().lost_bytes, 5u);
  Commit(*t);  // the old content's checkpoint still commits
  EXPECT_EQ(lookup_.values[ContentFingerprint("a\n")], "0-2");
  EXPECT_EQ(lookup_.values[ContentFingerprint("b\n")], "0-2");
}

// Rule 5 when the truncation lands between CheckFile's fstat and the read,
// and nginx has already written past our position: the bytes just before it
// are read again and compared, so nothing is read from the old offset of the
// new content (that read fragments of lines, counted lines twice and skipped
// the copy's tail).
TEST_F(TailerTest, CopytruncateBetweenStatAndReadIsNotReadAtTheOldOffset) {
  fs_.Write(kLive, Lines("c", 12));
  auto t = Make(Options(false));
  EXPECT_EQ(Poll(*t).size(), 12u);
  Commit(*t);
  fs_.Append(kLive, "x1\n");  // written, not read yet: only in the copy
  bool done = false;
  fs_.before_access = [&](const Access& a) {
    if (done || a.op != Access::kRead || a.path != kLive || a.offset == 0) return;
    done = true;  // the first data read, after CheckFile saw an intact file
    fs_.CopyTruncate(kLive, std::string(kLive) + ".1");
    fs_.Append(kLive, Lines("n", 20, 70));  // 1400 bytes: past our 1200
  };
  Texts got = Poll(*t);
  Texts more = Poll(*t);
  got.insert(got.end(), more.begin(), more.end());
  EXPECT_TRUE(done);
  EXPECT_EQ(Bag(got.begin(), got.end()), Union({"x1"}, LineTexts("n", 20, 70)));
  EXPECT_EQ(t->stats().truncations, 1u);
  EXPECT_EQ(t->stats().lost_bytes, 0u);
}

// The first read after a file was (re)positioned has no bytes before it to
// compare: its first KiB is compared instead.
TEST_F(TailerTest, TruncationBeforeTheFirstReadIsNotTakenForTheOldContent) {
  fs_.Write(kLive, Lines("c", 12));  // never read, no checkpoint: from its start
  bool done = false;
  fs_.before_access = [&](const Access& a) {
    if (done || a.op != Access::kRead || a.path != kLive || a.length != 64) return;
    done = true;  // the first data read (the head was read when it was opened)
    fs_.CopyTruncate(kLive, std::string(kLive) + ".1");
    fs_.Append(kLive, Lines("n", 20, 70));
  };
  auto t = Make(Options(false));
  Texts got = Poll(*t);
  Texts more = Poll(*t);
  got.insert(got.end(), more.begin(), more.end());
  EXPECT_TRUE(done);
  EXPECT_EQ(Bag(got.begin(), got.end()), Union(LineTexts("c", 12), LineTexts("n", 20, 70)));
}

// Rule 9 must not take logrotate's copy in progress for new content: its
// first bytes (none yet, or a few hundred) are the start of the live file's.
TEST_F(TailerTest, RotatedFileStillBeingCopiedIsNotReadFromItsStart) {
  const std::string content = Lines("c", 12);
  fs_.Write(kLive, content);
  auto t = Make(Options(false));
  EXPECT_EQ(Poll(*t).size(), 12u);
  Commit(*t);
  t.reset();  // restarted while logrotate copies the live file to .1
  const std::string copy = std::string(kLive) + ".1";
  fs_.Write(copy, "");
  auto restarted = Make(Options(false));
  EXPECT_EQ(Poll(*restarted), Texts{});
  fs_.Append(copy, content.substr(0, 500));
  EXPECT_EQ(Poll(*restarted), Texts{});
  fs_.Append(copy, content.substr(500));
  fs_.Truncate(kLive, 0);
  fs_.Append(kLive, "n1\n");
  EXPECT_EQ(Poll(*restarted), Texts{"n1"});
  PassGrace();
  EXPECT_EQ(Poll(*restarted), Texts{});
}

// gzip creates its output empty and writes it afterwards: an empty rotated
// file is not followed (nothing to read yet), so its bytes are never read as
// text. (They once were: gzip bytes split at 0x0a made "lines" in no file.)
TEST_F(TailerTest, EmptyGzipOutputIsNotReadAsText) {
  const std::string rotated = Lines("r", 30);
  fs_.Write(kLive, "live1\n");
  fs_.Write(std::string(kLive) + ".1", rotated);
  auto t = Make(Options(false));
  EXPECT_EQ(Poll(*t).size(), 31u);
  PassGrace();
  Poll(*t);
  Commit(*t);
  t.reset();
  const std::string gz = std::string(kLive) + ".1.gz";
  fs_.Write(gz, "");  // gzip is compressing .1
  auto restarted = Make(Options(false));
  EXPECT_EQ(Poll(*restarted), Texts{});
  fs_.Append(gz, Gzip(rotated));
  fs_.Unlink(std::string(kLive) + ".1");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Poll(*restarted), Texts{});
    PassGrace();
  }
}

// A file opened while it had fewer than 2 bytes is decided plain or gzip
// when it has them, never taken for plain text for good.
TEST_F(TailerTest, FileStreamDecidesGzipOnceItHasTwoBytes) {
  fs_.Write("/log/x.gz", "");
  auto opened = fs_.Open("/log/x.gz");
  ASSERT_TRUE(opened.ok());
  auto stream = FileStream::Open(std::move(*opened), "/log/x.gz");
  ASSERT_TRUE(stream.ok());
  char buf[64];
  EXPECT_EQ(*(*stream)->Read(0, buf, sizeof buf), 0u);
  fs_.Append("/log/x.gz", Gzip("g1\ng2\n"));
  auto got = (*stream)->Read(0, buf, sizeof buf);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(std::string(buf, *got), "g1\ng2\n");
  EXPECT_TRUE((*stream)->compressed());
}

// Lines nginx wrote after logrotate's copy read the end of the log, and the
// tailer read before the truncate, are in no file: the copy ends before
// them. Those read whole were counted once; a line read in part is not a
// line (rule 10 does not hand it out at let-go), and the copy's checkpoint
// covers only the copy.
TEST_F(TailerTest, LinesDestroyedAfterTheyWereReadEndTheCopy) {
  const std::string content = Lines("c", 12);
  fs_.Write(kLive, content);
  auto t = Make(Options(false));
  EXPECT_EQ(Poll(*t).size(), 12u);
  fs_.Append(kLive, "d1\nd2-in-part");  // d2 is being written as we read
  EXPECT_EQ(Poll(*t), Texts{"d1"});
  fs_.Write(std::string(kLive) + ".1.gz", Gzip(content));  // copied before d1
  fs_.Truncate(kLive, 0);
  fs_.Append(kLive, "n1\n");
  EXPECT_EQ(Poll(*t), Texts{"n1"});
  PassGrace();
  EXPECT_EQ(Poll(*t), Texts{});  // no "d2-in-part" at let-go
  Commit(*t);
  EXPECT_EQ(lookup_.values[ContentFingerprint(content)], "0-1200");
}

// A copy shorter than 1 KiB whose first KiB, as the tailer knew it, ended in
// lines copytruncate destroyed: the copy is still ours (all of it is the
// start of what we knew), and its checkpoint is keyed by what it holds, so a
// restart finds it. When that key was stored earlier in the file's life
// (when it was exactly that long), its value is the one the commit expects.
TEST_F(TailerTest, ShortCopyOfContentWithDestroyedLinesKeepsItsCheckpoint) {
  for (const bool stored_at_copy_length : {false, true}) {
    SCOPED_TRACE(stored_at_copy_length ? "key of the copy stored before" : "not stored");
    FakeFileSystem fs;
    MapLookup lookup;
    auto make = [&] { return std::make_unique<Tailer>(Options(false), &fs, &clock_, &lookup); };
    auto commit = [&](Tailer& t) {
      auto cps = t.PendingCheckpoints();
      for (const auto& cp : cps) {
        EXPECT_EQ(lookup.values[cp.fingerprint], cp.expected) << "a refused commit";
        lookup.values[cp.fingerprint] = cp.updated;
      }
      t.MarkCommitted(cps);
    };
    auto poll = [&](Tailer& t) {
      Collector c;
      EXPECT_TRUE(t.Poll(c, 1 << 20).ok());
      return c.Texts();
    };
    const std::string kept = Lines("c", 8);  // 800 bytes: what the copy will hold
    fs.Write(kLive, kept.substr(0, 500));
    auto t = make();
    EXPECT_EQ(poll(*t).size(), 5u);
    commit(*t);  // under the prefix key of 500 bytes
    fs.Append(kLive, kept.substr(500));
    EXPECT_EQ(poll(*t).size(), 3u);
    if (stored_at_copy_length) commit(*t);  // under the prefix key of 800 bytes
    fs.Append(kLive, Lines("d", 4));        // to 1200 bytes: read, then destroyed
    EXPECT_EQ(poll(*t).size(), 4u);
    commit(*t);  // under the full key, its first KiB ending in d lines
    fs.Write(std::string(kLive) + ".1", kept);  // the copy: before the d lines
    fs.Truncate(kLive, 0);
    fs.Append(kLive, "n1\n");
    EXPECT_EQ(poll(*t), Texts{"n1"});
    commit(*t);
    EXPECT_EQ(lookup.values[ContentFingerprint(kept)], "0-800");
    t.reset();
    auto restarted = make();
    EXPECT_EQ(poll(*restarted), Texts{});  // the copy is not read again
  }
}

// A file truncated and written again while the tailer opens it (after its
// fstat, before its first bytes are read) is known by its new size, or its
// next Poll takes the new content for a truncation and reads it twice.
TEST_F(TailerTest, FileTruncatedWhileBeingOpenedIsReadOnce) {
  fs_.Write(kLive, Lines("c", 12));
  bool done = false;
  fs_.before_access = [&](const Access& a) {
    if (done || a.op != Access::kRead || a.path != kLive || a.length != 2) return;
    done = true;  // FileStream's look at the magic bytes, after the open's fstat
    fs_.Truncate(kLive, 0);
    fs_.Append(kLive, "n1\nn2\n");
  };
  auto t = Make(Options(false));
  EXPECT_EQ(Poll(*t), (Texts{"n1", "n2"}));
  fs_.Append(kLive, "n3\n");
  EXPECT_EQ(Poll(*t), Texts{"n3"});
  EXPECT_EQ(t->stats().truncations, 0u);
}

// A followed file known only in part (it had a few bytes when it was opened)
// that grew and was copied meanwhile: the copy is compared with its first
// bytes as they are now, not taken for other content.
TEST_F(TailerTest, CopyOfAFileKnownOnlyInPartIsNotReadTwice) {
  fs_.Write(kLive, "c0\n");
  const std::string copy = std::string(kLive) + ".1";
  bool done = false;
  fs_.before_access = [&](const Access& a) {
    if (done || a.op != Access::kGlob || a.path != std::string(kLive) + "*") return;
    done = true;  // rule 9's scan at start, after the live file was opened
    fs_.Append(kLive, Lines("c", 12));
    fs_.Write(copy, fs_.Node(kLive)->data);  // logrotate copying it
  };
  auto t = Make(Options(false));
  Texts got = Poll(*t);
  EXPECT_TRUE(done);
  EXPECT_EQ(Bag(got.begin(), got.end()), Union({"c0"}, LineTexts("c", 12)));
  fs_.Truncate(kLive, 0);
  fs_.Append(kLive, "n1\n");
  EXPECT_EQ(Poll(*t), Texts{"n1"});
}

// Two siblings start with our first KiB (identical first lines): the copy is
// the one that also holds the bytes we read last, before our position.
TEST_F(TailerTest, CopyIsTheSiblingHoldingTheBytesBeforeOurPosition) {
  auto filled = [](const std::string& text, char fill) {
    return text + " " + std::string(98 - text.size(), fill) + "\n";  // 100 bytes
  };
  const std::string first = Lines("same", 11);  // 1100 bytes, both files
  std::string old = first;
  for (int i = 0; i < 5; ++i) old += filled("old" + std::to_string(i), 'o');
  fs_.Write(std::string(kLive) + "-20240101", old);
  fs_.Write(kLive, first + filled("cur0", 'c') + filled("cur1", 'c') + filled("cur2", 'c'));
  auto t = Make(Options(true));  // first start: from the end; the old file is left alone
  EXPECT_EQ(Poll(*t), Texts{});
  fs_.Append(kLive, filled("cur3", 'c'));
  EXPECT_EQ(Poll(*t).size(), 1u);
  fs_.Append(kLive, Lines("tail", 2));  // not read yet
  Poll(*t, 0);
  fs_.CopyTruncate(kLive, std::string(kLive) + "-20240102");
  fs_.Append(kLive, "n1\n");
  Texts got = Poll(*t);
  EXPECT_EQ(Bag(got.begin(), got.end()), Union({"n1"}, LineTexts("tail", 2)));
}

// Rule 6.
TEST_F(TailerTest, DeletedFileIsReadToItsEndThenLetGo) {
  fs_.Write(kLive, "d1\n");
  auto t = Make(Options(false));
  EXPECT_EQ(Poll(*t), Texts{"d1"});
  fs_.Append(kLive, "d2\n");
  fs_.Unlink(kLive);
  EXPECT_EQ(Poll(*t), Texts{"d2"});
  EXPECT_EQ(t->stats().deletions, 1u);
  EXPECT_EQ(t->stats().rotations, 0u);
  PassGrace();
  EXPECT_EQ(Poll(*t), Texts{});
  Commit(*t);
  EXPECT_EQ(fs_.open_handles(), 0u);
  EXPECT_EQ(t->stats().files_open, 0u);
}

// Rule 7.
TEST_F(TailerTest, ShrinkingFileIsNewContent) {
  fs_.Write(kLive, "long line one\nlong line two\n");
  auto t = Make(Options(false));
  EXPECT_EQ(Poll(*t).size(), 2u);
  fs_.Write(kLive, "z1\nz2\n");  // same inode, shorter, different content
  EXPECT_EQ(Poll(*t), (Texts{"z1", "z2"}));
  EXPECT_EQ(t->stats().truncations, 1u);
}

TEST_F(TailerTest, ShrinkKeepingTheFirstKiBNeverDeliversALineTwice) {
  std::string content;
  for (int i = 0; i < 15; ++i) content += Padded("k" + std::to_string(i), 100);
  fs_.Write(kLive, content);
  auto t = Make(Options(false));
  EXPECT_EQ(Poll(*t).size(), 15u);
  fs_.Truncate(kLive, 1200);
  Collector seen;
  ASSERT_TRUE(t->Poll(seen, 0).ok());       // the shrink is seen
  fs_.Append(kLive, Padded("again", 100));  // [1200, 1300): inside what was counted
  fs_.Append(kLive, std::string(200, 'p') + "\n" + "after\n");
  Texts got = Poll(*t);
  EXPECT_EQ(got, Texts{"after"});
  EXPECT_EQ(t->stats().truncations, 1u);
}

// Rule 8.
TEST_F(TailerTest, SymlinkIdentityIsTheTargetAndRetargetIsARotation) {
  fs_.Write("/data/a1.log", "t1\n");
  fs_.Symlink(kLive, "/data/a1.log");
  auto t = Make(Options(false));
  Collector c;
  ASSERT_TRUE(t->Poll(c, 1 << 20).ok());
  EXPECT_EQ(c.Texts(), Texts{"t1"});
  EXPECT_EQ(c.lines[0].path, kLive);
  fs_.Append("/data/a1.log", "t2\n");
  fs_.Write("/data/a2.log", "u1\n");
  fs_.Symlink(kLive, "/data/a2.log");
  EXPECT_EQ(Poll(*t), (Texts{"t2", "u1"}));
  EXPECT_EQ(t->stats().rotations, 1u);
  // copytruncate of the target: the copy is found next to the target.
  fs_.Append("/data/a2.log", "u2\n");
  fs_.CopyTruncate("/data/a2.log", "/data/a2.log.1");
  fs_.Append("/data/a2.log", "v1\n");
  EXPECT_EQ(Poll(*t), (Texts{"u2", "v1"}));
}

// Rule 9.
TEST_F(TailerTest, FilesRotatedTwiceAndCompressedWhileStoppedAreCaughtUp) {
  std::string first;
  for (int i = 0; i < 12; ++i) first += Padded("f" + std::to_string(i), 100);
  fs_.SetNow(1000);
  fs_.Write(kLive, first);
  fs_.Write(std::string(kLive) + ".9", "ancient\n");  // before the agent ran: backfill's job
  auto t = Make(Options(false));
  Poll(*t);
  Commit(*t);
  t.reset();  // agent stops at 2000
  fs_.SetNow(2500);
  fs_.Append(kLive, "f-late\n");
  fs_.Rename(kLive, std::string(kLive) + ".1");
  fs_.Write(kLive, "g1\ng2\n");
  // second rotation: .1 -> .2.gz, live -> .1
  const std::string rotated = fs_.Node(std::string(kLive) + ".1")->data;
  fs_.Unlink(std::string(kLive) + ".1");
  fs_.Write(std::string(kLive) + ".2.gz", Gzip(rotated));
  fs_.Rename(kLive, std::string(kLive) + ".1");
  fs_.Write(kLive, "h1\n");
  fs_.SetMtime(std::string(kLive) + ".9", 900);

  auto o = Options(false);
  o.last_alive_s = 2000;
  auto restarted = Make(o);
  Texts got = Poll(*restarted);
  std::multiset<std::string> set(got.begin(), got.end());
  EXPECT_EQ(set, (std::multiset<std::string>{"f-late", "g1", "g2", "h1"}));
  PassGrace();
  Poll(*restarted);
  Commit(*restarted);
  EXPECT_EQ(lookup_.values[ContentFingerprint(first)], "0-1207");
}

TEST_F(TailerTest, SameContentCompressedAndPlainIsReadOnce) {
  fs_.SetNow(3000);
  fs_.Write(kLive, "live\n");
  fs_.Write(std::string(kLive) + ".1", "r1\nr2\n");
  fs_.Write(std::string(kLive) + ".1.gz", Gzip("r1\nr2\n"));
  auto o = Options(false);
  o.last_alive_s = 2000;
  auto t = Make(o);
  Texts got = Poll(*t);
  std::multiset<std::string> set(got.begin(), got.end());
  EXPECT_EQ(set, (std::multiset<std::string>{"live", "r1", "r2"}));
}

TEST_F(TailerTest, FirstStartLeavesRotatedFilesToBackfill) {
  fs_.SetNow(3000);
  fs_.Write(kLive, "live\n");
  fs_.Write(std::string(kLive) + ".1", "r1\n");
  auto t = Make(Options(true));
  EXPECT_EQ(Poll(*t), Texts{});
}

// Rule 10.
TEST_F(TailerTest, PartialLastLineIsHeldUntilItsNewline) {
  fs_.Write(kLive, "abc");
  auto t = Make(Options(false));
  EXPECT_EQ(Poll(*t), Texts{});
  EXPECT_TRUE(t->PendingCheckpoints().empty());
  fs_.Append(kLive, "def\r\nxyz");
  EXPECT_EQ(Poll(*t), Texts{"abcdef"});
  PassGrace();
  EXPECT_EQ(Poll(*t), Texts{});  // a live file's partial line is never forced out
}

TEST_F(TailerTest, TooLongLinesAreReportedWithTheirRange) {
  auto o = Options(false);
  o.max_line_bytes = 10;
  fs_.Write(kLive, std::string(30, 'q') + "\nok\n");
  auto t = Make(o);
  Collector c;
  ASSERT_TRUE(t->Poll(c, 1 << 20).ok());
  ASSERT_EQ(c.lines.size(), 2u);
  EXPECT_TRUE(c.lines[0].too_long);
  EXPECT_EQ(c.lines[0].end, 31u);
  EXPECT_EQ(c.lines[1].text, "ok");
}

TEST_F(TailerTest, UnreadableFilesAndFailedLookupsAreRetried) {
  fs_.Write(kLive, "a\n");
  fs_.fail_open.insert(kLive);
  auto t = Make(Options(false));
  EXPECT_EQ(Poll(*t), Texts{});
  EXPECT_EQ(t->stats().read_errors, 1u);
  fs_.fail_open.clear();
  lookup_.fail = true;
  EXPECT_EQ(Poll(*t), Texts{});
  EXPECT_EQ(t->stats().lookup_errors, 1u);
  lookup_.fail = false;
  EXPECT_EQ(Poll(*t), Texts{"a"});
  fs_.fail_read.insert(kLive);
  fs_.Append(kLive, "b\n");
  EXPECT_EQ(Poll(*t), Texts{});
  fs_.fail_read.clear();
  EXPECT_EQ(Poll(*t), Texts{"b"});
}

TEST_F(TailerTest, CorruptCheckpointIsAnErrorNotACrash) {
  fs_.Write(kLive, "a\n");
  lookup_.values[ContentFingerprint("a\n")] = "garbage";
  auto t = Make(Options(false));
  EXPECT_EQ(Poll(*t), Texts{});
  EXPECT_EQ(t->stats().lookup_errors, 1u);
}

TEST_F(TailerTest, BudgetBoundsBytesReadPerPoll) {
  fs_.Write(kLive, "0123456789\nabcdefghij\n");
  auto t = Make(Options(false));
  Collector c;
  auto r = t->Poll(c, 7);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 7u);
  EXPECT_TRUE(c.lines.empty());
  EXPECT_EQ(t->stats().bytes_behind, 15u);
  ASSERT_TRUE(t->Poll(c, 7).ok());
  EXPECT_EQ(c.Texts(), Texts{"0123456789"});
}

TEST_F(TailerTest, PendingCheckpointsAndMarkCommittedRoundTrip) {
  fs_.Write(kLive, "a\n");
  auto t = Make(Options(false));
  Poll(*t);
  auto cps = t->PendingCheckpoints();
  ASSERT_EQ(cps.size(), 1u);
  EXPECT_EQ(cps[0].expected, "");
  EXPECT_EQ(cps[0].updated, "0-2");
  fs_.Append(kLive, "b\n");
  Poll(*t);  // lines arrive between taking the batch and its commit
  lookup_.values[cps[0].fingerprint] = cps[0].updated;
  t->MarkCommitted(cps);
  auto next = t->PendingCheckpoints();
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].fingerprint, ContentFingerprint("a\nb\n"));
  EXPECT_EQ(next[0].updated, "0-4");
  Commit(*t);
  EXPECT_TRUE(t->PendingCheckpoints().empty());
}

TEST_F(TailerTest, RewindAfterAbortRedeliversFromTheCommittedState) {
  std::string content;
  for (int i = 0; i < 11; ++i) content += Padded("r" + std::to_string(i), 100);
  fs_.Write(kLive, content);
  auto t = Make(Options(false));
  EXPECT_EQ(Poll(*t).size(), 11u);
  Commit(*t);
  fs_.Append(kLive, "r-a\nr-b\n");
  EXPECT_EQ(Poll(*t), (Texts{"r-a", "r-b"}));
  auto cps = t->PendingCheckpoints();
  // Another process advanced the file past r-a meanwhile: the flush aborts.
  lookup_.values[ContentFingerprint(content)] = "0-1104";
  ASSERT_TRUE(t->Rewind(cps).ok());
  EXPECT_EQ(Poll(*t), Texts{"r-b"});
  auto after = t->PendingCheckpoints();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].expected, "0-1104");
  EXPECT_EQ(after[0].updated, "0-1108");
}

// Never twice, never lost: random writes, partial lines, rotations of both
// kinds, budgets from 1 byte, commits, aborts and restarts from committed
// checkpoints. Every line written is committed exactly once.
TEST_F(TailerTest, RandomHistoriesCountEveryLineExactlyOnce) {
  for (int seed = 1; seed <= 500; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    FakeFileSystem fs;
    MapLookup lookup;
    ManualClock clock(1'700'000'000 * kSecond);
    std::mt19937 rng(seed);
    auto rnd = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    auto options = [&] {
      TailerOptions o;
      o.paths = {"/log/*.access.log"};
      o.first_start = false;
      o.read_chunk_bytes = 1 + rnd(300);
      o.max_line_bytes = 4096;
      return o;
    };
    auto tailer = std::make_unique<Tailer>(options(), &fs, &clock, &lookup);
    std::multiset<std::string> written, committed, pending;
    fs.Write(kLive, "");
    auto target = fs.Node(kLive);  // where "nginx" writes
    std::string unfinished;        // the rest of a line written in part
    int rotated = 0, next_line = 0;
    int64_t writes = 1'000'000;  // mtime_ns of "nginx" writes
    bool reopened = true;

    // TAILER_TRACE_SEED=<n> prints the history of one seed, to debug a failure.
    const bool trace =
        std::getenv("TAILER_TRACE_SEED") && std::atoi(std::getenv("TAILER_TRACE_SEED")) == seed;
    auto poll = [&](size_t budget) {
      Collector c;
      ASSERT_TRUE(tailer->Poll(c, budget).ok());
      for (auto& l : c.lines) pending.insert(l.text);
      if (trace) {
        for (auto& l : c.lines) {
          std::fprintf(stderr, "  got %s from %s [%llu,%llu)\n",
                       l.text.substr(0, l.text.find(' ')).c_str(), l.path.c_str(),
                       (unsigned long long)l.begin, (unsigned long long)l.end);
        }
      }
    };
    auto commit = [&] {
      auto cps = tailer->PendingCheckpoints();
      for (const auto& cp : cps) {
        ASSERT_EQ(lookup.values[cp.fingerprint], cp.expected);
        lookup.values[cp.fingerprint] = cp.updated;
      }
      tailer->MarkCommitted(cps);
      if (trace) {
        for (auto& cp : cps) {
          std::fprintf(stderr, "  commit %s %s -> %s\n", cp.fingerprint.c_str(),
                       cp.expected.c_str(), cp.updated.c_str());
        }
      }
      committed.insert(pending.begin(), pending.end());
      pending.clear();
    };
    auto shift_rotated = [&] {
      for (int i = rotated; i >= 1; --i) {
        fs.Rename(std::string(kLive) + "." + std::to_string(i),
                  std::string(kLive) + "." + std::to_string(i + 1));
      }
      ++rotated;
    };

    for (int step = 0; step < 300; ++step) {
      int op = rnd(100);
      if (trace) {
        std::fprintf(stderr, "step %d op %d next_line %d rotated %d reopened %d files %zu\n", step,
                     op, next_line, rotated, reopened, tailer->stats().files_open);
      }
      if (op < 45) {  // write lines, the last one possibly in part
        std::string bytes = unfinished;
        unfinished.clear();
        for (int k = rnd(4); k >= 0; --k) {
          std::string text = "L" + std::to_string(next_line++) + " " + std::string(rnd(300), 'p');
          written.insert(text);
          bytes += text + "\n";
        }
        size_t cut = rnd(3) == 0 ? bytes.size() - 1 -
                                       rnd(static_cast<int>(std::min<size_t>(bytes.size() - 1, 20)))
                                 : bytes.size();
        if (bytes.find('\n', cut) == std::string::npos) cut = bytes.size();
        unfinished = bytes.substr(cut);
        target->data += bytes.substr(0, cut);
        target->mtime_ns = ++writes;
      } else if (op < 70) {
        poll(1 + rnd(rnd(2) ? 50 : 5000));
      } else if (op < 80) {
        commit();
      } else if (op < 84 && reopened && unfinished.empty()) {  // logrotate: rename + create
        shift_rotated();
        fs.Rename(kLive, std::string(kLive) + ".1");
        reopened = false;
      } else if (op < 88 && !reopened && unfinished.empty()) {  // USR1: reopen
        fs.Write(kLive, "");
        target = fs.Node(kLive);
        reopened = true;
      } else if (op < 91 && reopened && unfinished.empty()) {
        shift_rotated();  // copytruncate
        fs.CopyTruncate(kLive, std::string(kLive) + ".1");
      } else if (op < 94) {  // crash and restart from what was committed
        tailer = std::make_unique<Tailer>(options(), &fs, &clock, &lookup);
        pending.clear();
      } else if (op < 96) {  // a flush aborted: drop uncommitted, rewind
        ASSERT_TRUE(tailer->Rewind(tailer->PendingCheckpoints()).ok());
        pending.clear();
      } else if (reopened) {
        clock.Advance(6 * kSecond);  // past the grace only once nginx let go
      }
    }
    target->data += unfinished;
    if (!reopened) {
      fs.Write(kLive, "");
    }
    for (int i = 0; i < 4; ++i) {
      poll(1 << 24);
      clock.Advance(6 * kSecond);
    }
    commit();
    for (const auto& w : written) {
      EXPECT_EQ(committed.count(w), 1u) << w.substr(0, w.find(' '));
    }
    for (const auto& c : committed) {
      EXPECT_EQ(written.count(c), 1u) << "never written: " << c.substr(0, 8);
    }
    ASSERT_EQ(committed, written);
  }
}

// RealFileSystem: the production adapter on a temporary directory.
TEST(RealFileSystemTest, StatGlobReadRenameUnlinkAndSymlink) {
  char tmpl[] = "/tmp/apimeter_tailer_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::filesystem::path dir(tmpl);
  const std::string live = (dir / "api.access.log").string();
  { std::ofstream(live) << "one\ntwo\n"; }
  RealFileSystem fs;
  auto matches = fs.Glob((dir / "*.access.log").string());
  ASSERT_TRUE(matches.ok());
  EXPECT_EQ(*matches, std::vector<std::string>{live});
  EXPECT_TRUE(fs.Glob((dir / "*.none").string())->empty());
  EXPECT_EQ(fs.Stat((dir / "missing").string()).status().code(), StatusCode::kNotFound);
  auto st = fs.Stat(live);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->size, 8u);

  auto f = fs.Open(live);
  ASSERT_TRUE(f.ok());
  std::filesystem::rename(live, live + ".1");
  { std::ofstream(live + ".1", std::ios::app) << "three\n"; }
  char buf[64];
  auto got = (*f)->ReadAt(4, buf, sizeof buf);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(std::string(buf, *got), "two\nthree\n");
  std::filesystem::remove(live + ".1");
  EXPECT_EQ((*f)->Stat()->nlink, 0u);

  { std::ofstream(dir / "target.log") << "t\n"; }
  std::filesystem::create_symlink(dir / "target.log", live);
  EXPECT_EQ(*fs.RealPath(live), (dir / "target.log").string());
  EXPECT_EQ(fs.Stat(live)->ino, fs.Stat((dir / "target.log").string())->ino);

  // And the tailer over it, gzip sibling included.
  { std::ofstream(dir / "target.log", std::ios::app) << "u\n"; }
  {
    std::ofstream gz(dir / "api.access.log.1.gz", std::ios::binary);
    gz << Gzip("g1\ng2\n");
  }
  MapLookup lookup;
  SystemClock clock;
  TailerOptions o;
  o.paths = {(dir / "*.access.log").string()};
  o.first_start = false;
  Tailer tailer(o, &fs, &clock, &lookup);
  Collector c;
  ASSERT_TRUE(tailer.Poll(c, 1 << 20).ok());
  std::multiset<std::string> got_lines;
  for (auto& l : c.lines) got_lines.insert(l.text);
  EXPECT_EQ(got_lines, (std::multiset<std::string>{"t", "u", "g1", "g2"}));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace apimeter
