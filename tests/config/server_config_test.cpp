// The server: section (apimeter serve): defaults, every key, and errors.
#include <gtest/gtest.h>

#include "config/config.h"
#include "tests/config/config_test_util.h"

namespace apimeter::testing {
namespace {

const std::string kHash = "sha256:" + std::string(64, 'a');

TEST(ServerConfig, DefaultsWithoutSection) {
  FakeMachine m;
  auto c = m.Load(kMinimalSources);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->server.listen, "127.0.0.1:8080");
  EXPECT_TRUE(c->server.tokens.empty());
  EXPECT_EQ(c->server.session_ttl_s, 12 * 3600);
  EXPECT_TRUE(c->server.session_secret.empty());
  EXPECT_EQ(c->server.workers, 4);
}

TEST(ServerConfig, EveryKeyIsRead) {
  FakeMachine m;
  auto c =
      m.Load(std::string(kMinimalSources) + "server:\n  listen: \"0.0.0.0:9000\"\n  tokens: [\"" +
             kHash + "\"]\n  session_ttl: 2h\n  session_secret: \"0123456789abcdef0123\"\n"
                   "  workers: 9\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->server.listen, "0.0.0.0:9000");
  ASSERT_EQ(c->server.tokens.size(), 1u);
  EXPECT_EQ(c->server.tokens[0], kHash);
  EXPECT_EQ(c->server.session_ttl_s, 7200);
  EXPECT_EQ(c->server.session_secret, "0123456789abcdef0123");
  EXPECT_EQ(c->server.workers, 9);
  const std::string effective = EffectiveConfigYaml(*c);
  EXPECT_EQ(effective.find("0123456789abcdef0123"), std::string::npos) << effective;
  EXPECT_NE(effective.find(kHash), std::string::npos);
  EXPECT_NE(effective.find("workers: 9"), std::string::npos) << effective;
}

TEST(ServerConfig, ErrorsNameTheKeyAndLine) {
  FakeMachine m;
  const std::string base = std::string(kMinimalSources) + "server:\n";  // server: is line 4
  EXPECT_TRUE(FailsAt(m.Load(base + "  tokens: [\"plaintext-token\"]\n"), 5, "hash-token"));
  EXPECT_TRUE(FailsAt(m.Load(base + "  tokens: [\"sha256:ABC\"]\n"), 5, "sha256:<64 hex"));
  EXPECT_TRUE(FailsAt(m.Load(base + "  listen: localhost\n"), 5, "host:port"));
  EXPECT_TRUE(FailsAt(m.Load(base + "  session_ttl: 5s\n"), 5, "server.session_ttl"));
  EXPECT_TRUE(FailsAt(m.Load(base + "  session_secret: short\n"), 5, "at least 16 bytes"));
  EXPECT_TRUE(FailsAt(m.Load(base + "  tokenz: []\n"), 5, "tokens"));
  EXPECT_TRUE(FailsAt(m.Load(base + "  workers: 0\n"), 5, "server.workers"));
  EXPECT_TRUE(FailsAt(m.Load(base + "  workers: 65\n"), 5, "server.workers"));
}

}  // namespace
}  // namespace apimeter::testing
