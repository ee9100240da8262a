// The log_format shapes users have (issue 14, sections 3 and 4): empty values in every
// escape mode, any variable as an opaque field, the variable families, the presets and the
// real formats (ingress-nginx upstreaminfo, $sent_http_*, $upstream_http_*, $arg_*,
// $cookie_*, map/set variables). Each line is written as nginx writes it, and every
// accepted line must be accepted by the fast path too, with RE2's record.
#include <gtest/gtest.h>

#include <string>

#include "parsers/line_parser.h"
#include "tests/parsers/alloc_counter.h"
#include "tests/parsers/parser_test_util.h"

namespace apimeter {
namespace {

using testing::MustCompile;
using testing::MustReject;
using testing::Spec;
bool Same(const LogRecord& a, const LogRecord& b) { return testing::SameRecord(a, b); }

// Accepted by Parse, by RE2 and by the fast path alone, all with the same record.
LogRecord MustParseFast(const LineParser& p, std::string_view line) {
  LogRecord r, ref, fast;
  ParseError e;
  EXPECT_TRUE(p.Parse(line, &r, &e)) << ParseErrorName(e.kind) << " ($" << e.field << ")\n"
                                     << p.Explain(line);
  EXPECT_TRUE(p.ParseRe2(line, &ref, &e)) << ParseErrorName(e.kind) << ": " << line;
  EXPECT_TRUE(p.has_fast_path());
  EXPECT_TRUE(p.ParseFast(line, &fast, &e)) << "fast path did not take: " << line;
  EXPECT_TRUE(Same(r, ref)) << line;
  EXPECT_TRUE(Same(fast, ref)) << line;
  return r;
}

// --- Section 3: an empty value is "no value" -------------------------------------------

// A JSON format as people write it: strings quoted, numbers left bare.
constexpr char kJsonFormat[] =
    "{\"time\":\"$time_iso8601\",\"remote_addr\":\"$remote_addr\",\"request\":\"$request\","
    "\"status\":$status,\"body_bytes_sent\":$body_bytes_sent,\"request_length\":$request_length,"
    "\"request_time\":$request_time,\"upstream_addr\":\"$upstream_addr\","
    "\"upstream_status\":\"$upstream_status\",\"upstream_response_time\":\"$upstream_response_"
    "time\","
    "\"upstream_connect_time\":$upstream_connect_time,\"key\":\"$http_x_api_key\"}";

TEST(EmptyValues, JsonUpstreamTimesOfRequestsWithoutUpstream) {
  const LineParser p =
      MustCompile(Spec(kJsonFormat, "json", "http_x_api_key", "upstream_response_time"));
  // `return 200;` in nginx: no upstream, so every $upstream_* is not found and written as
  // nothing: "" when quoted, and nothing at all when bare.
  const std::string no_upstream =
      "{\"time\":\"2025-10-10T13:55:36+00:00\",\"remote_addr\":\"127.0.0.1\","
      "\"request\":\"GET /health HTTP/1.1\",\"status\":200,\"body_bytes_sent\":2,"
      "\"request_length\":78,\"request_time\":0.000,\"upstream_addr\":\"\","
      "\"upstream_status\":\"\",\"upstream_response_time\":\"\",\"upstream_connect_time\":,"
      "\"key\":\"\"}";
  LogRecord r = MustParseFast(p, no_upstream);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.path, "/health");
  EXPECT_EQ(r.latency_us, -1);
  EXPECT_EQ(r.bytes_out, 2u);
  EXPECT_EQ(r.bytes_in, 78u);
  EXPECT_TRUE(r.customer_key.empty());

  const std::string proxied =
      "{\"time\":\"2025-10-10T13:55:36+00:00\",\"remote_addr\":\"127.0.0.1\","
      "\"request\":\"GET /v1/x HTTP/1.1\",\"status\":502,\"body_bytes_sent\":157,"
      "\"request_length\":90,\"request_time\":0.004,\"upstream_addr\":\"127.0.0.1:9, "
      "127.0.0.1:8080\",\"upstream_status\":\"502, 200\",\"upstream_response_time\":\"0.001, "
      "0.003\",\"upstream_connect_time\":0.000, 0.001,\"key\":\"k1\"}";
  r = MustParseFast(p, proxied);
  EXPECT_EQ(r.latency_us, 4000);
  EXPECT_EQ(r.customer_key, "k1");
}

TEST(EmptyValues, EveryTypedClassAcceptsEmptyInEveryEscapeMode) {
  // Every typed variable bare between literals; an empty value for each.
  const std::string fmt =
      "$time_local|$request|$status|$body_bytes_sent|$bytes_sent|$request_length|$request_time|"
      "$upstream_response_time|$upstream_header_time|$upstream_addr|$upstream_status|$msec|"
      "$time_iso8601|$http_x_api_key";
  for (const char* escape : {"default", "json", "none"}) {
    const LineParser p = MustCompile(Spec(fmt, escape, "http_x_api_key", "request_time"));
    // time, request, status, then 11 empty values. (Records view their lines: keep both.)
    const std::string empty =
        "10/Oct/2025:13:55:36 +0000|GET / HTTP/1.1|200" + std::string(11, '|');
    const LogRecord r = MustParseFast(p, empty);
    EXPECT_EQ(r.status, 200) << escape;
    EXPECT_EQ(r.bytes_out, 0u);
    EXPECT_EQ(r.bytes_in, 0u);
    EXPECT_EQ(r.latency_us, -1);
    EXPECT_TRUE(r.customer_key.empty());
    // '-' (escape=default's "not found") still means the same where the class admits it:
    // bbs bs rl rt urt uht ua us msec iso key.
    const std::string dashes = "10/Oct/2025:13:55:36 +0000|GET / HTTP/1.1|200|-|-|-||-|-|-|-|||-";
    const LogRecord d = MustParseFast(p, dashes);
    EXPECT_TRUE(Same(r, d)) << escape;
  }
}

TEST(EmptyValues, LatencyFromAnEmptyUpstreamTimeIsNotLogged) {
  for (const char* escape : {"default", "json", "none"}) {
    const LineParser p =
        MustCompile(Spec("[$time_local] \"$request\" $status $upstream_response_time", escape, "",
                         "upstream_response_time"));
    EXPECT_EQ(MustParseFast(p, "[10/Oct/2025:13:55:36 +0000] \"GET / HTTP/1.1\" 301 ").latency_us,
              -1);
  }
}

TEST(EmptyValues, RequiredFieldsEmptyGetTheirOwnReasonNotNoMatch) {
  const LineParser p =
      MustCompile(Spec("{\"t\":\"$time_iso8601\",\"r\":\"$request\",\"s\":$status}", "json"));
  EXPECT_EQ(MustReject(p, "{\"t\":\"\",\"r\":\"GET / HTTP/1.1\",\"s\":200}").kind,
            ParseErrorKind::kBadTime);
  EXPECT_EQ(MustReject(p, "{\"t\":\"2025-10-10T13:55:36Z\",\"r\":\"GET / HTTP/1.1\",\"s\":}").kind,
            ParseErrorKind::kBadStatus);
  EXPECT_EQ(MustReject(p, "{\"t\":\"2025-10-10T13:55:36Z\",\"r\":\"\",\"s\":200}").kind,
            ParseErrorKind::kEmptyRequest);
}

TEST(EmptyValues, AValueOutsideItsClassIsStillNoMatchAndNamesTheVariable) {
  const LineParser p = MustCompile(Spec("combined"));
  const std::string line =
      "1.2.3.4 - - [10/Oct/2025:13:55:36 +0000] \"GET / HTTP/1.1\" abc 12 \"-\" \"-\"";
  const ParseError e = MustReject(p, line);
  EXPECT_EQ(e.kind, ParseErrorKind::kNoMatch);
  EXPECT_EQ(e.field, "status");
  EXPECT_EQ(e.offset, line.find("abc"));
  // At the end of the format too.
  const LineParser q = MustCompile(Spec("[$time_local] \"$request\" $status $request_time"));
  const std::string tail = "[10/Oct/2025:13:55:36 +0000] \"GET / HTTP/1.1\" 200 fast";
  const ParseError f = MustReject(q, tail);
  EXPECT_EQ(f.field, "request_time");
  EXPECT_EQ(f.offset, tail.find("fast"));
}

// --- Section 4: any variable, the families, presets and real formats --------------------

TEST(AnyVariable, FamiliesAndMadeUpNamesAreOpaqueAndMayBeTheCustomer) {
  for (const char* var :
       {"http_authorization", "sent_http_content_type", "arg_api_key", "cookie_session",
        "upstream_http_x_cache", "jwt_claim_sub", "api_client", "tenant_from_map", "1"}) {
    const std::string fmt =
        std::string("[$time_local] \"$request\" $status \"${") + var + "}\" $" + var + "_x";
    const LineParser p = MustCompile(Spec(fmt, "default", var));
    const LogRecord r = MustParseFast(
        p, "[10/Oct/2025:13:55:36 +0000] \"GET / HTTP/1.1\" 200 \"Bearer a b\\x22c\" tail");
    EXPECT_EQ(r.customer_key, "Bearer a b\\x22c") << var;
  }
}

TEST(AnyVariable, OpaqueValueEndsAtTheNextLiteral) {
  const LineParser p = MustCompile(
      Spec("$remote_addr [$time_local] \"$request\" $status cache=$upstream_http_x_cache "
           "ct=\"$sent_http_content_type\" $my_map_var;$req_id"));
  const LogRecord r =
      MustParseFast(p,
                    "1.2.3.4 [10/Oct/2025:13:55:36 +0000] \"GET /a HTTP/1.1\" 200 cache=HIT "
                    "ct=\"application/json; charset=utf-8\" tenant-7;6c3a8e0f9b1d");
  EXPECT_EQ(r.path, "/a");
  // A value holding the next literal's first byte is not this format's line.
  EXPECT_EQ(MustReject(p,
                       "1.2.3.4 [10/Oct/2025:13:55:36 +0000] \"GET /a HTTP/1.1\" 200 cache=HIT "
                       "MISS ct=\"x\" t;r")
                .kind,
            ParseErrorKind::kNoMatch);
}

constexpr char kUpstreamInfoHead[] =
    "10.42.0.1 - - [10/Oct/2025:13:55:36 +0000] \"GET /api/v1/users?page=2 HTTP/1.1\" 200 1534 "
    "\"-\" \"Mozilla/5.0 (X11; Linux x86_64)\" 512 0.012 [default-api-80] [] ";

TEST(Presets, IngressNginxUpstreamInfo) {
  const LineParser p = MustCompile(Spec("upstreaminfo", "default", "", "upstream_response_time"));
  const std::string one = std::string(kUpstreamInfoHead) +
                          "10.244.0.12:8080 1534 0.011 200 6c3a8e0f9b1d4c2e8f7a6b5c4d3e2f1a";
  LogRecord r = MustParseFast(p, one);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.path, "/api/v1/users");
  EXPECT_EQ(r.bytes_out, 1534u);
  EXPECT_EQ(r.bytes_in, 512u);
  EXPECT_EQ(r.latency_us, 11000);
  // A retry to the next server: every upstream variable is a list.
  const std::string retry = std::string(kUpstreamInfoHead) +
                            "10.244.0.12:8080, 10.244.0.13:8080 0, 1534 0.001, 0.011 502, 200 "
                            "6c3a8e0f9b1d4c2e8f7a6b5c4d3e2f1a";
  EXPECT_EQ(MustParseFast(p, retry).latency_us, 12000);
  // An internal redirect to another group (" : "), and a canary upstream.
  const std::string redirect =
      "10.42.0.1 - - [10/Oct/2025:13:55:36 +0000] \"POST /login HTTP/2.0\" 302 0 \"-\" \"-\" 78 "
      "0.020 [default-web-80] [default-web-canary-80] 10.244.0.5:80 : 10.244.0.9:80 0 : 0 "
      "0.010 : 0.009 302 : 302 0123abcd";
  EXPECT_EQ(MustParseFast(p, redirect).latency_us, 19000);
  // Answered by nginx itself (ssl-redirect, auth, rate limit): no upstream at all.
  const std::string local =
      "10.42.0.1 - - [10/Oct/2025:13:55:36 +0000] \"GET / HTTP/1.1\" 308 164 \"-\" \"curl/8.0\" "
      "78 0.000 [default-web-80] [] - - - - 0123abcd";
  r = MustParseFast(p, local);
  EXPECT_EQ(r.status, 308);
  EXPECT_EQ(r.latency_us, -1);
  // No live upstream: nginx logs the group's name as the address.
  MustParseFast(p,
                "10.42.0.1 - - [10/Oct/2025:13:55:36 +0000] \"GET / HTTP/1.1\" 503 190 \"-\" "
                "\"-\" 78 0.000 [default-web-80] [] default-web-80 0 0.000 503 0123abcd");
}

TEST(Presets, NginxMainWithForwardedFor) {
  const LineParser p = MustCompile(Spec("main", "default", "http_x_forwarded_for"));
  const LogRecord r = MustParseFast(
      p,
      "203.0.113.9 - - [10/Oct/2025:13:55:36 +0000] \"GET /index.html HTTP/1.1\" 200 612 \"-\" "
      "\"curl/8.4.0\" \"198.51.100.1, 10.0.0.1\"");
  EXPECT_EQ(r.customer_key, "198.51.100.1, 10.0.0.1");
  EXPECT_TRUE(MustParseFast(p,
                            "203.0.113.9 - - [10/Oct/2025:13:55:36 +0000] \"GET / HTTP/1.1\" 304 "
                            "0 \"-\" \"curl/8.4.0\" \"-\"")
                  .customer_key.empty());
}

TEST(RealFormats, ApiKeyInTheQueryStringAndSessionCookie) {
  const LineParser by_arg = MustCompile(
      Spec("$remote_addr [$time_local] \"$request\" $status $body_bytes_sent key=$arg_api_key "
           "session=$cookie_session rt=$request_time",
           "default", "arg_api_key", "request_time"));
  const std::string line =
      "1.2.3.4 [10/Oct/2025:13:55:36 +0000] \"GET /v1/geo?api_key=ak_123&q=x HTTP/1.1\" 200 "
      "99 key=ak_123 session=s%3Aabc.def rt=0.003";
  EXPECT_EQ(MustParseFast(by_arg, line).customer_key, "ak_123");
  const LineParser by_cookie = MustCompile(
      Spec("$remote_addr [$time_local] \"$request\" $status $body_bytes_sent key=$arg_api_key "
           "session=$cookie_session rt=$request_time",
           "default", "cookie_session"));
  EXPECT_EQ(MustParseFast(by_cookie, line).customer_key, "s%3Aabc.def");
}

TEST(RealFormats, MapAndSetVariablesInAJsonFormat) {
  // map $http_authorization $api_client { ... }  and  set $tenant ...;
  const LineParser p = MustCompile(
      Spec("{\"ts\":\"$time_iso8601\",\"client\":\"$api_client\",\"tenant\":\"$tenant\","
           "\"method\":\"$request_method\",\"uri\":\"$request_uri\",\"status\":$status,"
           "\"ct\":\"$sent_http_content_type\",\"cache\":\"$upstream_http_x_cache\","
           "\"urt\":\"$upstream_response_time\"}",
           "json", "api_client", "upstream_response_time"));
  LogRecord r = MustParseFast(
      p,
      "{\"ts\":\"2025-10-10T13:55:36+00:00\",\"client\":\"acme\",\"tenant\":\"t-\\\"7\\\"\","
      "\"method\":\"GET\",\"uri\":\"/v1/items?x=1\",\"status\":200,\"ct\":\"application/json\","
      "\"cache\":\"HIT\",\"urt\":\"\"}");
  EXPECT_EQ(r.customer_key, "acme");
  EXPECT_EQ(r.path, "/v1/items");
  EXPECT_EQ(r.latency_us, -1);
}

TEST(RealFormats, FastPathStaysAllocationFree) {
  const LineParser info =
      MustCompile(Spec("upstreaminfo", "default", "", "upstream_response_time"));
  const LineParser json =
      MustCompile(Spec(kJsonFormat, "json", "http_x_api_key", "upstream_response_time"));
  const std::string info_line = std::string(kUpstreamInfoHead) +
                                "10.244.0.12:8080, 10.244.0.13:8080 0, 1534 0.001, 0.011 502, "
                                "200 6c3a8e0f9b1d4c2e8f7a6b5c4d3e2f1a";
  const std::string json_line =
      "{\"time\":\"2025-10-10T13:55:36+00:00\",\"remote_addr\":\"127.0.0.1\","
      "\"request\":\"GET /health HTTP/1.1\",\"status\":200,\"body_bytes_sent\":2,"
      "\"request_length\":78,\"request_time\":0.000,\"upstream_addr\":\"\","
      "\"upstream_status\":\"\",\"upstream_response_time\":\"\",\"upstream_connect_time\":,"
      "\"key\":\"\"}";
  LogRecord r;
  ParseError e;
  bool ok = true;
  testing::StartCountingAllocations();
  for (int i = 0; i < 100; ++i) {
    ok = ok && info.Parse(info_line, &r, &e);
    ok = ok && json.Parse(json_line, &r, &e);
  }
  EXPECT_EQ(testing::StopCountingAllocations(), 0);
  EXPECT_TRUE(ok);
}

}  // namespace
}  // namespace apimeter
