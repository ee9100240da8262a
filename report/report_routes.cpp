// HTTP routes for reports and attribution (see report_routes.h).
#include "report/report_routes.h"

#include <set>
#include <string>

#include "common/time_util.h"
#include "report/attribution.h"
#include "report/report_render.h"

namespace apimeter {
namespace {

using nlohmann::json;

std::optional<HttpResponse> UnknownParam(const FormParams& q, const std::set<std::string>& known) {
  for (const auto& [k, v] : q) {
    if (known.count(k) == 0) {
      std::string list;
      for (const std::string& n : known) list += (list.empty() ? "" : ", ") + n;
      return ErrorResponse(400, "unknown parameter; known: " + list, k);
    }
  }
  return std::nullopt;
}

// from/to, or the last 30 full UTC days when neither is given.
std::optional<HttpResponse> Range(const FormParams& q, int64_t now, TimeRange* range) {
  if (q.count("from") == 0 && q.count("to") == 0) {
    const auto [from, to] = LastFullDays(now, kReportDefaultDays);
    range->from_s = from;
    range->to_s = to;
    return std::nullopt;
  }
  if (auto err = ParseRangeParams(q, now, range, "30d")) {
    return ErrorResponse(400, err->message, err->parameter);
  }
  return std::nullopt;
}

// An optional integer parameter in [1, max]; the error names the parameter
// (never left for the engine, whose message would have to be guessed from).
std::optional<HttpResponse> IntParam(const FormParams& q, const std::string& name, int64_t max,
                                     int64_t* out) {
  if (q.count(name) == 0) return std::nullopt;
  auto v = ParseInt(q.at(name));
  if (!v || *v < 1 || *v > max) {
    return ErrorResponse(400, name + " must be an integer between 1 and " + std::to_string(max),
                         name);
  }
  *out = *v;
  return std::nullopt;
}

HttpResponse Download(std::string_view content_type, std::string body, const std::string& file) {
  HttpResponse r = TextResponse(200, std::string(content_type), std::move(body));
  r.headers["Content-Disposition"] = "attachment; filename=\"" + file + "\"";
  r.headers["Cache-Control"] = "no-store";
  return r;
}

}  // namespace

std::string ReportDownloadName(const json& report, std::string_view extension) {
  const json& period = report.at("period");
  std::string from = period.at("from").get<std::string>().substr(0, 10);
  auto to_s = ParseTimePoint(period.at("to").get<std::string>(), 0);
  const std::string last = to_s.ok() ? FormatDate(*to_s - 1) : from;
  return "apimeter-" + ReportFileStem(report.at("customer").at("name").get<std::string>()) + "-" +
         from + "_" + last + "." + std::string(extension);
}

std::optional<HttpResponse> ReportRoutes::Route(std::string_view path, const FormParams& params,
                                                const Clock& clock) {
  if (path == "/api/v1/report") return Report(params, clock.NowSeconds());
  if (path == "/api/v1/attribution") return Attribution(params, clock.NowSeconds());
  return std::nullopt;
}

HttpResponse ReportRoutes::Report(const FormParams& q, int64_t now) {
  if (auto bad = UnknownParam(q, {"customer", "from", "to", "format", "top"})) return *bad;
  const std::string customer = Get(q, "customer");
  if (customer.empty()) return ErrorResponse(400, "customer is required", "customer");
  auto format = ParseReportFormat(Get(q, "format", "json"));
  if (!format.ok()) return ErrorResponse(400, format.status().message(), "format");
  ReportRequest req;
  req.customer = customer;
  if (auto bad = IntParam(q, "top", kReportMaxTopEndpoints, &req.top_endpoints)) return *bad;
  TimeRange range;
  if (auto bad = Range(q, now, &range)) return *bad;
  req.from_s = range.from_s;
  req.to_s = range.to_s;
  Result<json> report = BuildCustomerReport(*engine_, customers_, req, now);
  if (!report.ok() || *format == ReportFormat::kJson) return FromResult(report);
  Result<std::string> body = RenderReport(*report, *format);
  if (!body.ok()) return FromResult(Result<json>(body.status()));
  return Download(ReportContentType(*format), std::move(*body),
                  ReportDownloadName(*report, ReportExtension(*format)));
}

HttpResponse ReportRoutes::Attribution(const FormParams& q, int64_t now) {
  if (auto bad = UnknownParam(q, {"from", "to", "format", "section", "limit", "matrix_customers",
                                  "matrix_endpoints"})) {
    return *bad;
  }
  const std::string format = Get(q, "format", "json");
  if (format != "json" && format != "csv") {
    return ErrorResponse(400, "format must be json or csv", "format");
  }
  const std::string section = Get(q, "section", "customers");
  if (section != "customers" && section != "curve" && section != "matrix") {
    return ErrorResponse(400, "section must be customers, curve or matrix", "section");
  }
  AttributionRequest req;
  if (auto bad = IntParam(q, "limit", QueryEngine::kMaxLimit, &req.limit)) return *bad;
  if (auto bad = IntParam(q, "matrix_customers", kAttributionMaxMatrix, &req.matrix_customers)) return *bad;
  if (auto bad = IntParam(q, "matrix_endpoints", kAttributionMaxMatrix, &req.matrix_endpoints)) return *bad;
  TimeRange range;
  if (auto bad = Range(q, now, &range)) return *bad;
  req.from_s = range.from_s;
  req.to_s = range.to_s;
  Result<json> a = BuildAttribution(*engine_, req, now);
  if (!a.ok() || format == "json") return FromResult(a);
  Result<std::string> body = AttributionCsv(*a, section);
  if (!body.ok()) return FromResult(Result<json>(body.status()));
  const std::string file = "apimeter-attribution-" + section + "-" +
                           a->at("from").get<std::string>().substr(0, 10) + ".csv";
  return Download(ReportContentType(ReportFormat::kCsv), std::move(*body), file);
}

}  // namespace apimeter
