// Config: apimeter's YAML configuration, loaded and validated once at start.
//
// Promise: LoadConfigFile either returns a Config in which every field is
// valid and defaults are filled in, or a Status whose message starts with
// "<file>:<line>:" and says what is wrong and how to fix it (unknown keys,
// bad types, bad durations, unknown nginx variables, unparseable Redis URL,
// route regexes that do not compile). The raw YAML is never kept; secrets are
// kept only in the fields that need them and EffectiveConfigYaml masks them.
// The reference for every key is docs/config.md.
// Thread-safety: loading touches no global state (yaml-cpp exceptions are
// caught inside config/); a loaded Config is a plain value, safe to share
// read-only between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/defaults.h"
#include "common/result.h"
#include "config/alerts_config.h"
#include "parsers/client_agent.h"
#include "config/prometheus_config.h"
#include "parsers/customer_key.h"
#include "parsers/line_parser.h"

namespace apimeter {

struct SourceConfig {
  std::vector<std::string> paths;  // globs; rotated and .gz files included
  std::string log_format;          // nginx log_format text, or a preset name ("combined")
  std::string escape = "default";  // nginx escape= mode: default | json | none
  std::string customer_var;        // nginx variable without '$', e.g. "http_x_api_key"; "" = none
  std::string customer_match;      // RE2 with one capture group applied to it; "" = whole value
  std::string customer_jwt_claim;  // JWT payload claim to use as the key, e.g. "sub"; "" = none
  std::string latency_var;         // e.g. "request_time"; "" = none
  std::string bytes_out_var;       // "bytes_sent" or "body_bytes_sent"; "" = first present
  std::string host;                // defaults to the machine's hostname
  int line = 0;                    // line of this source in the config file
};

struct RouteRule {
  std::string template_path;  // "/v1/orders/{id}/items" (segments in braces match one segment)
  std::string match;          // RE2 regex matched against the path (alternative to template)
  std::string name;           // endpoint path to use when `match` matches
  int line = 0;
};

struct LimitsConfig {
  int64_t endpoints_per_day = defaults::kEndpointsPerDay;
  int64_t customers_per_day = defaults::kCustomersPerDay;
  int64_t max_line_bytes = 64 * 1024;
  int64_t memory_mb = 256;  // bound on in-memory aggregates before a forced flush / read pause
  int64_t max_future_s = 86400;  // lines dated later than now + this are rejected (future_time)
  int64_t clients_per_day = 1000;  // distinct user-agent clients per UTC day (issue 18)
};

struct RedisConfig {
  std::string url = "redis://127.0.0.1:6379/0";  // may hold a password: use MaskRedisUrl to show
  std::string prefix = "apimeter";
  // Seeds, host:port or redis://[[user]:password@]host:port (may hold a
  // password: show with MaskRedisUrl); non-empty turns cluster mode on.
  std::vector<std::string> cluster;
  int64_t connect_timeout_ms = 2000;
  int64_t command_timeout_ms = 5000;
  // Storage schema: 1 (hashes, docs/redis-schema.md) or 2 (blocks,
  // docs/storage-v2.md). `apimeter migrate` converts 1 to 2.
  int64_t schema = defaults::kRedisSchema;
};

struct RetentionConfig {
  int64_t minute_s = defaults::kMinuteRetentionS;
  int64_t hour_s = defaults::kHourRetentionS;
  int64_t day_s = defaults::kDayRetentionS;
};

struct AggregationConfig {
  int64_t slow_top_n = defaults::kSlowTopN;  // slowest requests kept per day
};

struct AgentConfig {
  int64_t flush_interval_ms = 2000;
  bool from_start = false;  // read files present at first start from the beginning
  // Local state; "" = none. Its one reader today is serve, which keeps its
  // session-signing key there (server/session_key.h); checkpoints are in Redis.
  std::string state_dir;
  std::string metrics_listen = "127.0.0.1:9465";
};

// Who a scoped token or a trusted-header user is (docs/config.md, "server").
struct AccessGrantConfig {
  std::string role = "admin";  // "admin" | "viewer"; "viewer" whenever customer is set
  std::string customer;        // as written ("" = every customer)
  std::string customer_name;   // the name stored in Redis (resolved through customers_file)
  std::string customer_id;     // its k_ id when known, else ""
  int line = 0;
};

// A server.tokens entry written as a mapping (hash + role and/or customer).
struct TokenConfig {
  std::string hash;  // "sha256:<64 hex>"
  AccessGrantConfig grant;
};

struct TrustedUserConfig {
  std::string user;  // the header's value, exactly
  AccessGrantConfig grant;
};

// server.trusted_header: sign-in by a header a proxy in front sets.
struct TrustedHeaderConfig {
  std::string header;                  // "" = off; as written (matched case-insensitively)
  std::vector<std::string> proxies;    // peer IP addresses believed, canonical text
  std::vector<TrustedUserConfig> users;
  std::string unlisted = "refuse";     // users not listed: "refuse" | "viewer" | "admin"
};

struct ServerConfig {
  std::string listen = "127.0.0.1:8080";  // `apimeter serve`; loopback unless configured
  // "sha256:<64 hex>" hashes only, never raw tokens: the plain entries, admin
  // tokens for every customer. Entries with a role or customer are in scoped_tokens.
  std::vector<std::string> tokens;
  std::vector<TokenConfig> scoped_tokens;
  TrustedHeaderConfig trusted_header;
  int64_t session_ttl_s = 12 * 3600;
  std::string session_secret;  // HMAC key for session cookies; secret; "" = server/session_key.h
  int64_t workers = 4;  // threads answering requests, each with its own Redis connection
};

struct Config {
  std::string path;  // file it was loaded from
  std::vector<SourceConfig> sources;
  std::string customers_file;
  std::map<std::string, std::string> customers;  // customer id (k_...) -> display name
  std::string customer_id_secret;                // keyed-hash secret; secret, never shown
  std::string customer_id_secret_file;           // absolute path the secret was read from, if any
  bool customer_id_secret_is_default = true;     // neither secret key was given: built-in default
  std::vector<RouteRule> routes;
  LimitsConfig limits;
  RedisConfig redis;
  RetentionConfig retention;
  AggregationConfig aggregation;
  AgentConfig agent;
  ServerConfig server;
  AlertsConfig alerts;  // docs/alerts.md
  PrometheusConfig prometheus;  // the agent's traffic metrics
  // `clients.rules`: additions to the user-agent reduction table
  // (parsers/client_agent.h); a later rule for a product wins.
  std::vector<ClientRule> client_rules;
  // Things that are valid but probably not what the operator wants (e.g. no
  // customer_id_secret). check-config prints them; loading still succeeds.
  std::vector<std::string> warnings;
};

// What loading needs from the machine, injectable for tests.
struct ConfigEnvironment {
  // Reads a whole file; fails (with the reason) when it is missing,
  // unreadable or larger than max_bytes.
  std::function<Result<std::string>(const std::string& path, size_t max_bytes)> read_file;
  // The machine's host name: the default `host` of every source.
  std::function<Result<std::string>()> hostname;
};
// Real files and gethostname().
ConfigEnvironment DefaultConfigEnvironment();

// Bounds on what the loader reads, so a wrong path cannot exhaust memory.
inline constexpr size_t kMaxConfigFileBytes = 1 << 20;
inline constexpr size_t kMaxCustomersFileBytes = 16 << 20;
inline constexpr size_t kMaxSecretFileBytes = 4096;

Result<Config> LoadConfigFile(const std::string& path);
Result<Config> LoadConfigFile(const std::string& path, const ConfigEnvironment& env);
// `name` stands in for the file name in error messages; relative paths in the
// config (customers_file, customer_id_secret_file) resolve against its directory.
Result<Config> LoadConfigString(const std::string& yaml_text, const std::string& name);
Result<Config> LoadConfigString(const std::string& yaml_text, const std::string& name,
                                const ConfigEnvironment& env);

// What the parsers are built from for one source (the only mapping of these fields).
FormatSpec FormatSpecOf(const SourceConfig& source, int64_t max_line_bytes);
CustomerKeySpec CustomerKeySpecOf(const SourceConfig& source);

// The effective config as YAML, defaults included, secrets masked.
std::string EffectiveConfigYaml(const Config& config);

}  // namespace apimeter
