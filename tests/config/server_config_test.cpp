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

namespace apimeter::testing {
namespace {

const std::string kHash2 = "sha256:" + std::string(64, 'b');
const std::string kHash3 = "sha256:" + std::string(64, 'c');

// A machine with a customers file naming k_0123456789ab "Acme Corp".
FakeMachine WithCustomers() {
  FakeMachine m;
  m.files["/etc/apimeter/customers.yaml"] = "customers: { \"k_0123456789ab\": \"Acme Corp\" }\n";
  return m;
}
std::string WithCustomersFile(const std::string& server) {
  return std::string(kMinimalSources) + "customers_file: /etc/apimeter/customers.yaml\n" + server;
}

TEST(ServerConfigScopes, TokenEntriesCarryRoleAndCustomer) {
  FakeMachine m = WithCustomers();
  auto c = m.Load(WithCustomersFile("server:\n  tokens:\n    - \"" + kHash +
                                    "\"\n    - hash: \"" + kHash2 +
                                    "\"\n      customer: k_0123456789ab\n    - hash: \"" + kHash3 +
                                    "\"\n      role: viewer\n"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->server.tokens, std::vector<std::string>{kHash});  // plain: admin, all customers
  ASSERT_EQ(c->server.scoped_tokens.size(), 2u);
  const AccessGrantConfig& acme = c->server.scoped_tokens[0].grant;
  EXPECT_EQ(c->server.scoped_tokens[0].hash, kHash2);
  EXPECT_EQ(acme.role, "viewer");  // a customer scope makes a viewer
  EXPECT_EQ(acme.customer_name, "Acme Corp");  // stored under its display name
  EXPECT_EQ(acme.customer_id, "k_0123456789ab");
  const AccessGrantConfig& viewer = c->server.scoped_tokens[1].grant;
  EXPECT_EQ(viewer.role, "viewer");
  EXPECT_TRUE(viewer.customer_name.empty());
  // The effective config reads back to the same grants.
  auto again = m.Load(EffectiveConfigYaml(*c));
  ASSERT_TRUE(again.ok()) << again.status().message() << "\n" << EffectiveConfigYaml(*c);
  ASSERT_EQ(again->server.scoped_tokens.size(), 2u);
  EXPECT_EQ(again->server.scoped_tokens[0].grant.customer_name, "Acme Corp");
  EXPECT_EQ(again->server.scoped_tokens[1].grant.role, "viewer");
}

TEST(ServerConfigScopes, CustomerByNameOrBareId) {
  FakeMachine m = WithCustomers();
  auto c = m.Load(WithCustomersFile("server:\n  tokens:\n    - hash: \"" + kHash +
                                    "\"\n      customer: \"Acme Corp\"\n    - hash: \"" + kHash2 +
                                    "\"\n      customer: k_ffffffffffff\n"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->server.scoped_tokens[0].grant.customer_id, "k_0123456789ab");
  EXPECT_EQ(c->server.scoped_tokens[1].grant.customer_name, "k_ffffffffffff");
}

TEST(ServerConfigScopes, BadGrantsAreRefusedWithLineAndFix) {
  FakeMachine m = WithCustomers();
  // server: is line 5, tokens: line 6, the entry's first key line 7.
  const std::string base = WithCustomersFile("server:\n  tokens:\n    - hash: \"" + kHash + "\"\n");
  EXPECT_TRUE(FailsAt(m.Load(base + "      role: root\n"), 8, "admin or viewer"));
  EXPECT_TRUE(
      FailsAt(m.Load(base + "      role: admin\n      customer: k_0123456789ab\n"), 8, "viewer"));
  EXPECT_TRUE(FailsAt(m.Load(base + "      customer: \"Globex\"\n"), 8, "customers_file"));
  EXPECT_TRUE(FailsAt(m.Load(base + "      customer: other\n"), 8, "bucket of many"));
  EXPECT_TRUE(FailsAt(m.Load(base + "      customer: \"\"\n"), 8, "1 to 64"));
  EXPECT_TRUE(FailsAt(m.Load(base + "      scope: x\n"), 8, "unknown key 'scope'"));
  EXPECT_TRUE(FailsAt(m.Load(WithCustomersFile("server:\n  tokens:\n    - role: viewer\n")), 7,
                      "has no hash"));
  EXPECT_TRUE(FailsAt(m.Load(WithCustomersFile("server:\n  tokens:\n    - hash: \"sha256:x\"\n")),
                      7, "apimeter hash-token"));
  EXPECT_TRUE(FailsAt(m.Load(base + "    - \"" + kHash + "\"\n"), 8, "listed twice"));
}

TEST(ServerConfigScopes, TrustedHeader) {
  FakeMachine m = WithCustomers();
  auto c = m.Load(WithCustomersFile(
      "server:\n  trusted_header:\n    header: X-Forwarded-Email\n    proxies: [\"127.0.0.1\", "
      "\"::ffff:10.0.0.2\", \"::1\"]\n    unlisted: viewer\n    users:\n      - user: "
      "alice@example.com\n        role: admin\n      - user: ops@acme.example\n        customer: "
      "\"Acme Corp\"\n"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  const TrustedHeaderConfig& th = c->server.trusted_header;
  EXPECT_EQ(th.header, "X-Forwarded-Email");
  EXPECT_EQ(th.proxies, (std::vector<std::string>{"127.0.0.1", "10.0.0.2", "::1"}));
  EXPECT_EQ(th.unlisted, "viewer");
  ASSERT_EQ(th.users.size(), 2u);
  EXPECT_EQ(th.users[0].grant.role, "admin");
  EXPECT_EQ(th.users[1].grant.customer_id, "k_0123456789ab");
  auto again = m.Load(EffectiveConfigYaml(*c));
  ASSERT_TRUE(again.ok()) << again.status().message() << "\n" << EffectiveConfigYaml(*c);
  EXPECT_EQ(again->server.trusted_header.proxies, th.proxies);
  EXPECT_EQ(again->server.trusted_header.users.size(), 2u);
}

TEST(ServerConfigScopes, BadTrustedHeaderIsRefusedWithLineAndFix) {
  FakeMachine m;
  const std::string base = std::string(kMinimalSources) + "server:\n  trusted_header:\n";
  const std::string ok = "    header: X-Forwarded-User\n    proxies: [\"127.0.0.1\"]\n";
  EXPECT_TRUE(FailsAt(m.Load(base + "    proxies: [\"127.0.0.1\"]\n"), 5, "needs header"));
  EXPECT_TRUE(FailsAt(m.Load(base + "    header: X-Forwarded-User\n"), 5, "needs proxies"));
  EXPECT_TRUE(FailsAt(m.Load(base + "    header: Authorization\n    proxies: [\"127.0.0.1\"]\n"),
                      6, "does not read itself"));
  EXPECT_TRUE(FailsAt(m.Load(base + "    header: X-User\n    proxies: [\"localhost\"]\n"), 7,
                      "not an IP address"));
  EXPECT_TRUE(FailsAt(m.Load(base + ok + "    unlisted: everyone\n"), 8, "refuse, viewer or admin"));
  EXPECT_TRUE(FailsAt(m.Load(base + ok + "    users:\n      - role: admin\n"), 9, "needs user"));
  EXPECT_TRUE(FailsAt(m.Load(base + ok + "    users:\n      - user: a\n        customer: Globex\n"),
                      10, "customers_file"));
}

}  // namespace
}  // namespace apimeter::testing
