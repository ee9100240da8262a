// Routing, parameter validation and auth for the HTTP API. Each route is a
// small function; Handle() only decides which one runs.
#include "server/api_handler.h"

#include <charconv>
#include <vector>

#include "common/time_util.h"

namespace apimeter {
namespace {

using nlohmann::json;

constexpr size_t kMaxParams = 32;
constexpr std::string_view kApiPrefix = "/api/";

struct ParamError {
  std::string parameter, message;
};

HttpResponse JsonResponse(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.headers["Content-Type"] = "application/json";
  r.headers["Cache-Control"] = "no-store";
  // dump with replace: engine strings come from logs and may hold bad UTF-8.
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  return r;
}

HttpResponse ErrorResponse(int status, const std::string& message,
                           const std::string& parameter = "") {
  json err = {{"message", message}};
  if (!parameter.empty()) err["parameter"] = parameter;
  return JsonResponse(status, json{{"error", err}});
}

HttpResponse TextResponse(int status, std::string content_type, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers["Content-Type"] = std::move(content_type);
  r.body = std::move(body);
  return r;
}

HttpResponse Redirect(const std::string& location) {
  HttpResponse r;
  r.status = 303;
  r.headers["Location"] = location;
  r.headers["Content-Type"] = "text/plain";
  r.body = "see " + location + "\n";
  return r;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding; nullopt on a broken %XX.
std::optional<std::string> FormDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// "a=1&b=2" → map. Duplicate or undecodable parameters are errors, so a
// request never silently means something other than what was sent.
Result<std::map<std::string, std::string>> ParseForm(std::string_view text, ParamError* err) {
  std::map<std::string, std::string> out;
  size_t count = 0;
  while (!text.empty()) {
    const size_t amp = text.find('&');
    const std::string_view part = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    if (part.empty()) continue;
    if (++count > kMaxParams) {
      *err = {"", "too many parameters (at most " + std::to_string(kMaxParams) + ")"};
      return Status::InvalidArgument(err->message);
    }
    const size_t eq = part.find('=');
    auto key = FormDecode(part.substr(0, eq));
    auto value = FormDecode(eq == std::string_view::npos ? "" : part.substr(eq + 1));
    if (!key || !value) {
      *err = {key ? *key : "", "bad percent-encoding"};
      return Status::InvalidArgument(err->message);
    }
    if (!out.emplace(*key, *value).second) {
      *err = {*key, "given more than once"};
      return Status::InvalidArgument(err->message);
    }
  }
  return out;
}

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::string Get(const std::map<std::string, std::string>& m, const std::string& k,
                const std::string& fallback = "") {
  auto it = m.find(k);
  return it == m.end() ? fallback : it->second;
}

// Query parameters → QueryParams, or the first bad parameter.
std::optional<ParamError> BuildParams(const std::map<std::string, std::string>& q, int64_t now,
                                      bool with_metric, QueryParams* p) {
  static const std::vector<std::string> kKnown = {"from", "to",       "limit",   "step",
                                                  "host", "endpoint", "customer"};
  for (const auto& [k, v] : q) {
    bool known = (with_metric && k == "metric");
    for (const auto& name : kKnown) known |= (k == name);
    if (!known) {
      return ParamError{k.substr(0, 64),
                        "unknown parameter; known: from, to, limit, step, host, "
                        "endpoint, customer" +
                            std::string(with_metric ? ", metric" : "")};
    }
  }
  auto from = ParseTimePoint(Get(q, "from", "24h"), now);
  if (!from.ok()) return ParamError{"from", from.status().message()};
  auto to = ParseTimePoint(Get(q, "to", "now"), now);
  if (!to.ok()) return ParamError{"to", to.status().message()};
  if (*from >= *to) return ParamError{"from", "from must be before to"};
  if (*to - *from > kMaxRangeSeconds) {
    return ParamError{"from", "range longer than 400 days; ask for a shorter range"};
  }
  p->from_s = *from;
  p->to_s = *to;
  if (q.count("limit")) {
    auto limit = ParseInt(Get(q, "limit"));
    if (!limit || *limit < 1 || *limit > kMaxResultLimit) {
      return ParamError{"limit", "limit must be an integer between 1 and 1000"};
    }
    p->limit = *limit;
  }
  if (q.count("step")) {
    const std::string step = Get(q, "step");
    auto seconds = ParseInt(step);
    if (!seconds) {
      auto d = ParseDuration(step);
      if (!d.ok()) return ParamError{"step", d.status().message()};
      seconds = *d;
    }
    if (*seconds <= 0) return ParamError{"step", "step must be positive, e.g. 1m, 1h or 3600"};
    p->step_s = *seconds;
  }
  p->filter = QueryFilter{Get(q, "host"), Get(q, "endpoint"), Get(q, "customer")};
  return std::nullopt;
}

// Which parameter an engine InvalidArgument is about, from its wording
// (the engine's messages start with the parameter; see docs/api.md).
std::string ParameterOf(const std::string& message) {
  for (const char* p : {"limit", "step", "from", "to", "metric"}) {
    if (message.rfind(p, 0) == 0) return p;
  }
  if (message.rfind("range", 0) == 0) return "from";
  for (const char* p : {"host", "endpoint", "customer"}) {
    if (message.find(std::string("filter ") + p) != std::string::npos) return p;
  }
  return "";
}

HttpResponse FromResult(const Result<json>& r) {
  if (r.ok()) return JsonResponse(200, *r);
  const Status& st = r.status();
  switch (st.code()) {
    case StatusCode::kInvalidArgument:
      return ErrorResponse(400, st.message(), ParameterOf(st.message()));
    case StatusCode::kUnavailable:
      return ErrorResponse(503, "Redis unavailable: " + st.message());
    case StatusCode::kNotFound:
      return ErrorResponse(404, st.message());
    default:
      return ErrorResponse(500, st.message());
  }
}

std::string Header(const HttpRequest& req, const std::string& name) {
  auto it = req.headers.find(name);
  return it == req.headers.end() ? "" : it->second;
}

std::string CookieValue(const HttpRequest& req, std::string_view name) {
  const std::string all = Header(req, "cookie");
  std::string_view cookies = all;
  while (!cookies.empty()) {
    const size_t semi = cookies.find(';');
    std::string_view part = cookies.substr(0, semi);
    cookies = semi == std::string_view::npos ? std::string_view() : cookies.substr(semi + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.substr(0, name.size()) == name &&
        part[name.size()] == '=') {
      return std::string(part.substr(name.size() + 1));
    }
  }
  return "";
}

std::string SessionCookie(const std::string& value, int64_t max_age) {
  return std::string(kSessionCookie) + "=" + value +
         "; HttpOnly; SameSite=Strict; Path=/; Max-Age=" + std::to_string(max_age);
}

constexpr std::string_view kLoginPage = R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>apimeter: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:24rem;margin:4rem auto;padding:0 1rem}
input{width:100%;padding:.5rem;margin:.5rem 0;box-sizing:border-box}.err{color:#b00}</style>
</head><body><h1>apimeter</h1>
<!--ERROR-->
<form method="post" action="/login">
<label for="token">Access token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button></form></body></html>
)";

HttpResponse LoginPage(int status, bool failed) {
  std::string page(kLoginPage);
  if (failed) {
    page.replace(page.find("<!--ERROR-->"), 12,
                 "<p class=\"err\">That token is not valid. Try again.</p>");
  }
  HttpResponse r = TextResponse(status, "text/html; charset=utf-8", std::move(page));
  r.headers["Cache-Control"] = "no-store";
  return r;
}

HttpResponse PostLogin(const HttpRequest& req, const AuthConfig& auth, const Clock& clock) {
  ParamError err;
  auto form = ParseForm(req.body, &err);
  if (!form.ok() || !TokenMatches(Get(*form, "token"), auth)) return LoginPage(401, true);
  auto value = MakeSessionValue(auth, clock.NowSeconds());
  if (!value.ok()) return ErrorResponse(500, value.status().message());
  HttpResponse r = Redirect("/");
  r.headers["Set-Cookie"] = SessionCookie(*value, auth.session_ttl_s);
  return r;
}

HttpResponse Logout() {
  HttpResponse r = Redirect("/login");
  r.headers["Set-Cookie"] = SessionCookie("", 0);
  return r;
}

HttpResponse ApiRoute(std::string_view path, const std::string& query, QueryBackend& backend,
                      const Clock& clock) {
  if (path == "/api/v1/openapi.json") {
    return TextResponse(200, "application/json", std::string(OpenApiDocument()));
  }
  static const std::vector<std::string> kRoutes = {"overview",   "endpoints", "customers",
                                                   "timeseries", "slow",      "heatmap"};
  std::string name;
  for (const auto& r : kRoutes) {
    if (path == "/api/v1/" + r) name = r;
  }
  if (name.empty()) return ErrorResponse(404, "no such API route; see /api/v1/openapi.json");
  ParamError perr;
  auto q = ParseForm(query, &perr);
  if (!q.ok()) return ErrorResponse(400, perr.message, perr.parameter);
  QueryParams params;
  if (auto bad = BuildParams(*q, clock.NowSeconds(), name == "heatmap", &params)) {
    return ErrorResponse(400, bad->message, bad->parameter);
  }
  if (name == "overview") return FromResult(backend.Overview(params));
  if (name == "endpoints") return FromResult(backend.Endpoints(params));
  if (name == "customers") return FromResult(backend.Customers(params));
  if (name == "timeseries") return FromResult(backend.Timeseries(params));
  if (name == "slow") return FromResult(backend.Slow(params));
  return FromResult(backend.Heatmap(params, Get(*q, "metric", "requests")));
}

bool IsPublicAsset(std::string_view path) { return path.rfind("/assets/login", 0) == 0; }

HttpResponse StaticRoute(std::string_view path, const StaticAssets* assets) {
  if (path != "/" && path.rfind("/assets/", 0) != 0) {
    return TextResponse(404, "text/plain", "not found\n");
  }
  std::optional<StaticAsset> asset = assets ? assets->Find(path) : std::nullopt;
  if (!asset) return TextResponse(404, "text/plain", "not found\n");
  return TextResponse(200, asset->content_type, std::move(asset->bytes));
}

}  // namespace


bool Authenticated(const HttpRequest& req, const AuthConfig& auth, const Clock& clock) {
  const std::string authz = Header(req, "authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (authz.size() > kBearer.size() && authz.compare(0, kBearer.size(), kBearer) == 0) {
    return TokenMatches(std::string_view(authz).substr(kBearer.size()), auth);
  }
  const std::string session = CookieValue(req, kSessionCookie);
  return !session.empty() && SessionValid(session, auth, clock.NowSeconds());
}

std::string RouteLabel(std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  for (const char* r :
       {"overview", "endpoints", "customers", "timeseries", "slow", "heatmap", "openapi.json"}) {
    if (path == std::string("/api/v1/") + r) return r;
  }
  if (path == "/healthz" || path == "/login" || path == "/logout" || path == "/metrics") {
    return std::string(path.substr(1));
  }
  if (path == "/" || path.rfind("/assets/", 0) == 0) return "static";
  return "other";
}

HttpResponse Handle(const HttpRequest& req, QueryBackend& backend, const AuthConfig& auth,
                    const Clock& clock, const StaticAssets* assets) {
  const std::string_view target = req.target;
  const size_t qmark = target.find('?');
  const std::string_view path = target.substr(0, qmark);
  const std::string query(qmark == std::string_view::npos ? "" : target.substr(qmark + 1));
  const bool get = req.method == "GET";
  const bool api = path.rfind(kApiPrefix, 0) == 0;

  if (path == "/healthz") {
    return get ? TextResponse(200, "text/plain", "ok\n") : ErrorResponse(405, "use GET");
  }
  if (path == "/login") {
    if (req.method == "POST") return PostLogin(req, auth, clock);
    return get ? LoginPage(200, false) : ErrorResponse(405, "use GET or POST");
  }
  if (path == "/logout") return req.method == "POST" ? Logout() : ErrorResponse(405, "use POST");
  if (!get) {
    HttpResponse r =
        ErrorResponse(405, "method " + req.method.substr(0, 16) + " not allowed; use GET");
    r.headers["Allow"] = "GET";
    return r;
  }
  if (!IsPublicAsset(path) && !Authenticated(req, auth, clock)) {
    if (api) {
      HttpResponse r = ErrorResponse(
          401,
          "authentication required: send 'Authorization: Bearer <token>' or sign in at /login");
      r.headers["WWW-Authenticate"] = "Bearer realm=\"apimeter\"";
      return r;
    }
    return Redirect("/login");
  }
  if (api) return ApiRoute(path, query, backend, clock);
  return StaticRoute(path, assets);
}

}  // namespace apimeter
