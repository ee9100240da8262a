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

// Sent with every response of `apimeter serve` (server/http_server.cpp;
// docs/api.md, "Headers on every response"). The page loads nothing but its
// own files (default-src 'self', and no 'unsafe-inline': no inline script,
// style or handler runs even if a name from a log slipped past escaping); it
// may not be framed (clickjacking), load plugins, change its <base> or post
// forms elsewhere. img-src adds data: for the pages' empty favicon
// (<link rel="icon" href="data:,">, which stops a /favicon.ico request).
// No Referer leaves any page, except that the sign-in page (LoginPage in
// api_handler.cpp) overrides the Referrer-Policy with kSignInReferrerPolicy:
// with no-referrer a browser sends "Origin: null" with its form, which the
// login CSRF check must refuse.
struct HeaderField {
  std::string_view name, value;
};
inline constexpr HeaderField kSecurityHeaders[] = {
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Content-Security-Policy",
     "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; "
     "form-action 'self'; base-uri 'none'"},
    {"Referrer-Policy", "no-referrer"},
};
// The sign-in page links nowhere, so same-origin sends no Referer to any
// other site while its form keeps an intact Origin.
inline constexpr std::string_view kSignInReferrerPolicy = "same-origin";
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
