// Roles and customer scope (server/access.h) through the pure handler:
// every route, forced filters, refusals, the answer scrub, scoped sessions
// and the trusted header. tests/integration/scoped_test.py runs the same
// questions against a real serve and Redis.
#include "server/access.h"

#include <gtest/gtest.h>

#include "server/api_handler.h"
#include "server/auth.h"

namespace apimeter {
namespace {

using nlohmann::json;

constexpr int64_t kNow = 1764000000;
constexpr char kAdminToken[] = "admin-token-0123456789";
constexpr char kAcmeToken[] = "acme-token-0123456789";
constexpr char kViewerToken[] = "viewer-token-0123456789";
constexpr char kAcme[] = "Acme Corp";
constexpr char kAcmeId[] = "k_0123456789ab";

Access AcmeAccess() { return Access{Role::kViewer, kAcme, kAcmeId, ""}; }

// Answers every question with rows of two customers, and records the filter.
class TwoCustomerBackend : public QueryBackend {
 public:
  Result<json> Overview(const QueryParams& p) override { return Rows("overview", p); }
  Result<json> Endpoints(const QueryParams& p) override { return Rows("endpoints", p); }
  Result<json> Customers(const QueryParams& p) override {
    last = p;
    routes.push_back("customers");
    return json{{"total_requests", 1000},
                {"customers",
                 {{{"customer", kAcme}, {"requests", 100}, {"share", 0.1}},
                  {{"customer", "Globex"}, {"requests", 900}, {"share", 0.9}}}}};
  }
  Result<json> Timeseries(const QueryParams& p) override { return Rows("timeseries", p); }
  Result<json> Slow(const QueryParams& p) override { return Rows("slow", p); }
  Result<json> Clients(const QueryParams& p) override { return Rows("clients", p); }
  Result<json> Heatmap(const QueryParams& p, const std::string&) override {
    return Rows("heatmap", p);
  }
  QueryParams last;
  std::vector<std::string> routes;

 private:
  Result<json> Rows(const std::string& route, const QueryParams& p) {
    last = p;
    routes.push_back(route);
    return json{{"route", route},
                {"requests", {{{"customer", kAcme}, {"n", 1}}, {{"customer", "Globex"}, {"n", 2}}}}};
  }
};

// Owns /api/v1/report (scoped: forced), /api/v1/attribution (refused) and
// /api/v1/unregistered (not in kRouteAccess: refused); echoes parameters.
class EchoRoutes : public ApiExtension {
 public:
  std::optional<HttpResponse> Route(std::string_view path, const FormParams& params,
                                    const Clock&) override {
    if (path != "/api/v1/report" && path != "/api/v1/attribution" &&
        path != "/api/v1/unregistered" && path != "/api/v1/alerts") {
      return std::nullopt;
    }
    ++calls;
    return JsonResponse(200, json(params));
  }
  int calls = 0;
};

class AccessTest : public ::testing::Test {
 protected:
  AccessTest() : clock_(kNow * 1000000) {
    auth_.token_hashes = {HashToken(kAdminToken)};
    auth_.grants = {{HashToken(kAcmeToken), AcmeAccess()},
                    {HashToken(kViewerToken), Access{Role::kViewer, "", "", ""}}};
    auth_.session_key = "access-test-session-key-0123456789";
    auth_.session_ttl_s = 3600;
  }
  HttpResponse Get(const std::string& target, const std::string& token,
                   std::map<std::string, std::string> headers = {}, std::string peer = "") {
    HttpRequest req{"GET", target, std::move(headers), "", std::move(peer)};
    if (!token.empty()) req.headers["authorization"] = "Bearer " + token;
    return Handle(req, backend_, auth_, clock_, nullptr, {&echo_});
  }
  TwoCustomerBackend backend_;
  EchoRoutes echo_;
  AuthConfig auth_;
  ManualClock clock_;
};

// Every core route with a customer filter, and the parameters that name one.
const char* const kForcedCoreRoutes[] = {"overview", "endpoints", "customers", "timeseries",
                                         "slow",     "clients"};

TEST_F(AccessTest, ScopedTokenIsForcedToItsCustomerOnEveryCoreRoute) {
  for (const char* route : kForcedCoreRoutes) {
    SCOPED_TRACE(route);
    const std::string path = std::string("/api/v1/") + route;
    for (const std::string& q : {std::string(""), std::string("?customer=Acme%20Corp"),
                                 std::string("?customer=") + kAcmeId}) {
      backend_.last = {};
      HttpResponse r = Get(path + q, kAcmeToken);
      ASSERT_EQ(r.status, 200) << q << " " << r.body;
      EXPECT_EQ(backend_.last.filter.customer, kAcme) << q;
      EXPECT_EQ(r.body.find("Globex"), std::string::npos) << r.body;
    }
    const size_t asked = backend_.routes.size();
    for (const char* other : {"Globex", "globex", "acme%20corp", "k_ffffffffffff", "%20Acme%20Corp",
                              "Acme%20Corp%00", "other", "anonymous"}) {
      HttpResponse r = Get(path + "?customer=" + other, kAcmeToken);
      EXPECT_EQ(r.status, 403) << other << " " << r.body;
      EXPECT_EQ(json::parse(r.body)["error"]["parameter"], "customer");
    }
    // Repeated parameters are refused before any scope question.
    EXPECT_EQ(Get(path + "?customer=Acme%20Corp&customer=Globex", kAcmeToken).status, 400);
    EXPECT_EQ(backend_.routes.size(), asked) << "a refused request reached the backend";
  }
}

TEST_F(AccessTest, UnscopedCallersAreNotForced) {
  for (const char* token : {kAdminToken, kViewerToken}) {
    HttpResponse r = Get("/api/v1/customers?customer=Globex", token);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(backend_.last.filter.customer, "Globex");
    EXPECT_EQ(json::parse(r.body)["total_requests"], 1000);
    ASSERT_EQ(Get("/api/v1/overview", token).status, 200);
    EXPECT_EQ(backend_.last.filter.customer, "");
  }
}

TEST_F(AccessTest, ScopedAnswersAreScrubbedOfOtherCustomers) {
  HttpResponse r = Get("/api/v1/customers", kAcmeToken);
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = json::parse(r.body);
  ASSERT_EQ(j["customers"].size(), 1u) << r.body;
  EXPECT_EQ(j["customers"][0]["customer"], kAcme);
  EXPECT_EQ(j["total_requests"], 100);  // not the 1000 of all customers
  EXPECT_EQ(j["customers"][0]["share"], 1.0);
  r = Get("/api/v1/slow", kAcmeToken);
  EXPECT_EQ(json::parse(r.body)["requests"].size(), 1u) << r.body;
}

TEST_F(AccessTest, RoutesAcrossCustomersAndUnregisteredRoutesAreRefused) {
  for (const char* path : {"/api/v1/heatmap", "/api/v1/heatmap?metric=p99", "/api/v1/attribution",
                           "/api/v1/alerts", "/api/v1/unregistered", "/api/v1/nothing"}) {
    HttpResponse r = Get(path, kAcmeToken);
    EXPECT_EQ(r.status, 403) << path << " " << r.body;
    EXPECT_EQ(r.body.find("Globex"), std::string::npos);
  }
  EXPECT_EQ(echo_.calls, 0);
  EXPECT_TRUE(backend_.routes.empty());
  // The same routes answer unscoped callers.
  EXPECT_EQ(Get("/api/v1/heatmap", kViewerToken).status, 200);
  EXPECT_EQ(Get("/api/v1/unregistered", kViewerToken).status, 200);
}

TEST_F(AccessTest, ExtensionRoutesGetTheForcedCustomer) {
  HttpResponse r = Get("/api/v1/report?format=csv", kAcmeToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body), (json{{"customer", kAcme}, {"format", "csv"}}));
  EXPECT_EQ(Get("/api/v1/report?customer=Globex", kAcmeToken).status, 403);
  EXPECT_EQ(echo_.calls, 1);
}

TEST_F(AccessTest, OpenApiAndMeAreOpenToEveryone) {
  EXPECT_EQ(Get("/api/v1/openapi.json", kAcmeToken).status, 200);
  HttpResponse me = Get("/api/v1/me", kAcmeToken);
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(json::parse(me.body),
            (json{{"role", "viewer"}, {"customer", kAcme}, {"customer_id", kAcmeId}, {"user", nullptr}}));
  me = Get("/api/v1/me", kAdminToken);
  EXPECT_EQ(json::parse(me.body)["role"], "admin");
  EXPECT_EQ(json::parse(me.body)["customer"], nullptr);
  EXPECT_EQ(Get("/api/v1/me?x=1", kAdminToken).status, 400);
  // Naming another customer is a 403 on every route, these included.
  EXPECT_EQ(Get("/api/v1/me?customer=Globex", kAcmeToken).status, 403);
  EXPECT_EQ(Get("/api/v1/openapi.json?customer=Globex", kAcmeToken).status, 403);
}

TEST(ApplyAccessTest, MetricsIsForAdminsOnly) {
  FormParams none;
  EXPECT_FALSE(ApplyAccess(Access{}, "/metrics", &none));
  auto viewer = ApplyAccess(Access{Role::kViewer, "", "", ""}, "/metrics", &none);
  ASSERT_TRUE(viewer);
  EXPECT_EQ(viewer->status, 403);
  ASSERT_TRUE(ApplyAccess(AcmeAccess(), "/metrics", &none));
}

TEST(ApplyAccessTest, LiveIsForced) {
  FormParams q{{"window", "15m"}};
  EXPECT_FALSE(ApplyAccess(AcmeAccess(), "/api/v1/live", &q));
  EXPECT_EQ(q.at("customer"), kAcme);
  FormParams other{{"customer", "Globex"}};
  auto r = ApplyAccess(AcmeAccess(), "/api/v1/live", &other);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
}

TEST_F(AccessTest, SessionsCarryTheScopeInsideTheSignature) {
  HttpRequest login{"POST", "/login", {{"content-type", "application/x-www-form-urlencoded"}},
                    std::string("token=") + kAcmeToken};
  HttpResponse r = Handle(login, backend_, auth_, clock_);
  ASSERT_EQ(r.status, 303) << r.body;
  std::string cookie = r.headers["Set-Cookie"];
  cookie = cookie.substr(0, cookie.find(';'));
  const std::string value = cookie.substr(cookie.find('=') + 1);
  auto access = SessionAccess(value, auth_, kNow);
  ASSERT_TRUE(access);
  EXPECT_EQ(access->customer, kAcme);
  EXPECT_EQ(access->role, Role::kViewer);
  ASSERT_EQ(Get("/api/v1/overview?customer=Globex", "", {{"cookie", cookie}}).status, 403);
  ASSERT_EQ(Get("/api/v1/overview", "", {{"cookie", cookie}}).status, 200);
  EXPECT_EQ(backend_.last.filter.customer, kAcme);

  // Widening the scope without the key: drop the customer, or swap it.
  auto hex = [](const std::string& s) {
    std::string out;
    for (unsigned char c : s) out += "0123456789abcdef"[c >> 4], out += "0123456789abcdef"[c & 15];
    return out;
  };
  for (const auto& [from, to] : {std::pair{hex(kAcme), std::string()},
                                 std::pair{hex(kAcme), hex("Globex")},
                                 std::pair{std::string(".viewer."), std::string(".admin.")}}) {
    std::string forged = value;
    forged.replace(forged.find(from), from.size(), to);
    EXPECT_FALSE(SessionAccess(forged, auth_, kNow)) << forged;
    EXPECT_EQ(Get("/api/v1/overview", "", {{"cookie", "apimeter_session=" + forged}}).status, 401);
  }
  // The older four-field cookie carried no scope: refused.
  const std::string old_payload = std::to_string(kNow) + "." + std::to_string(kNow + 60) + "." +
                                  std::string(64, 'c');
  EXPECT_FALSE(SessionAccess(old_payload + "." + std::string(64, '0'), auth_, kNow));
}

TEST_F(AccessTest, TrustedHeaderIsBelievedOnlyFromAProxy) {
  auth_.trusted_header.header = "x-forwarded-user";
  auth_.trusted_header.proxies = {"127.0.0.1", "::1"};
  auth_.trusted_header.users = {{"ops@acme.example", AcmeAccess()},
                                {"alice@example.com", Access{}}};
  const std::map<std::string, std::string> acme{{"x-forwarded-user", "ops@acme.example"}};
  // From the proxy: the user's access.
  HttpResponse r = Get("/api/v1/overview", "", acme, "127.0.0.1");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(backend_.last.filter.customer, kAcme);
  EXPECT_EQ(Get("/api/v1/overview?customer=Globex", "", acme, "::1").status, 403);
  r = Get("/api/v1/me", "", acme, "127.0.0.1");
  EXPECT_EQ(json::parse(r.body)["user"], "ops@acme.example");
  EXPECT_EQ(Get("/api/v1/heatmap", "", {{"x-forwarded-user", "alice@example.com"}}, "127.0.0.1")
                .status,
            200);
  // From anyone else the header is not believed: no sign-in at all.
  for (const char* peer : {"192.0.2.7", "127.0.0.2", "", "::ffff:127.0.0.1"}) {
    EXPECT_EQ(Get("/api/v1/overview", "", {{"x-forwarded-user", "alice@example.com"}}, peer).status,
              401)
        << peer;
    HttpRequest req{"GET", "/", {{"x-forwarded-user", "alice@example.com"}}, "", peer};
    EXPECT_EQ(ReadTrustedHeader(req, auth_).kind, TrustedHeaderResult::kIgnored) << peer;
  }
  // A user the proxy signed in but apimeter does not know: 403, not a sign-in.
  r = Get("/api/v1/overview", "", {{"x-forwarded-user", "mallory@example.com"}}, "127.0.0.1");
  EXPECT_EQ(r.status, 403) << r.body;
  auth_.trusted_header.unlisted = Access{Role::kViewer, "", "", ""};
  EXPECT_EQ(Get("/api/v1/overview", "", {{"x-forwarded-user", "mallory@example.com"}}, "127.0.0.1")
                .status,
            200);
  // A Bearer token is checked instead of the header, even from the proxy.
  EXPECT_EQ(Get("/api/v1/heatmap", kAcmeToken, {{"x-forwarded-user", "alice@example.com"}},
                "127.0.0.1")
                .status,
            403);
}

}  // namespace
}  // namespace apimeter
