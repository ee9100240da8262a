// The HTTP routes of reports and cost attribution, as an ApiExtension of
// `apimeter serve` (docs/api.md, "Reports and attribution"):
//   GET /api/v1/report?customer=C[&from&to][&format=json|csv|html|pdf][&top=N]
//   GET /api/v1/attribution[?from&to][&format=json|csv][&section=customers|curve|matrix]
//                          [&limit=N][&matrix_customers=N][&matrix_endpoints=N]
// Without from and to, the range is the last 30 full UTC days.
//
// Promise: a pure function of the parameters, the clock and the QueryEngine
// answers (it never reads Redis any other way). Every parameter is checked
// before a query runs; unknown ones are refused. Errors keep the API's JSON
// shape: a bad, empty or inverted range → 400 naming the parameter, an
// unknown customer → 404, Redis trouble → 503. A non-JSON answer (csv, html,
// pdf) carries Content-Disposition: attachment with a file name.
// Thread-safety: as the QueryEngine (serve calls it from one thread).
#pragma once

#include <optional>
#include <string_view>

#include "query/query_engine.h"
#include "report/report_model.h"
#include "server/api_handler.h"

namespace apimeter {

class ReportRoutes final : public ApiExtension {
 public:
  ReportRoutes(QueryEngine* engine, CustomerDirectory customers)
      : engine_(engine), customers_(std::move(customers)) {}
  std::optional<HttpResponse> Route(std::string_view path, const FormParams& params,
                                    const Clock& clock) override;

 private:
  HttpResponse Report(const FormParams& params, int64_t now);
  HttpResponse Attribution(const FormParams& params, int64_t now);

  QueryEngine* engine_;
  CustomerDirectory customers_;
};

// "apimeter-<customer>-<first day>_<last day>.<ext>" for a report document.
std::string ReportDownloadName(const nlohmann::json& report, std::string_view extension);

}  // namespace apimeter
