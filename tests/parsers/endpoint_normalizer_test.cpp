// Tests for EndpointNormalizer: built-in id rules, bounds, sanitising and routes.
#include <gtest/gtest.h>

#include <string>

#include "parsers/endpoint_normalizer.h"

namespace apimeter {
namespace {

std::string Norm(const EndpointNormalizer& n, std::string_view method, std::string_view path) {
  std::string out = "garbage that must be cleared";
  n.Normalize(method, path, &out);
  return out;
}

EndpointNormalizer Builtin() {
  auto n = EndpointNormalizer::Create({});
  if (!n.ok()) std::abort();
  return *n;
}

TEST(EndpointNormalizer, BuiltinRules) {
  const EndpointNormalizer n = Builtin();
  const std::pair<std::string, std::string> cases[] = {
      {"/v1/orders/42", "GET /v1/orders/:id"},
      {"/v1/orders/42/items?page=2", "GET /v1/orders/:id/items"},
      {"/v1/orders/42#frag", "GET /v1/orders/:id"},
      {"//v1///orders//7", "GET /v1/orders/:id"},
      {"", "GET /"},
      {"/", "GET /"},
      {"?x=1", "GET /"},
      {"/users/", "GET /users/"},
      {"/u/550e8400-e29b-41d4-a716-446655440000", "GET /u/:id"},
      {"/u/550E8400-E29B-41D4-A716-446655440000/x", "GET /u/:id/x"},
      {"/blob/0123456789abcdef0123", "GET /blob/:id"},  // >= 16 hex
      {"/blob/a1b2c3d4", "GET /blob/:id"},              // >= 8 hex, digit and letter
      {"/blob/deadbeef", "GET /blob/deadbeef"},         // hex letters only: a word
      {"/blob/12ab", "GET /blob/12ab"},                 // too short
      {"/ip/192.168.0.1", "GET /ip/:id"},
      {"/ip/256.1.1.1", "GET /ip/256.1.1.1"},
      {"/v/1.2.3", "GET /v/1.2.3"},
      {"/ip/2001:db8::1", "GET /ip/:id"},
      {"/ip/::1", "GET /ip/:id"},
      {"/t/AbC123xyz789QWErty00", "GET /t/:id"},  // token-like
      {"/t/dGhpcyBpcyBhIHRva2Vu_1", "GET /t/:id"},
      {"/blog/how-to-install-nginx-on-2024", "GET /blog/how-to-install-nginx-on-2024"},
      {"/t/abcdefghijklmnopqrstuvwxyz", "GET /t/abcdefghijklmnopqrstuvwxyz"},  // no digit
      {"/v1/users/me", "GET /v1/users/me"},
      {"/v2", "GET /v2"},
      {"*", "GET /*"},
      {"/a\x01"
       "b/\x1f",
       "GET /a?b/?"},
  };
  for (const auto& [path, want] : cases) EXPECT_EQ(Norm(n, "GET", path), want) << path;
}

TEST(EndpointNormalizer, Methods) {
  const EndpointNormalizer n = Builtin();
  for (const char* m :
       {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE"}) {
    EXPECT_EQ(Norm(n, m, "/x"), std::string(m) + " /x");
  }
  EXPECT_EQ(Norm(n, "get", "/x"), "OTHER /x");
  EXPECT_EQ(Norm(n, "PROPFIND", "/x"), "OTHER /x");
  EXPECT_EQ(Norm(n, "", "/x"), "OTHER /x");
  EXPECT_EQ(Norm(n, "G\x1f", "/x"), "OTHER /x");
}

TEST(EndpointNormalizer, BoundsSegmentsAndBytes) {
  const EndpointNormalizer n = Builtin();
  std::string deep;
  for (int i = 0; i < 20; ++i) deep += "/s" + std::string(1, static_cast<char>('a' + i));
  std::string want = "GET ";
  for (int i = 0; i < 16; ++i) want += "/s" + std::string(1, static_cast<char>('a' + i));
  want += "/\xE2\x80\xA6";
  EXPECT_EQ(Norm(n, "GET", deep), want);

  const std::string longseg = "/" + std::string(1000, 'x');
  EXPECT_EQ(Norm(n, "GET", longseg), "GET /\xE2\x80\xA6");
  std::string many;
  for (int i = 0; i < 15; ++i) many += "/" + std::string(30, 'a' + i);
  const std::string out = Norm(n, "OPTIONS", many);
  EXPECT_LE(out.size(), kMaxEndpointBytes);
  EXPECT_EQ(out.substr(out.size() - 4), "/\xE2\x80\xA6");
  // Exactly at the limit is kept whole.
  const std::string fits = "/" + std::string(kMaxEndpointBytes - 4 - 1, 'q');
  EXPECT_EQ(Norm(n, "GET", fits).size(), kMaxEndpointBytes);
}

TEST(EndpointNormalizer, NoAllocationWhenCapacitySuffices) {
  const EndpointNormalizer n = Builtin();
  std::string out;
  out.reserve(kMaxEndpointBytes + 1);
  const char* before = out.data();
  n.Normalize("GET", "/" + std::string(2000, 'z'), &out);
  n.Normalize("GET", "/v1/orders/42/items", &out);
  EXPECT_EQ(out.data(), before);
}

TEST(EndpointNormalizer, TemplateAndRegexRoutesInOrder) {
  auto n = EndpointNormalizer::Create({
      {"/v1/orders/{order}/items", "", ""},
      {"", "/v1/reports/[a-z]+-[0-9]{4}", "/v1/reports/:slug"},
      {"/v1/orders/{id}", "", ""},
      {"/v1/users/me", "", ""},
  });
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ(Norm(*n, "GET", "/v1/orders/ab-12/items"), "GET /v1/orders/:order/items");
  EXPECT_EQ(Norm(*n, "GET", "/v1//orders/x/items/?q"), "GET /v1/orders/:order/items");
  EXPECT_EQ(Norm(*n, "PUT", "/v1/orders/slug-name"), "PUT /v1/orders/:id");
  EXPECT_EQ(Norm(*n, "GET", "/v1/reports/sales-2024?x"), "GET /v1/reports/:slug");
  EXPECT_EQ(Norm(*n, "GET", "/v1/reports/sales-2024/x"), "GET /v1/reports/sales-2024/x");
  EXPECT_EQ(Norm(*n, "GET", "/v1/users/me"), "GET /v1/users/me");
  // No route: built-in rules.
  EXPECT_EQ(Norm(*n, "GET", "/v1/orders/5/items/9"), "GET /v1/orders/:id/items/:id");
  EXPECT_EQ(Norm(*n, "GET", "/v1/orders"), "GET /v1/orders");
}

TEST(EndpointNormalizer, CreateErrors) {
  struct Case {
    RouteSpec route;
    std::string want;
  };
  const Case cases[] = {
      {{"", "", ""}, "route 1 needs exactly one of template or match"},
      {{"/a", "/b", "x"}, "exactly one"},
      {{"", "/v1/(", "/v1"}, "route 1 match regex '/v1/(' does not compile"},
      {{"", "/v1/.*", ""}, "needs a name"},
      {{"v1/x", "", ""}, "must start with '/'"},
      {{"/v1/{}/x", "", ""}, "bad segment '{}'"},
      {{"/v1/{a/x", "", ""}, "bad segment '{a'"},
  };
  for (const Case& c : cases) {
    auto n = EndpointNormalizer::Create({c.route});
    ASSERT_FALSE(n.ok()) << c.want;
    EXPECT_NE(n.status().message().find(c.want), std::string::npos)
        << "want '" << c.want << "' in: " << n.status().message();
  }
}

}  // namespace
}  // namespace apimeter
