// AlertEngine: rule instances, windows and baselines for one closed minute.
#include "alerts/engine.h"

#include <re2/re2.h>
#include <spdlog/spdlog.h>

#include "common/time_util.h"
#include "query/query_engine.h"

namespace apimeter {

constexpr int64_t kBaselineDays = 7;
constexpr int64_t kDiscoveryWindowS = 3600;
constexpr int64_t kDiscoveryLimit = 1000;

namespace {
std::string JoinKeys(const std::set<std::string>& keys) {
  std::string out;
  for (const std::string& k : keys) out += (out.empty() ? "" : ", ") + k;
  return out;
}
}  // namespace

void QueryEngineSource::NoteDamage() {
  const ReadDamage& d = engine_->last_damaged();
  damaged_.insert(d.begin(), d.end());
}

Result<Rollup> QueryEngineSource::Total(SeriesKind kind, const std::string& name, int64_t from_s,
                                        int64_t to_s) {
  Result<Rollup> r = engine_->SeriesTotal(kind, name, from_s, to_s);
  NoteDamage();
  return r;
}

Result<std::vector<std::string>> QueryEngineSource::Names(bool customers, int64_t from_s,
                                                          int64_t to_s, int64_t limit) {
  QueryParams p;
  p.from_s = from_s;
  p.to_s = to_s;
  p.limit = limit;
  APIMETER_ASSIGN_OR_RETURN(TopListAnswer top,
                            customers ? engine_->Customers(p) : engine_->Endpoints(p));
  NoteDamage();
  std::vector<std::string> out;
  out.reserve(top.rows.size());
  // As the JSON answer named them (invalid UTF-8 replaced), which is what
  // alert state and events are stored and dumped with.
  for (const TopRow& row : top.rows) out.push_back(ValidUtf8(row.name));
  return out;
}

std::string InstanceKey(const std::string& rule, const std::string& scope,
                        const std::string& name) {
  return rule + '\x1f' + scope + '\x1f' + name;
}

struct AlertEngine::Compiled {
  const AlertRuleConfig* rule;
  std::unique_ptr<RE2> match;  // endpoint_match / customer_match
};

AlertEngine::AlertEngine(const AlertsConfig& config, AlertDataSource* source)
    : config_(config), source_(source) {
  for (const AlertRuleConfig& r : config_.rules) {
    auto c = std::make_unique<Compiled>();
    c->rule = &r;
    const std::string& re = r.endpoint_match.empty() ? r.customer_match : r.endpoint_match;
    if (!re.empty()) c->match = std::make_unique<RE2>(re, RE2::Quiet);
    rules_.push_back(std::move(c));
  }
}

AlertEngine::~AlertEngine() = default;

namespace {

SeriesKind KindOf(const std::string& scope) {
  if (scope == "host") return SeriesKind::kHost;
  if (scope == "endpoint") return SeriesKind::kEndpoint;
  if (scope == "customer") return SeriesKind::kCustomer;
  return SeriesKind::kAll;
}

std::string ConditionText(const AlertRuleConfig& r) {
  std::string s = r.above ? "above " : "below ";
  s += r.threshold_text;
  if (r.baseline) s += " of baseline";
  if (r.metric == AlertMetric::kErrorRate) s = r.status_text + " " + s;
  return s;
}

AlertEvent MakeEvent(const AlertRuleConfig& r, const AlertInstance& inst, const Observation& obs,
                     AlertTransition t, int64_t minute_s, int64_t since_s) {
  AlertEvent e;
  e.kind = t == AlertTransition::kFiring ? "firing" : "resolved";
  e.rule = r.name;
  e.severity = r.severity;
  e.labels = r.labels;
  e.scope = inst.scope;
  e.name = inst.name;
  e.metric = r.metric_text;
  e.condition = ConditionText(r);
  e.minute_s = minute_s;
  e.since_s = since_s;
  e.value = obs.value;
  e.baseline = obs.baseline;
  e.limit = AlertLimit(r, obs);
  e.requests = obs.requests;
  e.window_s = r.window_s;
  e.webhooks = r.webhooks;
  return e;
}

}  // namespace

Result<std::vector<AlertInstance>> AlertEngine::Instances(const Compiled& c, int64_t minute_s,
                                                          const AlertState& state) {
  const AlertRuleConfig& r = *c.rule;
  std::vector<AlertInstance> out;
  auto add = [&](std::string scope, std::string name) {
    const std::string key = InstanceKey(r.name, scope, name);
    for (const AlertInstance& i : out) {
      if (i.scope == scope && i.name == name) return;
    }
    AlertInstance inst{r.name, std::move(scope), std::move(name), {}};
    if (auto it = state.instances.find(key); it != state.instances.end()) {
      inst.state = it->second.state;
    }
    out.push_back(std::move(inst));
  };
  if (!c.match) {
    if (!r.host.empty())
      add("host", r.host);
    else if (!r.endpoint.empty())
      add("endpoint", r.endpoint);
    else if (!r.customer.empty())
      add("customer", r.customer);
    else
      add("all", "");
    return out;
  }
  const bool customers = !r.customer_match.empty();
  const std::string scope = customers ? "customer" : "endpoint";
  // Instances already pending or firing first: they must be able to resolve.
  for (const auto& [key, inst] : state.instances) {
    if (inst.rule == r.name && inst.scope == scope) add(scope, inst.name);
  }
  const int64_t end = minute_s + 60;
  APIMETER_ASSIGN_OR_RETURN(
      std::vector<std::string> names,
      source_->Names(customers, end - kDiscoveryWindowS, end, kDiscoveryLimit));
  for (const std::string& n : names) {
    if (static_cast<int64_t>(out.size()) >= config_.max_instances) break;
    if (RE2::PartialMatch(n, *c.match)) add(scope, n);
  }
  return out;
}

Result<std::vector<Rollup>> AlertEngine::Baseline(const AlertInstance& inst, int64_t minute_s) {
  const int64_t hour = minute_s / 3600 * 3600;
  if (hour != baseline_hour_) {
    baseline_cache_.clear();
    baseline_hour_ = hour;
  }
  const std::string key = inst.scope + '\x1f' + inst.name;
  if (auto it = baseline_cache_.find(key); it != baseline_cache_.end()) return it->second;
  std::vector<Rollup> days;
  for (int64_t d = 1; d <= kBaselineDays; ++d) {
    const int64_t from = hour - d * 86400;
    APIMETER_ASSIGN_OR_RETURN(Rollup day,
                              source_->Total(KindOf(inst.scope), inst.name, from, from + 3600));
    days.push_back(std::move(day));
  }
  baseline_cache_[key] = days;
  return days;
}

Result<std::vector<AlertEvent>> AlertEngine::EvaluateMinute(int64_t minute_s, AlertState* state) {
  std::vector<AlertEvent> events;
  AlertState next = *state;
  for (const auto& c : rules_) {
    const AlertRuleConfig& r = *c->rule;
    APIMETER_ASSIGN_OR_RETURN(std::vector<AlertInstance> instances,
                              Instances(*c, minute_s, *state));
    if (auto d = source_->TakeDamaged(); !d.empty()) {
      // Discovery from a partial top list may miss a new instance; the held
      // ones are still evaluated.
      spdlog::warn("alerts: rule '{}', {}: instances found from partial data; damaged: {}",
                   r.name, FormatIso8601(minute_s), JoinKeys(d));
    }
    for (AlertInstance& inst : instances) {
      const int64_t end = minute_s + 60;
      APIMETER_ASSIGN_OR_RETURN(
          Rollup window, source_->Total(KindOf(inst.scope), inst.name, end - r.window_s, end));
      window_requests_ += window.requests;
      std::vector<Rollup> days;
      if (r.baseline) {
        APIMETER_ASSIGN_OR_RETURN(days, Baseline(inst, minute_s));
      }
      if (auto d = source_->TakeDamaged(); !d.empty()) {
        // Partial numbers: neither fire nor resolve on them.
        ++partial_instances_;
        baseline_cache_.erase(inst.scope + '\x1f' + inst.name);
        spdlog::warn("alerts: rule '{}' {} '{}', {}: data partial, state kept; damaged: {}",
                     r.name, inst.scope, inst.name, FormatIso8601(minute_s), JoinKeys(d));
        continue;
      }
      const Observation obs = Observe(r, window, r.baseline ? &days : nullptr);
      const int64_t firing_since = inst.state.firing_since;
      const AlertTransition t = Step(r, minute_s, obs, &inst.state);
      if (t == AlertTransition::kFiring) {
        events.push_back(MakeEvent(r, inst, obs, t, minute_s, inst.state.breach_since));
      } else if (t == AlertTransition::kResolved) {
        events.push_back(MakeEvent(r, inst, obs, t, minute_s, firing_since));
      }
      const std::string key = InstanceKey(inst.rule, inst.scope, inst.name);
      if (inst.state.phase == AlertPhase::kOk) {
        next.instances.erase(key);
      } else {
        next.instances[key] = inst;
      }
    }
  }
  // Instances of rules that no longer exist are forgotten.
  for (auto it = next.instances.begin(); it != next.instances.end();) {
    bool known = false;
    for (const auto& c : rules_) known = known || c->rule->name == it->second.rule;
    it = known ? std::next(it) : next.instances.erase(it);
  }
  next.last_minute = minute_s;
  *state = std::move(next);
  return events;
}

std::vector<AlertEvent> AlertEngine::StillFiring(const AlertState& state) const {
  std::vector<AlertEvent> out;
  for (const auto& c : rules_) {
    for (const auto& [key, inst] : state.instances) {
      if (inst.rule != c->rule->name || inst.state.phase != AlertPhase::kFiring) continue;
      Observation obs;
      obs.value = inst.state.value;
      obs.baseline = inst.state.baseline;
      obs.requests = inst.state.requests;
      out.push_back(MakeEvent(*c->rule, inst, obs, AlertTransition::kFiring, state.last_minute,
                              inst.state.firing_since));
    }
  }
  return out;
}

// ---------- JSON ----------

namespace {

nlohmann::json Opt(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}
std::optional<double> OptFrom(const nlohmann::json& j, const char* k) {
  if (!j.contains(k) || !j[k].is_number()) return std::nullopt;
  return j[k].get<double>();
}

}  // namespace

nlohmann::json AlertEventToJson(const AlertEvent& e) {
  return {{"kind", e.kind},        {"rule", e.rule},           {"severity", e.severity},
          {"labels", e.labels},    {"scope", e.scope},         {"name", e.name},
          {"metric", e.metric},    {"condition", e.condition}, {"minute", e.minute_s},
          {"since", e.since_s},    {"value", Opt(e.value)},    {"baseline", Opt(e.baseline)},
          {"limit", Opt(e.limit)}, {"requests", e.requests},   {"window_s", e.window_s},
          {"webhooks", e.webhooks}};
}

Result<AlertEvent> AlertEventFromJson(const nlohmann::json& j) {
  try {
    AlertEvent e;
    e.kind = j.at("kind").get<std::string>();
    e.rule = j.at("rule").get<std::string>();
    e.severity = j.at("severity").get<std::string>();
    e.labels = j.at("labels").get<std::map<std::string, std::string>>();
    e.scope = j.at("scope").get<std::string>();
    e.name = j.at("name").get<std::string>();
    e.metric = j.at("metric").get<std::string>();
    e.condition = j.at("condition").get<std::string>();
    e.minute_s = j.at("minute").get<int64_t>();
    e.since_s = j.at("since").get<int64_t>();
    e.value = OptFrom(j, "value");
    e.baseline = OptFrom(j, "baseline");
    e.limit = OptFrom(j, "limit");
    e.requests = j.at("requests").get<uint64_t>();
    e.window_s = j.at("window_s").get<int64_t>();
    e.webhooks = j.at("webhooks").get<std::vector<std::string>>();
    return e;
  } catch (const nlohmann::json::exception& ex) {
    return Status::ParseError(std::string("alert event: ") + ex.what());
  }
}

nlohmann::json AlertStateToJson(const AlertState& s) {
  nlohmann::json inst = nlohmann::json::array();
  for (const auto& [key, i] : s.instances) {
    const InstanceState& st = i.state;
    inst.push_back({{"rule", i.rule},
                    {"scope", i.scope},
                    {"name", i.name},
                    {"phase", AlertPhaseName(st.phase)},
                    {"breach_since", st.breach_since},
                    {"firing_since", st.firing_since},
                    {"clear_since", st.clear_since},
                    {"last_minute", st.last_minute},
                    {"value", Opt(st.value)},
                    {"baseline", Opt(st.baseline)},
                    {"requests", st.requests}});
  }
  return {{"version", 1}, {"last_minute", s.last_minute}, {"instances", std::move(inst)}};
}

Result<AlertState> AlertStateFromJson(const nlohmann::json& j) {
  try {
    AlertState s;
    if (j.at("version").get<int>() != 1) return Status::ParseError("alert state: unknown version");
    s.last_minute = j.at("last_minute").get<int64_t>();
    for (const auto& x : j.at("instances")) {
      AlertInstance i;
      i.rule = x.at("rule").get<std::string>();
      i.scope = x.at("scope").get<std::string>();
      i.name = x.at("name").get<std::string>();
      const std::string phase = x.at("phase").get<std::string>();
      i.state.phase = phase == "firing"    ? AlertPhase::kFiring
                      : phase == "pending" ? AlertPhase::kPending
                                           : AlertPhase::kOk;
      i.state.breach_since = x.at("breach_since").get<int64_t>();
      i.state.firing_since = x.at("firing_since").get<int64_t>();
      i.state.clear_since = x.at("clear_since").get<int64_t>();
      i.state.last_minute = x.at("last_minute").get<int64_t>();
      i.state.value = OptFrom(x, "value");
      i.state.baseline = OptFrom(x, "baseline");
      i.state.requests = x.at("requests").get<uint64_t>();
      s.instances[InstanceKey(i.rule, i.scope, i.name)] = std::move(i);
    }
    return s;
  } catch (const nlohmann::json::exception& ex) {
    return Status::ParseError(std::string("alert state: ") + ex.what());
  }
}

}  // namespace apimeter
