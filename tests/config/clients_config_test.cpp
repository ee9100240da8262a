// The `clients:` section and limits.clients_per_day (issue 18 part 2): rules
// load in order, and a bad one is refused with file:line and how to fix it.
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"

namespace apimeter {
namespace {

constexpr const char* kSources =
    "sources:\n  - paths: [\"/var/log/nginx/access.log\"]\n    log_format: combined\n";

Result<Config> Load(const std::string& rest) {
  return LoadConfigString(std::string(kSources) + rest, "/etc/apimeter.yaml");
}

TEST(ClientsConfig, RulesLoadInOrderAndDefaultsHold) {
  auto c = Load(
      "limits:\n  clients_per_day: 300\n"
      "clients:\n  rules:\n    - product: acme-python\n      version: major\n"
      "    - product: ACME-Java\n      name: acme-java-sdk\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->limits.clients_per_day, 300);
  ASSERT_EQ(c->client_rules.size(), 2u);
  EXPECT_EQ(c->client_rules[0].product, "acme-python");
  EXPECT_EQ(c->client_rules[0].version, ClientVersion::kMajor);
  EXPECT_EQ(c->client_rules[1].name, "acme-java-sdk");
  EXPECT_EQ(c->client_rules[1].version, ClientVersion::kMajorMinor);
  auto d = Load("");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->limits.clients_per_day, 1000);
  EXPECT_TRUE(d->client_rules.empty());
}

TEST(ClientsConfig, BadRulesAreRefusedWithFileAndLine) {
  struct Case {
    std::string yaml, want;
  };
  const Case cases[] = {
      {"clients:\n  rules:\n    - product: acme\n      version: minor\n",
       "/etc/apimeter.yaml:7: clients.rules[].version: version must be major.minor, major or none"},
      {"clients:\n  rules:\n    - product: \"acme python\"\n", "/etc/apimeter.yaml:6:"},
      {"clients:\n  rules:\n    - version: major\n", "product must be"},
      {"clients:\n  rules:\n    - product: acme\n      colour: red\n", "colour"},
      {"clients:\n  rules: acme\n", "must be a list"},
      {"clients:\n  rulez: []\n", "rulez"},
      {"limits:\n  clients_per_day: 0\n", "limits.clients_per_day"},
  };
  for (const Case& c : cases) {
    auto r = Load(c.yaml);
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_NE(r.status().message().find(c.want), std::string::npos)
        << c.yaml << "\n-> " << r.status().message();
  }
}

}  // namespace
}  // namespace apimeter
