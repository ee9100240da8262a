#include "agent/log_file_reader.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "agent/backfill.h"

namespace apimeter {
namespace {

class LogFileReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("apimeter-reader-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string WritePlain(const std::string& name, const std::string& content) {
    std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  std::string WriteGzip(const std::string& name, const std::string& content) {
    std::string p = (dir_ / name).string();
    gzFile gz = gzopen(p.c_str(), "wb");
    gzwrite(gz, content.data(), static_cast<unsigned>(content.size()));
    gzclose(gz);
    return p;
  }
  static std::string ReadAll(LogFileReader& r) {
    std::string out;
    char buf[333];
    for (;;) {
      auto n = r.Read(buf, sizeof buf);
      EXPECT_TRUE(n.ok());
      if (!n.ok() || *n == 0) break;
      out.append(buf, *n);
    }
    return out;
  }

  std::filesystem::path dir_;
};

std::string Content(size_t lines) {
  std::string s;
  for (size_t i = 0; i < lines; ++i) s += "line number " + std::to_string(i) + "\n";
  return s;
}

TEST_F(LogFileReaderTest, PlainAndGzipGiveSameBytesAndFingerprint) {
  const std::string content = Content(500);
  auto plain = LogFileReader::Open(WritePlain("access.log.1", content));
  auto gz = LogFileReader::Open(WriteGzip("access.log.1.gz", content));
  ASSERT_TRUE(plain.ok());
  ASSERT_TRUE(gz.ok());
  EXPECT_FALSE((*plain)->compressed());
  EXPECT_TRUE((*gz)->compressed());
  auto fp1 = (*plain)->Fingerprint();
  auto fp2 = (*gz)->Fingerprint();
  ASSERT_TRUE(fp1.ok());
  EXPECT_EQ(*fp1, *fp2);
  EXPECT_EQ(fp1->size(), 16u);  // full 1024-byte fingerprint, no length suffix
  EXPECT_EQ(ReadAll(**plain), content);
  EXPECT_EQ(ReadAll(**gz), content);
}

TEST_F(LogFileReaderTest, ShortFileFingerprintCarriesLength) {
  auto r = LogFileReader::Open(WritePlain("short.log", "abc\n"));
  ASSERT_TRUE(r.ok());
  auto fp = (*r)->Fingerprint();
  ASSERT_TRUE(fp.ok());
  EXPECT_NE(fp->find(".4"), std::string::npos);
  EXPECT_EQ(ReadAll(**r), "abc\n");
}

TEST_F(LogFileReaderTest, DifferentContentDifferentFingerprint) {
  EXPECT_NE(ContentFingerprint(Content(10)), ContentFingerprint(Content(10) + "x"));  // short: grows
  EXPECT_EQ(ContentFingerprint(Content(100)), ContentFingerprint(Content(200)));  // first 1 KiB
  EXPECT_NE(ContentFingerprint("a"), ContentFingerprint("b"));
}

TEST_F(LogFileReaderTest, TruncatedGzipYieldsWhatItCanAndSaysSo) {
  std::string content = Content(20000);
  std::string p = WriteGzip("cut.log.gz", content);
  auto size = std::filesystem::file_size(p);
  std::filesystem::resize_file(p, size / 2);
  auto r = LogFileReader::Open(p);
  ASSERT_TRUE(r.ok());
  std::string got = ReadAll(**r);
  EXPECT_TRUE((*r)->truncated());
  EXPECT_GT(got.size(), 0u);
  EXPECT_LT(got.size(), content.size());
  EXPECT_EQ(got, content.substr(0, got.size()));
}

TEST_F(LogFileReaderTest, MissingFileIsNotFound) {
  auto r = LogFileReader::Open((dir_ / "nope.log").string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST_F(LogFileReaderTest, SortOldestRotationFirst) {
  std::vector<std::string> in = {"/l/a.log", "/l/a.log.1", "/l/a.log.10.gz", "/l/a.log.2.gz"};
  auto out = SortOldestFirst(in);
  EXPECT_EQ(out, (std::vector<std::string>{"/l/a.log.10.gz", "/l/a.log.2.gz", "/l/a.log.1",
                                           "/l/a.log"}));
}

}  // namespace
}  // namespace apimeter
