// Customer usage report model: everything a report shows, assembled from
// QueryEngine answers only (overview, timeseries, endpoints, clients), so every number
// is the API's number for the same range. The model is a JSON document (the
// `json` format of `apimeter report` and GET /api/v1/report, docs/reports.md);
// the CSV, HTML and PDF renderers read nothing else.
//
// Promise: the report period is the requested range rounded outward to whole
// UTC days (customer × endpoint series exist per day only, so every section
// then covers the same days); it says so in "period". Counts and bytes are
// exact sums for that period; percentiles are the engine's (within 1%). A
// value that cannot be computed is null with a note, never 0; so is the
// clients section when no source logged $http_user_agent in the period. When a
// storage-v2 answer left damaged blocks out, the report carries "partial":
// true, "damaged": [list keys] and, as its first note, a PARTIAL DATA
// warning (AddPartialWarning), which every format shows. An empty or
// inverted range is InvalidArgument naming "from"; a customer that is neither
// in the customers file nor has requests in the period is NotFound.
// Thread-safety: as the QueryEngine it is given (not thread-safe).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "query/query_engine.h"

namespace apimeter {

inline constexpr int64_t kReportDefaultDays = 30;
inline constexpr int64_t kReportDefaultTopEndpoints = 10;
inline constexpr int64_t kReportMaxTopEndpoints = 50;
// Clients listed in a report (the rest is one "other clients" figure).
inline constexpr int64_t kReportTopClients = 10;

// The customers file (id "k_..." → display name); a customer is asked for by
// either. Stored names are the display names for mapped ids.
class CustomerDirectory {
 public:
  explicit CustomerDirectory(std::map<std::string, std::string> id_to_name = {});
  struct Resolved {
    std::string name;     // the name stored in Redis
    std::string id;       // "k_..." when known, else ""
    bool listed = false;  // in the customers file
  };
  Resolved Resolve(const std::string& asked) const;
  const std::map<std::string, std::string>& ids() const { return id_to_name_; }

 private:
  std::map<std::string, std::string> id_to_name_;
  std::map<std::string, std::string> name_to_id_;
};

struct ReportRequest {
  std::string customer;          // a display name, a k_ id, "anonymous" or "other"
  int64_t from_s = 0, to_s = 0;  // [from, to), rounded outward to whole UTC days
  int64_t top_endpoints = kReportDefaultTopEndpoints;  // 1..kReportMaxTopEndpoints
};

// [from, to) → whole UTC days containing it. InvalidArgument ("from must be
// before to") when from >= to.
Result<std::pair<int64_t, int64_t>> ReportDays(int64_t from_s, int64_t to_s);
// The last `days` full UTC days before `now` (today excluded).
std::pair<int64_t, int64_t> LastFullDays(int64_t now_s, int64_t days);

Result<nlohmann::json> BuildCustomerReport(QueryEngine& engine, const CustomerDirectory& customers,
                                           const ReportRequest& request, int64_t now_s);

// Marks a report partial: "partial", "damaged" and a first note naming the keys.
void AddPartialWarning(const ReadDamage& damaged, nlohmann::json* report);

}  // namespace apimeter
