// SignInThrottle (bucket per client, bounded memory, rate-limited log
// lines) and the client keys it and the connection cap use.
#include "server/sign_in_throttle.h"

#include <gtest/gtest.h>

#include "server/client_address.h"

namespace apimeter {
namespace {

namespace ip = boost::asio::ip;

SignInThrottle::Options Small() {
  SignInThrottle::Options o;
  o.burst = 3;
  o.refill_ms = 1000;
  o.max_clients = 4;
  o.log_period_ms = 10000;
  o.max_lines_per_period = 2;
  return o;
}

TEST(SignInThrottleTest, ABurstThenOneTryPerRefill) {
  SignInThrottle t(Small());
  const int64_t t0 = 1000000;
  EXPECT_EQ(t.RetryAfterMs("a", t0), 0);
  EXPECT_EQ(t.Failure("a", t0).retry_after_ms, 0);
  EXPECT_EQ(t.Failure("a", t0).retry_after_ms, 0);
  EXPECT_EQ(t.Failure("a", t0).retry_after_ms, 1000);  // the burst is spent
  EXPECT_EQ(t.RetryAfterMs("a", t0), 1000);
  EXPECT_EQ(t.RetryAfterMs("a", t0 + 400), 600);
  EXPECT_EQ(t.RetryAfterMs("a", t0 + 1000), 0);
  // A client that keeps failing gets one try per refill, no more.
  EXPECT_EQ(t.Failure("a", t0 + 1000).retry_after_ms, 1000);
  EXPECT_EQ(t.RetryAfterMs("a", t0 + 1999), 1);
  // Others are untouched; a quiet client refills completely.
  EXPECT_EQ(t.RetryAfterMs("b", t0), 0);
  EXPECT_EQ(t.Failure("a", t0 + 10000).retry_after_ms, 0);
}

TEST(SignInThrottleTest, MemoryIsBoundedForgettingTheLeastRecentFailure) {
  SignInThrottle t(Small());
  for (int i = 0; i < 3; ++i) t.Failure("old", 0);
  EXPECT_GT(t.RetryAfterMs("old", 0), 0);
  for (int c = 0; c < 100; ++c) t.Failure("client-" + std::to_string(c), 1);
  EXPECT_EQ(t.clients(), 4u);
  EXPECT_EQ(t.RetryAfterMs("old", 1), 0);  // forgotten
  // A client that keeps failing stays near the front and is kept.
  SignInThrottle u(Small());
  for (int c = 0; c < 100; ++c) {
    u.Failure("busy", c);
    u.Failure("client-" + std::to_string(c), c);
  }
  EXPECT_GT(u.RetryAfterMs("busy", 100), 0);
}

TEST(SignInThrottleTest, LogLinesAreRateLimitedPerClientAndOverall) {
  SignInThrottle t(Small());
  SignInThrottle::Note n = t.Failure("a", 0);
  EXPECT_TRUE(n.log);
  EXPECT_EQ(n.failures, 1u);
  for (int i = 1; i < 5; ++i) EXPECT_FALSE(t.Failure("a", i).log);
  EXPECT_TRUE(t.Failure("b", 5).log);
  EXPECT_FALSE(t.Failure("c", 6).log);  // two lines per period at most
  EXPECT_FALSE(t.Failure("d", 7).log);
  // Next period: "a" reports the failures it had since its line.
  n = t.Failure("a", 10000);
  EXPECT_TRUE(n.log);
  EXPECT_EQ(n.failures, 5u);
  EXPECT_EQ(n.lines_left_out, 2u);
  n = t.Failure("c", 10001);
  EXPECT_TRUE(n.log);
  EXPECT_EQ(n.failures, 2u);
  EXPECT_EQ(n.lines_left_out, 0u);
}

TEST(ClientAddressTest, KeysAndForwardedClients) {
  EXPECT_EQ(ClientKey(ip::make_address("192.0.2.7")), "192.0.2.7");
  EXPECT_EQ(ClientKey(ip::make_address("::ffff:192.0.2.7")), "192.0.2.7");
  EXPECT_EQ(ClientKey(ip::make_address("2001:db8:1:2:aaaa:bbbb:cccc:dddd")), "2001:db8:1:2::/64");
  EXPECT_EQ(ClientKey(ip::make_address("2001:db8:1:2::1")),
            ClientKey(ip::make_address("2001:db8:1:2:ffff::9")));
  EXPECT_NE(ClientKey(ip::make_address("2001:db8:1:2::1")),
            ClientKey(ip::make_address("2001:db8:1:3::1")));

  const auto local = ip::make_address("127.0.0.1"), remote = ip::make_address("198.51.100.4");
  EXPECT_EQ(SignInClient(local, ""), "127.0.0.1");
  EXPECT_EQ(SignInClient(local, "203.0.113.5"), "203.0.113.5");
  EXPECT_EQ(SignInClient(local, "10.0.0.1, 203.0.113.5 "), "203.0.113.5");  // the proxy's own entry
  EXPECT_EQ(SignInClient(local, "garbage"), "127.0.0.1");
  EXPECT_EQ(SignInClient(ip::make_address("::1"), "2001:db8::5"), "2001:db8::/64");
  // A remote client's own X-Forwarded-For is not believed.
  EXPECT_EQ(SignInClient(remote, "203.0.113.5"), "198.51.100.4");
}

}  // namespace
}  // namespace apimeter
