// Cost attribution (see attribution.h).
#include "report/attribution.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "common/time_util.h"
#include "report/csv.h"
#include "report/report_model.h"

namespace apimeter {
namespace {

using nlohmann::json;

json Ratio(uint64_t num, uint64_t den) {
  if (den == 0) return nullptr;
  return std::round(static_cast<double>(num) / static_cast<double>(den) * 1e6) / 1e6;
}

uint64_t Bytes(const TopRow& row) { return row.bytes_in + row.bytes_out; }

Status CheckBound(const char* name, int64_t v, int64_t max) {
  if (v < 1 || v > max) {
    return Status::InvalidArgument(std::string(name) + " must be between 1 and " +
                                   std::to_string(max));
  }
  return Status::Ok();
}

// Top customers × top endpoints, calls per cell: each cell is the request
// count of one customer × endpoint series (day tier, whole days), so every
// cell is exact, and the customer's other endpoints are its total minus them.
Result<json> Matrix(QueryEngine& engine, QueryParams p, const std::vector<TopRow>& ranked,
                    int64_t rows, int64_t cols) {
  p.limit = cols;
  APIMETER_ASSIGN_OR_RETURN(TopListAnswer top_eps, engine.Endpoints(p));
  json endpoints = json::array();
  for (const TopRow& e : top_eps.rows) endpoints.push_back(ValidUtf8(e.name));
  const size_t n_rows = std::min(ranked.size(), static_cast<size_t>(rows));
  std::vector<FilterSeries> series;
  for (size_t i = 0; i < n_rows; ++i) {
    for (const TopRow& ep : top_eps.rows) {
      series.push_back({SeriesKind::kCustomerEndpoint,
                        ranked[i].name + std::string(1, kNameSeparator) + ep.name});
    }
  }
  APIMETER_ASSIGN_OR_RETURN(std::vector<uint64_t> counts,
                            engine.SeriesRequests(series, p.from_s, p.to_s));
  json customers = json::array(), cells = json::array(), other = json::array(),
       totals = json::array();
  for (size_t i = 0; i < n_rows; ++i) {
    json row = json::array();
    uint64_t listed = 0;
    for (size_t j = 0; j < endpoints.size(); ++j) {
      const uint64_t n = counts[i * endpoints.size() + j];
      row.push_back(n);
      listed += n;
    }
    const uint64_t total = ranked[i].requests;
    customers.push_back(ValidUtf8(ranked[i].name));
    cells.push_back(std::move(row));
    // A shortfall would mean writes landed between the reads: not exact, so null.
    other.push_back(total >= listed ? json(total - listed) : json(nullptr));
    totals.push_back(total);
  }
  return json{{"customers", std::move(customers)},
              {"endpoints", std::move(endpoints)},
              {"cells", std::move(cells)},
              {"other_endpoints", std::move(other)},
              {"totals", std::move(totals)}};
}

}  // namespace

Result<json> BuildAttribution(QueryEngine& engine, const AttributionRequest& r, int64_t now_s) {
  APIMETER_RETURN_IF_ERROR(CheckBound("limit", r.limit, QueryEngine::kMaxLimit));
  APIMETER_RETURN_IF_ERROR(CheckBound("matrix_customers", r.matrix_customers, kAttributionMaxMatrix));
  APIMETER_RETURN_IF_ERROR(CheckBound("matrix_endpoints", r.matrix_endpoints, kAttributionMaxMatrix));
  APIMETER_ASSIGN_OR_RETURN(auto days, ReportDays(r.from_s, r.to_s));
  QueryParams p;
  p.from_s = days.first;
  p.to_s = days.second;
  APIMETER_ASSIGN_OR_RETURN(OverviewAnswer ov, engine.Overview(p));
  p.limit = r.limit;
  APIMETER_ASSIGN_OR_RETURN(TopListAnswer top, engine.Customers(p));
  APIMETER_ASSIGN_OR_RETURN(std::vector<std::string> names, engine.CustomerNames(p));

  const uint64_t total_calls = ov.requests;
  const uint64_t total_bytes = ov.bytes_in + ov.bytes_out;
  const std::vector<TopRow>& rows_in = top.rows;
  // Rank by bytes among the listed customers (ties by calls rank).
  std::vector<size_t> by_bytes(rows_in.size());
  for (size_t i = 0; i < by_bytes.size(); ++i) by_bytes[i] = i;
  std::stable_sort(by_bytes.begin(), by_bytes.end(),
                   [&](size_t a, size_t b) { return Bytes(rows_in[a]) > Bytes(rows_in[b]); });
  std::vector<size_t> rank_bytes(rows_in.size());
  for (size_t k = 0; k < by_bytes.size(); ++k) rank_bytes[by_bytes[k]] = k + 1;

  json rows = json::array(), curve = json::array();
  uint64_t cum_calls = 0, cum_bytes = 0;
  std::vector<uint64_t> cum_calls_at;  // after the i-th listed customer
  for (size_t i = 0; i < rows_in.size(); ++i) {
    const TopRow& c = rows_in[i];
    const uint64_t calls = c.requests, bytes = Bytes(c);
    cum_calls += calls;
    cum_bytes += bytes;
    cum_calls_at.push_back(cum_calls);
    rows.push_back({{"rank", i + 1},
                    {"customer", ValidUtf8(c.name)},
                    {"requests", calls},
                    {"share_calls", Ratio(calls, total_calls)},
                    {"cumulative_share_calls", Ratio(cum_calls, total_calls)},
                    {"bytes_in", c.bytes_in},
                    {"bytes_out", c.bytes_out},
                    {"bytes", bytes},
                    {"share_bytes", Ratio(bytes, total_bytes)},
                    {"rank_bytes", rank_bytes[i]}});
    curve.push_back({{"customers", i + 1}, {"share_calls", Ratio(cum_calls, total_calls)}});
  }
  const uint64_t rest_calls = total_calls > cum_calls ? total_calls - cum_calls : 0;
  const uint64_t rest_bytes = total_bytes > cum_bytes ? total_bytes - cum_bytes : 0;
  const size_t active = std::max(names.size(), rows_in.size());
  if (active > rows_in.size()) {
    curve.push_back({{"customers", active}, {"share_calls", Ratio(total_calls, total_calls)}});
  }
  json highlights = json::array();
  for (size_t k : {1, 5, 10, 20, 50, 100}) {
    if (k > rows_in.size()) break;
    highlights.push_back({{"top", k}, {"share_calls", Ratio(cum_calls_at[k - 1], total_calls)}});
  }
  APIMETER_ASSIGN_OR_RETURN(json matrix,
                            Matrix(engine, p, rows_in, r.matrix_customers, r.matrix_endpoints));
  return json{{"from", FormatIso8601(ov.range.from_s)},
              {"to", FormatIso8601(ov.range.to_s)},
              {"requested_from", FormatIso8601(r.from_s)},
              {"requested_to", FormatIso8601(r.to_s)},
              {"adjusted",
               ov.range.adjusted || days.first != r.from_s || days.second != r.to_s},
              {"generated_at", FormatIso8601(now_s)},
              {"total",
               {{"requests", total_calls},
                {"bytes_in", ov.bytes_in},
                {"bytes_out", ov.bytes_out},
                {"bytes", total_bytes}}},
              {"active_customers", active},
              {"limit", r.limit},
              {"customers", std::move(rows)},
              {"others",
               {{"customers", active - rows_in.size()},
                {"requests", rest_calls},
                {"share_calls", Ratio(rest_calls, total_calls)},
                {"bytes", rest_bytes},
                {"share_bytes", Ratio(rest_bytes, total_bytes)}}},
              {"curve", std::move(curve)},
              {"highlights", std::move(highlights)},
              {"matrix", std::move(matrix)}};
}

Result<std::string> AttributionCsv(const json& a, const std::string& section) {
  try {
    std::string out;
    if (section == "customers") {
      out = csv::Row({"rank", "customer", "requests", "share_calls", "cumulative_share_calls",
                      "bytes_in", "bytes_out", "bytes", "share_bytes", "rank_bytes"});
      for (const json& c : a.at("customers")) {
        std::vector<std::string> f;
        for (const char* k :
             {"rank", "customer", "requests", "share_calls", "cumulative_share_calls", "bytes_in",
              "bytes_out", "bytes", "share_bytes", "rank_bytes"}) {
          f.push_back(csv::Value(c.at(k)));
        }
        out += csv::Row(f);
      }
      return out;
    }
    if (section == "curve") {
      out = csv::Row({"customers", "cumulative_share_calls"});
      for (const json& p : a.at("curve")) {
        out += csv::Row({csv::Value(p.at("customers")), csv::Value(p.at("share_calls"))});
      }
      return out;
    }
    if (section == "matrix") {
      const json& m = a.at("matrix");
      std::vector<std::string> head = {"customer"};
      for (const json& e : m.at("endpoints")) head.push_back(csv::Value(e));
      head.push_back("other_endpoints");
      head.push_back("total");
      out = csv::Row(head);
      for (size_t i = 0; i < m.at("customers").size(); ++i) {
        std::vector<std::string> f = {csv::Value(m.at("customers")[i])};
        for (const json& v : m.at("cells")[i]) f.push_back(csv::Value(v));
        f.push_back(csv::Value(m.at("other_endpoints")[i]));
        f.push_back(csv::Value(m.at("totals")[i]));
        out += csv::Row(f);
      }
      return out;
    }
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("attribution CSV: not an attribution document: ") +
                                   e.what());
  }
  return Status::InvalidArgument("section must be customers, curve or matrix (got '" + section +
                                 "')");
}

}  // namespace apimeter
