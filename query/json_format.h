// JSON building blocks of the query API (docs/api.md): how a Rollup, a
// latency, a time and a ratio are written. Internal to query/.
//
// Promise: pure functions, thread-safe. Values that cannot be computed are
// JSON null. Strings are valid UTF-8 (invalid bytes from untrusted names are
// replaced by U+FFFD), so dumping the JSON never throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "aggregator/rollup.h"

namespace apimeter::query_json {

// Milliseconds from microseconds, rounded to the nearest microsecond (3 decimals).
double MicrosToMs(double micros);
// null when absent.
nlohmann::json OptionalMs(std::optional<double> micros);
// Rounded to `decimals`; null when the denominator is 0.
nlohmann::json Ratio(double numerator, double denominator, int decimals);
// {"avg","p50","p90","p95","p99","max"} in ms; each null without latencies.
nlohmann::json LatencyMs(const Rollup& r);
// {"1xx".."5xx"} and {"200": n, ...}.
nlohmann::json StatusClasses(const Rollup& r);
nlohmann::json StatusCodes(const Rollup& r);
// "2026-11-26T10:00:00Z"
std::string Iso(int64_t epoch_seconds);
// Replaces bytes that are not valid UTF-8 with U+FFFD.
std::string Utf8(std::string_view s);

}  // namespace apimeter::query_json
