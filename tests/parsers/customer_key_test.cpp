// CustomerKeyExtractor: customer_match (one capture group) and customer_jwt_claim (an
// unverified JWT's payload claim): good tokens, every kind of malformed token, missing
// claims, regexes that do not match, and arbitrary bytes.
#include "parsers/customer_key.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "tests/parsers/alloc_counter.h"
#include "tests/support/jwt.h"

namespace apimeter {
namespace {

using testing::Base64Url;
using testing::Jwt;

constexpr char kPayload[] =
    R"({"iss":"https://auth.example.com/","sub":"client-42","azp":"app-7",)"
    R"("client_id":"svc-9","aud":["api","web"],"exp":1760000000,"scope":"read write",)"
    R"("act":{"sub":"nested-is-not-top-level"},"n":null})";

CustomerKeyExtractor MustCompile(std::string match, std::string claim) {
  auto x = CustomerKeyExtractor::Compile({std::move(match), std::move(claim)});
  EXPECT_TRUE(x.ok()) << x.status().message();
  return x.ok() ? *x : CustomerKeyExtractor();
}

// The key, or "!<error name>".
std::string KeyOf(const CustomerKeyExtractor& x, std::string_view value) {
  std::string scratch;
  std::string_view key;
  CustomerKeyError error;
  if (!x.Extract(value, &scratch, &key, &error)) {
    return "!" + std::string(CustomerKeyErrorName(error));
  }
  return std::string(key);
}

TEST(CustomerKey, IdentityWithoutOptions) {
  const CustomerKeyExtractor x;
  EXPECT_FALSE(x.active());
  EXPECT_EQ(KeyOf(x, "sk_live_123"), "sk_live_123");
}

TEST(CustomerKey, JwtClaims) {
  const std::string token = Jwt(kPayload);
  EXPECT_EQ(KeyOf(MustCompile("", "sub"), token), "client-42");
  EXPECT_EQ(KeyOf(MustCompile("", "azp"), token), "app-7");
  EXPECT_EQ(KeyOf(MustCompile("", "client_id"), token), "svc-9");
  EXPECT_EQ(KeyOf(MustCompile("", "exp"), token), "1760000000");  // a number, as written
  // The Authorization header as logged: the scheme is skipped (any case).
  EXPECT_EQ(KeyOf(MustCompile("", "sub"), "Bearer " + token), "client-42");
  EXPECT_EQ(KeyOf(MustCompile("", "sub"), "bearer  " + token), "client-42");
  // customer_match first, then the claim of what it captured.
  const CustomerKeyExtractor both = MustCompile("^Bearer (\\S+)$", "sub");
  EXPECT_TRUE(both.active());
  EXPECT_EQ(KeyOf(both, "Bearer " + token), "client-42");
  EXPECT_EQ(KeyOf(both, "Basic dXNlcjpwYXNz"), "!match_failed");
}

TEST(CustomerKey, TwoTokensOfOneClientGiveOneKey) {
  const CustomerKeyExtractor x = MustCompile("", "sub");
  const std::string a = Jwt(R"({"sub":"client-42","iat":1,"jti":"a"})");
  const std::string b = Jwt(R"({"jti":"b","iat":2,"sub":"client-42"})");
  ASSERT_NE(a, b);
  EXPECT_EQ(KeyOf(x, a), KeyOf(x, b));
}

TEST(CustomerKey, JwtStringsAreUnescapedAndPaddingIsAccepted) {
  const CustomerKeyExtractor x = MustCompile("", "sub");
  EXPECT_EQ(KeyOf(x, Jwt(R"({"sub":"a\"b\\c\/d\u00e9\ud83d\ude00\n"})")),
            "a\"b\\c/d\xc3\xa9\xf0\x9f\x98\x80\n");
  EXPECT_EQ(KeyOf(x, Jwt(R"({"s\u0075b":"escaped-key"})")), "escaped-key");
  std::string padded = Base64Url("{}") + "." + Base64Url(R"({"sub":"p"})") + "==.sig";
  EXPECT_EQ(KeyOf(x, padded), "p");
  EXPECT_EQ(KeyOf(x, Base64Url("{}") + "." + Base64Url(R"({"sub":"unsigned"})") + "."),
            "unsigned");  // alg none: empty signature
  EXPECT_EQ(KeyOf(x, Jwt(" \n{ \"sub\" : \"spaced\" } ")), "spaced");
}

TEST(CustomerKey, MissingOrUnusableClaim) {
  const std::string token = Jwt(kPayload);
  EXPECT_EQ(KeyOf(MustCompile("", "tenant"), token), "!jwt_no_claim");
  EXPECT_EQ(KeyOf(MustCompile("", "aud"), token), "!jwt_no_claim");  // an array
  EXPECT_EQ(KeyOf(MustCompile("", "act"), token), "!jwt_no_claim");  // an object
  EXPECT_EQ(KeyOf(MustCompile("", "n"), token), "!jwt_no_claim");    // null
  EXPECT_EQ(KeyOf(MustCompile("", "sub"), Jwt(R"({"sub":""})")), "!jwt_no_claim");
  EXPECT_EQ(KeyOf(MustCompile("", "sub"), Jwt(R"({"act":{"sub":"x"}})")), "!jwt_no_claim");
  EXPECT_EQ(KeyOf(MustCompile("", "sub"), Jwt("{}")), "!jwt_no_claim");
}

TEST(CustomerKey, MalformedTokens) {
  const CustomerKeyExtractor x = MustCompile("", "sub");
  const std::string h = Base64Url(R"({"alg":"HS256"})");
  const std::string good = Base64Url(R"({"sub":"a"})");
  for (const std::string& bad : std::vector<std::string>{
           "not-a-jwt",
           "Bearer",
           h + "." + good,                        // two parts
           h + "." + good + ".sig.extra.parts",   // JWE-like, five parts
           "." + good + ".sig",                   // no header
           h + "..sig",                           // no payload
           h + "." + good + "!.sig",              // not base64url
           h + "." + good.substr(0, 1) + ".sig",  // impossible length
           h + "!." + good + ".sig",              // bad header bytes
           h + "." + good + ".s+g",               // bad signature bytes (base64, not url)
           h + "." + Base64Url("not json") + ".sig",
           h + "." + Base64Url(R"(["sub","a"])") + ".sig",       // not an object
           h + "." + Base64Url(R"({"sub":"a")") + ".sig",        // truncated
           h + "." + Base64Url(R"({"sub":"a"} x)") + ".sig",     // trailing bytes
           h + "." + Base64Url(R"({"sub":"a\q"})") + ".sig",     // bad escape
           h + "." + Base64Url(R"({"sub":"a\u12"})") + ".sig",   // short \u
           h + "." + Base64Url("{\"sub\":\"a\x01\"}") + ".sig",  // raw control byte
           h + "." + Base64Url(R"({"sub":01x})") + ".sig",
           h + "." + Base64Url(R"({"x":tru,"sub":"a"})") + ".sig",
           h + "." + Base64Url(std::string(100, '[') + std::string(100, ']')) + ".sig",
           h + "." + Base64Url("{\"d\":" + std::string(100, '[') + std::string(100, ']') + "}") +
               ".sig",  // nested too deep
       }) {
    EXPECT_EQ(KeyOf(x, bad), "!jwt_malformed") << bad;
  }
}

TEST(CustomerKey, MatchTakesTheGroup) {
  const CustomerKeyExtractor x = MustCompile("^Bearer (.+)$", "");
  EXPECT_TRUE(x.active());
  EXPECT_EQ(KeyOf(x, "Bearer abc.def"), "abc.def");
  EXPECT_EQ(KeyOf(x, "Token abc"), "!match_failed");
  EXPECT_EQ(KeyOf(MustCompile("key=([a-z0-9]*)", ""), "key=&x=1"), "!match_failed");  // empty
  EXPECT_EQ(KeyOf(MustCompile("tenant-(\\d+)", ""), "host tenant-17.example"), "17");
  // Bytes, not UTF-8: an escaped byte as logged matches as its four characters.
  EXPECT_EQ(KeyOf(MustCompile("^u=(.*)$", ""), "u=\\xC3\\xA9"), "\\xC3\\xA9");
}

TEST(CustomerKey, RegexMustCompileWithExactlyOneGroup) {
  auto none = CustomerKeyExtractor::Compile({"^Bearer .+$", ""});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("has 0 capture groups; it needs exactly one"),
            std::string::npos)
      << none.status().message();
  auto two = CustomerKeyExtractor::Compile({"^(Bearer) (.+)$", ""});
  ASSERT_FALSE(two.ok());
  EXPECT_NE(two.status().message().find("has 2 capture groups"), std::string::npos);
  auto bad = CustomerKeyExtractor::Compile({"^Bearer (.+$", ""});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("does not compile: missing )"), std::string::npos)
      << bad.status().message();
  EXPECT_TRUE(CustomerKeyExtractor::Compile({"^(?:Bearer|Token) (.+)$", ""}).ok());
}

TEST(CustomerKey, ScratchIsReusedAcrossTokens) {
  const CustomerKeyExtractor x = MustCompile("", "sub");
  std::string scratch;
  std::string_view key;
  CustomerKeyError error;
  const std::string token = Jwt(kPayload);
  ASSERT_TRUE(x.Extract(token, &scratch, &key, &error));
  const char* buffer = scratch.data();
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(x.Extract(token, &scratch, &key, &error));
    ASSERT_FALSE(x.Extract("Bearer x.y.z", &scratch, &key, &error));
  }
  EXPECT_EQ(scratch.data(), buffer);  // no reallocation once it has grown
}

TEST(CustomerKey, NoAllocationOnceScratchHasGrown) {
  const CustomerKeyExtractor jwt = MustCompile("", "sub");
  const CustomerKeyExtractor bearer = MustCompile("^Bearer (.+)$", "sub");
  const std::string token = "Bearer " + Jwt(kPayload);
  std::string scratch;
  std::string_view key;
  CustomerKeyError error;
  ASSERT_TRUE(bearer.Extract(token, &scratch, &key, &error));  // warm-up: scratch, RE2 DFA
  bool ok = true;
  testing::StartCountingAllocations();
  for (int i = 0; i < 100; ++i) {
    ok = ok && jwt.Extract(token, &scratch, &key, &error);
    ok = ok && bearer.Extract(token, &scratch, &key, &error);
    ok = ok && !jwt.Extract("Bearer a.b.c", &scratch, &key, &error);
  }
  EXPECT_EQ(testing::StopCountingAllocations(), 0);
  EXPECT_TRUE(ok);
}

TEST(CustomerKey, ArbitraryBytesNeverCrash) {
  const CustomerKeyExtractor x = MustCompile("", "sub");
  std::mt19937 rng(7);
  const std::string token = Jwt(kPayload);
  std::string scratch;
  int ok = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string v = token;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < edits; ++k) {
      const size_t at = rng() % v.size();
      switch (rng() % 3) {
        case 0:
          v[at] = static_cast<char>(rng());
          break;
        case 1:
          v.erase(at, 1 + rng() % 8);
          break;
        default:
          v.insert(at, 1, "._-=A\"{"[rng() % 7]);
      }
      if (v.empty()) v = "x";
    }
    std::string_view key;
    CustomerKeyError error;
    ok += x.Extract(v, &scratch, &key, &error);
  }
  EXPECT_GT(ok, 0);  // edits in the signature keep the claim readable
}

}  // namespace
}  // namespace apimeter
