#include "server/usage_json.h"

#include "query/json_format.h"
#include "query/range_plan.h"

namespace apimeter {
namespace {

using nlohmann::json;
using query_json::Iso;
using query_json::OptionalMs;
using query_json::Ratio;
using query_json::Utf8;

json OptionalIso(const std::optional<int64_t>& s) { return s ? json(Iso(*s)) : json(nullptr); }

// The range fields every range answer starts with (as query_engine's).
json RangeHeader(const RangePlan& plan, const json& filter) {
  json runs = json::array();
  for (const BucketRun& r : plan.runs) {
    runs.push_back({{"tier", std::string(TierName(r.tier))},
                    {"from", Iso(r.FromSeconds())},
                    {"to", Iso(r.ToSeconds())},
                    {"buckets", r.Count()}});
  }
  return {{"from", Iso(plan.from_s)},
          {"to", Iso(plan.to_s)},
          {"requested_from", Iso(plan.requested_from_s)},
          {"requested_to", Iso(plan.requested_to_s)},
          {"adjusted", plan.Adjusted()},
          {"plan", std::move(runs)},
          {"filter", filter}};
}

void AddDamaged(const std::vector<std::string>& damaged, json* j) {
  if (damaged.empty()) return;
  (*j)["partial"] = true;
  (*j)["damaged"] = damaged;
}

}  // namespace

json EndpointCustomersJson(const EndpointCustomersAnswer& a) {
  json rows = json::array();
  const double total = static_cast<double>(a.total_requests);
  for (const EndpointCustomerRow& r : a.customers) {
    const double n = static_cast<double>(r.requests);
    rows.push_back(
        {{"customer", Utf8(r.customer)},
         {"requests", r.requests},
         {"share", Ratio(n, total, 6)},
         {"errors_4xx", r.errors_4xx},
         {"errors_5xx", r.errors_5xx},
         {"error_rate", Ratio(static_cast<double>(r.errors_4xx + r.errors_5xx), n, 6)},
         {"latency_ms",
          {{"p50", OptionalMs(r.p50_us)},
           {"p95", OptionalMs(r.p95_us)},
           {"p99", OptionalMs(r.p99_us)},
           {"max", OptionalMs(r.max_us ? std::optional<double>(static_cast<double>(*r.max_us))
                                       : std::nullopt)}}},
         {"bytes_in", r.bytes_in},
         {"bytes_out", r.bytes_out},
         {"first_seen", OptionalIso(r.first_seen_s)},
         {"last_seen", OptionalIso(r.last_seen_s)}});
  }
  json j = RangeHeader(a.plan, {{"endpoint", Utf8(a.endpoint)}});
  j["total_requests"] = a.total_requests;
  j["customer_count"] = a.customer_count;
  j["limit"] = a.limit;
  j["customers"] = std::move(rows);
  j["resolution"] = "day";
  j["note"] =
      "customer \u00d7 endpoint series are stored per UTC day only: the answer covers whole UTC "
      "days; first_seen and last_seen are exact to the minute (null where that day was written "
      "without them)";
  AddDamaged(a.damaged, &j);
  return j;
}

}  // namespace apimeter
