// GET /api/v1/alerts (see alerts_routes.h).
#include "alerts/alerts_routes.h"

#include "common/time_util.h"

namespace apimeter {

AlertsRoutes::AlertsRoutes(const AlertsConfig& config, std::unique_ptr<RedisCommands> redis,
                           const std::string& prefix)
    : config_(config),
      redis_(std::move(redis)),
      store_(redis_.get(), prefix, "reader", config.history) {}

namespace {

nlohmann::json Iso(int64_t t) {
  return t < 0 ? nlohmann::json(nullptr) : nlohmann::json(FormatIso8601(t));
}

}  // namespace

Result<nlohmann::json> AlertsRoutes::Answer(int64_t limit) {
  APIMETER_ASSIGN_OR_RETURN(AlertState state, store_.LoadState());
  APIMETER_ASSIGN_OR_RETURN(std::vector<AlertEvent> history, store_.History(limit));
  nlohmann::json active = nlohmann::json::array();
  for (const auto& [key, inst] : state.instances) {
    const AlertRuleConfig* rule = nullptr;
    for (const AlertRuleConfig& r : config_.rules) {
      if (r.name == inst.rule) rule = &r;
    }
    const InstanceState& st = inst.state;
    nlohmann::json a = {
        {"rule", inst.rule},
        {"scope", inst.scope},
        {"name", inst.name},
        {"state", AlertPhaseName(st.phase)},
        {"since", st.phase == AlertPhase::kFiring ? st.firing_since : st.breach_since},
        {"breach_since", Iso(st.breach_since)},
        {"firing_since", Iso(st.firing_since)},
        {"value", st.value ? nlohmann::json(*st.value) : nlohmann::json(nullptr)},
        {"baseline", st.baseline ? nlohmann::json(*st.baseline) : nlohmann::json(nullptr)},
        {"requests", st.requests},
        {"severity", rule ? nlohmann::json(rule->severity) : nlohmann::json(nullptr)},
        {"metric", rule ? nlohmann::json(rule->metric_text) : nlohmann::json(nullptr)},
        {"threshold", rule ? nlohmann::json(rule->threshold_text) : nlohmann::json(nullptr)}};
    active.push_back(std::move(a));
  }
  nlohmann::json events = nlohmann::json::array();
  for (const AlertEvent& e : history) {
    nlohmann::json j = AlertEventToJson(e);
    j.erase("webhooks");
    j["minute_iso"] = FormatIso8601(e.minute_s);
    events.push_back(std::move(j));
  }
  return nlohmann::json{{"evaluated_minute", Iso(state.last_minute)},
                        {"rules", config_.rules.size()},
                        {"active", std::move(active)},
                        {"history", std::move(events)}};
}

std::optional<HttpResponse> AlertsRoutes::Route(std::string_view path, const FormParams& params,
                                                const Clock&) {
  if (path != "/api/v1/alerts") return std::nullopt;
  int64_t limit = 50;
  if (auto it = params.find("limit"); it != params.end()) {
    std::optional<int64_t> v = ParseInt(it->second);
    if (!v || *v < 1 || *v > kMaxResultLimit) {
      return ErrorResponse(400, "limit must be a whole number from 1 to 1000", "limit");
    }
    limit = *v;
  }
  for (const auto& [k, v] : params) {
    if (k != "limit") return ErrorResponse(400, "unknown parameter '" + k + "'", k);
  }
  return FromResult(Answer(limit));
}

}  // namespace apimeter
