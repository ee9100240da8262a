// Routing, parameter validation and auth for the HTTP API. Each route is a
// small function; Handle() only decides which one runs.
#include "server/api_handler.h"

#include <charconv>
#include <vector>

#include "common/html_escape.h"
#include "common/time_util.h"
#include "server/usage_json.h"

namespace apimeter {
namespace {

using nlohmann::json;

constexpr std::string_view kApiPrefix = "/api/";

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
  TimeRange range;
  if (auto bad = ParseRangeParams(q, now, &range)) return bad;
  p->from_s = range.from_s;
  p->to_s = range.to_s;
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

// The sign-in form (web/login.html, from `assets`), with `error` (HTML-escaped
// here) in place of its <!--ERROR--> mark when not empty. A build without
// the page answers in plain text, with the same status and error. Its
// Referrer-Policy keeps the form's Origin for CrossSiteLogin (http_util.h).
HttpResponse LoginPage(const StaticAssets* assets, int status, std::string_view error = "") {
  constexpr std::string_view kMark = "<!--ERROR-->";
  std::optional<StaticAsset> page = assets ? assets->Find(kLoginPagePath) : std::nullopt;
  const size_t mark = page ? page->bytes.find(kMark) : std::string::npos;
  HttpResponse r;
  if (mark == std::string::npos) {
    r = TextResponse(status, "text/plain; charset=utf-8",
                     (error.empty() ? "" : std::string(error) + "\n") +
                         "This build has no sign-in page (web/login.html). Sign in with POST "
                         "/login (token=...), or send 'Authorization: Bearer <token>'.\n");
  } else {
    const std::string note = error.empty() ? "" : "<p class=\"err\">" + HtmlEscape(error) + "</p>";
    page->bytes.replace(mark, kMark.size(), note);
    r = TextResponse(status, "text/html; charset=utf-8", std::move(page->bytes));
  }
  r.headers["Cache-Control"] = "no-store";
  r.headers["Referrer-Policy"] = std::string(kSignInReferrerPolicy);
  return r;
}

// The host name of an http(s) URL or origin, lower-case; "" when it is not
// one ("null", a data: URL, garbage).
std::string HostOfUrl(std::string_view url) {
  size_t start = 0;
  if (url.rfind("https://", 0) == 0) {
    start = 8;
  } else if (url.rfind("http://", 0) == 0) {
    start = 7;
  } else {
    return "";
  }
  std::string_view authority = url.substr(start, url.find_first_of("/?#", start) - start);
  if (authority.find('@') != std::string_view::npos) return "";
  return HostOfAuthority(authority);
}

// Login CSRF: a page on another site must not be able to sign a browser in
// (to an attacker's session or otherwise). Browsers send Origin with every
// form POST (the sign-in page's Referrer-Policy, same-origin, keeps it
// intact; no-referrer would make it "null"); a form on another
// site carries that site's origin, or "null". Its host name must be this
// server's: the Host header, or X-Forwarded-Host from a proxy (a cross-site
// form can set neither). A request with neither Origin nor Referer is not a
// browser's form and is let through to the token check. Returns why the
// request is refused, or "".
std::string CrossSiteLogin(const HttpRequest& req) {
  const std::string origin = Header(req, "origin");
  const std::string referer = Header(req, "referer");
  if (origin.empty() && referer.empty()) return "";
  const std::string from = HostOfUrl(origin.empty() ? referer : origin);
  const std::string host = HostOfAuthority(Header(req, "host"));
  const std::string forwarded = HostOfAuthority(Header(req, "x-forwarded-host"));
  if (!from.empty() && (from == host || from == forwarded)) return "";
  const std::string sent =
      (origin.empty() ? "Referer " + referer : "Origin " + origin).substr(0, 120);
  return "This sign-in was sent from another site (" + sent + "), not from this server's page (" +
         (host.empty() ? "no Host" : "Host " + host) +
         "), so it was refused. Open /login on this server. Behind a proxy, pass the Host "
         "header on (nginx: proxy_set_header Host $host).";
}

bool IsFormContentType(const std::string& type) {
  constexpr std::string_view kForm = "application/x-www-form-urlencoded";
  if (type.size() < kForm.size()) return false;
  for (size_t i = 0; i < kForm.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(type[i])) != kForm[i]) return false;
  }
  return type.size() == kForm.size() || type[kForm.size()] == ';' || type[kForm.size()] == ' ';
}

HttpResponse PostLogin(const HttpRequest& req, const AuthConfig& auth, const Clock& clock,
                       const StaticAssets* assets) {
  if (std::string why = CrossSiteLogin(req); !why.empty()) return LoginPage(assets, 403, why);
  if (!IsFormContentType(Header(req, "content-type"))) {
    return LoginPage(assets, 415,
                     "Sign in with the form: POST /login takes "
                     "application/x-www-form-urlencoded (token=...).");
  }
  ParamError err;
  auto form = ParseForm(req.body, &err);
  std::optional<Access> access;
  if (form.ok()) access = MatchToken(Get(*form, "token"), auth);
  if (!access) return LoginPage(assets, 401, "That token is not valid. Try again.");
  auto value = MakeSessionValue(auth, clock.NowSeconds(), *access);
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

// GET /api/v1/me: the caller's role and scope, for the page.
HttpResponse Me(const Access& who, const FormParams& q) {
  if (!q.empty()) {
    return ErrorResponse(400, "unknown parameter; /api/v1/me takes none",
                         q.begin()->first.substr(0, 64));
  }
  nlohmann::json j{{"role", RoleName(who.role)},
                   {"customer", who.scoped() ? json(who.customer) : json(nullptr)},
                   {"customer_id", who.customer_id.empty() ? json(nullptr) : json(who.customer_id)},
                   {"user", who.user.empty() ? json(nullptr) : json(who.user)}};
  return JsonResponse(200, j);
}

HttpResponse RouteRequest(std::string_view path, FormParams* q, QueryBackend& backend,
                          const Clock& clock, const std::vector<ApiExtension*>& extensions,
                          const Access& who);

// Every API request: parameters → ApplyAccess → the route → ScrubAnswer.
HttpResponse ApiRoute(std::string_view path, const std::string& query, QueryBackend& backend,
                      const Clock& clock, const std::vector<ApiExtension*>& extensions,
                      const Access& who) {
  ParamError perr;
  auto q = ParseForm(query, &perr);
  if (!q.ok()) return ErrorResponse(400, perr.message, perr.parameter);
  if (auto denied = ApplyAccess(who, path, &*q)) return std::move(*denied);
  HttpResponse r = RouteRequest(path, &*q, backend, clock, extensions, who);
  ScrubAnswer(who, path, &r);
  return r;
}

HttpResponse RouteRequest(std::string_view path, FormParams* q, QueryBackend& backend,
                          const Clock& clock, const std::vector<ApiExtension*>& extensions,
                          const Access& who) {
  if (path == "/api/v1/me") return Me(who, *q);
  if (path == "/api/v1/openapi.json") {
    if (!q->empty()) {
      return ErrorResponse(400, "unknown parameter; /api/v1/openapi.json takes none",
                           q->begin()->first.substr(0, 64));
    }
    return TextResponse(200, "application/json", std::string(OpenApiDocument()));
  }
  static const std::vector<std::string> kRoutes = {"overview",   "endpoints", "customers",
                                                   "timeseries", "slow",      "heatmap",
                                                   "clients"};
  std::string name;
  for (const auto& r : kRoutes) {
    if (path == "/api/v1/" + r) name = r;
  }
  if (name.empty()) {
    for (ApiExtension* ext : extensions) {
      if (auto r = ext->Route(path, *q, clock)) return std::move(*r);
    }
    return ErrorResponse(404, "no such API route; see /api/v1/openapi.json");
  }
  QueryParams params;
  if (auto bad = BuildParams(*q, clock.NowSeconds(), name == "heatmap", &params)) {
    return ErrorResponse(400, bad->message, bad->parameter);
  }
  if (name == "overview") return FromResult(backend.Overview(params));
  if (name == "endpoints") return FromResult(backend.Endpoints(params));
  if (name == "customers" && !params.filter.endpoint.empty()) {
    return FromResult(ToJson(backend.EndpointCustomers(params), EndpointCustomersJson));
  }
  if (name == "customers") return FromResult(backend.Customers(params));
  if (name == "timeseries") return FromResult(backend.Timeseries(params));
  if (name == "slow") return FromResult(backend.Slow(params));
  if (name == "clients") return FromResult(backend.Clients(params));
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

Caller Identify(const HttpRequest& req, const AuthConfig& auth, const Clock& clock) {
  Caller c;
  const std::string authz = Header(req, "authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (authz.size() > kBearer.size() && authz.compare(0, kBearer.size(), kBearer) == 0) {
    c.access = MatchToken(std::string_view(authz).substr(kBearer.size()), auth);
    return c;
  }
  TrustedHeaderResult th = ReadTrustedHeader(req, auth);
  if (th.kind == TrustedHeaderResult::kAccepted) {
    c.access = std::move(th.access);
    return c;
  }
  if (th.kind == TrustedHeaderResult::kRefused) {
    c.refusal = "the user '" + th.user.substr(0, 64) +
                "' signed in by the proxy has no access to apimeter (server.trusted_header.users)";
    return c;
  }
  const std::string session = CookieValue(req, kSessionCookie);
  if (!session.empty()) c.access = SessionAccess(session, auth, clock.NowSeconds());
  return c;
}

bool Authenticated(const HttpRequest& req, const AuthConfig& auth, const Clock& clock) {
  return Identify(req, auth, clock).access.has_value();
}

namespace {
bool IsLoginPost(const HttpRequest& req) {
  const std::string_view target = req.target;
  return req.method == "POST" && target.substr(0, target.find('?')) == "/login";
}
}  // namespace

bool PresentsToken(const HttpRequest& req) {
  return IsLoginPost(req) || req.headers.count("authorization") != 0;
}

HttpResponse SignInThrottled(const HttpRequest& req, int64_t retry_after_s,
                             const StaticAssets* assets) {
  const std::string wait = std::to_string(retry_after_s) + " s";
  HttpResponse r =
      IsLoginPost(req)
          ? LoginPage(assets, 429,
                      "Too many failed sign-ins from your address. Try again in " + wait + ".")
          : ErrorResponse(429, "too many failed sign-ins from this address; retry in " + wait);
  r.headers["Retry-After"] = std::to_string(retry_after_s);
  return r;
}

std::string HostOfAuthority(std::string_view authority) {
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    host = host.substr(0, host.find(']') + 1);  // [v6]:port → [v6]
  } else {
    host = host.substr(0, host.find(':'));
  }
  std::string out(host);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string RouteLabel(std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  for (const char* r : {"overview", "endpoints", "customers", "timeseries", "slow", "heatmap",
                        "openapi.json", "live", "report", "attribution", "alerts", "me"}) {
    const std::string route = std::string("/api/v1/") + r;
    if (path == route || path.rfind(route + "/", 0) == 0) return r;
  }
  if (path == "/healthz" || path == "/login" || path == "/logout" || path == "/metrics") {
    return std::string(path.substr(1));
  }
  if (path == "/" || path.rfind("/assets/", 0) == 0) return "static";
  return "other";
}

HttpResponse Handle(const HttpRequest& req, QueryBackend& backend, const AuthConfig& auth,
                    const Clock& clock, const StaticAssets* assets,
                    const std::vector<ApiExtension*>& extensions) {
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
    if (req.method == "POST") return PostLogin(req, auth, clock, assets);
    return get ? LoginPage(assets, 200) : ErrorResponse(405, "use GET or POST");
  }
  if (path == "/logout") return req.method == "POST" ? Logout() : ErrorResponse(405, "use POST");
  if (!get) {
    HttpResponse r =
        ErrorResponse(405, "method " + req.method.substr(0, 16) + " not allowed; use GET");
    r.headers["Allow"] = "GET";
    return r;
  }
  if (IsPublicAsset(path)) return StaticRoute(path, assets);
  const Caller caller = Identify(req, auth, clock);
  if (!caller.refusal.empty()) {
    return api || path == "/metrics" ? ErrorResponse(403, caller.refusal)
                                     : TextResponse(403, "text/plain; charset=utf-8",
                                                    caller.refusal + "\n");
  }
  if (!caller.access) {
    if (api || path == "/metrics") {  // machine routes answer 401, never a redirect
      HttpResponse r = ErrorResponse(
          401,
          "authentication required: send 'Authorization: Bearer <token>' or sign in at /login");
      r.headers["WWW-Authenticate"] = "Bearer realm=\"apimeter\"";
      return r;
    }
    return Redirect("/login");
  }
  if (api) return ApiRoute(path, query, backend, clock, extensions, *caller.access);
  return StaticRoute(path, assets);
}

}  // namespace apimeter
