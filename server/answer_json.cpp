// The query API's JSON from typed answers (see answer_json.h).
#include "server/answer_json.h"

#include <string>

#include "common/time_util.h"

namespace apimeter {
namespace {

using nlohmann::json;

std::string Iso(int64_t epoch_seconds) { return FormatIso8601(epoch_seconds); }

json Optional(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

json Latency(const LatencySummary& l) {
  return {{"avg", Optional(l.avg)}, {"p50", Optional(l.p50)}, {"p90", Optional(l.p90)},
          {"p95", Optional(l.p95)}, {"p99", Optional(l.p99)}, {"max", Optional(l.max)}};
}

json Filter(const QueryFilter& f) {
  json j = json::object();
  if (!f.host.empty()) j["host"] = ValidUtf8(f.host);
  if (!f.endpoint.empty()) j["endpoint"] = ValidUtf8(f.endpoint);
  if (!f.customer.empty()) j["customer"] = ValidUtf8(f.customer);
  return j;
}

json Plan(const std::vector<BucketRun>& runs) {
  json plan = json::array();
  for (const BucketRun& r : runs) {
    plan.push_back({{"tier", std::string(TierName(r.tier))},
                    {"from", Iso(r.FromSeconds())},
                    {"to", Iso(r.ToSeconds())},
                    {"buckets", r.Count()}});
  }
  return plan;
}

// The fields every range answer starts with.
json RangeHeader(const AnswerRange& r, const QueryFilter& filter) {
  return {{"from", Iso(r.from_s)},
          {"to", Iso(r.to_s)},
          {"requested_from", Iso(r.requested_from_s)},
          {"requested_to", Iso(r.requested_to_s)},
          {"adjusted", r.adjusted},
          {"plan", Plan(r.plan)},
          {"filter", Filter(filter)}};
}

// Day resolution and damage, on answers that have them.
void AddQuality(const AnswerQuality& q, json* j) {
  if (q.resolution != Tier::kMinute) {
    (*j)["resolution"] = std::string(TierName(q.resolution));
    (*j)["note"] =
        "customer \u00d7 endpoint series are stored per UTC day only: the answer covers whole "
        "UTC days";
  }
  if (q.partial()) {
    (*j)["partial"] = true;
    (*j)["damaged"] = q.damaged;
  }
}

}  // namespace

json ToJson(const OverviewAnswer& a) {
  json status = json::object();
  for (const auto& [code, n] : a.status) {
    if (n != 0) status[std::to_string(code)] = n;
  }
  json classes = json::object();
  for (size_t c = 0; c < a.status_class.size(); ++c) {
    classes[std::to_string(c + 1) + "xx"] = a.status_class[c];
  }
  json j = RangeHeader(a.range, a.filter);
  j["requests"] = a.requests;
  j["errors_4xx"] = a.errors_4xx;
  j["errors_5xx"] = a.errors_5xx;
  j["error_rate"] = Optional(a.error_rate);
  j["status"] = std::move(status);
  j["status_class"] = std::move(classes);
  j["latency_ms"] = Latency(a.latency_ms);
  j["latency_count"] = a.latency_count;
  j["bytes_in"] = a.bytes_in;
  j["bytes_out"] = a.bytes_out;
  j["rejected"] = a.rejected;
  j["rps"] = Optional(a.rps);
  j["rps_seconds"] = a.rps_seconds;
  AddQuality(a.quality, &j);
  return j;
}

// One row of a top list (TopRow) or of the clients (ClientRow): the same
// fields, under the row's own name key.
template <typename Row>
json RankedRow(const char* name_key, const std::string& name, const Row& r) {
  return {{name_key, ValidUtf8(name)},
          {"requests", r.requests},
          {"share", Optional(r.share)},
          {"errors_4xx", r.errors_4xx},
          {"errors_5xx", r.errors_5xx},
          {"error_rate", Optional(r.error_rate)},
          {"latency_ms", Latency(r.latency_ms)},
          {"bytes_in", r.bytes_in},
          {"bytes_out", r.bytes_out}};
}

json ToJson(const TopListAnswer& a) {
  const bool customers = a.of == TopListAnswer::Of::kCustomers;
  json rows = json::array();
  for (const TopRow& r : a.rows) {
    rows.push_back(RankedRow(customers ? "customer" : "endpoint", r.name, r));
  }
  json j = RangeHeader(a.range, a.filter);
  j["total_requests"] = a.total_requests;
  j["limit"] = a.limit;
  j[customers ? "customers" : "endpoints"] = std::move(rows);
  AddQuality(a.quality, &j);
  return j;
}

json ToJson(const ClientsAnswer& a) {
  json rows = json::array();
  for (const ClientRow& r : a.rows) rows.push_back(RankedRow("client", r.client, r));
  json j = RangeHeader(a.range, a.filter);
  j["logged"] = a.logged;
  j["total_requests"] = a.total_requests;
  j["client_count"] = a.client_count;
  j["limit"] = a.limit;
  j["clients"] = std::move(rows);
  AddQuality(a.quality, &j);
  j["resolution"] = "day";
  j["note"] = a.logged ? "client series are stored per UTC day only: the answer covers whole UTC "
                         "days"
                       : "no client series in this range: $http_user_agent is not in the "
                         "log_format of the sources for this range";
  return j;
}

json ToJson(const SeriesAnswer& a) {
  json points = json::array();
  for (const SeriesPointAnswer& p : a.points) {
    points.push_back({{"t", Iso(p.t)},
                      {"requests", p.requests},
                      {"errors_4xx", p.errors_4xx},
                      {"errors_5xx", p.errors_5xx},
                      {"bytes_out", p.bytes_out},
                      {"p50", Optional(p.p50)},
                      {"p95", Optional(p.p95)},
                      {"p99", Optional(p.p99)}});
  }
  json j{{"from", Iso(a.from_s)},
         {"to", Iso(a.to_s)},
         {"requested_from", Iso(a.requested_from_s)},
         {"requested_to", Iso(a.requested_to_s)},
         {"step_s", a.step_s},
         {"step_chosen", a.step_chosen},
         {"filter", Filter(a.filter)},
         {"points", std::move(points)}};
  AddQuality(a.quality, &j);
  return j;
}

json ToJson(const SlowAnswer& a) {
  json rows = json::array();
  for (const SlowRequest& s : a.requests) {
    rows.push_back({{"time", Iso(FloorDiv(s.time_us, kMicrosPerSecond))},
                    {"time_us", s.time_us},
                    {"endpoint", ValidUtf8(s.endpoint)},
                    {"customer", ValidUtf8(s.customer)},
                    {"status", s.status},
                    {"latency_ms", MicrosToMs(static_cast<double>(s.latency_us))},
                    {"host", ValidUtf8(s.host)}});
  }
  return json{{"from", Iso(a.from_s)}, {"to", Iso(a.to_s)},          {"filter", Filter(a.filter)},
              {"limit", a.limit},      {"malformed", a.malformed}, {"requests", std::move(rows)}};
}

json ToJson(const HeatmapAnswer& a) {
  // Counts stay integers in the JSON; percentiles and rates are numbers.
  const bool counts = a.metric == HeatmapMetric::kRequests;
  json names = json::array(), times = json::array(), rows = json::array();
  for (int64_t t : a.times) times.push_back(Iso(t));
  for (const std::string& e : a.endpoints) names.push_back(ValidUtf8(e));
  for (const auto& row : a.cells) {
    json values = json::array();
    for (const std::optional<double>& v : row) {
      if (!v) {
        values.push_back(nullptr);
      } else if (counts) {
        values.push_back(static_cast<uint64_t>(*v));
      } else {
        values.push_back(*v);
      }
    }
    rows.push_back(std::move(values));
  }
  json j{{"from", Iso(a.from_s)},
         {"to", Iso(a.to_s)},
         {"requested_from", Iso(a.requested_from_s)},
         {"requested_to", Iso(a.requested_to_s)},
         {"step_s", a.step_s},
         {"metric", std::string(HeatmapMetricName(a.metric))},
         {"limit", a.limit},
         {"endpoints", std::move(names)},
         {"times", std::move(times)},
         {"cells", std::move(rows)}};
  AddQuality(a.quality, &j);
  return j;
}

}  // namespace apimeter
