// ApiHandler: the HTTP API of `apimeter serve` as a pure function from a
// request to a response (docs/api.md, "HTTP API").
//
// Promise: Handle() never throws and never touches a socket; all it reads is
// the request, the QueryBackend, the auth config, the clock and the static
// assets. Every request parameter is validated before any query runs: a bad
// one gives 400 with {"error":{"parameter":..., "message":...}}; backend
// InvalidArgument → 400, Unavailable → 503, other errors → 500. Ranges over
// 400 days and limits over 1000 are refused. Everything except /healthz,
// /login and the login page's assets (/assets/login*) needs a Bearer token or
// a valid session cookie: API paths and /metrics answer 401 JSON, pages
// redirect (303) to /login. POST /login is refused (403) when Origin or
// Referer names another host than Host / X-Forwarded-Host (login CSRF), and
// (415) unless it is a form. Responses never contain the presented token or
// cookie (except the Set-Cookie that creates a session).
// Thread-safety: Handle is reentrant; the QueryBackend it is given must not be
// shared between threads unless it is itself thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/result.h"
#include "query/query_engine.h"
#include "server/answer_json.h"
#include "server/auth.h"
#include "server/http_types.h"
#include "server/http_util.h"

namespace apimeter {

// The five (six) questions the API asks; production wraps QueryEngine.
class QueryBackend {
 public:
  virtual ~QueryBackend() = default;
  virtual Result<nlohmann::json> Overview(const QueryParams& p) = 0;
  virtual Result<nlohmann::json> Endpoints(const QueryParams& p) = 0;
  virtual Result<nlohmann::json> Customers(const QueryParams& p) = 0;
  virtual Result<nlohmann::json> Timeseries(const QueryParams& p) = 0;
  virtual Result<nlohmann::json> Slow(const QueryParams& p) = 0;
  virtual Result<nlohmann::json> Heatmap(const QueryParams& p, const std::string& metric) = 0;
  // The customers of p.filter.endpoint (issue 18); backends without it refuse.
  virtual Result<EndpointCustomersAnswer> EndpointCustomers(const QueryParams&) {
    return Status::InvalidArgument("this server cannot list the customers of an endpoint");
  }
  // The clients (issue 18 part 2) of all traffic, an endpoint or a customer.
  virtual Result<nlohmann::json> Clients(const QueryParams&) {
    return Status::InvalidArgument("this server cannot list clients");
  }
};

// QueryBackend over a QueryEngine (which must outlive it).
class QueryEngineBackend final : public QueryBackend {
 public:
  explicit QueryEngineBackend(QueryEngine* engine) : engine_(engine) {}
  Result<nlohmann::json> Overview(const QueryParams& p) override {
    return ToJson(engine_->Overview(p));
  }
  Result<nlohmann::json> Endpoints(const QueryParams& p) override {
    return ToJson(engine_->Endpoints(p));
  }
  Result<nlohmann::json> Customers(const QueryParams& p) override {
    return ToJson(engine_->Customers(p));
  }
  Result<nlohmann::json> Timeseries(const QueryParams& p) override {
    return ToJson(engine_->Timeseries(p));
  }
  Result<nlohmann::json> Slow(const QueryParams& p) override { return ToJson(engine_->Slow(p)); }
  Result<nlohmann::json> Heatmap(const QueryParams& p, const std::string& metric) override {
    return ToJson(engine_->Heatmap(p, metric));
  }
  Result<EndpointCustomersAnswer> EndpointCustomers(const QueryParams& p) override {
    return engine_->EndpointCustomers(p);
  }
  Result<nlohmann::json> Clients(const QueryParams& p) override {
    return ToJson(engine_->Clients(p));
  }

 private:
  QueryEngine* engine_;
};

// The web page's files, filled in by web/. path is "/" or "/assets/...".
// The sign-in page is one of them (kLoginPagePath): HTML with a <!--ERROR-->
// mark where a refused sign-in's message goes.
inline constexpr std::string_view kLoginPagePath = "/assets/login.html";
struct StaticAsset {
  std::string content_type;
  std::string bytes;
};
class StaticAssets {
 public:
  virtual ~StaticAssets() = default;
  virtual std::optional<StaticAsset> Find(std::string_view path) const = 0;
};

inline constexpr std::string_view kSessionCookie = "apimeter_session";

// Routes that other modules add under /api/v1/ (reports, attribution,
// alerts). Handle() asks each extension, in order, only for authenticated GET
// requests whose path no core route serves; an extension returns nullopt for
// a path it does not own. Build responses with server/http_util.h so errors
// keep the contract's shape.
class ApiExtension {
 public:
  virtual ~ApiExtension() = default;
  virtual std::optional<HttpResponse> Route(std::string_view path, const FormParams& params,
                                            const Clock& clock) = 0;
};

HttpResponse Handle(const HttpRequest& req, QueryBackend& backend, const AuthConfig& auth,
                    const Clock& clock, const StaticAssets* assets = nullptr,
                    const std::vector<ApiExtension*>& extensions = {});

// Who a request is: its Bearer token when it sends one; otherwise the
// trusted header (server/auth.h) when a configured proxy sent it; otherwise
// its session cookie. `access` is nullopt when none holds; `refusal` is set
// when the trusted header named a user who has no access (a 403, not a 401).
struct Caller {
  std::optional<Access> access;
  std::string refusal;
};
Caller Identify(const HttpRequest& req, const AuthConfig& auth, const Clock& clock);

// True when the request carries a valid Bearer token or session cookie (or
// a believed trusted header).
bool Authenticated(const HttpRequest& req, const AuthConfig& auth, const Clock& clock);

// True when the request presents a token to be checked (POST /login or an
// Authorization header): what sign-in throttling counts and slows down.
bool PresentsToken(const HttpRequest& req);

// 429 with Retry-After for a client throttled after failed sign-ins: the
// sign-in form (from `assets`) for POST /login, JSON otherwise.
HttpResponse SignInThrottled(const HttpRequest& req, int64_t retry_after_s,
                             const StaticAssets* assets);

// The lower-case host name of a Host header value ("Example.org:8080" →
// "example.org", "[::1]:80" → "[::1]").
std::string HostOfAuthority(std::string_view authority);

// A bounded label for metrics: "overview", ..., "static", "login", "other".
std::string RouteLabel(std::string_view target);

// The hand-written OpenAPI 3 document served at /api/v1/openapi.json.
std::string_view OpenApiDocument();

}  // namespace apimeter
