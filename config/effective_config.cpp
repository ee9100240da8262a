// EffectiveConfigYaml: the loaded config written back as YAML for
// `apimeter check-config`. Every value is printed in the form the loader
// reads, so the output loads again to the same Config (secrets aside: they
// are printed as "****").
#include <cstdio>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "common/redis_url.h"
#include "config/config.h"
#include "config/yaml_reader.h"

namespace apimeter {
namespace {

using config_internal::FormatDurationMs;
using config_internal::FormatSize;

constexpr const char* kMasked = "****";

void EmitSource(YAML::Emitter& out, const SourceConfig& s) {
  out << YAML::BeginMap;
  out << YAML::Key << "paths" << YAML::Value << YAML::Flow << s.paths;
  out << YAML::Key << "log_format" << YAML::Value << YAML::SingleQuoted << s.log_format;
  out << YAML::Key << "escape" << YAML::Value << s.escape;
  // Unset variables are left out: loading treats a missing key as unset.
  const std::pair<const char*, const std::string&> vars[] = {
      {"customer", s.customer_var}, {"latency", s.latency_var}, {"bytes_out", s.bytes_out_var}};
  for (const auto& [key, var] : vars) {
    if (!var.empty()) out << YAML::Key << key << YAML::Value << "$" + var;
  }
  if (!s.customer_match.empty()) {
    out << YAML::Key << "customer_match" << YAML::Value << YAML::SingleQuoted << s.customer_match;
  }
  if (!s.customer_jwt_claim.empty()) {
    out << YAML::Key << "customer_jwt_claim" << YAML::Value << YAML::SingleQuoted
        << s.customer_jwt_claim;
  }
  out << YAML::Key << "host" << YAML::Value << s.host;
  out << YAML::EndMap;
}

void EmitRoute(YAML::Emitter& out, const RouteRule& r) {
  if (r.match.empty() && r.name.empty()) {
    out << YAML::DoubleQuoted << r.template_path;
    return;
  }
  out << YAML::Flow << YAML::BeginMap;
  if (!r.template_path.empty()) out << YAML::Key << "template" << YAML::Value << r.template_path;
  if (!r.match.empty()) out << YAML::Key << "match" << YAML::Value << YAML::SingleQuoted << r.match;
  out << YAML::Key << "name" << YAML::Value << YAML::SingleQuoted << r.name;
  out << YAML::EndMap;
}

void EmitCustomers(YAML::Emitter& out, const Config& c) {
  // The mapping itself is not printed: a path and a count are enough to
  // check that the right file was read.
  if (!c.customers_file.empty()) {
    out << YAML::Key << "customers_file" << YAML::Value << c.customers_file
        << YAML::Comment(std::to_string(c.customers.size()) + " customers");
  }
  if (!c.customer_id_secret_file.empty()) {
    out << YAML::Key << "customer_id_secret_file" << YAML::Value << c.customer_id_secret_file;
  } else if (!c.customer_id_secret_is_default) {
    out << YAML::Key << "customer_id_secret" << YAML::Value << kMasked;
  } else {
    out << YAML::Newline << YAML::Comment("customer_id_secret: not set (built-in default)");
  }
}


// role: and customer: of a scoped token or trusted user, as written.
void EmitGrant(YAML::Emitter& out, const AccessGrantConfig& g) {
  out << YAML::Key << "role" << YAML::Value << g.role;
  if (!g.customer.empty()) {
    out << YAML::Key << "customer" << YAML::Value << YAML::DoubleQuoted << g.customer;
  }
}

void EmitSettings(YAML::Emitter& out, const Config& c) {
  out << YAML::Key << "limits" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "endpoints_per_day" << YAML::Value << c.limits.endpoints_per_day;
  out << YAML::Key << "customers_per_day" << YAML::Value << c.limits.customers_per_day;
  out << YAML::Key << "max_line_bytes" << YAML::Value << FormatSize(c.limits.max_line_bytes);
  out << YAML::Key << "memory_mb" << YAML::Value << c.limits.memory_mb;
  out << YAML::Key << "max_future" << YAML::Value << FormatDurationMs(c.limits.max_future_s * 1000);
  out << YAML::EndMap;

  out << YAML::Key << "redis" << YAML::Value << YAML::BeginMap;
  // url and cluster are mutually exclusive: show the one in use.
  if (c.redis.cluster.empty()) {
    out << YAML::Key << "url" << YAML::Value << MaskRedisUrl(c.redis.url);
  }
  out << YAML::Key << "prefix" << YAML::Value << c.redis.prefix;
  if (!c.redis.cluster.empty()) {
    std::vector<std::string> seeds;  // a seed may carry the nodes' password
    for (const std::string& seed : c.redis.cluster) seeds.push_back(MaskRedisUrl(seed));
    out << YAML::Key << "cluster" << YAML::Value << YAML::Flow << seeds;
  }
  out << YAML::Key << "connect_timeout" << YAML::Value
      << FormatDurationMs(c.redis.connect_timeout_ms);
  out << YAML::Key << "command_timeout" << YAML::Value
      << FormatDurationMs(c.redis.command_timeout_ms);
  out << YAML::Key << "schema" << YAML::Value << c.redis.schema;
  out << YAML::EndMap;

  out << YAML::Key << "retention" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "minute" << YAML::Value << FormatDurationMs(c.retention.minute_s * 1000);
  out << YAML::Key << "hour" << YAML::Value << FormatDurationMs(c.retention.hour_s * 1000);
  out << YAML::Key << "day" << YAML::Value << FormatDurationMs(c.retention.day_s * 1000);
  out << YAML::EndMap;

  out << YAML::Key << "aggregation" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "slow_top_n" << YAML::Value << c.aggregation.slow_top_n;
  out << YAML::EndMap;

  out << YAML::Key << "agent" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "flush_interval" << YAML::Value
      << FormatDurationMs(c.agent.flush_interval_ms);
  out << YAML::Key << "from_start" << YAML::Value << c.agent.from_start;
  if (!c.agent.state_dir.empty()) {
    out << YAML::Key << "state_dir" << YAML::Value << c.agent.state_dir;
  }
  out << YAML::Key << "metrics_listen" << YAML::Value << YAML::DoubleQuoted
      << c.agent.metrics_listen;
  out << YAML::EndMap;

  // Token hashes are not secrets (they cannot be turned back into tokens);
  // the session secret is.
  out << YAML::Key << "server" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "listen" << YAML::Value << YAML::DoubleQuoted << c.server.listen;
  out << YAML::Key << "tokens" << YAML::Value << YAML::BeginSeq;
  for (const std::string& t : c.server.tokens) out << YAML::DoubleQuoted << t;
  for (const TokenConfig& t : c.server.scoped_tokens) {
    out << YAML::BeginMap << YAML::Key << "hash" << YAML::Value << YAML::DoubleQuoted << t.hash;
    EmitGrant(out, t.grant);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  const TrustedHeaderConfig& th = c.server.trusted_header;
  if (!th.header.empty()) {
    out << YAML::Key << "trusted_header" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "header" << YAML::Value << th.header;
    out << YAML::Key << "proxies" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const std::string& p : th.proxies) out << YAML::DoubleQuoted << p;
    out << YAML::EndSeq;
    out << YAML::Key << "unlisted" << YAML::Value << th.unlisted;
    if (!th.users.empty()) {
      out << YAML::Key << "users" << YAML::Value << YAML::BeginSeq;
      for (const TrustedUserConfig& u : th.users) {
        out << YAML::BeginMap << YAML::Key << "user" << YAML::Value << YAML::DoubleQuoted
            << u.user;
        EmitGrant(out, u.grant);
        out << YAML::EndMap;
      }
      out << YAML::EndSeq;
    }
    out << YAML::EndMap;
  }
  out << YAML::Key << "session_ttl" << YAML::Value << FormatDurationMs(c.server.session_ttl_s * 1000);
  out << YAML::Key << "workers" << YAML::Value << c.server.workers;
  if (!c.server.session_secret.empty()) {
    out << YAML::Key << "session_secret" << YAML::Value << kMasked;
  }
  out << YAML::EndMap;
}

void EmitRule(YAML::Emitter& out, const AlertRuleConfig& r) {
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << r.name;
  out << YAML::Key << "severity" << YAML::Value << r.severity;
  if (!r.labels.empty()) out << YAML::Key << "labels" << YAML::Value << YAML::Flow << r.labels;
  out << YAML::Key << "metric" << YAML::Value << r.metric_text;
  if (r.metric == AlertMetric::kErrorRate) {
    out << YAML::Key << "status" << YAML::Value << YAML::DoubleQuoted << r.status_text;
  }
  const std::string side = std::string(r.above ? "above" : "below") + (r.baseline ? "_baseline" : "");
  out << YAML::Key << side << YAML::Value << YAML::DoubleQuoted << r.threshold_text;
  for (const auto& [key, value] : {std::pair<const char*, const std::string&>{"host", r.host},
                                   {"endpoint", r.endpoint},
                                   {"customer", r.customer},
                                   {"endpoint_match", r.endpoint_match},
                                   {"customer_match", r.customer_match}}) {
    if (!value.empty()) out << YAML::Key << key << YAML::Value << YAML::DoubleQuoted << value;
  }
  out << YAML::Key << "window" << YAML::Value << FormatDurationMs(r.window_s * 1000);
  out << YAML::Key << "for" << YAML::Value << FormatDurationMs(r.for_s * 1000);
  out << YAML::Key << "resolve_for" << YAML::Value << FormatDurationMs(r.resolve_for_s * 1000);
  char pct[32];
  std::snprintf(pct, sizeof pct, "%g%%", r.hysteresis * 100);
  out << YAML::Key << "hysteresis" << YAML::Value << pct;
  out << YAML::Key << "min_requests" << YAML::Value << r.min_requests;
  if (!r.webhooks.empty()) out << YAML::Key << "webhooks" << YAML::Value << YAML::Flow << r.webhooks;
  out << YAML::EndMap;
}

// Webhook URLs are secrets: shown as scheme://host[:port] only.
void EmitAlerts(YAML::Emitter& out, const AlertsConfig& a) {
  out << YAML::Key << "alerts" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "evaluate_in_serve" << YAML::Value << a.evaluate_in_serve;
  if (!a.dashboard_url.empty()) {
    out << YAML::Key << "dashboard_url" << YAML::Value << a.dashboard_url;
  }
  out << YAML::Key << "grace" << YAML::Value << FormatDurationMs(a.grace_s * 1000);
  out << YAML::Key << "lease_ttl" << YAML::Value << FormatDurationMs(a.lease_ttl_ms);
  out << YAML::Key << "catch_up" << YAML::Value << FormatDurationMs(a.catch_up_s * 1000);
  out << YAML::Key << "history" << YAML::Value << a.history;
  out << YAML::Key << "max_instances" << YAML::Value << a.max_instances;
  out << YAML::Key << "webhooks" << YAML::Value << YAML::BeginSeq;
  for (const WebhookConfig& w : a.webhooks) {
    out << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << w.name;
    out << YAML::Key << "url" << YAML::Value << MaskWebhookUrl(w.url);
    out << YAML::Key << "format" << YAML::Value << w.format;
    if (!w.routing_key.empty()) out << YAML::Key << "routing_key" << YAML::Value << "****";
    out << YAML::Key << "timeout" << YAML::Value << FormatDurationMs(w.timeout_ms);
    out << YAML::Key << "retries" << YAML::Value << w.retries;
    out << YAML::Key << "backoff" << YAML::Value << FormatDurationMs(w.backoff_ms);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::Key << "rules" << YAML::Value << YAML::BeginSeq;
  for (const AlertRuleConfig& r : a.rules) EmitRule(out, r);
  out << YAML::EndSeq;
  out << YAML::EndMap;
}

void EmitPrometheus(YAML::Emitter& out, const PrometheusConfig& p) {
  out << YAML::Key << "prometheus" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "traffic" << YAML::Value << p.traffic;
  out << YAML::Key << "max_endpoints" << YAML::Value << p.max_endpoints;
  out << YAML::Key << "customer_label" << YAML::Value << p.customer_label;
  out << YAML::Key << "max_customers" << YAML::Value << p.max_customers;
  out << YAML::Key << "latency_buckets" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (int64_t ms : p.latency_buckets_ms) out << FormatDurationMs(ms);
  out << YAML::EndSeq;
  out << YAML::EndMap;
}

}  // namespace

std::string EffectiveConfigYaml(const Config& config) {
  YAML::Emitter out;
  out << YAML::Comment("effective config of " + config.path +
                       " (defaults filled in, secrets masked)");
  out << YAML::BeginMap;
  out << YAML::Key << "sources" << YAML::Value << YAML::BeginSeq;
  for (const SourceConfig& s : config.sources) EmitSource(out, s);
  out << YAML::EndSeq;
  EmitCustomers(out, config);
  if (!config.routes.empty()) {
    out << YAML::Key << "routes" << YAML::Value << YAML::BeginSeq;
    for (const RouteRule& r : config.routes) EmitRoute(out, r);
    out << YAML::EndSeq;
  }
  EmitSettings(out, config);
  if (!config.alerts.rules.empty() || !config.alerts.webhooks.empty()) {
    EmitAlerts(out, config.alerts);
  }
  EmitPrometheus(out, config.prometheus);
  out << YAML::EndMap;
  std::string text = out.c_str();
  text += '\n';
  return text;
}

}  // namespace apimeter
