// EndpointCustomers: who calls one endpoint (issue 18 part 1) — the
// customers of an endpoint over whole UTC days, with their requests, errors,
// latency and the first and last minute each one called it.
//
// Promise: numbers are exact sums of the day-tier customer × endpoint
// series (the kind-x blocks of storage v2, docs/storage-v2.md), so they are
// bounded by the same admission limits (a refused customer is "other").
// First seen is the first minute with a request in the earliest day of the
// range the customer called the endpoint, last seen the last minute of the
// latest such day: min of firsts, max of lasts over hosts, flushes,
// compaction and days. A first (last) seen is nullopt, never a guess, when
// that day's data was written without minutes (before they were kept).
// Rows: most requests first, ties by customer name; at most `limit`.
// Thread-safety: plain values and a function of its arguments.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "query/range_plan.h"
#include "query/series_store.h"

namespace apimeter {

struct EndpointCustomerRow {
  std::string customer;
  uint64_t requests = 0;
  uint64_t errors_4xx = 0, errors_5xx = 0;
  uint64_t bytes_in = 0, bytes_out = 0;
  // Latency percentiles from the merged histogram (µs); nullopt: no latency.
  std::optional<double> p50_us, p95_us, p99_us;
  std::optional<int64_t> max_us;
  // Start of the first / last minute with a request (epoch seconds).
  std::optional<int64_t> first_seen_s, last_seen_s;
};

struct EndpointCustomersAnswer {
  std::string endpoint;
  RangePlan plan;  // whole UTC days (customer × endpoint series are per day)
  int64_t limit = 0;
  uint64_t total_requests = 0;  // the endpoint's requests, every customer
  uint64_t customer_count = 0;  // customers with requests (before the limit)
  std::vector<EndpointCustomerRow> customers;
  std::vector<std::string> damaged;  // keys of blocks left out; non-empty: partial
};

// Reads `plan`'s day runs through the store and folds them into the answer
// (damaged keys are added to *damage; the caller copies them in).
Result<EndpointCustomersAnswer> ReadEndpointCustomers(SeriesStore& store, const RangePlan& plan,
                                                      const std::string& endpoint, int64_t limit,
                                                      ReadDamage* damage);

}  // namespace apimeter
