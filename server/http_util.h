// Small building blocks shared by every HTTP route (core API, reports,
// attribution, alerts): JSON/text/error responses, query-string parsing and
// the common from/to range parameters.
//
// Promise: pure functions, no I/O, never throw. Error bodies are always
// {"error":{"message":...,"parameter":...}} (docs/api.md). Query strings are
// decoded strictly: a broken %XX, a repeated parameter or more than
// kMaxParams parameters is an error naming the parameter.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "server/http_types.h"

namespace apimeter {

inline constexpr size_t kMaxParams = 32;

// Sent with every response of `apimeter serve` (server/http_server.cpp): the
// page may not be framed (clickjacking), load plugins, change its <base> or
// post forms elsewhere; no Referer goes to other sites, while our own forms
// keep an intact Origin, which the login CSRF check reads (no-referrer would
// make a browser send "Origin: null" and refuse every sign-in).
struct HeaderField {
  std::string_view name, value;
};
inline constexpr HeaderField kSecurityHeaders[] = {
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Content-Security-Policy",
     "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"},
    {"Referrer-Policy", "same-origin"},
};
inline constexpr int64_t kMaxRangeSeconds = 400 * 86400;
inline constexpr int64_t kMaxResultLimit = 1000;

struct ParamError {
  std::string parameter, message;
};

using FormParams = std::map<std::string, std::string>;

HttpResponse JsonResponse(int status, const nlohmann::json& body);
HttpResponse ErrorResponse(int status, const std::string& message,
                           const std::string& parameter = "");
HttpResponse TextResponse(int status, std::string content_type, std::string body);
HttpResponse Redirect(const std::string& location);
// A Result<json> as a response: ok → 200; InvalidArgument → 400 (parameter
// guessed from the message's first word); NotFound → 404; Unavailable → 503
// ("Redis unavailable: ..."); anything else → 500.
HttpResponse FromResult(const Result<nlohmann::json>& r);

// "a=1&b=2" → map (application/x-www-form-urlencoded).
Result<FormParams> ParseForm(std::string_view text, ParamError* err);
std::optional<int64_t> ParseInt(std::string_view s);
std::string Get(const FormParams& m, const std::string& k, const std::string& fallback = "");

// from/to (defaults 24h / now; ISO-8601, epoch seconds or shorthands such as
// 1h, 7d, 30d) → [from, to). Refuses from >= to and ranges over 400 days.
struct TimeRange {
  int64_t from_s = 0, to_s = 0;
};
std::optional<ParamError> ParseRangeParams(const FormParams& q, int64_t now, TimeRange* out,
                                           const std::string& default_from = "24h");

}  // namespace apimeter
