#include "server/api_handler.h"

#include <gtest/gtest.h>

namespace apimeter {
namespace {

using nlohmann::json;

constexpr int64_t kNow = 1764000000;  // 2025-11-24T16:00:00Z
constexpr char kToken[] = "s3cret-token-value";

// Records the last call and answers with a JSON naming the route.
class FakeBackend : public QueryBackend {
 public:
  Result<json> Overview(const QueryParams& p) override { return Answer("overview", p); }
  Result<json> Endpoints(const QueryParams& p) override { return Answer("endpoints", p); }
  Result<json> Customers(const QueryParams& p) override { return Answer("customers", p); }
  Result<json> Timeseries(const QueryParams& p) override { return Answer("timeseries", p); }
  Result<json> Slow(const QueryParams& p) override { return Answer("slow", p); }
  Result<json> Heatmap(const QueryParams& p, const std::string& metric) override {
    last_metric = metric;
    return Answer("heatmap", p);
  }
  Result<EndpointCustomersAnswer> EndpointCustomers(const QueryParams& p) override {
    last_route = "endpoint_customers";
    last = p;
    if (!next_error.ok()) return next_error;
    EndpointCustomersAnswer a;
    a.endpoint = p.filter.endpoint;
    a.limit = p.limit;
    a.total_requests = 7;
    a.customer_count = 1;
    EndpointCustomerRow row;
    row.customer = "acme";
    row.requests = 7;
    row.last_seen_s = kNow - 60;
    a.customers.push_back(row);
    return a;
  }
  std::string last_metric;

  std::string last_route;
  QueryParams last;
  Status next_error;

 private:
  Result<json> Answer(const std::string& route, const QueryParams& p) {
    last_route = route;
    last = p;
    if (!next_error.ok()) return next_error;
    return json{{"route", route}, {"requests", 42}};
  }
};

class FakeAssets : public StaticAssets {
 public:
  std::optional<StaticAsset> Find(std::string_view path) const override {
    if (path == "/") return StaticAsset{"text/html", "<html>dashboard</html>"};
    if (path == "/assets/app.js") return StaticAsset{"text/javascript", "app()"};
    if (path == "/assets/login.css") return StaticAsset{"text/css", "body{}"};
    if (path == kLoginPagePath) {
      return StaticAsset{"text/html; charset=utf-8", "<h1>sign in</h1><!--ERROR--><form></form>"};
    }
    return std::nullopt;
  }
};

class ApiHandlerTest : public ::testing::Test {
 protected:
  ApiHandlerTest() : clock_(kNow * 1000000) {
    auth_.token_hashes = {HashToken(kToken)};
    auth_.session_key = "handler-test-session-key-0123456789";
    auth_.session_ttl_s = 3600;
  }

  HttpResponse Get(const std::string& target, bool with_token = true) {
    HttpRequest req{"GET", target, {}, ""};
    if (with_token) req.headers["authorization"] = std::string("Bearer ") + kToken;
    return Send(req);
  }
  HttpResponse Send(const HttpRequest& req) {
    HttpResponse r = Handle(req, backend_, auth_, clock_, &assets_);
    EXPECT_EQ(r.body.find(kToken), std::string::npos) << "token leaked into a response";
    for (const auto& [k, v] : r.headers) EXPECT_EQ(v.find(kToken), std::string::npos);
    return r;
  }
  static json Body(const HttpResponse& r) { return json::parse(r.body); }
  // POST /login as the sign-in form sends it, plus `headers`.
  static HttpRequest LoginPost(const std::string& body,
                               std::map<std::string, std::string> headers = {}) {
    headers.emplace("content-type", "application/x-www-form-urlencoded");
    headers.emplace("host", "dash.example.org");
    return HttpRequest{"POST", "/login", std::move(headers), body};
  }

  FakeBackend backend_;
  FakeAssets assets_;
  AuthConfig auth_;
  ManualClock clock_;
};

TEST_F(ApiHandlerTest, EveryQueryRouteReachesItsBackendCall) {
  for (const std::string route : {"overview", "endpoints", "customers", "timeseries", "slow"}) {
    HttpResponse r = Get("/api/v1/" + route);
    ASSERT_EQ(r.status, 200) << route << ": " << r.body;
    EXPECT_EQ(r.headers["Content-Type"], "application/json");
    EXPECT_EQ(Body(r)["route"], route);
    EXPECT_EQ(backend_.last_route, route);
  }
}

TEST_F(ApiHandlerTest, CustomersWithAnEndpointListThatEndpointsCustomers) {
  HttpResponse r = Get("/api/v1/customers?endpoint=GET+%2Fv1%2Flegacy-export&limit=5");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(backend_.last_route, "endpoint_customers");
  EXPECT_EQ(backend_.last.filter.endpoint, "GET /v1/legacy-export");
  EXPECT_EQ(backend_.last.limit, 5);
  const json body = Body(r);
  EXPECT_EQ(body["filter"]["endpoint"], "GET /v1/legacy-export");
  EXPECT_EQ(body["customers"][0]["customer"], "acme");
  EXPECT_EQ(body["customers"][0]["last_seen"], "2025-11-24T15:59:00Z");
  EXPECT_TRUE(body["customers"][0]["first_seen"].is_null());  // unknown, not a guess
  EXPECT_EQ(body["resolution"], "day");
  backend_.next_error = Status::InvalidArgument("the customers of one endpoint need storage v2");
  r = Get("/api/v1/customers?endpoint=GET+%2Fa");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("storage v2"), std::string::npos);
  backend_.next_error = Status::Ok();
  ASSERT_EQ(Get("/api/v1/customers?customer=acme").status, 200);  // no endpoint: top customers
  EXPECT_EQ(backend_.last_route, "customers");
}

TEST_F(ApiHandlerTest, DefaultsAreLastDayToNow) {
  ASSERT_EQ(Get("/api/v1/overview").status, 200);
  EXPECT_EQ(backend_.last.from_s, kNow - 86400);
  EXPECT_EQ(backend_.last.to_s, kNow);
  EXPECT_EQ(backend_.last.limit, 20);
  EXPECT_EQ(backend_.last.step_s, 0);
}

TEST_F(ApiHandlerTest, ParametersArePassedDecoded) {
  HttpResponse r = Get(
      "/api/v1/timeseries?from=2025-11-24T10:00Z&to=1764003600&step=5m&endpoint=GET+%2Fv1%2Forders"
      "%2F%3Aid&customer=acme");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(backend_.last.from_s, 1763978400);
  EXPECT_EQ(backend_.last.to_s, 1764003600);
  EXPECT_EQ(backend_.last.step_s, 300);
  EXPECT_EQ(backend_.last.filter.endpoint, "GET /v1/orders/:id");
  EXPECT_EQ(backend_.last.filter.customer, "acme");
  ASSERT_EQ(Get("/api/v1/endpoints?from=7d&limit=1000&step=3600&host=web1").status, 200);
  EXPECT_EQ(backend_.last.from_s, kNow - 7 * 86400);
  EXPECT_EQ(backend_.last.limit, 1000);
  EXPECT_EQ(backend_.last.step_s, 3600);
  EXPECT_EQ(backend_.last.filter.host, "web1");
}

struct BadParam {
  std::string query, parameter;
};

TEST_F(ApiHandlerTest, BadParametersGive400NamingTheParameter) {
  const std::vector<BadParam> cases = {
      {"from=yesterday", "from"}, {"to=2025-13-01", "to"},  {"from=1h&to=2h", "from"},
      {"from=500d", "from"},      {"limit=0", "limit"},     {"limit=1001", "limit"},
      {"limit=ten", "limit"},     {"limit=5x", "limit"},    {"step=fast", "step"},
      {"step=-60", "step"},       {"colour=red", "colour"}, {"limit=1&limit=2", "limit"},
      {"host=%zz", ""},           {"from=", "from"},
  };
  for (const auto& c : cases) {
    backend_.last_route.clear();
    HttpResponse r = Get("/api/v1/endpoints?" + c.query);
    EXPECT_EQ(r.status, 400) << c.query;
    json body = Body(r);
    ASSERT_TRUE(body["error"].contains("message")) << c.query;
    if (!c.parameter.empty()) {
      EXPECT_EQ(body["error"]["parameter"], c.parameter) << c.query;
    }
    EXPECT_TRUE(backend_.last_route.empty()) << "backend called for " << c.query;
  }
}

TEST_F(ApiHandlerTest, RangeOfExactly400DaysIsAccepted) {
  EXPECT_EQ(Get("/api/v1/overview?from=400d").status, 200);
  EXPECT_EQ(Get("/api/v1/overview?from=401d").status, 400);
}

TEST_F(ApiHandlerTest, BackendErrorsMapToStatuses) {
  backend_.next_error =
      Status::InvalidArgument("step_s must be a positive multiple of 60 (got 90)");
  HttpResponse r = Get("/api/v1/timeseries?step=90");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Body(r)["error"]["parameter"], "step");
  backend_.next_error = Status::Unavailable("connection refused");
  r = Get("/api/v1/overview");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Body(r)["error"]["message"], "Redis unavailable: connection refused");
  backend_.next_error = Status::ParseError("bad hash");
  EXPECT_EQ(Get("/api/v1/overview").status, 500);
}

// The engine's message names its parameter as a whole word: before the fix
// "top must be…" was reported as parameter "to" (a prefix match).
TEST_F(ApiHandlerTest, EngineErrorsNameAParameterOnlyByItsWholeWord) {
  struct Case {
    std::string message, parameter;
  };
  for (const Case& c : std::vector<Case>{{"top must be between 1 and 50", "top"},
                                         {"to must be after from", "to"},
                                         {"tomorrow is not a time", ""},
                                         {"fromage: no", ""},
                                         {"limits are 1..1000", ""},
                                         {"matrix_customers must be between 1 and 50",
                                          "matrix_customers"},
                                         {"range longer than 400 days", "from"},
                                         {"step_s=60 gives 9000 points", "step"},
                                         {"stepping is not supported", ""}}) {
    backend_.next_error = Status::InvalidArgument(c.message);
    HttpResponse r = Get("/api/v1/overview");
    ASSERT_EQ(r.status, 400) << c.message;
    EXPECT_EQ(Body(r)["error"].value("parameter", ""), c.parameter) << c.message;
  }
}

// 2026-02-30 used to become March 2 and T10:00:60Z 10:01:00.
TEST_F(ApiHandlerTest, ImpossibleDatesAre400) {
  for (const std::string q : {"from=2025-02-30&to=2025-03-05", "from=2025-11-01T10:00:60Z",
                               "to=2025-11-31", "from=2025-11-01T24:00Z"}) {
    HttpResponse r = Get("/api/v1/overview?" + q);
    EXPECT_EQ(r.status, 400) << q << ": " << r.body;
    EXPECT_EQ(Body(r)["error"]["parameter"], q.substr(0, q.find('='))) << q;
  }
  EXPECT_EQ(Get("/api/v1/overview?from=2025-10-31&to=2025-11-01T23:59:59Z").status, 200);
}

// The docs promise that unknown and repeated parameters are refused on every
// route; the OpenAPI document takes none.
TEST_F(ApiHandlerTest, OpenApiRefusesParameters) {
  EXPECT_EQ(Get("/api/v1/openapi.json").status, 200);
  HttpResponse r = Get("/api/v1/openapi.json?colour=red");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Body(r)["error"]["parameter"], "colour");
  r = Get("/api/v1/openapi.json?v=1&v=2");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Body(r)["error"]["parameter"], "v");
  EXPECT_EQ(Get("/api/v1/openapi.json?%zz").status, 400);
}

TEST_F(ApiHandlerTest, HeatmapPassesMetricAndDefaultsToRequests) {
  HttpResponse r = Get("/api/v1/heatmap?metric=p99&limit=5");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(backend_.last_route, "heatmap");
  EXPECT_EQ(backend_.last_metric, "p99");
  EXPECT_EQ(backend_.last.limit, 5);
  EXPECT_EQ(Get("/api/v1/heatmap").status, 200);
  EXPECT_EQ(backend_.last_metric, "requests");
  backend_.next_error = Status::InvalidArgument("metric 'p42' is not one of p99, p95, p50");
  r = Get("/api/v1/heatmap?metric=p42");
  EXPECT_EQ(r.status, 400);
}

TEST_F(ApiHandlerTest, UnknownApiPathIs404Json) {
  HttpResponse r = Get("/api/v1/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(Body(r)["error"].contains("message"));
  EXPECT_EQ(Get("/nope").status, 404);
}

TEST_F(ApiHandlerTest, NonGetOnApiIs405) {
  HttpRequest req{
      "POST", "/api/v1/overview", {{"authorization", std::string("Bearer ") + kToken}}, ""};
  HttpResponse r = Send(req);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["Allow"], "GET");
  req.method = "DELETE";
  EXPECT_EQ(Send(req).status, 405);
  EXPECT_TRUE(backend_.last_route.empty());
}

TEST_F(ApiHandlerTest, OpenApiIsValidJsonListingEveryRoute) {
  HttpResponse r = Get("/api/v1/openapi.json");
  ASSERT_EQ(r.status, 200);
  json doc = Body(r);
  EXPECT_EQ(doc["openapi"], "3.0.3");
  for (const std::string route :
       {"overview", "endpoints", "customers", "timeseries", "slow", "heatmap"}) {
    EXPECT_TRUE(doc["paths"].contains("/api/v1/" + route)) << route;
  }
}

TEST_F(ApiHandlerTest, HealthzNeedsNoAuth) {
  HttpResponse r = Get("/healthz", /*with_token=*/false);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
}

TEST_F(ApiHandlerTest, ApiWithoutOrWithWrongTokenIs401) {
  HttpResponse r = Get("/api/v1/overview", /*with_token=*/false);
  EXPECT_EQ(r.status, 401);
  EXPECT_TRUE(Body(r)["error"].contains("message"));
  HttpRequest req{"GET", "/api/v1/overview", {{"authorization", "Bearer wrong"}}, ""};
  EXPECT_EQ(Send(req).status, 401);
  req.headers["authorization"] = std::string("Basic ") + kToken;
  EXPECT_EQ(Send(req).status, 401);
  req.headers["authorization"] = "Bearer " + HashToken(kToken);  // the hash is not the token
  EXPECT_EQ(Send(req).status, 401);
  EXPECT_TRUE(backend_.last_route.empty());
  EXPECT_EQ(Get("/api/v1/openapi.json", false).status, 401);
}

TEST_F(ApiHandlerTest, PagesWithoutAuthRedirectToLogin) {
  for (const std::string path : {"/", "/assets/app.js"}) {
    HttpResponse r = Get(path, /*with_token=*/false);
    EXPECT_EQ(r.status, 303) << path;
    EXPECT_EQ(r.headers["Location"], "/login");
  }
  // The login page and its own assets are public.
  EXPECT_EQ(Get("/login", false).status, 200);
  EXPECT_EQ(Get("/assets/login.css", false).status, 200);
}

// The sign-in page is web/login.html from the assets, its <!--ERROR--> mark
// replaced by the escaped reason of a refusal (or by nothing).
TEST_F(ApiHandlerTest, LoginPageComesFromTheAssets) {
  HttpResponse r = Get("/login", false);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["Content-Type"], "text/html; charset=utf-8");
  EXPECT_EQ(r.headers["Cache-Control"], "no-store");
  // Overrides no-referrer (kSecurityHeaders): the form must carry its Origin.
  EXPECT_EQ(r.headers["Referrer-Policy"], "same-origin");
  EXPECT_EQ(r.body, "<h1>sign in</h1><form></form>");
  r = Send(LoginPost("token=wrong"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(
      r.body,
      "<h1>sign in</h1><p class=\"err\">That token is not valid. Try again.</p><form></form>");
  // The page itself is public, as its stylesheet is.
  EXPECT_EQ(Get(std::string(kLoginPagePath), false).status, 200);
}

TEST_F(ApiHandlerTest, WithoutTheLoginPageSignInStillSaysWhy) {
  HttpRequest get{"GET", "/login", {}, ""};
  HttpResponse r = Handle(get, backend_, auth_, clock_, nullptr);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["Content-Type"], "text/plain; charset=utf-8");
  EXPECT_NE(r.body.find("no sign-in page (web/login.html)"), std::string::npos) << r.body;
  r = Handle(LoginPost("token=wrong"), backend_, auth_, clock_, nullptr);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body.rfind("That token is not valid. Try again.\n", 0), 0u) << r.body;
  r = SignInThrottled(LoginPost("token=x"), 9, nullptr);
  EXPECT_EQ(r.status, 429);
  EXPECT_NE(r.body.find("Try again in 9 s."), std::string::npos) << r.body;
}

TEST_F(ApiHandlerTest, StaticAssetsServedWithAuth) {
  HttpResponse r = Get("/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "<html>dashboard</html>");
  r = Get("/assets/app.js");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["Content-Type"], "text/javascript");
  EXPECT_EQ(Get("/assets/missing.js").status, 404);
}

TEST_F(ApiHandlerTest, CookieLoginFlow) {
  // Bad token: the form again, 401, no cookie.
  HttpResponse bad = Send(LoginPost("token=wrong"));
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(bad.headers.count("Set-Cookie"), 0u);
  EXPECT_NE(bad.body.find("not valid"), std::string::npos);

  HttpResponse ok = Send(LoginPost(std::string("token=") + kToken));
  ASSERT_EQ(ok.status, 303);
  EXPECT_EQ(ok.headers["Location"], "/");
  const std::string cookie = ok.headers["Set-Cookie"];
  EXPECT_EQ(cookie.rfind("apimeter_session=", 0), 0u);
  EXPECT_NE(cookie.find("; HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("; SameSite=Strict"), std::string::npos);
  EXPECT_NE(cookie.find("; Path=/"), std::string::npos);
  EXPECT_NE(cookie.find("; Max-Age=3600"), std::string::npos);
  const std::string value = cookie.substr(0, cookie.find(';'));

  HttpRequest page{"GET", "/", {{"cookie", "other=1; " + value}}, ""};
  EXPECT_EQ(Send(page).status, 200);
  HttpRequest api{"GET", "/api/v1/overview", {{"cookie", value}}, ""};
  EXPECT_EQ(Send(api).status, 200);

  // The session expires with the clock.
  clock_.Advance(3600LL * 1000000);
  EXPECT_EQ(Send(page).status, 303);
  EXPECT_EQ(Send(api).status, 401);
}

// Issue 13, item 5: a form on another site (Origin: evil, text/plain)
// could sign a browser in.
TEST_F(ApiHandlerTest, CrossSiteSignInIsRefused) {
  const std::string good = std::string("token=") + kToken;
  struct Case {
    std::map<std::string, std::string> headers;
    int status;
  };
  const std::vector<Case> cases = {
      {{{"origin", "https://evil.example"}}, 403},
      {{{"origin", "https://evil.example"}, {"content-type", "text/plain"}}, 403},
      {{{"origin", "null"}}, 403},
      {{{"origin", "https://dash.example.org.evil.example"}}, 403},
      {{{"origin", "https://evil.example"}, {"referer", "https://dash.example.org/login"}}, 403},
      {{{"referer", "https://evil.example/page"}}, 403},
      {{{"referer", "https://user@dash.example.org/"}}, 403},
      {{{"origin", "file://"}}, 403},
      // Same host (any scheme or port; case-insensitive), or the proxy's Host.
      {{{"origin", "https://dash.example.org"}}, 303},
      {{{"origin", "http://Dash.Example.org:8443"}}, 303},
      {{{"referer", "https://dash.example.org/login?x=1"}}, 303},
      {{{"origin", "https://public.example"}, {"x-forwarded-host", "public.example"}}, 303},
      // Neither header: not a browser's form (curl, scripts).
      {{}, 303},
      // Not a form.
      {{{"origin", "https://dash.example.org"}, {"content-type", "text/plain"}}, 415},
      {{{"content-type", "application/json"}}, 415},
  };
  for (const Case& c : cases) {
    std::string desc;
    for (const auto& [k, v] : c.headers) desc += k + ": " + v + "; ";
    HttpResponse r = Send(LoginPost(good, c.headers));
    EXPECT_EQ(r.status, c.status) << desc << r.body;
    EXPECT_EQ(r.headers.count("Set-Cookie"), c.status == 303 ? 1u : 0u) << desc;
  }
  // The refusal explains itself, with what was sent escaped.
  HttpResponse r = Send(LoginPost(good, {{"origin", "https://<b>evil</b>.example"}}));
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("sent from another site (Origin https://&lt;b&gt;evil"), std::string::npos)
      << r.body;
  EXPECT_EQ(r.body.find("<b>evil"), std::string::npos);
  EXPECT_NE(r.body.find("proxy_set_header Host $host"), std::string::npos);
}

TEST_F(ApiHandlerTest, MetricsWithoutAuthIs401NotARedirect) {
  HttpResponse r = Get("/metrics", /*with_token=*/false);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.headers["WWW-Authenticate"], "Bearer realm=\"apimeter\"");
  EXPECT_TRUE(Body(r)["error"].contains("message"));
}

TEST_F(ApiHandlerTest, WhatCountsAsPresentingAToken) {
  EXPECT_TRUE(PresentsToken(LoginPost("token=x")));
  EXPECT_TRUE(PresentsToken({"GET", "/api/v1/overview", {{"authorization", "Bearer x"}}, ""}));
  EXPECT_FALSE(PresentsToken({"GET", "/login", {}, ""}));
  EXPECT_FALSE(PresentsToken({"GET", "/", {{"cookie", "apimeter_session=x"}}, ""}));
  HttpResponse r = SignInThrottled(LoginPost("token=x"), 42, &assets_);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.headers["Retry-After"], "42");
  EXPECT_NE(r.body.find("<form"), std::string::npos);  // the sign-in page, with the note
  r = SignInThrottled({"GET", "/api/v1/overview", {{"authorization", "Bearer x"}}, ""}, 7,
                      &assets_);
  EXPECT_EQ(r.status, 429);
  EXPECT_NE(Body(r)["error"]["message"].get<std::string>().find("retry in 7 s"), std::string::npos);
  r = SignInThrottled({"POST", "/logout", {{"authorization", "Bearer x"}}, ""}, 7, &assets_);
  EXPECT_EQ(r.headers["Content-Type"], "application/json");  // the form only for /login
}

TEST_F(ApiHandlerTest, ForgedCookieIsRejected) {
  HttpRequest page{"GET", "/", {{"cookie", "apimeter_session=99999999999.abc.def"}}, ""};
  EXPECT_EQ(Send(page).status, 303);
}

TEST_F(ApiHandlerTest, LogoutClearsCookie) {
  HttpResponse r = Send({"POST", "/logout", {}, ""});
  EXPECT_EQ(r.status, 303);
  EXPECT_EQ(r.headers["Location"], "/login");
  EXPECT_NE(r.headers["Set-Cookie"].find("apimeter_session=;"), std::string::npos);
  EXPECT_NE(r.headers["Set-Cookie"].find("Max-Age=0"), std::string::npos);
}

TEST_F(ApiHandlerTest, HostileInputGivesBoundedAnswers) {
  EXPECT_EQ(Get("/api/v1/overview?" + std::string(5000, '&')).status, 200);
  std::string many;
  for (int i = 0; i < 40; ++i) many += "p" + std::to_string(i) + "=1&";
  EXPECT_EQ(Get("/api/v1/overview?" + many).status, 400);
  EXPECT_EQ(Get("/api/v1/overview?from=%").status, 400);
  EXPECT_EQ(Get("/api/v1/overview?from=%4").status, 400);
  EXPECT_EQ(Send(LoginPost("token=%")).status, 401);
  EXPECT_EQ(Get("/api/v1/overview?endpoint=%ff%fe").status, 200);
}

TEST_F(ApiHandlerTest, RouteLabelsAreBounded) {
  EXPECT_EQ(RouteLabel("/api/v1/overview?from=1h"), "overview");
  EXPECT_EQ(RouteLabel("/assets/x.js"), "static");
  EXPECT_EQ(RouteLabel("/random/thing"), "other");
  EXPECT_EQ(RouteLabel("/api/v1/random"), "other");
}

// An extension that owns /api/v1/echo and echoes its parameters.
class EchoExtension : public ApiExtension {
 public:
  std::optional<HttpResponse> Route(std::string_view path, const FormParams& params,
                                    const Clock&) override {
    ++calls;
    if (path != "/api/v1/echo") return std::nullopt;
    return JsonResponse(200, json(params));
  }
  int calls = 0;
};

TEST_F(ApiHandlerTest, ExtensionsServeTheirRoutesAfterAuth) {
  EchoExtension echo;
  auto send = [&](const std::string& target, bool token) {
    HttpRequest req{"GET", target, {}, ""};
    if (token) req.headers["authorization"] = std::string("Bearer ") + kToken;
    return Handle(req, backend_, auth_, clock_, &assets_, {&echo});
  };
  HttpResponse r = send("/api/v1/echo?a=1&b=x%20y", true);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r), (json{{"a", "1"}, {"b", "x y"}}));
  EXPECT_EQ(send("/api/v1/echo", false).status, 401);
  EXPECT_EQ(send("/api/v1/nothing", true).status, 404);
  EXPECT_EQ(send("/api/v1/echo?a=1&a=2", true).status, 400);
  EXPECT_EQ(echo.calls, 2);  // neither the unauthenticated nor the malformed request got through
  EXPECT_EQ(backend_.last_route, "");  // core routes were not involved
}

}  // namespace
}  // namespace apimeter
