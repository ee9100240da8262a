#include "server/usage_json.h"

#include "common/time_util.h"
#include "query/answers.h"
#include "query/range_plan.h"

namespace apimeter {
namespace {

using nlohmann::json;

std::string Iso(int64_t epoch_seconds) { return FormatIso8601(epoch_seconds); }
json Nullable(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }
json JsonMs(std::optional<double> micros) { return Nullable(apimeter::OptionalMs(micros)); }
json Ratio(double numerator, double denominator, int decimals) {
  return Nullable(RoundedRatio(numerator, denominator, decimals));
}
std::string Utf8(std::string_view s) { return ValidUtf8(s); }

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
          {{"p50", JsonMs(r.p50_us)},
           {"p95", JsonMs(r.p95_us)},
           {"p99", JsonMs(r.p99_us)},
           {"max", JsonMs(r.max_us ? std::optional<double>(static_cast<double>(*r.max_us))
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
