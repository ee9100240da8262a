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

Notifier::Notifier(const AlertsConfig& config, HttpPoster poster, BackoffSleep sleep)
    : config_(config), poster_(std::move(poster)), sleep_(std::move(sleep)) {}

std::vector<OutboxEntry> Notifier::Route(const std::vector<AlertEvent>& events) const {
  std::vector<OutboxEntry> out;
  for (const AlertEvent& e : events) {
    for (const WebhookConfig& w : config_.webhooks) {
      const bool wanted = e.webhooks.empty() || std::find(e.webhooks.begin(), e.webhooks.end(),
                                                          w.name) != e.webhooks.end();
      if (wanted) out.push_back(OutboxEntry{w.name, e});
    }
  }
  return out;
}

bool Notifier::Deliver(const OutboxEntry& entry) const {
  const WebhookConfig* w = nullptr;
  for (const WebhookConfig& c : config_.webhooks) {
    if (c.name == entry.webhook) w = &c;
  }
  if (w == nullptr) {
    spdlog::warn("alert '{}' for webhook '{}': no such webhook in the config any more; dropped",
                 entry.event.rule, entry.webhook);
    return false;
  }
  const nlohmann::json payload = w->format == "slack"
                                     ? SlackPayload(entry.event, config_.dashboard_url)
                                     : GenericPayload(entry.event, config_.dashboard_url);
  const std::string body = payload.dump();
  int64_t backoff = w->backoff_ms;
  HttpPostResult r;
  for (int64_t attempt = 0; attempt <= w->retries; ++attempt) {
    if (attempt > 0) {
      spdlog::warn("webhook '{}' ({}): attempt {} failed: {}; retrying in {} ms", w->name,
                   MaskWebhookUrl(w->url), attempt, r.Describe(), backoff);
      if (!sleep_(backoff)) {
        spdlog::warn("webhook '{}' ({}): stopping; {} {} not sent", w->name, MaskWebhookUrl(w->url),
                     entry.event.rule, entry.event.kind);
        return false;
      }
      backoff *= 2;
    }
    r = poster_(w->url, body, w->timeout_ms);
    if (r.ok()) {
      spdlog::info("webhook '{}' ({}): {} {} sent", w->name, MaskWebhookUrl(w->url),
                   entry.event.rule, entry.event.kind);
      return true;
    }
  }
  spdlog::error("webhook '{}' ({}): giving up on {} {} after {} attempts: {}", w->name,
                MaskWebhookUrl(w->url), entry.event.rule, entry.event.kind, w->retries + 1,
                r.Describe());
  return false;
}

}  // namespace apimeter
