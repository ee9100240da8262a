// Cost attribution: who consumes what over a range, from QueryEngine answers
// (overview, customers, endpoints) and QueryEngine::CustomerNames, so the
// numbers equal the API's for the same range (docs/reports.md).
//
// Promise: the range is rounded outward to whole UTC days (the customer ×
// endpoint matrix reads day-only series). Customers are ranked by requests
// (ties by name) with their share of calls and of bytes (in + out); the
// customers beyond `limit` are summed exactly into "others" by difference
// from the overview. The cumulative-share curve is exact for every listed
// rank. A matrix cell is the request count of that customer × endpoint
// series; the customer's other endpoints are its total minus its cells.
// Memory: one name per active customer (CustomerNames), rows only for
// `limit` customers.
// Thread-safety: as the QueryEngine (not thread-safe).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "query/query_engine.h"

namespace apimeter {

inline constexpr int64_t kAttributionMaxMatrix = 50;  // matrix rows or columns

struct AttributionRequest {
  int64_t from_s = 0, to_s = 0;
  int64_t limit = 100;            // ranked customers, 1..1000
  int64_t matrix_customers = 20;  // matrix rows (the top customers), 1..kAttributionMaxMatrix
  int64_t matrix_endpoints = 15;  // matrix columns (the top endpoints overall), same bound
};

Result<nlohmann::json> BuildAttribution(QueryEngine& engine, const AttributionRequest& request,
                                        int64_t now_s);

// CSV of one section of the attribution JSON: "customers", "curve" or
// "matrix" (InvalidArgument naming "section" otherwise).
Result<std::string> AttributionCsv(const nlohmann::json& attribution, const std::string& section);

}  // namespace apimeter
