// The `/api/v1/live` Server-Sent Events feed: what each event holds and how
// its request is validated. The socket side (server/http_server.cpp) sends
// one event at once and then one every `interval` seconds.
//
// Promise: pure functions over a QueryBackend and a time; no I/O. An event
// is the timeseries of the last `window` (one point per minute, exactly the
// /api/v1/timeseries answer for that range and step 60) plus `last_minute`:
// the newest closed minute (the one before the minute `now` is in) with
// requests, requests/s, error rates and p99 computed from that point. A
// value that cannot be computed (no requests) is null. Parameters: host,
// endpoint, customer (as for the query routes), window (1m..6h, default
// 15m) and interval (1..60 s, default 5); anything else is a 400.
// Thread-safety: stateless.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "server/api_handler.h"
#include "server/http_util.h"

namespace apimeter {

struct LiveParams {
  QueryFilter filter;
  int64_t window_s = 15 * 60;
  int64_t interval_s = 5;
};

inline constexpr int64_t kLiveMaxWindowSeconds = 6 * 3600;
inline constexpr int64_t kLiveMaxIntervalSeconds = 60;

std::optional<ParamError> ParseLiveParams(const FormParams& q, LiveParams* out);

// One event's data at time `now` (epoch seconds).
Result<nlohmann::json> LiveSnapshot(QueryBackend& backend, const LiveParams& p, int64_t now);

// "event: <name>\nid: <id>\ndata: <json>\n\n" (the JSON is one line).
std::string SseEvent(std::string_view name, int64_t id, const nlohmann::json& data);

}  // namespace apimeter
