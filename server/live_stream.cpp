// The /api/v1/live event contents (see live_stream.h).
#include "server/live_stream.h"

#include "common/time_util.h"

namespace apimeter {

using nlohmann::json;

std::optional<ParamError> ParseLiveParams(const FormParams& q, LiveParams* out) {
  for (const auto& [k, v] : q) {
    if (k != "host" && k != "endpoint" && k != "customer" && k != "window" && k != "interval") {
      return ParamError{k.substr(0, 64),
                        "unknown parameter; known: host, endpoint, customer, window, interval"};
    }
  }
  if (q.count("window")) {
    auto w = ParseDuration(Get(q, "window"));
    if (!w.ok() || *w < 60 || *w > kLiveMaxWindowSeconds || *w % 60 != 0) {
      return ParamError{"window", "window must be whole minutes from 1m to 6h, e.g. 15m"};
    }
    out->window_s = *w;
  }
  if (q.count("interval")) {
    auto i = ParseInt(Get(q, "interval"));
    if (!i || *i < 1 || *i > kLiveMaxIntervalSeconds) {
      return ParamError{"interval", "interval must be an integer number of seconds, 1..60"};
    }
    out->interval_s = *i;
  }
  out->filter = QueryFilter{Get(q, "host"), Get(q, "endpoint"), Get(q, "customer")};
  return std::nullopt;
}

namespace {

json Ratio(int64_t num, int64_t den) {
  if (den <= 0) return nullptr;
  return static_cast<double>(num) / static_cast<double>(den);
}

}  // namespace

Result<json> LiveSnapshot(QueryBackend& backend, const LiveParams& p, int64_t now) {
  const int64_t minute_end = now - now % 60 + 60;  // end of the minute `now` is in
  QueryParams q;
  q.from_s = minute_end - p.window_s;
  q.to_s = minute_end;
  q.step_s = 60;
  q.filter = p.filter;
  APIMETER_ASSIGN_OR_RETURN(json ts, backend.Timeseries(q));
  json out;
  out["generated_at"] = FormatIso8601(now);
  out["window_s"] = p.window_s;
  out["interval_s"] = p.interval_s;
  out["filter"] = ts.value("filter", json::object());
  out["from"] = ts.value("from", json());
  out["to"] = ts.value("to", json());
  out["points"] = ts.value("points", json::array());
  if (ts.contains("resolution")) {
    out["resolution"] = ts["resolution"];
    out["note"] = ts.value("note", json());
  }
  // The newest closed minute: the point before the one `now` is in.
  const std::string closed = FormatIso8601(minute_end - 120);
  json last = nullptr;
  for (const json& pt : out["points"]) {
    if (pt.value("t", "") != closed) continue;
    const int64_t n = pt.value("requests", int64_t{0});
    const int64_t e4 = pt.value("errors_4xx", int64_t{0});
    const int64_t e5 = pt.value("errors_5xx", int64_t{0});
    last = {{"t", closed},
            {"requests", n},
            {"rps", static_cast<double>(n) / 60.0},
            {"errors_4xx", e4},
            {"errors_5xx", e5},
            {"error_rate", Ratio(e4 + e5, n)},
            {"error_rate_4xx", Ratio(e4, n)},
            {"error_rate_5xx", Ratio(e5, n)},
            {"p99", pt.value("p99", json())}};
  }
  out["last_minute"] = last;
  return out;
}

std::string SseEvent(std::string_view name, int64_t id, const json& data) {
  std::string out = "event: ";
  out += name;
  out += "\nid: " + std::to_string(id) + "\ndata: ";
  out += data.dump(-1, ' ', false, json::error_handler_t::replace);
  out += "\n\n";
  return out;
}

}  // namespace apimeter
