#include "server/auth.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/server/test_hmac.h"

namespace apimeter {
namespace {

AuthConfig TestAuth() {
  AuthConfig auth;
  auth.token_hashes = {HashToken("t")};
  auth.session_key = "test-session-key-0123456789abcdef";
  return auth;
}

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
  AuthConfig auth = TestAuth();
  auth.session_ttl_s = 100;
  auto v = MakeSessionValue(auth, 1000);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->rfind("1000.1100.", 0), 0u) << *v;  // issued.expiry.nonce.mac
  EXPECT_TRUE(SessionValid(*v, auth, 1000));
  EXPECT_TRUE(SessionValid(*v, auth, 1099));
  EXPECT_FALSE(SessionValid(*v, auth, 1100));
  // Tampering with the expiry breaks the MAC.
  std::string tampered = *v;
  tampered[5] = '9';
  EXPECT_FALSE(SessionValid(tampered, auth, 1000));
  // Another key (another deployment, or a rotated key) rejects it.
  AuthConfig other = auth;
  other.session_key = "another-session-key-0123456789ab";
  EXPECT_FALSE(SessionValid(*v, other, 1000));
  EXPECT_FALSE(SessionValid("garbage", auth, 1000));
  EXPECT_FALSE(SessionValid("", auth, 1000));
  // Two sessions differ (random nonce).
  EXPECT_NE(*v, *MakeSessionValue(auth, 1000));
  // No key, no session.
  AuthConfig keyless = auth;
  keyless.session_key.clear();
  EXPECT_FALSE(MakeSessionValue(keyless, 1000).ok());
  EXPECT_FALSE(SessionValid(*v, keyless, 1000));
}

// Issue 13, item 2: a signed expiry of year 2255 used to be accepted, so
// session_ttl was not enforced. The issue time is now signed too and the
// cookie lives at most session_ttl after it.
TEST(AuthTest, ExpiryBeyondIssuePlusTtlIsRefusedEvenWhenSigned) {
  AuthConfig auth = TestAuth();
  auth.session_ttl_s = 3600;
  const int64_t now = 1764000000;
  // The nonce and, after it, the role and an empty customer scope.
  const std::string nonce = std::string(64, 'a') + ".admin..";
  auto cookie = [&](const std::string& payload) {
    return payload + "." + testing::HmacSha256Hex(auth.session_key, payload);
  };
  const std::string year_2255 = "9000000000";
  // The attack as reported, in the old "<expiry>.<nonce>.<mac>" shape.
  EXPECT_FALSE(SessionValid(cookie(year_2255 + "." + nonce), auth, now));
  // And in the new shape: issued now, expiring in 2255.
  EXPECT_FALSE(SessionValid(cookie(std::to_string(now) + "." + year_2255 + "." + nonce), auth, now));
  // One second beyond the ttl.
  const std::string issued = std::to_string(now - 10);
  EXPECT_FALSE(SessionValid(cookie(issued + "." + std::to_string(now - 10 + 3601) + "." + nonce),
                            auth, now));
  EXPECT_TRUE(SessionValid(cookie(issued + "." + std::to_string(now - 10 + 3600) + "." + nonce),
                           auth, now));
  // Issued in the future (beyond the allowed clock skew), or expiring before issue.
  EXPECT_FALSE(SessionValid(
      cookie(std::to_string(now + 600) + "." + std::to_string(now + 900) + "." + nonce), auth, now));
  EXPECT_TRUE(SessionValid(
      cookie(std::to_string(now + 30) + "." + std::to_string(now + 900) + "." + nonce), auth, now));
  EXPECT_FALSE(SessionValid(cookie(issued + "." + issued + "." + nonce), auth, now));
  // Signed but malformed times.
  for (const std::string& times : std::vector<std::string>{
           "-5." + std::to_string(now + 60), "x." + std::to_string(now),
           issued + ".+" + std::to_string(now + 60), issued + ".99999999999999999999", issued,
           ""}) {
    EXPECT_FALSE(SessionValid(cookie(times + "." + nonce), auth, now)) << times;
  }
  // Lowering session_ttl ends the sessions made under the longer one.
  auto v = MakeSessionValue(auth, now);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(SessionValid(*v, auth, now + 1));
  auth.session_ttl_s = 600;
  EXPECT_FALSE(SessionValid(*v, auth, now + 1));
}

TEST(AuthTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
}

}  // namespace
}  // namespace apimeter

namespace apimeter {
namespace {

// Issue 18: a token's role and customer scope ride in the signed part of
// its session; each grant is found by its own hash.
TEST(AuthTest, GrantsAndScopedSessions) {
  AuthConfig auth;
  auth.session_key = "auth-test-session-key-0123456789abcdef";
  auth.token_hashes = {HashToken("admin")};
  auth.grants = {{HashToken("acme"), Access{Role::kViewer, "Acme. Corp", "k_0123456789ab", ""}},
                 {HashToken("viewer"), Access{Role::kViewer, "", "", ""}}};
  ASSERT_TRUE(MatchToken("admin", auth));
  EXPECT_EQ(MatchToken("admin", auth)->role, Role::kAdmin);
  EXPECT_FALSE(MatchToken("admin", auth)->scoped());
  EXPECT_EQ(MatchToken("acme", auth)->customer, "Acme. Corp");
  EXPECT_EQ(MatchToken("viewer", auth)->role, Role::kViewer);
  EXPECT_FALSE(MatchToken("nobody", auth));
  EXPECT_FALSE(MatchToken("", auth));
  for (const char* token : {"admin", "acme", "viewer"}) {
    const Access a = *MatchToken(token, auth);
    auto v = MakeSessionValue(auth, 1000, a);
    ASSERT_TRUE(v.ok());
    auto back = SessionAccess(*v, auth, 1001);
    ASSERT_TRUE(back) << *v;
    EXPECT_EQ(back->role, a.role);
    EXPECT_EQ(back->customer, a.customer);  // a name with a dot survives the encoding
    EXPECT_EQ(back->customer_id, a.customer_id);
  }
}

}  // namespace
}  // namespace apimeter
