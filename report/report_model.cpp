// Customer usage report model (see report_model.h).
#include "report/report_model.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "common/time_util.h"
#include "report/report_render.h"

namespace apimeter {
namespace {

using nlohmann::json;

constexpr int64_t kDay = 86400;

int64_t FloorDay(int64_t t) { return (t >= 0 ? t / kDay : (t - kDay + 1) / kDay) * kDay; }

json Ratio(uint64_t num, uint64_t den) {
  if (den == 0) return nullptr;
  return std::round(static_cast<double>(num) / static_cast<double>(den) * 1e6) / 1e6;
}

// The highest point of a timeseries answer (earliest on ties); null when no
// point has requests.
json PeakPoint(const SeriesAnswer& series, const char* key, bool date_only) {
  const SeriesPointAnswer* best = nullptr;
  for (const SeriesPointAnswer& p : series.points) {
    if (p.requests == 0) continue;
    if (best == nullptr || p.requests > best->requests) best = &p;
  }
  if (best == nullptr) return nullptr;
  std::string t = FormatIso8601(best->t);
  if (date_only) t = t.substr(0, 10);
  return {{key, t}, {"requests", best->requests}};
}

json Optional(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

json Totals(const OverviewAnswer& ov, int64_t days) {
  const uint64_t n = ov.requests, e4 = ov.errors_4xx, e5 = ov.errors_5xx;
  const LatencySummary& lat = ov.latency_ms;
  json per_day = nullptr;
  if (days > 0) per_day = std::round(static_cast<double>(n) / static_cast<double>(days) * 10) / 10;
  return {{"requests", n},
          {"requests_per_day", per_day},
          {"errors_4xx", e4},
          {"errors_5xx", e5},
          {"rate_4xx", Ratio(e4, n)},
          {"rate_5xx", Ratio(e5, n)},
          {"error_rate", Optional(ov.error_rate)},
          {"bytes_in", ov.bytes_in},
          {"bytes_out", ov.bytes_out},
          {"latency_count", ov.latency_count},
          {"latency_ms",
           {{"avg", Optional(lat.avg)},
            {"p50", Optional(lat.p50)},
            {"p95", Optional(lat.p95)},
            {"p99", Optional(lat.p99)},
            {"max", Optional(lat.max)}}}};
}

json EndpointRows(const TopListAnswer& eps, uint64_t customer_requests, int64_t limit) {
  json rows = json::array();
  uint64_t listed = 0;
  for (const TopRow& e : eps.rows) {
    const uint64_t n = e.requests, e4 = e.errors_4xx, e5 = e.errors_5xx;
    listed += n;
    const LatencySummary& lat = e.latency_ms;
    rows.push_back({{"endpoint", ValidUtf8(e.name)},
                    {"requests", n},
                    {"share", Optional(e.share)},
                    {"errors_4xx", e4},
                    {"errors_5xx", e5},
                    {"rate_4xx", Ratio(e4, n)},
                    {"rate_5xx", Ratio(e5, n)},
                    {"bytes_in", e.bytes_in},
                    {"bytes_out", e.bytes_out},
                    {"latency_ms",
                     {{"avg", Optional(lat.avg)},
                      {"p50", Optional(lat.p50)},
                      {"p95", Optional(lat.p95)},
                      {"p99", Optional(lat.p99)}}}});
  }
  // The rest of the customer's calls, exact by difference (the same days).
  const uint64_t rest = customer_requests > listed ? customer_requests - listed : 0;
  return {{"limit", limit},
          {"rows", std::move(rows)},
          {"other_requests", rest},
          {"other_share", Ratio(rest, customer_requests)}};
}

// The customer's clients (issue 18 part 2): the top rows and the rest of the
// calls that carried a client, exact by difference. null when no source
// logged $http_user_agent in the period (ClientsAnswer::logged), with a
// note: the dimension is absent, which a list of zeros would hide. When only
// some of the customer's requests carry a client (a source without
// $http_user_agent on some days), a note says how many.
json ClientSection(const ClientsAnswer& c, uint64_t customer_requests, json* notes) {
  if (!c.logged) {
    notes->push_back("clients not logged: " + std::string(kClientsNotLogged));
    return nullptr;
  }
  json rows = json::array();
  uint64_t listed = 0;
  for (const ClientRow& row : c.rows) {
    const uint64_t n = row.requests, e4 = row.errors_4xx, e5 = row.errors_5xx;
    listed += n;
    const LatencySummary& lat = row.latency_ms;
    rows.push_back({{"client", ValidUtf8(row.client)},
                    {"requests", n},
                    {"share", Optional(row.share)},
                    {"errors_4xx", e4},
                    {"errors_5xx", e5},
                    {"rate_4xx", Ratio(e4, n)},
                    {"rate_5xx", Ratio(e5, n)},
                    {"error_rate", Optional(row.error_rate)},
                    {"bytes_in", row.bytes_in},
                    {"bytes_out", row.bytes_out},
                    {"latency_ms",
                     {{"avg", Optional(lat.avg)},
                      {"p50", Optional(lat.p50)},
                      {"p95", Optional(lat.p95)},
                      {"p99", Optional(lat.p99)}}}});
  }
  const uint64_t total = c.total_requests;
  const uint64_t rest = total > listed ? total - listed : 0;
  if (total < customer_requests) {
    notes->push_back("clients cover " + std::to_string(total) + " of the customer's " +
                     std::to_string(customer_requests) +
                     " requests in the period: the others were logged without $http_user_agent");
  }
  return {{"limit", c.limit},        {"client_count", c.client_count},
          {"total_requests", total}, {"rows", std::move(rows)},
          {"other_requests", rest},  {"other_share", Ratio(rest, total)}};
}

}  // namespace

CustomerDirectory::CustomerDirectory(std::map<std::string, std::string> id_to_name)
    : id_to_name_(std::move(id_to_name)) {
  for (const auto& [id, name] : id_to_name_) name_to_id_.emplace(name, id);
}

CustomerDirectory::Resolved CustomerDirectory::Resolve(const std::string& asked) const {
  if (auto it = id_to_name_.find(asked); it != id_to_name_.end())
    return {it->second, it->first, true};
  if (auto it = name_to_id_.find(asked); it != name_to_id_.end())
    return {it->first, it->second, true};
  const bool is_id = asked.size() == 14 && asked.rfind("k_", 0) == 0;
  return {asked, is_id ? asked : "", false};
}

Result<std::pair<int64_t, int64_t>> ReportDays(int64_t from_s, int64_t to_s) {
  if (from_s >= to_s) {
    return Status::InvalidArgument("from must be before to (the range [" + FormatIso8601(from_s) +
                                   ", " + FormatIso8601(to_s) + ") is empty)");
  }
  const int64_t to_day = FloorDay(to_s) == to_s ? to_s : FloorDay(to_s) + kDay;
  return std::make_pair(FloorDay(from_s), to_day);
}

std::pair<int64_t, int64_t> LastFullDays(int64_t now_s, int64_t days) {
  const int64_t today = FloorDay(now_s);
  return {today - days * kDay, today};
}

void AddPartialWarning(const ReadDamage& damaged, json* report) {
  std::string keys;
  for (const std::string& k : damaged) keys += (keys.empty() ? "" : ", ") + k;
  (*report)["partial"] = true;
  (*report)["damaged"] = json(std::vector<std::string>(damaged.begin(), damaged.end()));
  // First, so every format shows it (the PDF shows the first note).
  json& notes = (*report)["notes"];
  notes.insert(notes.begin(),
               "PARTIAL DATA: " + std::to_string(damaged.size()) +
                   " stored block(s) failed their checks and were left out, so the figures may "
                   "be too low (damaged: " +
                   keys + ")");
}

Result<json> BuildCustomerReport(QueryEngine& engine, const CustomerDirectory& customers,
                                 const ReportRequest& request, int64_t now_s) {
  if (request.customer.empty()) return Status::InvalidArgument("customer is required");
  if (request.top_endpoints < 1 || request.top_endpoints > kReportMaxTopEndpoints) {
    return Status::InvalidArgument("top must be between 1 and " +
                                   std::to_string(kReportMaxTopEndpoints));
  }
  APIMETER_ASSIGN_OR_RETURN(auto days, ReportDays(request.from_s, request.to_s));
  const CustomerDirectory::Resolved who = customers.Resolve(request.customer);

  QueryParams p;
  p.from_s = days.first;
  p.to_s = days.second;
  p.filter.customer = who.name;
  // Blocks any answer left out as damaged (storage v2; docs/storage-v2.md
  // "Reading"): the report says it is partial instead of looking whole.
  ReadDamage damaged;
  auto note_damage = [&](const AnswerQuality& q) {
    damaged.insert(q.damaged.begin(), q.damaged.end());
    damaged.insert(engine.last_damaged().begin(), engine.last_damaged().end());
  };
  APIMETER_ASSIGN_OR_RETURN(OverviewAnswer ov, engine.Overview(p));
  note_damage(ov.quality);
  const uint64_t requests = ov.requests;
  const std::string from = FormatIso8601(ov.range.from_s), to = FormatIso8601(ov.range.to_s);
  // (With damaged blocks left out, no data may be wrong: the report goes on, marked partial.)
  if (!who.listed && ov.no_data() && damaged.empty()) {
    return Status::NotFound("customer '" + request.customer +
                            "' is not in the customers file and has no requests in [" + from +
                            ", " + to + ")");
  }
  p.step_s = kDay;
  APIMETER_ASSIGN_OR_RETURN(SeriesAnswer daily, engine.Timeseries(p));
  note_damage(daily.quality);
  p.step_s = 0;
  p.limit = request.top_endpoints;
  APIMETER_ASSIGN_OR_RETURN(TopListAnswer eps, engine.Endpoints(p));
  note_damage(eps.quality);
  p.limit = kReportTopClients;
  APIMETER_ASSIGN_OR_RETURN(ClientsAnswer clients, engine.Clients(p));
  note_damage(clients.quality);

  json notes = json::array();
  // Its notes go last: the PDF shows the first note, which stays the period's.
  json client_notes = json::array();
  json client_section = ClientSection(clients, requests, &client_notes);
  json peak_hour = nullptr;
  p.step_s = 3600;
  Result<SeriesAnswer> hourly = engine.Timeseries(p);
  if (hourly.ok()) note_damage(hourly->quality);
  if (hourly.ok()) {
    peak_hour = PeakPoint(*hourly, "hour", false);
  } else if (hourly.status().code() == StatusCode::kInvalidArgument) {
    notes.push_back("peak hour not available for this period: " + hourly.status().message());
  } else {
    return hourly.status();
  }

  const int64_t n_days = static_cast<int64_t>(daily.points.size());
  json day_rows = json::array();
  for (const SeriesPointAnswer& pt : daily.points) {
    day_rows.push_back({{"date", FormatIso8601(pt.t).substr(0, 10)},
                        {"requests", pt.requests},
                        {"errors_4xx", pt.errors_4xx},
                        {"errors_5xx", pt.errors_5xx},
                        {"bytes_out", pt.bytes_out},
                        {"p50", Optional(pt.p50)},
                        {"p95", Optional(pt.p95)},
                        {"p99", Optional(pt.p99)}});
  }
  json j{{"report", "customer_usage"},
         {"format_version", 1},
         {"customer",
          {{"name", who.name},
           {"id", who.id.empty() ? json(nullptr) : json(who.id)},
           {"in_customers_file", who.listed}}},
         {"generated_at", FormatIso8601(now_s)},
         {"period",
          {{"from", from},
           {"to", to},
           {"days", n_days},
           {"requested_from", FormatIso8601(request.from_s)},
           {"requested_to", FormatIso8601(request.to_s)},
           {"adjusted",
            ov.range.adjusted || days.first != request.from_s || days.second != request.to_s}}},
         {"totals", Totals(ov, n_days)},
         {"daily", std::move(day_rows)},
         {"peak_day", PeakPoint(daily, "date", true)},
         {"peak_hour", std::move(peak_hour)},
         {"endpoints", EndpointRows(eps, requests, request.top_endpoints)},
         {"clients", std::move(client_section)},
         {"notes", std::move(notes)}};
  if (days.second > FloorDay(now_s)) {
    j["notes"].push_back("the period includes today (UTC), which is not over yet");
  }
  for (json& note : client_notes) j["notes"].push_back(std::move(note));
  if (!damaged.empty()) AddPartialWarning(damaged, &j);
  return j;
}

}  // namespace apimeter
