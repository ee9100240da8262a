// The session-signing key (server/session_key.h): never derivable from the
// public token hashes, kept in a private 0600 file under the state directory,
// and refused when that file or its directory is unsafe.
#include "server/session_key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "server/auth.h"
#include "tests/server/test_hmac.h"

namespace apimeter {
namespace {

namespace fs = std::filesystem;

class SessionKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/apimeter-session-key-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    key_path_ = (fs::path(dir_) / kSessionKeyFileName).string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  static void Write(const std::string& path, const std::string& text, mode_t mode) {
    std::ofstream(path) << text;
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
  }
  static mode_t Mode(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0);
    return st.st_mode & 07777;
  }
  void ExpectRefused(const std::string& why_fragment) {
    auto key = LoadOrCreateSessionKeyFile(key_path_);
    ASSERT_FALSE(key.ok()) << "accepted: " << why_fragment;
    EXPECT_EQ(key.status().code(), StatusCode::kInvalidArgument) << key.status().message();
    EXPECT_NE(key.status().message().find(why_fragment), std::string::npos)
        << key.status().message();
    EXPECT_NE(key.status().message().find(key_path_), std::string::npos)
        << "names the file: " << key.status().message();
  }

  std::string dir_, key_path_;
};

// Issue 13, item 1: with session_secret unset the key used to be
// SHA-256("apimeter-session-v1\n" + hashes), and the hashes are public. A
// cookie minted from the hash alone must be refused by every key serve uses.
TEST_F(SessionKeyTest, ACookieBuiltFromTheTokenHashAloneIsRefused) {
  AuthConfig auth;
  auth.token_hashes = {HashToken("the-token-nobody-outside-knows")};
  auth.session_ttl_s = 3600;
  const int64_t now = 1764000000;
  const std::string derived = Sha256Hex("apimeter-session-v1\n" + auth.token_hashes[0]);
  const std::string nonce(64, 'b');
  const std::vector<std::string> forged = {
      // the old shape, and the current one, both signed with the derived key
      std::to_string(now + 600) + "." + nonce,
      std::to_string(now) + "." + std::to_string(now + 600) + "." + nonce,
  };
  for (const std::string& state_dir : {std::string(), dir_}) {
    auto key = ResolveSessionKey("", state_dir);
    ASSERT_TRUE(key.ok()) << key.status().message();
    auth.session_key = key->key;
    EXPECT_NE(auth.session_key, derived);
    EXPECT_EQ(auth.session_key.find(auth.token_hashes[0].substr(7, 16)), std::string::npos);
    for (const std::string& payload : forged) {
      EXPECT_FALSE(
          SessionValid(payload + "." + testing::HmacSha256Hex(derived, payload), auth, now))
          << "state_dir '" << state_dir << "' accepted a cookie forged from the hash";
    }
    // A cookie serve itself made is accepted, so the refusal is not vacuous.
    auto real = MakeSessionValue(auth, now);
    ASSERT_TRUE(real.ok());
    EXPECT_TRUE(SessionValid(*real, auth, now));
  }
}

TEST_F(SessionKeyTest, TheOperatorsSecretWinsAndPerProcessKeysDiffer) {
  auto key = ResolveSessionKey("operator-secret-0123456789", dir_);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->key, "operator-secret-0123456789");
  EXPECT_EQ(key->source, "server.session_secret");
  EXPECT_FALSE(fs::exists(key_path_));  // no file made when a secret is given

  auto a = ResolveSessionKey("", ""), b = ResolveSessionKey("", "");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->key, b->key);
  EXPECT_EQ(a->key.size(), 64u);
  EXPECT_NE(a->source.find("per-process"), std::string::npos);
}

TEST_F(SessionKeyTest, KeyFileIsCreatedOncePrivateAndSurvivesRestarts) {
  auto first = ResolveSessionKey("", dir_);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->source, key_path_);
  EXPECT_EQ(Mode(key_path_), 0600u);
  std::ifstream in(key_path_);
  std::string text;
  std::getline(in, text);
  EXPECT_EQ(text, first->key);
  EXPECT_EQ(first->key.size(), 64u);
  // A restart reads the same key: sessions survive it.
  auto second = ResolveSessionKey("", dir_);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->key, first->key);
  // No temporary file is left behind.
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_)) ++files;
  EXPECT_EQ(files, 1u);
  // Rotation: delete the file; the next start makes a new key.
  fs::remove(key_path_);
  auto rotated = ResolveSessionKey("", dir_);
  ASSERT_TRUE(rotated.ok());
  EXPECT_NE(rotated->key, first->key);
  // A key the operator wrote (e.g. copied from another instance) is used.
  Write(key_path_, std::string(64, 'c') + "\n", 0400);
  auto copied = LoadOrCreateSessionKeyFile(key_path_);
  ASSERT_TRUE(copied.ok()) << copied.status().message();
  EXPECT_EQ(*copied, std::string(64, 'c'));
}

TEST_F(SessionKeyTest, UnsafeKeyFilesAreRefusedSayingHowToFixThem) {
  Write(key_path_, std::string(64, 'a') + "\n", 0644);
  ExpectRefused("chmod 600");
  ASSERT_EQ(::chmod(key_path_.c_str(), 0640), 0);
  ExpectRefused("other users can read it");

  Write(key_path_, "not a key\n", 0600);
  ExpectRefused("does not hold one key");
  Write(key_path_, std::string(64, 'a') + "\n" + std::string(64, 'b') + "\n", 0600);
  ExpectRefused("does not hold one key");

  fs::remove(key_path_);
  const std::string elsewhere = dir_ + "/elsewhere.key";
  Write(elsewhere, std::string(64, 'a') + "\n", 0600);
  fs::create_symlink(elsewhere, key_path_);
  ExpectRefused("symbolic link");

  fs::remove(key_path_);
  fs::create_directory(key_path_);
  ExpectRefused("not a regular file");

  fs::remove(key_path_);
  ASSERT_EQ(::mkfifo(key_path_.c_str(), 0600), 0);
  ExpectRefused("not a regular file");  // and it did not hang on the FIFO
}

TEST_F(SessionKeyTest, ADirectoryOthersCanWriteIsRefused) {
  ASSERT_EQ(::chmod(dir_.c_str(), 0777), 0);
  ExpectRefused("lets other users replace the session key");
  EXPECT_FALSE(fs::exists(key_path_));  // nothing written there
  ASSERT_EQ(::chmod(dir_.c_str(), 0750), 0);
  EXPECT_TRUE(LoadOrCreateSessionKeyFile(key_path_).ok());

  auto missing = ResolveSessionKey("", dir_ + "/missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(dir_ + "/missing"), std::string::npos);
}

TEST_F(SessionKeyTest, AFileOwnedBySomeoneElseIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "APIMETER_TEST_SKIPPED: needs root to give the file away";
  Write(key_path_, std::string(64, 'a') + "\n", 0600);
  ASSERT_EQ(::chown(key_path_.c_str(), 12345, 12345), 0);
  ExpectRefused("owned by uid 12345");
}

}  // namespace
}  // namespace apimeter
