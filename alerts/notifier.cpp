// Webhook payloads and delivery with retries (see notifier.h).
#include "alerts/notifier.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>

#include "common/time_util.h"

namespace apimeter {
namespace {

std::string UrlEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string Number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", std::fabs(v) < 10 ? 2 : 1, v);
  return buf;
}

std::string ScopeText(const AlertEvent& e) {
  return e.scope == "all" ? std::string("all traffic") : e.scope + " " + e.name;
}

// "orders-p99: p99 = 812.40 ms (above 500ms) on endpoint GET /v1/orders/:id"
std::string Summary(const AlertEvent& e) {
  return e.rule + ": " + e.metric + " = " + FormatMetricValue(e.metric, e.value) + " (" +
         e.condition + ") on " + ScopeText(e);
}

// Prometheus label names: [a-zA-Z_][a-zA-Z0-9_]*; rule label names may hold
// '-' and '.', which Alertmanager would refuse (the whole POST).
std::string LabelName(const std::string& name) {
  std::string out = name;
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
  }
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out = "_" + out;
  return out;
}

std::string Utf8Prefix(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // not mid-character
  return s.substr(0, n);
}

// The minute the alert fired: firing events have it as their minute,
// resolved ones and repeats (minute = the pass that repeated it) as `since`.
int64_t FiredMinute(const OutboxEntry& o) {
  return o.event.kind == "firing" && !o.repeat ? o.event.minute_s : o.event.since_s;
}

}  // namespace

std::string FormatMetricValue(const std::string& metric, const std::optional<double>& v) {
  if (!v) return "n/a";
  if (metric == "error_rate") return Number(*v * 100) + "%";
  if (metric == "requests") return Number(*v) + "/min";
  return Number(*v) + " ms";
}

std::string DashboardLink(const std::string& base, const AlertEvent& e) {
  if (base.empty()) return "";
  const int64_t start = std::min(e.since_s, e.minute_s);
  const int64_t from = (start - 1800) / 60 * 60;
  const int64_t to = e.minute_s + 60 + 1800;
  std::string link =
      base + "/?range=custom&from=" + std::to_string(from) + "&to=" + std::to_string(to);
  if (e.scope == "endpoint" || e.scope == "customer" || e.scope == "host") {
    link += "&" + e.scope + "=" + UrlEncode(e.name);
  }
  return link;
}

nlohmann::json GenericPayload(const AlertEvent& e, const std::string& dashboard_url) {
  nlohmann::json j = AlertEventToJson(e);
  j.erase("webhooks");
  j["status"] = e.kind;
  j["minute_iso"] = FormatIso8601(e.minute_s);
  j["since_iso"] = FormatIso8601(e.since_s);
  const std::string link = DashboardLink(dashboard_url, e);
  j["dashboard_url"] = link.empty() ? nlohmann::json(nullptr) : nlohmann::json(link);
  return j;
}

nlohmann::json SlackPayload(const AlertEvent& e, const std::string& dashboard_url) {
  const bool firing = e.kind == "firing";
  std::string text =
      std::string(firing ? ":rotating_light: FIRING" : ":white_check_mark: RESOLVED") + " [" +
      e.severity + "] " + e.rule + " — " + ScopeText(e) + "\n" + e.metric + " = " +
      FormatMetricValue(e.metric, e.value) + " (" + e.condition;
  if (e.limit) text += ", limit " + FormatMetricValue(e.metric, e.limit);
  if (e.baseline) text += ", baseline " + FormatMetricValue(e.metric, e.baseline);
  text += ") over " + std::to_string(e.window_s / 60) + " min ending " +
          FormatIso8601(e.minute_s + 60) + ", " + std::to_string(e.requests) + " requests";
  text += firing ? "\nbreaching since " + FormatIso8601(e.since_s)
                 : "\nwas firing since " + FormatIso8601(e.since_s);
  for (const auto& [k, v] : e.labels) text += "\n" + k + ": " + v;
  const std::string link = DashboardLink(dashboard_url, e);
  if (!link.empty()) text += "\n<" + link + "|Open the dashboard at that time>";
  return {{"text", text}};
}

nlohmann::json AlertmanagerPayload(const OutboxEntry& o, const std::string& dashboard_url,
                                   int64_t now_s) {
  const AlertEvent& e = o.event;
  nlohmann::json labels = nlohmann::json::object();
  for (const auto& [k, v] : e.labels) labels[LabelName(k)] = v;
  // Ours win over the rule's labels of the same name.
  labels["alertname"] = e.rule;
  labels["rule"] = e.rule;
  labels["severity"] = e.severity;
  if (e.scope != "all") labels[e.scope] = e.name;
  nlohmann::json annotations = {
      {"summary", Summary(e)},
      {"condition", e.condition},
      {"metric", e.metric},
      {"value", FormatMetricValue(e.metric, e.value)},
      {"requests", std::to_string(e.requests)},
      {"window", std::to_string(e.window_s / 60) + "m"},
      {"idempotency_key", o.key}};
  if (e.limit) annotations["limit"] = FormatMetricValue(e.metric, e.limit);
  if (e.baseline) annotations["baseline"] = FormatMetricValue(e.metric, e.baseline);
  nlohmann::json alert = {{"labels", std::move(labels)},
                          {"annotations", std::move(annotations)},
                          {"startsAt", FormatIso8601(FiredMinute(o))}};
  alert["endsAt"] = FormatIso8601(e.kind == "resolved" ? e.minute_s + 60 : now_s + kAlertmanagerHoldS);
  const std::string link = DashboardLink(dashboard_url, e);
  if (!link.empty()) alert["generatorURL"] = link;
  return nlohmann::json::array({std::move(alert)});
}

std::string AlertmanagerAlertsUrl(const std::string& base) {
  std::string b = base;
  while (!b.empty() && b.back() == '/') b.pop_back();
  return b + "/api/v2/alerts";
}

std::string PagerDutyDedupKey(const AlertEvent& e) {
  std::string k = e.rule + "/" + e.scope + "/" + e.name;
  if (k.size() <= 255) return k;
  AlertEvent id;  // the instance alone, hashed
  id.rule = e.rule;
  id.scope = e.scope;
  id.name = e.name;
  return e.rule + "/" + IdempotencyKey("", id, false);
}

nlohmann::json PagerDutyPayload(const AlertEvent& e, const std::string& routing_key,
                                const std::string& dashboard_url, const std::string& key) {
  const bool firing = e.kind == "firing";
  nlohmann::json j = {{"routing_key", routing_key},
                      {"event_action", firing ? "trigger" : "resolve"},
                      {"dedup_key", PagerDutyDedupKey(e)}};
  if (!firing) return j;  // resolve needs nothing else
  nlohmann::json details = GenericPayload(e, dashboard_url);
  details["idempotency_key"] = key;
  j["payload"] = {{"summary", Utf8Prefix(Summary(e), 1024)},
                  {"source", Utf8Prefix(ScopeText(e), 255)},
                  {"severity", e.severity},  // critical, warning, info: all valid Events v2 values
                  {"timestamp", FormatIso8601(e.minute_s + 60)},
                  {"component", e.scope == "all" ? std::string("all") : e.name},
                  {"group", e.rule},
                  {"class", e.metric},
                  {"custom_details", std::move(details)}};
  j["client"] = "apimeter";
  const std::string link = DashboardLink(dashboard_url, e);
  if (!link.empty()) {
    j["client_url"] = link;
    j["links"] = nlohmann::json::array({{{"href", link}, {"text", "apimeter at the alert's time"}}});
  }
  return j;
}

Notifier::Notifier(const AlertsConfig& config, HttpPoster poster, BackoffSleep sleep,
                   const Clock* clock)
    : config_(config), poster_(std::move(poster)), sleep_(std::move(sleep)), clock_(clock) {}

std::vector<OutboxEntry> Notifier::Route(const std::vector<AlertEvent>& events) const {
  std::vector<OutboxEntry> out;
  for (const AlertEvent& e : events) {
    for (const WebhookConfig& w : config_.webhooks) {
      const bool wanted = e.webhooks.empty() || std::find(e.webhooks.begin(), e.webhooks.end(),
                                                          w.name) != e.webhooks.end();
      if (wanted) out.push_back(OutboxEntry{w.name, e, false, IdempotencyKey(w.name, e, false)});
    }
  }
  return out;
}

std::vector<OutboxEntry> Notifier::RouteRepeats(const std::vector<AlertEvent>& firing) const {
  std::vector<OutboxEntry> out;
  for (OutboxEntry& o : Route(firing)) {
    const WebhookConfig* w = nullptr;
    for (const WebhookConfig& c : config_.webhooks) {
      if (c.name == o.webhook) w = &c;
    }
    if (w == nullptr || w->format != "alertmanager") continue;
    o.repeat = true;
    o.key = IdempotencyKey(o.webhook, o.event, true);
    out.push_back(std::move(o));
  }
  return out;
}

int64_t Notifier::FirstClaimMs() const {
  int64_t longest = 0;
  for (const WebhookConfig& w : config_.webhooks) longest = std::max(longest, w.timeout_ms);
  return longest + kClaimMarginMs;
}

DeliveryOutcome Notifier::Deliver(const OutboxEntry& entry,
                                  const std::function<void(int64_t ms)>& extend) const {
  const WebhookConfig* w = nullptr;
  for (const WebhookConfig& c : config_.webhooks) {
    if (c.name == entry.webhook) w = &c;
  }
  if (w == nullptr) {
    spdlog::error(
        "alert '{}' for webhook '{}': no such webhook in the config any more; moved to the "
        "dead letters",
        entry.event.rule, entry.webhook);
    return DeliveryOutcome::kFailed;
  }
  const int64_t now_s = clock_ ? clock_->NowSeconds() : SystemClock().NowSeconds();
  std::string url = w->url;
  nlohmann::json payload;
  if (w->format == "slack") {
    payload = SlackPayload(entry.event, config_.dashboard_url);
  } else if (w->format == "alertmanager") {
    payload = AlertmanagerPayload(entry, config_.dashboard_url, now_s);
    url = AlertmanagerAlertsUrl(w->url);
  } else if (w->format == "pagerduty") {
    payload = PagerDutyPayload(entry.event, w->routing_key, config_.dashboard_url, entry.key);
  } else {
    payload = GenericPayload(entry.event, config_.dashboard_url);
    payload["idempotency_key"] = entry.key;
  }
  const std::string body = payload.dump();
  const HttpHeaders headers = {{"Idempotency-Key", entry.key}};
  const std::string what = entry.event.rule + " " + (entry.repeat ? "repeat" : entry.event.kind);
  int64_t backoff = w->backoff_ms;
  HttpPostResult r;
  for (int64_t attempt = 0; attempt <= w->retries; ++attempt) {
    if (attempt > 0) {
      spdlog::warn("webhook '{}' ({}): attempt {} failed: {}; retrying in {} ms", w->name,
                   MaskWebhookUrl(w->url), attempt, r.Describe(), backoff);
      if (extend) extend(backoff + w->timeout_ms + kClaimMarginMs);
      if (!sleep_(backoff)) {
        spdlog::warn("webhook '{}' ({}): stopping; {} not sent yet, left in the outbox", w->name,
                     MaskWebhookUrl(w->url), what);
        return DeliveryOutcome::kStopped;
      }
      backoff *= 2;
    }
    if (extend) extend(w->timeout_ms + kClaimMarginMs);
    r = poster_(url, body, headers, w->timeout_ms);
    if (r.ok()) {
      spdlog::info("webhook '{}' ({}): {} sent", w->name, MaskWebhookUrl(w->url), what);
      return DeliveryOutcome::kDelivered;
    }
  }
  spdlog::error("webhook '{}' ({}): giving up on {} after {} attempts: {}", w->name,
                MaskWebhookUrl(w->url), what, w->retries + 1, r.Describe());
  return DeliveryOutcome::kFailed;
}

}  // namespace apimeter
