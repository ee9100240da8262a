#include "server/auth.h"

#include <gtest/gtest.h>

namespace apimeter {
namespace {

TEST(AuthTest, Sha256MatchesKnownVector) {
  // FIPS 180-2 test vector for "abc".
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HashToken("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(AuthTest, IsTokenHashChecksShape) {
  EXPECT_TRUE(IsTokenHash(HashToken("x")));
  EXPECT_FALSE(IsTokenHash("sha256:abc"));
  EXPECT_FALSE(IsTokenHash("md5:" + std::string(64, 'a')));
  EXPECT_FALSE(IsTokenHash("sha256:" + std::string(64, 'G')));
}

TEST(AuthTest, TokenMatchesOnlyConfiguredTokens) {
  AuthConfig auth;
  auth.token_hashes = {HashToken("one"), HashToken("two")};
  EXPECT_TRUE(TokenMatches("one", auth));
  EXPECT_TRUE(TokenMatches("two", auth));
  EXPECT_FALSE(TokenMatches("three", auth));
  EXPECT_FALSE(TokenMatches("", auth));
  EXPECT_FALSE(TokenMatches(HashToken("one"), auth));  // the hash itself is not a token
}

TEST(AuthTest, SessionValueIsSignedAndExpires) {
  AuthConfig auth;
  auth.token_hashes = {HashToken("t")};
  auth.session_key = DeriveSessionKey("", auth.token_hashes);
  auth.session_ttl_s = 100;
  auto v = MakeSessionValue(auth, 1000);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(SessionValid(*v, auth, 1000));
  EXPECT_TRUE(SessionValid(*v, auth, 1099));
  EXPECT_FALSE(SessionValid(*v, auth, 1100));
  // Tampering with the expiry breaks the MAC.
  std::string tampered = *v;
  tampered[0] = tampered[0] == '9' ? '8' : '9';
  EXPECT_FALSE(SessionValid(tampered, auth, 1000));
  // Another key (another deployment, or rotated tokens) rejects it.
  AuthConfig other = auth;
  other.session_key = DeriveSessionKey("", {HashToken("u")});
  EXPECT_FALSE(SessionValid(*v, other, 1000));
  EXPECT_FALSE(SessionValid("garbage", auth, 1000));
  EXPECT_FALSE(SessionValid("", auth, 1000));
  // Two sessions differ (random nonce).
  EXPECT_NE(*v, *MakeSessionValue(auth, 1000));
}

TEST(AuthTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
}

}  // namespace
}  // namespace apimeter
