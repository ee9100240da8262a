// Valid configs: defaults, every key read into Config, relative paths, the
// effective-config round trip and the packaged example.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "common/redis_url.h"

#include "config/config.h"
#include "config/yaml_reader.h"
#include "tests/config/config_test_util.h"

namespace apimeter::testing {
namespace {

constexpr const char* kApiFormat =
    R"($remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent )"
    R"("$http_referer" "$http_user_agent" $request_time $upstream_response_time )"
    R"("$http_x_api_key" $request_length)";

constexpr const char* kSecret = "s3cr3t-0123456789abcdef-XYZ";
constexpr const char* kRedisPassword = "pa55w0rd-hunter2";

// A config that sets every key to a non-default value.
std::string FullConfig() {
  return std::string("sources:\n") +
         "  - paths: [\"/var/log/nginx/api.access.log*\", \"/srv/logs/api-*.log\"]\n"
         "    log_format: '" +
         kApiFormat +
         "'\n"
         "    escape: json\n"
         "    customer: $http_x_api_key\n"
         "    latency: $upstream_response_time\n"
         "    bytes_out: $body_bytes_sent\n"
         "    host: web-1\n"
         "  - paths: /var/log/nginx/access.log\n"
         "    log_format: combined\n"
         "  - paths: /var/log/nginx/auth.log\n"
         "    log_format: '$remote_addr [$time_local] \"$request\" $status "
         "\"$http_authorization\"'\n"
         "    customer: $http_authorization\n"
         "    customer_match: '^Bearer (\\S+)$'\n"
         "    customer_jwt_claim: client_id\n"
         "customers_file: customers.yaml\n"
         "customer_id_secret: \"" +
         kSecret +
         "\"\n"
         "routes:\n"
         "  - \"/v1/orders/{id}/items\"\n"
         "  - { match: '^/v2/geo/ip/[^/]+$', name: '/v2/geo/ip/:ip' }\n"
         "limits: { endpoints_per_day: 3000, customers_per_day: 60000, max_line_bytes: 1MiB, "
         "memory_mb: 512, max_future: 2h }\n"
         "redis:\n"
         "  url: \"redis://admin:" +
         kRedisPassword +
         "@redis.internal:6380/2\"\n"
         "  prefix: am\n"
         "  connect_timeout: 1500ms\n"
         "  command_timeout: 10s\n"
         "  schema: 2\n"
         "retention: { minute: 72h, hour: 60d, day: 800d }\n"
         "aggregation: { slow_top_n: 250 }\n"
         "agent:\n"
         "  flush_interval: 5s\n"
         "  from_start: true\n"
         "  state_dir: /var/lib/apimeter\n"
         "  metrics_listen: 0.0.0.0:9500\n";
}

class ConfigLoad : public ::testing::Test {
 protected:
  void SetUp() override {
    machine_.files["/etc/apimeter/customers.yaml"] =
        "customers:\n  k_3f9a1c2b7d4e: Acme Corp\n  \"k_0123456789ab\": \"Globex, Inc.\"\n";
  }
  FakeMachine machine_;
};

TEST_F(ConfigLoad, DefaultsAreFilledIn) {
  Result<Config> r = machine_.Load(kMinimalSources);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Config& c = *r;
  EXPECT_EQ(c.path, kConfigName);
  ASSERT_EQ(c.sources.size(), 1u);
  const SourceConfig& s = c.sources[0];
  EXPECT_EQ(s.paths, std::vector<std::string>{"/var/log/nginx/access.log*"});
  EXPECT_EQ(s.log_format, "combined");
  EXPECT_EQ(s.escape, "default");
  EXPECT_EQ(s.customer_var, "");
  EXPECT_EQ(s.latency_var, "");
  EXPECT_EQ(s.bytes_out_var, "");
  EXPECT_EQ(s.host, "testhost");
  EXPECT_EQ(s.line, 2);
  EXPECT_TRUE(c.customers_file.empty());
  EXPECT_TRUE(c.customers.empty());
  EXPECT_TRUE(c.customer_id_secret.empty());
  EXPECT_TRUE(c.customer_id_secret_is_default);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("customer_id_secret is not set"), std::string::npos);
  EXPECT_TRUE(c.routes.empty());
  EXPECT_EQ(c.limits.endpoints_per_day, 2000);
  EXPECT_EQ(c.limits.customers_per_day, 50000);
  EXPECT_EQ(c.limits.max_line_bytes, 65536);
  EXPECT_EQ(c.limits.memory_mb, 256);
  EXPECT_EQ(c.limits.max_future_s, 86400);
  EXPECT_EQ(c.redis.url, "redis://127.0.0.1:6379/0");
  EXPECT_EQ(c.redis.prefix, "apimeter");
  EXPECT_TRUE(c.redis.cluster.empty());
  EXPECT_EQ(c.redis.connect_timeout_ms, 2000);
  EXPECT_EQ(c.redis.command_timeout_ms, 5000);
  EXPECT_EQ(c.redis.schema, defaults::kRedisSchema);
  EXPECT_EQ(c.retention.minute_s, 48 * 3600);
  EXPECT_EQ(c.retention.hour_s, 35 * 86400);
  EXPECT_EQ(c.retention.day_s, 400 * 86400);
  EXPECT_EQ(c.aggregation.slow_top_n, 100);
  EXPECT_EQ(c.agent.flush_interval_ms, 2000);
  EXPECT_FALSE(c.agent.from_start);
  EXPECT_EQ(c.agent.state_dir, "");
  EXPECT_EQ(c.agent.metrics_listen, "127.0.0.1:9465");
}

TEST_F(ConfigLoad, EmptySectionsKeepDefaults) {
  Result<Config> r = machine_.Load(std::string(kMinimalSources) +
                                   "limits:\nredis: {}\nretention:\nagent:\nroutes:\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->limits.memory_mb, 256);
  EXPECT_EQ(r->retention.day_s, 400 * 86400);
}

TEST_F(ConfigLoad, EveryKeyIsRead) {
  Result<Config> r = machine_.Load(FullConfig());
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Config& c = *r;
  ASSERT_EQ(c.sources.size(), 3u);
  const SourceConfig& api = c.sources[0];
  EXPECT_EQ(api.paths.size(), 2u);
  EXPECT_EQ(api.log_format, kApiFormat);
  EXPECT_EQ(api.escape, "json");
  EXPECT_EQ(api.customer_var, "http_x_api_key");
  EXPECT_EQ(api.latency_var, "upstream_response_time");
  EXPECT_EQ(api.bytes_out_var, "body_bytes_sent");
  EXPECT_EQ(api.host, "web-1");
  EXPECT_EQ(api.line, 2);
  EXPECT_EQ(c.sources[1].paths, std::vector<std::string>{"/var/log/nginx/access.log"});
  EXPECT_EQ(c.sources[1].host, "testhost");
  EXPECT_EQ(c.sources[1].line, 9);
  EXPECT_TRUE(c.sources[1].customer_match.empty());
  EXPECT_EQ(c.sources[2].customer_var, "http_authorization");
  EXPECT_EQ(c.sources[2].customer_match, "^Bearer (\\S+)$");
  EXPECT_EQ(c.sources[2].customer_jwt_claim, "client_id");
  EXPECT_EQ(c.customers_file, "/etc/apimeter/customers.yaml");
  ASSERT_EQ(c.customers.size(), 2u);
  EXPECT_EQ(c.customers.at("k_3f9a1c2b7d4e"), "Acme Corp");
  EXPECT_EQ(c.customers.at("k_0123456789ab"), "Globex, Inc.");
  EXPECT_EQ(c.customer_id_secret, kSecret);
  EXPECT_FALSE(c.customer_id_secret_is_default);
  EXPECT_TRUE(c.warnings.empty());
  ASSERT_EQ(c.routes.size(), 2u);
  EXPECT_EQ(c.routes[0].template_path, "/v1/orders/{id}/items");
  EXPECT_EQ(c.routes[0].line, 19);
  EXPECT_EQ(c.routes[1].match, "^/v2/geo/ip/[^/]+$");
  EXPECT_EQ(c.routes[1].name, "/v2/geo/ip/:ip");
  EXPECT_EQ(c.routes[1].line, 20);
  EXPECT_EQ(c.limits.endpoints_per_day, 3000);
  EXPECT_EQ(c.limits.customers_per_day, 60000);
  EXPECT_EQ(c.limits.max_line_bytes, 1 << 20);
  EXPECT_EQ(c.limits.memory_mb, 512);
  EXPECT_EQ(c.limits.max_future_s, 7200);
  EXPECT_EQ(c.redis.url, std::string("redis://admin:") + kRedisPassword + "@redis.internal:6380/2");
  EXPECT_EQ(c.redis.prefix, "am");
  EXPECT_TRUE(c.redis.cluster.empty());  // mutually exclusive with url
  EXPECT_EQ(c.redis.connect_timeout_ms, 1500);
  EXPECT_EQ(c.redis.command_timeout_ms, 10000);
  EXPECT_EQ(c.redis.schema, 2);
  EXPECT_EQ(c.retention.minute_s, 72 * 3600);
  EXPECT_EQ(c.retention.hour_s, 60 * 86400);
  EXPECT_EQ(c.retention.day_s, 800 * 86400);
  EXPECT_EQ(c.aggregation.slow_top_n, 250);
  EXPECT_EQ(c.agent.flush_interval_ms, 5000);
  EXPECT_TRUE(c.agent.from_start);
  EXPECT_EQ(c.agent.state_dir, "/var/lib/apimeter");
  EXPECT_EQ(c.agent.metrics_listen, "0.0.0.0:9500");
}

TEST_F(ConfigLoad, EffectiveConfigRoundTripsAndMasksSecrets) {
  Result<Config> first = machine_.Load(FullConfig());
  ASSERT_TRUE(first.ok()) << first.status().message();
  const std::string effective = EffectiveConfigYaml(*first);
  EXPECT_EQ(effective.find(kSecret), std::string::npos) << effective;
  EXPECT_EQ(effective.find(kRedisPassword), std::string::npos) << effective;
  EXPECT_EQ(effective.find("Acme"), std::string::npos) << "customer names are not listed";
  EXPECT_NE(effective.find("customers_file: /etc/apimeter/customers.yaml  # 2 customers"),
            std::string::npos)
      << effective;
  EXPECT_NE(effective.find("customer_id_secret: \"****\""), std::string::npos) << effective;
  EXPECT_NE(effective.find("redis://admin:****@redis.internal:6380/2"), std::string::npos);

  Result<Config> second = machine_.Load(effective);
  ASSERT_TRUE(second.ok()) << second.status().message() << "\n" << effective;
  // Everything but the masked secrets survives the trip...
  const Config& a = *first;
  const Config& b = *second;
  ASSERT_EQ(b.sources.size(), a.sources.size());
  for (size_t i = 0; i < a.sources.size(); ++i) {
    EXPECT_EQ(b.sources[i].paths, a.sources[i].paths);
    EXPECT_EQ(b.sources[i].log_format, a.sources[i].log_format);
    EXPECT_EQ(b.sources[i].escape, a.sources[i].escape);
    EXPECT_EQ(b.sources[i].customer_var, a.sources[i].customer_var);
    EXPECT_EQ(b.sources[i].customer_match, a.sources[i].customer_match);
    EXPECT_EQ(b.sources[i].customer_jwt_claim, a.sources[i].customer_jwt_claim);
    EXPECT_EQ(b.sources[i].latency_var, a.sources[i].latency_var);
    EXPECT_EQ(b.sources[i].bytes_out_var, a.sources[i].bytes_out_var);
    EXPECT_EQ(b.sources[i].host, a.sources[i].host);
  }
  EXPECT_EQ(b.customers_file, a.customers_file);
  EXPECT_EQ(b.customers, a.customers);
  ASSERT_EQ(b.routes.size(), a.routes.size());
  for (size_t i = 0; i < a.routes.size(); ++i) {
    EXPECT_EQ(b.routes[i].template_path, a.routes[i].template_path);
    EXPECT_EQ(b.routes[i].match, a.routes[i].match);
    EXPECT_EQ(b.routes[i].name, a.routes[i].name);
  }
  EXPECT_EQ(b.limits.max_line_bytes, a.limits.max_line_bytes);
  EXPECT_EQ(b.limits.endpoints_per_day, a.limits.endpoints_per_day);
  EXPECT_EQ(b.limits.customers_per_day, a.limits.customers_per_day);
  EXPECT_EQ(b.limits.memory_mb, a.limits.memory_mb);
  EXPECT_EQ(b.limits.max_future_s, a.limits.max_future_s);
  EXPECT_EQ(b.redis.prefix, a.redis.prefix);
  EXPECT_EQ(b.redis.cluster, a.redis.cluster);
  EXPECT_EQ(b.redis.connect_timeout_ms, a.redis.connect_timeout_ms);
  EXPECT_EQ(b.redis.command_timeout_ms, a.redis.command_timeout_ms);
  EXPECT_EQ(b.retention.minute_s, a.retention.minute_s);
  EXPECT_EQ(b.retention.hour_s, a.retention.hour_s);
  EXPECT_EQ(b.retention.day_s, a.retention.day_s);
  EXPECT_EQ(b.aggregation.slow_top_n, a.aggregation.slow_top_n);
  EXPECT_EQ(b.agent.flush_interval_ms, a.agent.flush_interval_ms);
  EXPECT_EQ(b.agent.from_start, a.agent.from_start);
  EXPECT_EQ(b.agent.state_dir, a.agent.state_dir);
  EXPECT_EQ(b.agent.metrics_listen, a.agent.metrics_listen);
  // ...and printing again gives the same text: the output is a fixed point.
  EXPECT_EQ(EffectiveConfigYaml(b), effective);
}

TEST_F(ConfigLoad, ClusterSeedsInsteadOfUrlRoundTrip) {
  Result<Config> first = machine_.Load(std::string(kMinimalSources) +
                                       "redis:\n  cluster: [\"10.0.0.1:6379\", \"10.0.0.2:6379\"]\n");
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->redis.cluster, (std::vector<std::string>{"10.0.0.1:6379", "10.0.0.2:6379"}));
  const std::string effective = EffectiveConfigYaml(*first);
  EXPECT_EQ(effective.find("url:"), std::string::npos) << effective;
  Result<Config> second = machine_.Load(effective);
  ASSERT_TRUE(second.ok()) << second.status().message() << "\n" << effective;
  EXPECT_EQ(second->redis.cluster, first->redis.cluster);
}

// Issue 17: a seed may carry the nodes' user and password, masked by check-config.
TEST_F(ConfigLoad, ClusterSeedCredentialsAreMasked) {
  Result<Config> c = machine_.Load(std::string(kMinimalSources) +
                                   "redis:\n  cluster: [\"redis://apimeter:s3cr%40t@10.0.0.1:6379\", "
                                   "\"10.0.0.2:6379\"]\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  auto seeds = ParseClusterSeeds(c->redis.cluster);
  ASSERT_TRUE(seeds.ok()) << seeds.status().message();
  EXPECT_EQ(seeds->nodes, (std::vector<std::string>{"10.0.0.1:6379", "10.0.0.2:6379"}));
  EXPECT_EQ(seeds->username, "apimeter");
  EXPECT_EQ(seeds->password, "s3cr@t");
  const std::string effective = EffectiveConfigYaml(*c);
  EXPECT_EQ(effective.find("s3cr"), std::string::npos) << effective;
  EXPECT_NE(effective.find("redis://apimeter:****@10.0.0.1:6379"), std::string::npos) << effective;
}

TEST_F(ConfigLoad, EffectiveConfigOfDefaultsRoundTrips) {
  Result<Config> first = machine_.Load(kMinimalSources);
  ASSERT_TRUE(first.ok());
  const std::string effective = EffectiveConfigYaml(*first);
  EXPECT_NE(effective.find("customer_id_secret: not set"), std::string::npos) << effective;
  Result<Config> second = machine_.Load(effective);
  ASSERT_TRUE(second.ok()) << second.status().message() << "\n" << effective;
  EXPECT_TRUE(second->customer_id_secret_is_default);
  EXPECT_EQ(EffectiveConfigYaml(*second), effective);
}

TEST_F(ConfigLoad, SecretFileIsReadRelativeToTheConfigAndShownByPath) {
  machine_.files["/etc/apimeter/secret"] = std::string(kSecret) + "\n";
  Result<Config> r =
      machine_.Load(std::string(kMinimalSources) + "customer_id_secret_file: secret\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->customer_id_secret, kSecret);
  EXPECT_EQ(r->customer_id_secret_file, "/etc/apimeter/secret");
  EXPECT_FALSE(r->customer_id_secret_is_default);
  const std::string effective = EffectiveConfigYaml(*r);
  EXPECT_EQ(effective.find(kSecret), std::string::npos);
  EXPECT_NE(effective.find("customer_id_secret_file: /etc/apimeter/secret"), std::string::npos);
}

TEST_F(ConfigLoad, ShortSecretIsAcceptedWithAWarning) {
  Result<Config> r = machine_.Load(std::string(kMinimalSources) + "customer_id_secret: abc\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("shorter than 16"), std::string::npos);
}

// What postinst writes on an upgrade from versions without a secret file:
// ids stay the same, and check-config still says the secret is public.
TEST_F(ConfigLoad, SecretFileHoldingTheBuiltInDefaultIsAcceptedWithAWarning) {
  machine_.files["/etc/apimeter/customer_id_secret"] = "apimeter-default-customer-id-secret\n";
  Result<Config> r = machine_.Load(std::string(kMinimalSources) +
                                   "customer_id_secret_file: /etc/apimeter/customer_id_secret\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("built-in default secret"), std::string::npos);
}

TEST_F(ConfigLoad, VariablesMayBeBracedAndSingleValuesAreLists) {
  Result<Config> r = machine_.Load(
      "sources:\n  - paths: /var/log/a.log\n    log_format: '" + std::string(kApiFormat) +
      "'\n    customer: ${http_x_api_key}\n    latency: $request_time\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->sources[0].customer_var, "http_x_api_key");
  EXPECT_EQ(r->sources[0].latency_var, "request_time");
  EXPECT_EQ(r->sources[0].paths, std::vector<std::string>{"/var/log/a.log"});
}

TEST_F(ConfigLoad, SizesAndDurationsInEveryUnit) {
  Result<Config> r = machine_.Load(std::string(kMinimalSources) +
                                   "limits: { max_line_bytes: 4096 }\n"
                                   "retention: { minute: 90m, hour: 2d, day: 3000000s }\n"
                                   "agent: { flush_interval: 250ms }\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->limits.max_line_bytes, 4096);
  EXPECT_EQ(r->retention.minute_s, 5400);
  EXPECT_EQ(r->retention.hour_s, 2 * 86400);
  EXPECT_EQ(r->retention.day_s, 3000000);
  EXPECT_EQ(r->agent.flush_interval_ms, 250);
}

// Loads from a real file so the name in the message is the path given.
TEST(ConfigFile, BadLineSevenIsReportedAsLineSeven) {
  TempDir dir;
  const std::string path = dir.Write("apimeter.yaml",
                                     "# apimeter config\n"                      // 1
                                     "sources:\n"                               // 2
                                     "  - paths: [\"/var/log/nginx/a.log\"]\n"  // 3
                                     "    log_format: combined\n"               // 4
                                     "    host: web-1\n"                        // 5
                                     "retention:\n"                             // 6
                                     "  hour: 35\n");                           // 7: no unit
  Result<Config> r = LoadConfigFile(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind(path + ":7:", 0), 0u) << r.status().message();
  EXPECT_NE(r.status().message().find("needs a unit"), std::string::npos);
}

TEST(ConfigFile, RealFilesAndRelativeCustomersFile) {
  TempDir dir;
  dir.Write("customers.yaml", "customers:\n  k_aaaaaaaaaaaa: Initech\n");
  const std::string path =
      dir.Write("apimeter.yaml", std::string(kMinimalSources) + "customers_file: customers.yaml\n");
  Result<Config> r = LoadConfigFile(path);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->customers.at("k_aaaaaaaaaaaa"), "Initech");
  EXPECT_FALSE(r->sources[0].host.empty());  // the machine's host name
}

TEST(ConfigFile, MissingConfigFile) {
  Result<Config> r = LoadConfigFile("/nonexistent/apimeter.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("/nonexistent/apimeter.yaml:1: cannot read", 0), 0u)
      << r.status().message();
}

TEST(ConfigFile, PackagedExampleLoads) {
  const char* src = std::getenv("APIMETER_SOURCE_DIR");
  const std::string path =
      std::string(src != nullptr ? src : ".") + "/packaging/apimeter.example.yaml";
  Result<Config> r = LoadConfigFile(path);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->sources.size(), 2u);
  EXPECT_EQ(r->sources[0].log_format, "combined");
  EXPECT_EQ(r->sources[1].customer_var, "http_x_api_key");
  EXPECT_EQ(r->sources[1].latency_var, "request_time");
  EXPECT_FALSE(r->routes.empty());
  // The example documents the defaults it shows.
  EXPECT_EQ(r->limits.max_line_bytes, 65536);
  EXPECT_EQ(r->retention.minute_s, 48 * 3600);
}

TEST(YamlReaderText, SizesDurationsAndSuggestions) {
  using namespace config_internal;
  EXPECT_EQ(*ParseSizeText("64KiB"), 65536);
  EXPECT_EQ(*ParseSizeText("2MiB"), 2 << 20);
  EXPECT_EQ(*ParseSizeText("1GiB"), 1 << 30);
  EXPECT_EQ(*ParseSizeText("100"), 100);
  EXPECT_EQ(*ParseSizeText("100B"), 100);
  EXPECT_FALSE(ParseSizeText("KiB").ok());
  EXPECT_FALSE(ParseSizeText("1.5MiB").ok());
  EXPECT_EQ(*ParseDurationMsText("500ms", true), 500);
  EXPECT_FALSE(ParseDurationMsText("500ms", false).ok());
  EXPECT_EQ(*ParseDurationMsText("2m", false), 120000);
  EXPECT_NE(ParseDurationMsText("15", true).status().message().find("needs a unit"),
            std::string::npos);
  EXPECT_EQ(FormatDurationMs(1500), "1500ms");
  EXPECT_EQ(FormatDurationMs(172800000), "48h");
  EXPECT_EQ(FormatDurationMs(3 * 86400000LL), "3d");
  EXPECT_EQ(FormatDurationMs(5400000), "90m");
  EXPECT_EQ(FormatSize(65536), "64KiB");
  EXPECT_EQ(FormatSize(1000), "1000");
  EXPECT_EQ(NearestKey("retension", {"sources", "retention"}), "retention");
  EXPECT_EQ(NearestKey("max-line-bytes", {"max_line_bytes", "memory_mb"}), "max_line_bytes");
  EXPECT_EQ(NearestKey("Redis", {"redis", "routes"}), "redis");
  EXPECT_EQ(NearestKey("zzz", {"redis", "routes"}), "");
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
}

}  // namespace
}  // namespace apimeter::testing
