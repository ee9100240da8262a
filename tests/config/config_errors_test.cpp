// Every class of config error is refused at load with "<file>:<line>: <what>; <fix>",
// and the line is the one the operator must edit.
#include <cctype>
#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "config/config.h"
#include "tests/config/config_test_util.h"

namespace apimeter::testing {
namespace {

class ConfigErrors : public ::testing::Test {
 protected:
  Result<Config> Load(const std::string& yaml) { return machine_.Load(yaml); }
  FakeMachine machine_;
};

TEST_F(ConfigErrors, YamlSyntaxErrorHasItsLine) {
  const std::string yaml = std::string(kMinimalSources) +  // lines 1-3
                           "redis:\n"                      // 4
                           "  url: [redis://x\n"           // 5: flow list never closed
                           "limits: {}\n";                 // 6
  Result<Config> r = Load(yaml);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("YAML syntax error"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(r.status().message().rfind(std::string(kConfigName) + ":", 0), 0u);
}

TEST_F(ConfigErrors, BadIndentationIsASyntaxErrorAtItsLine) {
  const std::string yaml = std::string(kMinimalSources) +  // 1-3
                           "limits:\n"                     // 4
                           "  memory_mb: 10\n"             // 5
                           " endpoints_per_day: 5\n";      // 6: wrong indentation
  EXPECT_TRUE(FailsAt(Load(yaml), 6, "YAML syntax error"));
}

TEST_F(ConfigErrors, UnknownTopLevelKeySuggestsNearest) {
  const std::string yaml = std::string(kMinimalSources) +  // 1-3
                           "retension:\n"                  // 4
                           "  minute: 48h\n";
  Result<Config> r = Load(yaml);
  EXPECT_TRUE(FailsAt(r, 4, "unknown key 'retension'; did you mean 'retention'?"));
  EXPECT_EQ(r.status().message(),
            std::string(kConfigName) + ":4: unknown key 'retension'; did you mean 'retention'?");
}

TEST_F(ConfigErrors, UnknownNestedKeySuggestsNearestInItsSection) {
  const std::string yaml = std::string(kMinimalSources) +  // 1-3
                           "redis:\n"                      // 4
                           "  prefix: x\n"                 // 5
                           "  urll: redis://h:6379\n";     // 6
  EXPECT_TRUE(FailsAt(Load(yaml), 6, "unknown key 'urll' in 'redis'; did you mean 'url'?"));
}

TEST_F(ConfigErrors, UnknownKeyWithoutNearMatchListsKnownKeys) {
  const std::string yaml = std::string(kMinimalSources) +  // 1-3
                           "agent:\n"                      // 4
                           "  zzzzzzzz: 1\n";              // 5
  EXPECT_TRUE(FailsAt(Load(yaml), 5, "known keys are: flush_interval from_start"));
}

TEST_F(ConfigErrors, UnknownKeyInsideASource) {
  const std::string yaml =
      "sources:\n"                         // 1
      "  - paths: [\"/var/log/a.log\"]\n"  // 2
      "    log_fromat: combined\n";        // 3
  EXPECT_TRUE(FailsAt(Load(yaml), 3, "did you mean 'log_format'?"));
}

TEST_F(ConfigErrors, DuplicateKeyNamesTheFirstLine) {
  const std::string yaml = std::string(kMinimalSources) +  // 1-3
                           "limits:\n"                     // 4
                           "  memory_mb: 10\n"             // 5
                           "  memory_mb: 20\n";            // 6
  EXPECT_TRUE(FailsAt(Load(yaml), 6, "appears twice (first on line 5)"));
}

TEST_F(ConfigErrors, WrongTypes) {
  EXPECT_TRUE(FailsAt(Load(std::string(kMinimalSources) + "limits:\n  memory_mb: lots\n"), 5,
                      "'limits.memory_mb' must be a whole number, got 'lots'"));
  EXPECT_TRUE(FailsAt(Load(std::string(kMinimalSources) + "limits: [1, 2]\n"), 4,
                      "'limits' must be a mapping"));
  EXPECT_TRUE(FailsAt(Load(std::string(kMinimalSources) + "agent:\n  from_start: maybe\n"), 5,
                      "'agent.from_start' must be true or false"));
  EXPECT_TRUE(FailsAt(Load(std::string(kMinimalSources) + "redis:\n  url: {a: 1}\n"), 5,
                      "'redis.url' must be a single value, got a mapping"));
  EXPECT_TRUE(FailsAt(Load("sources:\n  - paths: {a: 1}\n"), 2, "'paths' must be a list"));
  EXPECT_TRUE(FailsAt(Load("sources: /var/log/x\n"), 1, "'sources' must be a non-empty list"));
  EXPECT_TRUE(FailsAt(Load("sources:\n  - /var/log/x\n"), 2, "each source must be a mapping"));
}

TEST_F(ConfigErrors, KeyWithNoValueIsReportedAtTheKey) {
  const std::string yaml = std::string(kMinimalSources) +  // 1-3
                           "redis:\n"                      // 4
                           "  url:\n"                      // 5
                           "  prefix: x\n";                // 6
  EXPECT_TRUE(FailsAt(Load(yaml), 5, "'redis.url' has no value"));
}

TEST_F(ConfigErrors, BadDurations) {
  const std::string head = std::string(kMinimalSources) + "retention:\n";  // 1-4
  EXPECT_TRUE(FailsAt(Load(head + "  hour: 48\n"), 5, "needs a unit"));
  EXPECT_TRUE(FailsAt(Load(head + "  hour: 5x\n"), 5, "retention.hour: duration '5x'"));
  EXPECT_TRUE(FailsAt(Load(head + "  hour: -5h\n"), 5, "duration '-5h'"));
  EXPECT_TRUE(FailsAt(Load(head + "  hour: 0s\n"), 5, "'retention.hour' must be between 1s"));
  EXPECT_TRUE(FailsAt(Load(std::string(kMinimalSources) + "agent:\n  flush_interval: 2\n"), 5,
                      "agent.flush_interval: duration '2' needs a unit"));
  EXPECT_TRUE(FailsAt(Load(std::string(kMinimalSources) + "redis:\n  command_timeout: 1h\n"), 5,
                      "'redis.command_timeout' must be between 1ms and 10m"));
}

TEST_F(ConfigErrors, StorageSchemaIsOneOrTwo) {
  for (const char* bad : {"3", "0", "two", "1.5"}) {
    SCOPED_TRACE(bad);
    EXPECT_TRUE(FailsAt(Load(std::string(kMinimalSources) + "redis:\n  schema: " + bad + "\n"), 5,
                        "redis.schema must be 1 (v1: hashes) or 2 (v2: blocks"));
  }
  EXPECT_TRUE(FailsAt(Load(std::string(kMinimalSources) + "redis:\n  schema: 3\n"), 5,
                      "`apimeter migrate`"));
}

TEST_F(ConfigErrors, LogFormatErrorsUseTheParsersMessage) {
  const std::string yaml =
      "sources:\n"                                                                        // 1
      "  - paths: [\"/var/log/nginx/api.log\"]\n"                                         // 2
      "    log_format: '$remote_addr [$time_local] \"$request\" $status ${bogus_var'\n";  // 3
  Result<Config> r = Load(yaml);
  EXPECT_TRUE(FailsAt(r, 3, "log_format: "));
  EXPECT_TRUE(FailsAt(r, 3, "unterminated '${' at column 47"));
}

TEST_F(ConfigErrors, CustomerExtractionKeys) {
  const std::string head =
      "sources:\n"                                                                       // 1
      "  - paths: [\"/var/log/nginx/api.log\"]\n"                                        // 2
      "    log_format: '[$time_local] \"$request\" $status \"$http_authorization\"'\n";  // 3
  const std::string with_customer = head + "    customer: $http_authorization\n";        // 4
  EXPECT_TRUE(FailsAt(Load(head + "    customer_match: '^Bearer (.+)$'\n"), 4,
                      "'customer_match' needs 'customer'"));
  EXPECT_TRUE(FailsAt(Load(head + "    customer_jwt_claim: sub\n"), 4,
                      "'customer_jwt_claim' needs 'customer'"));
  EXPECT_TRUE(FailsAt(Load(with_customer + "    customer_match: '^Bearer (.+$'\n"), 5,
                      "customer_match '^Bearer (.+$' does not compile: missing )"));
  EXPECT_TRUE(FailsAt(Load(with_customer + "    customer_match: '^Bearer .+$'\n"), 5,
                      "has 0 capture groups; it needs exactly one"));
  EXPECT_TRUE(FailsAt(Load(with_customer + "    customer_match: '^(Bearer|Token) (.+)$'\n"), 5,
                      "has 2 capture groups"));
  EXPECT_TRUE(FailsAt(Load(with_customer + "    customer_match: ''\n"), 5,
                      "customer_match must be an RE2 regex"));
  EXPECT_TRUE(FailsAt(Load(with_customer + "    customer_jwt_claim: 'client id'\n"), 5,
                      "customer_jwt_claim must be a claim name"));
  EXPECT_TRUE(FailsAt(Load(with_customer + "    customer_jwt_claim: ''\n"), 5,
                      "customer_jwt_claim must be a claim name"));
  EXPECT_TRUE(Load(with_customer + "    customer_match: '^Bearer (.+)$'\n"
                                   "    customer_jwt_claim: sub\n")
                  .ok());
}

TEST_F(ConfigErrors, VariableRolesMustAppearInTheFormat) {
  const std::string yaml =
      "# api logs\n"                               // 1
      "sources:\n"                                 // 2
      "  - paths: [\"/var/log/nginx/api.log\"]\n"  // 3: the source's line
      "    log_format: combined\n"                 // 4
      "    customer: $http_x_api_key\n";           // 5
  EXPECT_TRUE(FailsAt(Load(yaml), 5,
                      "customer variable '$http_x_api_key' does not appear in the log_format of "
                      "the source on line 3"));
}

TEST_F(ConfigErrors, VariableRolesNeedADollarAndAnAllowedVariable) {
  const std::string head =
      "sources:\n"                                 // 1
      "  - paths: [\"/var/log/nginx/api.log\"]\n"  // 2
      "    log_format: combined\n";                // 3
  EXPECT_TRUE(
      FailsAt(Load(head + "    latency: request_time\n"), 4, "write e.g. latency: $request_time"));
  EXPECT_TRUE(FailsAt(Load(head + "    latency: $status\n"), 4,
                      "'latency' must be $request_time or $upstream_response_time"));
  EXPECT_TRUE(FailsAt(Load(head + "    bytes_out: $request_length\n"), 4,
                      "'bytes_out' must be $bytes_sent or $body_bytes_sent"));
  EXPECT_TRUE(
      FailsAt(Load(head + "    escape: html\n"), 4, "escape must be default, json or none"));
}

TEST_F(ConfigErrors, UnparseableRedisUrlDoesNotShowThePassword) {
  const std::string yaml = std::string(kMinimalSources) +               // 1-3
                           "redis:\n"                                   // 4
                           "  url: \"redis://:hunter2@host:99999\"\n";  // 5: port out of range
  Result<Config> r = Load(yaml);
  EXPECT_TRUE(FailsAt(r, 5, "redis.url"));
  EXPECT_EQ(r.status().message().find("hunter2"), std::string::npos) << r.status().message();
  EXPECT_TRUE(FailsAt(Load(std::string(kMinimalSources) + "redis:\n  url: http://h:6379\n"), 5,
                      "unknown scheme"));
}

TEST_F(ConfigErrors, RedisPrefixAndClusterSeeds) {
  EXPECT_TRUE(FailsAt(Load(std::string(kMinimalSources) + "redis:\n  prefix: \"a{b}\"\n"), 5,
                      "redis.prefix must be"));
  EXPECT_TRUE(FailsAt(Load(std::string(kMinimalSources) + "redis:\n  cluster: [\"h1:6379\", h2]\n"),
                      5, "redis.cluster entry 'h2' is not host:port"));
  EXPECT_TRUE(FailsAt(Load(std::string(kMinimalSources) +
                           "redis:\n  url: redis://h:6379\n  cluster: [\"h1:6379\"]\n"),
                      6, "redis.cluster and redis.url are mutually exclusive"));
  // Credentials in a seed URL: every node is asked with the same ones, in database 0.
  EXPECT_TRUE(FailsAt(Load(std::string(kMinimalSources) +
                           "redis:\n  cluster: [\"redis://u:a@h1:6379\", \"redis://u:b@h2:6379\"]\n"),
                      5, "redis.cluster entry 'redis://u:****@h2:6379' has other credentials"));
  EXPECT_TRUE(FailsAt(Load(std::string(kMinimalSources) +
                           "redis:\n  cluster: [\"redis://:pw@h1:6379/2\"]\n"),
                      5, "names database 2 (a Redis Cluster has only database 0)"));
}

TEST_F(ConfigErrors, BadRouteRegex) {
  const std::string yaml = std::string(kMinimalSources) +                    // 1-3
                           "routes:\n"                                       // 4
                           "  - \"/v1/orders/{id}\"\n"                       // 5
                           "  - { match: '^/v2/(geo', name: '/v2/geo' }\n";  // 6
  EXPECT_TRUE(FailsAt(Load(yaml), 6, "route 2 match regex '^/v2/(geo' does not compile"));
}

TEST_F(ConfigErrors, RouteShapes) {
  const std::string head = std::string(kMinimalSources) + "routes:\n";  // 1-4
  EXPECT_TRUE(FailsAt(Load(head + "  - { match: '^/x$' }\n"), 5, "needs a 'name'"));
  EXPECT_TRUE(
      FailsAt(Load(head + "  - { name: '/x' }\n"), 5, "exactly one of 'template' and 'match'"));
  EXPECT_TRUE(FailsAt(Load(head + "  - \"v1/orders\"\n"), 5, "must be a path starting with '/'"));
  EXPECT_TRUE(FailsAt(Load(head + "  - { match: '^/x$', name: 'x' }\n"), 5, "route name 'x'"));
  EXPECT_TRUE(FailsAt(Load(head + "  - [a]\n"), 5, "a route must be a template string"));
  EXPECT_TRUE(FailsAt(Load(head + "  - { template: '/v1/{id}', name: '/x' }\n"), 5,
                      "a template route takes no 'name'"));
  // The normalizer's own message, numbered by the route's place in the list.
  EXPECT_TRUE(FailsAt(Load(head + "  - \"/v1/a\"\n  - \"/v1/{}/x\"\n"), 6,
                      "route 2 template '/v1/{}/x' has a bad segment '{}'"));
}

TEST_F(ConfigErrors, EmptyOrMissingSources) {
  EXPECT_TRUE(FailsAt(Load("redis: {}\nsources: []\n"), 2, "'sources' must be a non-empty list"));
  EXPECT_TRUE(FailsAt(Load("redis: {}\n"), 1, "no 'sources:' list"));
  EXPECT_TRUE(FailsAt(Load(""), 1, "the config is empty"));
  EXPECT_TRUE(FailsAt(Load("- a\n- b\n"), 1, "must be a mapping"));
  EXPECT_TRUE(FailsAt(Load("sources:\n  - log_format: combined\n"), 2, "has no 'paths'"));
  EXPECT_TRUE(FailsAt(Load("sources:\n  - paths: []\n"), 2, "'paths' is empty"));
}

TEST_F(ConfigErrors, PathsMustBeAbsolute) {
  const std::string yaml =
      "sources:\n"                      // 1
      "  - paths:\n"                    // 2
      "      - /var/log/nginx/a.log\n"  // 3
      "      - logs/b.log\n";           // 4
  EXPECT_TRUE(FailsAt(Load(yaml), 3, "path 'logs/b.log' is not absolute"));
}

TEST_F(ConfigErrors, LimitsMustBePositive) {
  const std::string head = std::string(kMinimalSources) + "limits:\n";  // 1-4
  EXPECT_TRUE(FailsAt(Load(head + "  endpoints_per_day: 0\n"), 5,
                      "'limits.endpoints_per_day' must be between 1 and"));
  EXPECT_TRUE(FailsAt(Load(head + "  customers_per_day: -3\n"), 5,
                      "'limits.customers_per_day' must be between 1 and"));
  EXPECT_TRUE(FailsAt(Load(head + "  memory_mb: 0\n"), 5, "'limits.memory_mb' must be between 1"));
  EXPECT_TRUE(FailsAt(Load(head + "  max_line_bytes: 0\n"), 5,
                      "'limits.max_line_bytes' must be between 256 and 16MiB"));
  EXPECT_TRUE(FailsAt(Load(head + "  max_line_bytes: 64KB\n"), 5, "size '64KB' is not understood"));
  EXPECT_TRUE(FailsAt(Load(head + "  max_line_bytes: 99999999999999999999KiB\n"), 5, "too large"));
  EXPECT_TRUE(FailsAt(Load(head + "  memory_mb: 99999999999999999999\n"), 5,
                      "'limits.memory_mb' must be between 1 and 1048576"));
  EXPECT_TRUE(FailsAt(Load(std::string(kMinimalSources) + "aggregation:\n  slow_top_n: 0\n"), 5,
                      "'aggregation.slow_top_n' must be between 1 and 10000"));
}

TEST_F(ConfigErrors, RetentionOrder) {
  const std::string head = std::string(kMinimalSources) + "retention:\n";  // 1-4
  // Only minute set: longer than the default hour (35d); the minute line is the one to fix.
  EXPECT_TRUE(FailsAt(Load(head + "  minute: 40d\n"), 5,
                      "retention.minute (40d) is longer than retention.hour (35d)"));
  // Both set: point at the coarser tier.
  EXPECT_TRUE(FailsAt(Load(head + "  minute: 2h\n  hour: 1h\n"), 6,
                      "retention.minute (2h) is longer than retention.hour (1h)"));
  EXPECT_TRUE(FailsAt(Load(head + "  day: 1d\n"), 5,
                      "retention.hour (35d) is longer than retention.day (24h)"));
}

TEST_F(ConfigErrors, MissingCustomersFile) {
  const std::string yaml = std::string(kMinimalSources) +       // 1-3
                           "customers_file: customers.yaml\n";  // 4
  EXPECT_TRUE(FailsAt(Load(yaml), 4,
                      "cannot read customers file '/etc/apimeter/customers.yaml': No such file"));
}

TEST_F(ConfigErrors, CustomersFileWithRawKeyIsRefusedAtItsOwnLine) {
  machine_.files["/etc/apimeter/customers.yaml"] =
      "customers:\n"                             // 1
      "  k_3f9a1c2b7d4e: Acme Corp\n"            // 2
      "  sk_live_abcdef123456789: Leaky Inc\n";  // 3
  Result<Config> r = Load(std::string(kMinimalSources) + "customers_file: customers.yaml\n");
  EXPECT_TRUE(FailsAt(r, 3,
                      "customers file must list customer ids (k_...), not raw API keys; get an id "
                      "with `apimeter customer-id`",
                      "/etc/apimeter/customers.yaml"));
  EXPECT_EQ(r.status().message().find("sk_live"), std::string::npos);
}

TEST_F(ConfigErrors, CustomerNamesAreBounded) {
  const std::string cfg = std::string(kMinimalSources) + "customers_file: /c.yaml\n";
  machine_.files["/c.yaml"] = "customers:\n  k_3f9a1c2b7d4e: \"" + std::string(65, 'x') + "\"\n";
  EXPECT_TRUE(FailsAt(Load(cfg), 2, "customer name must be 1 to 64 bytes", "/c.yaml"));
  machine_.files["/c.yaml"] = "customers:\n  k_3f9a1c2b7d4e: \"Acme\\tCorp\"\n";
  EXPECT_TRUE(FailsAt(Load(cfg), 2, "control character", "/c.yaml"));
  machine_.files["/c.yaml"] = "customers:\n  k_3F9A1C2B7D4E: Acme\n";
  EXPECT_TRUE(FailsAt(Load(cfg), 2, "not raw API keys", "/c.yaml"));
  machine_.files["/c.yaml"] = "customer:\n  k_3f9a1c2b7d4e: Acme\n";
  EXPECT_TRUE(FailsAt(Load(cfg), 1, "did you mean 'customers'?", "/c.yaml"));
  machine_.files["/c.yaml"] = "customers: [\n";
  EXPECT_TRUE(FailsAt(Load(cfg), 2, "YAML syntax error", "/c.yaml"));
}

TEST_F(ConfigErrors, SecretSources) {
  const std::string both = std::string(kMinimalSources) +    // 1-3
                           "customer_id_secret: abc\n"       // 4
                           "customer_id_secret_file: /s\n";  // 5
  EXPECT_TRUE(FailsAt(Load(both), 5, "keep only one"));
  EXPECT_TRUE(FailsAt(Load(std::string(kMinimalSources) + "customer_id_secret_file: /none\n"), 4,
                      "cannot read customer_id_secret_file '/none'"));
  machine_.files["/s"] = "\n";
  EXPECT_TRUE(
      FailsAt(Load(std::string(kMinimalSources) + "customer_id_secret_file: /s\n"), 4, "is empty"));
  EXPECT_TRUE(FailsAt(Load(std::string(kMinimalSources) + "customer_id_secret: \"\"\n"), 4,
                      "customer_id_secret is empty"));
}

TEST_F(ConfigErrors, HostnameProblems) {
  machine_.hostname_fails = true;
  EXPECT_TRUE(FailsAt(Load(kMinimalSources), 2, "set host: explicitly"));
  EXPECT_TRUE(
      FailsAt(Load(std::string(kMinimalSources) + "    host: \"a b\"\n"), 4, "host 'a b' must be"));
}

TEST_F(ConfigErrors, AgentSettings) {
  EXPECT_TRUE(FailsAt(Load(std::string(kMinimalSources) + "agent:\n  state_dir: var/lib\n"), 5,
                      "agent.state_dir must be an absolute directory path"));
  EXPECT_TRUE(FailsAt(Load(std::string(kMinimalSources) + "agent:\n  metrics_listen: 9465\n"), 5,
                      "is not host:port"));
}

TEST_F(ConfigErrors, MultipleDocumentsAreRefused) {
  EXPECT_TRUE(FailsAt(Load(std::string(kMinimalSources) + "---\nredis: {}\n"), 5,
                      "holds 2 YAML documents"));
}

TEST_F(ConfigErrors, HostileInputGivesABoundedAnswer) {
  // Deep nesting would overflow a naive recursive parser's stack.
  EXPECT_FALSE(Load("sources: " + std::string(100000, '[')).ok());
  EXPECT_FALSE(Load(std::string(kMinimalSources) + "limits: " + std::string(50000, '{')).ok());
  // A huge file is refused before parsing.
  Result<Config> big = Load(std::string(kMinimalSources) + "# " + std::string(2 << 20, 'x'));
  EXPECT_TRUE(FailsAt(big, 1, "larger than"));
  // Binary garbage and a long unknown key.
  EXPECT_FALSE(Load(std::string("\0\x01\xff\xfe: [", 6)).ok());
  EXPECT_TRUE(FailsAt(Load(std::string(900, 'k') + ": 1\n"), 1, "unknown key"));
  // Aliases are fine as values but do not bypass validation.
  EXPECT_TRUE(
      FailsAt(Load(std::string(kMinimalSources) + "limits: &l {memory_mb: 0}\n"), 4, "memory_mb"));
}

}  // namespace
}  // namespace apimeter::testing

namespace apimeter::testing {
namespace {

// Damaged versions of a valid config (bytes dropped, replaced, lines
// duplicated) must each load or fail with a positioned message; never crash.
TEST(ConfigMutations, EveryFailureHasAPosition) {
  FakeMachine machine;
  const std::string base =
      std::string(kMinimalSources) +
      "    customer: $remote_user\n"
      "routes:\n  - \"/v1/orders/{id}\"\n  - { match: '^/x/[0-9]+$', name: '/x/:n' }\n"
      "limits: { max_line_bytes: 64KiB, memory_mb: 64 }\n"
      "redis: { url: \"redis://:pw@127.0.0.1:6379/1\", prefix: t }\n"
      "retention: { minute: 48h, hour: 35d, day: 400d }\n"
      "agent: { flush_interval: 500ms, from_start: true }\n";
  ASSERT_TRUE(machine.Load(base).ok());
  const std::string alphabet = ":-[]{}'\"$#&*!|>\n \t0a/\\";
  uint32_t seed = 12345;
  auto next = [&seed] {
    seed = seed * 1103515245u + 12345u;  // fixed LCG: the same cases every run
    return seed >> 8;
  };
  int failures = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text = base;
    for (int edits = 1 + next() % 3; edits > 0; --edits) {
      const size_t pos = next() % text.size();
      switch (next() % 3) {
        case 0:
          text.erase(pos, 1 + next() % 4);
          break;
        case 1:
          text[pos] = alphabet[next() % alphabet.size()];
          break;
        default:
          text.insert(pos, text.substr(pos, next() % 40));
          break;
      }
      if (text.empty()) text = "x";
    }
    Result<Config> r = machine.Load(text);
    if (r.ok()) continue;
    ++failures;
    const std::string& msg = r.status().message();
    ASSERT_EQ(msg.rfind(std::string(kConfigName) + ":", 0), 0u) << msg << "\n--- input:\n" << text;
    const size_t after = std::string(kConfigName).size() + 1;
    ASSERT_TRUE(after < msg.size() && std::isdigit(static_cast<unsigned char>(msg[after])))
        << "no line number: " << msg;
  }
  EXPECT_GT(failures, 100);  // the mutations really do break the config
}

}  // namespace
}  // namespace apimeter::testing
