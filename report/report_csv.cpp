// The report as CSV, the --all summary row, format names and dispatch
// (see report_render.h).
#include <cmath>
#include <string>
#include <vector>

#include "report/csv.h"
#include "report/report_render.h"

namespace apimeter {
namespace {

using nlohmann::json;

const std::vector<std::string> kColumns = {
    "record",         "customer",       "from",           "to",         "date",
    "endpoint",       "requests",       "share",          "errors_4xx", "errors_5xx",
    "rate_4xx",       "rate_5xx",       "bytes_in",       "bytes_out",  "latency_avg_ms",
    "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "client"};

// A record with every column; `set` fills the ones it has.
struct Record {
  std::vector<std::string> fields = std::vector<std::string>(kColumns.size());
  void Set(std::string_view column, const json& v) {
    for (size_t i = 0; i < kColumns.size(); ++i) {
      if (kColumns[i] == column) fields[i] = csv::Value(v);
    }
  }
  // Counts, rates, bytes and latency of a total or endpoint object.
  void SetStats(const json& o) {
    for (const char* k : {"requests", "share", "errors_4xx", "errors_5xx", "rate_4xx", "rate_5xx",
                          "bytes_in", "bytes_out"}) {
      if (o.contains(k)) Set(k, o.at(k));
    }
    if (o.contains("latency_ms")) {
      const json& lat = o.at("latency_ms");
      for (const char* p : {"avg", "p50", "p95", "p99"}) {
        Set(std::string("latency_") + p + "_ms", lat.at(p));
      }
    }
  }
};

// errors / requests of a day, 6 decimals as in the API; null without requests.
json DayRate(const json& day, const char* errors) {
  const double n = day.at("requests").get<double>();
  if (n == 0) return nullptr;
  return std::round(day.at(errors).get<double>() / n * 1e6) / 1e6;
}

std::string CsvBody(const json& r) {
  const json& who = r.at("customer").at("name");
  const json& period = r.at("period");
  std::string out = csv::Row(kColumns);
  auto start = [&](const char* kind) {
    Record rec;
    rec.Set("record", kind);
    rec.Set("customer", who);
    rec.Set("from", period.at("from"));
    rec.Set("to", period.at("to"));
    return rec;
  };
  Record total = start("total");
  total.SetStats(r.at("totals"));
  out += csv::Row(total.fields);
  for (const json& d : r.at("daily")) {
    Record rec = start("day");
    rec.Set("date", d.at("date"));
    rec.SetStats(d);
    rec.Set("rate_4xx", DayRate(d, "errors_4xx"));
    rec.Set("rate_5xx", DayRate(d, "errors_5xx"));
    for (const char* p : {"p50", "p95", "p99"})
      rec.Set(std::string("latency_") + p + "_ms", d.at(p));
    out += csv::Row(rec.fields);
  }
  const json& eps = r.at("endpoints");
  for (const json& e : eps.at("rows")) {
    Record rec = start("endpoint");
    rec.Set("endpoint", e.at("endpoint"));
    rec.SetStats(e);
    out += csv::Row(rec.fields);
  }
  Record other = start("other_endpoints");
  other.Set("requests", eps.at("other_requests"));
  other.Set("share", eps.at("other_share"));
  out += csv::Row(other.fields);
  // Clients (absent from reports made before them): one record per listed
  // client and the rest; "clients_not_logged" with no figures when no source
  // logged $http_user_agent (never zeros).
  if (auto it = r.find("clients"); it != r.end()) {
    if (it->is_null()) {
      out += csv::Row(start("clients_not_logged").fields);
    } else {
      for (const json& c : it->at("rows")) {
        Record rec = start("client");
        rec.Set("client", c.at("client"));
        rec.SetStats(c);
        out += csv::Row(rec.fields);
      }
      Record rest = start("other_clients");
      rest.Set("requests", it->at("other_requests"));
      rest.Set("share", it->at("other_share"));
      out += csv::Row(rest.fields);
    }
  }
  if (const json& pd = r.at("peak_day"); !pd.is_null()) {
    Record rec = start("peak_day");
    rec.Set("date", pd.at("date"));
    rec.Set("requests", pd.at("requests"));
    out += csv::Row(rec.fields);
  }
  if (const json& ph = r.at("peak_hour"); !ph.is_null()) {
    Record rec = start("peak_hour");
    rec.Set("date", ph.at("hour"));
    rec.Set("requests", ph.at("requests"));
    out += csv::Row(rec.fields);
  }
  if (r.value("partial", false)) {
    // The figures above may be low: damaged blocks were left out.
    for (const json& key : r.at("damaged")) {
      Record rec = start("partial_damaged_block");
      rec.Set("endpoint", key);
      out += csv::Row(rec.fields);
    }
  }
  return out;
}

}  // namespace

Result<ReportFormat> ParseReportFormat(std::string_view name) {
  if (name == "json") return ReportFormat::kJson;
  if (name == "csv") return ReportFormat::kCsv;
  if (name == "html") return ReportFormat::kHtml;
  if (name == "pdf") return ReportFormat::kPdf;
  return Status::InvalidArgument("format must be csv, json, pdf or html (got '" +
                                 std::string(name) + "')");
}

std::string_view ReportExtension(ReportFormat f) {
  switch (f) {
    case ReportFormat::kCsv:
      return "csv";
    case ReportFormat::kHtml:
      return "html";
    case ReportFormat::kPdf:
      return "pdf";
    case ReportFormat::kJson:
      break;
  }
  return "json";
}

std::string_view ReportContentType(ReportFormat f) {
  switch (f) {
    case ReportFormat::kCsv:
      return "text/csv; charset=utf-8; header=present";
    case ReportFormat::kHtml:
      return "text/html; charset=utf-8";
    case ReportFormat::kPdf:
      return "application/pdf";
    case ReportFormat::kJson:
      break;
  }
  return "application/json";
}

Result<std::string> RenderReport(const json& report, ReportFormat format) {
  switch (format) {
    case ReportFormat::kCsv:
      return ReportCsv(report);
    case ReportFormat::kHtml:
      return ReportHtml(report);
    case ReportFormat::kPdf:
      return ReportPdf(report);
    case ReportFormat::kJson:
      break;
  }
  return report.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<std::string> ReportCsv(const json& report) {
  try {
    return CsvBody(report);
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("report CSV: not a report document: ") + e.what());
  }
}

std::string SummaryCsvHeader() {
  return csv::Row({"customer", "customer_id", "from", "to", "requests", "errors_4xx", "errors_5xx",
                   "error_rate", "bytes_in", "bytes_out", "latency_avg_ms", "latency_p50_ms",
                   "latency_p95_ms", "latency_p99_ms", "peak_day", "peak_day_requests", "file"});
}

Result<std::string> SummaryCsvRow(const json& r, std::string_view file) {
  try {
    const json& t = r.at("totals");
    const json& lat = t.at("latency_ms");
    const json& pd = r.at("peak_day");
    return csv::Row({csv::Value(r.at("customer").at("name")), csv::Value(r.at("customer").at("id")),
                     csv::Value(r.at("period").at("from")), csv::Value(r.at("period").at("to")),
                     csv::Value(t.at("requests")), csv::Value(t.at("errors_4xx")),
                     csv::Value(t.at("errors_5xx")), csv::Value(t.at("error_rate")),
                     csv::Value(t.at("bytes_in")), csv::Value(t.at("bytes_out")),
                     csv::Value(lat.at("avg")), csv::Value(lat.at("p50")),
                     csv::Value(lat.at("p95")), csv::Value(lat.at("p99")),
                     pd.is_null() ? "" : csv::Value(pd.at("date")),
                     pd.is_null() ? "" : csv::Value(pd.at("requests")), std::string(file)});
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("summary row: not a report document: ") + e.what());
  }
}

std::string ReportFileStem(std::string_view customer) {
  std::string out;
  for (char c : customer) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    out += ok ? c : '_';
  }
  if (out.empty() || out[0] == '.') out.insert(out.begin(), '_');
  return out;
}

}  // namespace apimeter
