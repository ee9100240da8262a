// The keys the config loader accepts, mapping by mapping.
//
// Promise: these arrays are the very lists the loader opens each mapping with
// (config.cpp, sources.cpp, alerts_section.cpp), so they are exactly the keys
// it accepts; an unknown key is refused with "<file>:<line>" and the nearest
// of them. The key tables of docs/config.md and docs/alerts.md are checked
// against kAcceptedConfigKeys in both directions (tests/config/docs_keys_test.cpp).
// The order is the one "known keys are:" messages list them in.
// Thread-safety: constants.
#pragma once

#include <span>
#include <string_view>

namespace apimeter {
namespace config_keys {

inline constexpr std::string_view kTopLevel[] = {"sources",
                                                 "customers_file",
                                                 "customer_id_secret",
                                                 "customer_id_secret_file",
                                                 "routes",
                                                 "limits",
                                                 "redis",
                                                 "retention",
                                                 "aggregation",
                                                 "agent",
                                                 "server",
                                                 "alerts",
                                                 "prometheus",
                                                 "clients"};
inline constexpr std::string_view kSource[] = {"paths",    "log_format",     "escape",
                                               "customer", "customer_match", "customer_jwt_claim",
                                               "latency",  "bytes_out",      "host"};
inline constexpr std::string_view kRoute[] = {"template", "match", "name"};
inline constexpr std::string_view kLimits[] = {"endpoints_per_day", "customers_per_day",
                                               "max_line_bytes",    "memory_mb",
                                               "max_future",        "clients_per_day"};
inline constexpr std::string_view kClients[] = {"rules"};
inline constexpr std::string_view kClientRule[] = {"product", "version", "name"};
inline constexpr std::string_view kRedis[] = {"url", "prefix", "cluster", "connect_timeout",
                                              "command_timeout", "schema"};
inline constexpr std::string_view kRetention[] = {"minute", "hour", "day"};
inline constexpr std::string_view kAggregation[] = {"slow_top_n"};
inline constexpr std::string_view kAgent[] = {"flush_interval", "from_start", "state_dir",
                                              "metrics_listen"};
inline constexpr std::string_view kServer[] = {"listen",         "tokens",  "session_ttl",
                                               "session_secret", "workers", "trusted_header"};
inline constexpr std::string_view kServerToken[] = {"hash", "role", "customer"};
inline constexpr std::string_view kTrustedHeader[] = {"header", "proxies", "users", "unlisted"};
inline constexpr std::string_view kTrustedUser[] = {"user", "role", "customer"};
inline constexpr std::string_view kPrometheus[] = {
    "traffic", "max_endpoints", "customer_label", "max_customers", "latency_buckets"};
inline constexpr std::string_view kAlerts[] = {"evaluate_in_serve", "grace",    "lease_ttl",
                                               "catch_up",          "history",  "max_instances",
                                               "dashboard_url",     "webhooks", "rules"};
inline constexpr std::string_view kAlertWebhook[] = {
    "name", "url", "format", "routing_key", "timeout", "retries", "backoff"};
inline constexpr std::string_view kAlertRule[] = {
    "name",     "severity",    "labels",         "metric",         "status",
    "above",    "below",       "above_baseline", "below_baseline", "window",
    "for",      "resolve_for", "hysteresis",     "min_requests",   "host",
    "endpoint", "customer",    "endpoint_match", "customer_match", "webhooks"};

}  // namespace config_keys

struct ConfigSectionKeys {
  std::string_view section;  // as named in messages: "" = top level, "sources[]", "alerts.rules"
  std::span<const std::string_view> keys;
};

// Every mapping of the config file whose keys are fixed. (alerts.rules[].labels
// takes any key; the customers file is a file of its own.)
inline constexpr ConfigSectionKeys kAcceptedConfigKeys[] = {
    {"", config_keys::kTopLevel},
    {"sources[]", config_keys::kSource},
    {"routes[]", config_keys::kRoute},
    {"limits", config_keys::kLimits},
    {"redis", config_keys::kRedis},
    {"retention", config_keys::kRetention},
    {"aggregation", config_keys::kAggregation},
    {"agent", config_keys::kAgent},
    {"server", config_keys::kServer},
    {"server.tokens[]", config_keys::kServerToken},
    {"server.trusted_header", config_keys::kTrustedHeader},
    {"server.trusted_header.users[]", config_keys::kTrustedUser},
    {"alerts", config_keys::kAlerts},
    {"alerts.webhooks", config_keys::kAlertWebhook},
    {"alerts.rules", config_keys::kAlertRule},
    {"prometheus", config_keys::kPrometheus},
    {"clients", config_keys::kClients},
    {"clients.rules[]", config_keys::kClientRule},
};

}  // namespace apimeter
