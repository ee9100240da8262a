// RenderTable: plain-text tables for `apimeter query`, built only from the
// JSON the engine returns, so the CLI shows exactly what the API serves.
#include <cstdio>
#include <string>
#include <vector>

#include "query/query_engine.h"

namespace apimeter {
namespace {

using nlohmann::json;

// A number or null as text: null -> "-", floats with `decimals` places.
std::string Num(const json& v, int decimals = 3) {
  if (v.is_null()) return "-";
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_float()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v.get<double>());
    return buf;
  }
  if (v.is_string()) return v.get<std::string>();
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A 0..1 fraction as a percentage ("12.50%"), null -> "-".
std::string Percent(const json& v) {
  if (!v.is_number()) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f%%", v.get<double>() * 100.0);
  return buf;
}

std::string Text(const json& obj, const char* key) {
  return obj.contains(key) ? Num(obj.at(key)) : "-";
}

class Table {
 public:
  // right_align[i]: numbers are right-aligned so their digits line up.
  Table(std::vector<std::string> header, std::vector<bool> right_align)
      : right_(std::move(right_align)) {
    rows_.push_back(std::move(header));
  }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  std::string Render() const {
    std::vector<size_t> width(rows_[0].size(), 0);
    for (const auto& row : rows_) {
      for (size_t c = 0; c < row.size() && c < width.size(); ++c) {
        width[c] = std::max(width[c], row[c].size());
      }
    }
    std::string out;
    for (const auto& row : rows_) {
      std::string line;
      for (size_t c = 0; c < row.size() && c < width.size(); ++c) {
        const std::string pad(width[c] - row[c].size(), ' ');
        if (c > 0) line += "  ";
        line += right_[c] ? pad + row[c] : row[c] + pad;
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + "\n";
    }
    return out;
  }

 private:
  std::vector<std::vector<std::string>> rows_;
  std::vector<bool> right_;
};

std::string RangeLine(const json& j) {
  std::string s = Text(j, "from") + " .. " + Text(j, "to");
  if (j.value("adjusted", false)) {
    s += "  (requested " + Text(j, "requested_from") + " .. " + Text(j, "requested_to") + ")";
  }
  // Day-resolution answers say why their range is whole days.
  if (j.contains("resolution")) s += "  [" + Text(j, "resolution") + " resolution]";
  return s;
}

std::string Pairs(const json& obj) {
  std::string s;
  for (const auto& [k, v] : obj.items()) s += (s.empty() ? "" : "  ") + k + "=" + Num(v);
  return s.empty() ? "-" : s;
}

std::string RenderOverview(const json& j) {
  const json& lat = j.at("latency_ms");
  std::string latency;
  for (const char* k : {"avg", "p50", "p90", "p95", "p99", "max"}) {
    latency += (latency.empty() ? "" : "  ") + std::string(k) + " " + Text(lat, k);
  }
  std::string plan;
  for (const json& run : j.value("plan", json::array())) {
    plan += (plan.empty() ? "" : ", ") + Num(run.at("buckets")) + " " + Num(run.at("tier"));
  }
  Table t({"range", RangeLine(j)}, {false, false});
  t.Add({"requests", Text(j, "requests")});
  t.Add({"rps", Text(j, "rps")});
  t.Add({"errors", "4xx " + Text(j, "errors_4xx") + "  5xx " + Text(j, "errors_5xx") + "  rate " +
                       Percent(j.at("error_rate"))});
  t.Add({"latency ms", latency});
  t.Add({"bytes", "in " + Text(j, "bytes_in") + "  out " + Text(j, "bytes_out")});
  t.Add({"status", Pairs(j.at("status"))});
  t.Add({"classes", Pairs(j.at("status_class"))});
  if (j.contains("rejected")) t.Add({"rejected", Text(j, "rejected")});
  if (!plan.empty()) t.Add({"buckets", plan});
  return t.Render();
}

std::string RenderTop(const json& j, const char* list, const char* name) {
  Table t({"#", name, "REQUESTS", "SHARE", "4XX", "5XX", "AVG_MS", "P50_MS", "P95_MS", "P99_MS",
           "MAX_MS", "BYTES_OUT"},
          {true, false, true, true, true, true, true, true, true, true, true, true});
  int rank = 0;
  for (const json& row : j.at(list)) {
    const json& lat = row.at("latency_ms");
    t.Add({std::to_string(++rank), Text(row, name), Text(row, "requests"), Percent(row.at("share")),
           Text(row, "errors_4xx"), Text(row, "errors_5xx"), Text(lat, "avg"), Text(lat, "p50"),
           Text(lat, "p95"), Text(lat, "p99"), Text(lat, "max"), Text(row, "bytes_out")});
  }
  return RangeLine(j) + "\n" + t.Render();
}

std::string RenderTimeseries(const json& j) {
  Table t({"TIME", "REQUESTS", "4XX", "5XX", "P50_MS", "P95_MS", "P99_MS"},
          {false, true, true, true, true, true, true});
  for (const json& p : j.at("points")) {
    t.Add({Text(p, "t"), Text(p, "requests"), Text(p, "errors_4xx"), Text(p, "errors_5xx"),
           Text(p, "p50"), Text(p, "p95"), Text(p, "p99")});
  }
  return RangeLine(j) + "  step " + Text(j, "step_s") + "s\n" + t.Render();
}

std::string RenderSlow(const json& j) {
  Table t({"TIME", "LATENCY_MS", "STATUS", "ENDPOINT", "CUSTOMER", "HOST"},
          {false, true, true, false, false, false});
  for (const json& r : j.at("requests")) {
    t.Add({Text(r, "time"), Text(r, "latency_ms"), Text(r, "status"), Text(r, "endpoint"),
           Text(r, "customer"), Text(r, "host")});
  }
  return RangeLine(j) + "\n" + t.Render();
}

// The customers of one endpoint, with first and last seen (issue 18).
std::string RenderEndpointCustomers(const json& j) {
  Table t({"#", "customer", "REQUESTS", "SHARE", "4XX", "5XX", "P95_MS", "FIRST_SEEN", "LAST_SEEN"},
          {true, false, true, true, true, true, true, false, false});
  int rank = 0;
  for (const json& row : j.at("customers")) {
    t.Add({std::to_string(++rank), Text(row, "customer"), Text(row, "requests"),
           Percent(row.at("share")), Text(row, "errors_4xx"), Text(row, "errors_5xx"),
           Text(row.at("latency_ms"), "p95"), Text(row, "first_seen"), Text(row, "last_seen")});
  }
  return RangeLine(j) + "  endpoint " + Text(j.at("filter"), "endpoint") + "  customers " +
         Text(j, "customer_count") + "\n" + t.Render();
}

// The clients of all traffic, an endpoint or a customer (issue 18 part 2);
// a range without client series says why instead of an empty table.
std::string RenderClients(const json& j) {
  std::string head = RangeLine(j);
  const json& f = j.at("filter");
  if (f.contains("endpoint")) head += "  endpoint " + Text(f, "endpoint");
  if (f.contains("customer")) head += "  customer " + Text(f, "customer");
  if (!j.value("logged", false)) return head + "\n" + Text(j, "note") + "\n";
  head += "  clients " + Text(j, "client_count") + "  requests " + Text(j, "total_requests");
  return head + "\n" + RenderTop(j, "clients", "client").substr(RangeLine(j).size() + 1);
}

}  // namespace

std::string RenderTable(std::string_view kind, const nlohmann::json& result) {
  // Library edge: a JSON of the wrong shape falls back to the JSON itself
  // rather than throwing into the CLI.
  try {
    if (kind == "overview") return RenderOverview(result);
    if (kind == "endpoints") return RenderTop(result, "endpoints", "endpoint");
    if (kind == "customers") return RenderTop(result, "customers", "customer");
    if (kind == "endpoint_customers") return RenderEndpointCustomers(result);
    if (kind == "timeseries") return RenderTimeseries(result);
    if (kind == "slow") return RenderSlow(result);
    if (kind == "clients") return RenderClients(result);
  } catch (const nlohmann::json::exception&) {
  }
  return result.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace apimeter
