// Tests for the log_format compiler, record derivation and every reject reason.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "common/time_util.h"
#include "parsers/line_parser.h"
#include "tests/parsers/alloc_counter.h"
#include "tests/parsers/parser_test_util.h"

namespace apimeter {
namespace {

constexpr int64_t kSec = 1000000;

using testing::MustCompile;
using testing::MustReject;
using testing::Spec;

LineParser MustCompile(const std::string& format, const std::string& escape = "default") {
  FormatSpec s;
  s.log_format = format;
  s.escape = escape;
  return MustCompile(s);
}

// Parses with Parse, and checks the fast path and RE2 agree on the result.
LogRecord MustParse(const LineParser& p, std::string_view line) {
  LogRecord r, ref;
  ParseError e;
  EXPECT_TRUE(p.Parse(line, &r, &e)) << ParseErrorName(e.kind) << " at " << e.offset << "\n"
                                     << p.Explain(line);
  EXPECT_TRUE(p.ParseRe2(line, &ref, &e)) << ParseErrorName(e.kind);
  EXPECT_EQ(r.time_us, ref.time_us);
  EXPECT_EQ(r.path, ref.path);
  EXPECT_EQ(r.latency_us, ref.latency_us);
  EXPECT_EQ(r.user_agent, ref.user_agent);
  EXPECT_EQ(r.user_agent_logged, ref.user_agent_logged);
  return r;
}

int64_t Utc(int y, unsigned mo, unsigned d, int h, int mi, int s) {
  return (DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s) * kSec;
}

constexpr char kCombinedLine[] =
    "203.0.113.9 - alice [10/Oct/2025:13:55:36 +0000] \"GET /v1/orders/42?x=1 HTTP/1.1\" 200 "
    "2326 \"https://example.com/\" \"Mozilla/5.0 (X11; Linux)\"";

TEST(LineParserCompile, CombinedPreset) {
  LineParser p = MustCompile("combined");
  EXPECT_TRUE(p.has_fast_path());
  LogRecord r = MustParse(p, kCombinedLine);
  EXPECT_EQ(r.time_us, Utc(2025, 10, 10, 13, 55, 36));
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.path, "/v1/orders/42");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.bytes_out, 2326u);
  EXPECT_EQ(r.bytes_in, 0u);
  EXPECT_EQ(r.latency_us, -1);
  EXPECT_TRUE(r.customer_key.empty());
}

TEST(LineParserCompile, UnknownVariablesAreOpaqueFields) {
  FormatSpec s;
  s.log_format = "$remote_addr $foo [$time_local] \"$request\" $status";
  LineParser p = MustCompile(s);
  EXPECT_TRUE(p.has_fast_path());
  EXPECT_EQ(
      MustParse(p, "1.2.3.4 anything-goes [10/Oct/2025:13:55:36 +0000] \"GET / HTTP/1.1\" 200")
          .status,
      200);
}

TEST(LineParserCompile, ConfigErrorsAreClear) {
  struct Case {
    FormatSpec spec;
    std::string want;
  };
  const std::string ok = "[$time_local] \"$request\" $status $body_bytes_sent";
  const Case cases[] = {
      {Spec("", "default"), "log_format is empty"},
      {Spec(ok, "yaml"), "escape 'yaml'"},
      {Spec("\"$request\" $status"), "no time variable"},
      {Spec("[$time_local] \"$request\""), "no $status"},
      {Spec("[$time_local] $uri $status"), "needs $request"},
      {Spec(ok, "default", "http_x_api_key"),
       "customer variable '$http_x_api_key' is not in log_format"},
      {Spec(ok, "default", "nope"), "customer variable '$nope' is not in log_format"},
      {Spec(ok, "default", "", "request_time"),
       "latency variable '$request_time' is not in log_format"},
      {Spec(ok, "default", "", "status"), "latency variable '$status' must be one of"},
      {Spec(ok, "default", "", "", "bytes_sent"), "bytes_out variable '$bytes_sent' is not in"},
      {Spec(ok, "default", "", "", "status"), "must be bytes_sent or body_bytes_sent"},
      {Spec("[${time_local] $status"), "unterminated '${'"},
      {Spec("[$time_local] $ $status"), "'$' without a variable name at column 15"},
      {Spec(ok, "default", "", "", "", 0), "max_line_bytes"},
  };
  for (const Case& c : cases) {
    auto p = LineParser::Compile(c.spec);
    ASSERT_FALSE(p.ok()) << c.spec.log_format;
    EXPECT_NE(p.status().message().find(c.want), std::string::npos)
        << "want '" << c.want << "' in: " << p.status().message();
  }
}

TEST(LineParserCompile, PresetNames) {
  EXPECT_EQ(LogFormatText("combined"),
            "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
            "\"$http_referer\" \"$http_user_agent\"");
  EXPECT_EQ(LogFormatText("main"),
            "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
            "\"$http_referer\" \"$http_user_agent\" \"$http_x_forwarded_for\"");
  EXPECT_EQ(LogFormatText("upstreaminfo"),
            "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
            "\"$http_referer\" \"$http_user_agent\" $request_length $request_time "
            "[$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr "
            "$upstream_response_length $upstream_response_time $upstream_status $req_id");
  EXPECT_EQ(LogFormatText("$status"), "$status");
  EXPECT_EQ(LogFormatText("Combined"), "Combined");  // names are exact
}

TEST(LineParserCompile, PatternCapturesOnlyUsedVariables) {
  LineParser p = MustCompile("combined");
  // time, status, request, body_bytes_sent and http_user_agent (the client
  // dimension, issue 18 part 2): five groups; referer and user uncaptured.
  int groups = 0;
  const std::string& pat = p.re2_pattern();
  for (size_t i = 0; i + 1 < pat.size(); ++i) {
    if (pat[i] == '(' && pat[i + 1] != '?' && (i == 0 || pat[i - 1] != '\\')) ++groups;
  }
  EXPECT_EQ(groups, 5) << pat;
}

// The user agent is carried as logged when the format has $http_user_agent
// ("-" included: the reducer makes it "none"); without it the record says
// the dimension is not logged.
TEST(LineParser, UserAgentIsCarriedOnlyWhenLogged) {
  const LineParser combined = MustCompile("combined");
  LogRecord r;
  ParseError err{};
  ASSERT_TRUE(combined.Parse("10.0.0.1 - - [26/Nov/2026:10:00:00 +0000] \"GET /a HTTP/1.1\" 200 "
                             "5 \"-\" \"acme-python/2.3.1 (Linux)\"",
                             &r, &err));
  EXPECT_TRUE(r.user_agent_logged);
  EXPECT_EQ(r.user_agent, "acme-python/2.3.1 (Linux)");
  ASSERT_TRUE(combined.Parse("10.0.0.1 - - [26/Nov/2026:10:00:00 +0000] \"GET /a HTTP/1.1\" 200 "
                             "5 \"-\" \"-\"",
                             &r, &err));
  EXPECT_TRUE(r.user_agent_logged);
  EXPECT_EQ(r.user_agent, "-");
  const LineParser common = MustCompile("$remote_addr [$time_local] \"$request\" $status");
  ASSERT_TRUE(common.Parse("10.0.0.1 [26/Nov/2026:10:00:00 +0000] \"GET /a HTTP/1.1\" 200", &r,
                           &err));
  EXPECT_FALSE(r.user_agent_logged);
  EXPECT_TRUE(r.user_agent.empty());
}

TEST(LineParser, ApiFormatWithUpstreamTimesAndApiKey) {
  FormatSpec s;
  s.log_format =
      "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
      "\"$http_referer\" \"$http_user_agent\" rt=$request_time uct=\"$upstream_connect_time\" "
      "urt=\"$upstream_response_time\" key=\"$http_x_api_key\" len=$request_length "
      "sent=$bytes_sent";
  s.customer_var = "http_x_api_key";
  s.latency_var = "upstream_response_time";
  LineParser p = MustCompile(s);
  EXPECT_TRUE(p.has_fast_path());
  LogRecord r = MustParse(
      p,
      "10.0.0.1 - - [01/Mar/2024:00:00:00 +0000] \"POST /v2/pay HTTP/2.0\" 201 17 \"-\" "
      "\"curl/8.0\" rt=0.015 uct=\"0.001\" urt=\"0.003, 0.010\" key=\"sk_live_abc\" len=512 "
      "sent=345");
  EXPECT_EQ(r.latency_us, 13000);
  EXPECT_EQ(r.customer_key, "sk_live_abc");
  EXPECT_EQ(r.bytes_in, 512u);
  EXPECT_EQ(r.bytes_out, 345u);  // $bytes_sent preferred when present
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.time_us, Utc(2024, 3, 1, 0, 0, 0));

  s.bytes_out_var = "body_bytes_sent";
  s.latency_var = "request_time";
  LineParser p2 = MustCompile(s);
  r = MustParse(p2,
                "10.0.0.1 - - [01/Mar/2024:00:00:00 +0000] \"POST /v2/pay HTTP/2.0\" 201 17 \"-\" "
                "\"curl/8.0\" rt=0.015 uct=\"-\" urt=\"- : 0.010 : -\" key=\"-\" len=512 sent=345");
  EXPECT_EQ(r.bytes_out, 17u);
  EXPECT_EQ(r.latency_us, 15000);
  EXPECT_TRUE(r.customer_key.empty());
}

TEST(LineParser, UpstreamLatencyVariants) {
  FormatSpec s;
  s.log_format = "[$time_local] \"$request\" $status $upstream_response_time";
  s.latency_var = "upstream_response_time";
  LineParser p = MustCompile(s);
  const std::string head = "[01/Mar/2024:00:00:00 +0000] \"GET / HTTP/1.1\" 200 ";
  EXPECT_EQ(MustParse(p, head + "-").latency_us, -1);
  EXPECT_EQ(MustParse(p, head + "0.000").latency_us, 0);
  EXPECT_EQ(MustParse(p, head + "1.5").latency_us, 1500000);
  EXPECT_EQ(MustParse(p, head + "0.003, 0.010").latency_us, 13000);
  EXPECT_EQ(MustParse(p, head + "0.003 : 0.010, 0.100").latency_us, 113000);
  EXPECT_EQ(MustParse(p, head + "-, 0.002").latency_us, 2000);
  EXPECT_EQ(MustParse(p, head + "-, -").latency_us, -1);
  EXPECT_EQ(MustParse(p, head + "12.3456789").latency_us, 12345678);  // truncated to µs
  EXPECT_EQ(MustReject(p, head + "0.003,0.010").kind, ParseErrorKind::kNoMatch);
  EXPECT_EQ(MustReject(p, head + "abc").kind, ParseErrorKind::kNoMatch);
  EXPECT_EQ(MustReject(p, head + "1234567890.1").kind, ParseErrorKind::kBadNumber);
}

TEST(LineParser, TimeZonesConvertToUtcExactly) {
  LineParser p = MustCompile("[$time_local] \"$request\" $status");
  auto at = [&](const std::string& t) {
    return MustParse(p, "[" + t + "] \"GET / HTTP/1.1\" 200").time_us;
  };
  EXPECT_EQ(at("10/Oct/2025:13:55:36 +0530"), Utc(2025, 10, 10, 8, 25, 36));
  EXPECT_EQ(at("10/Oct/2025:13:55:36 -0800"), Utc(2025, 10, 10, 21, 55, 36));
  EXPECT_EQ(at("01/Jan/2025:02:00:00 +0530"), Utc(2024, 12, 31, 20, 30, 0));
  EXPECT_EQ(at("31/Dec/2024:20:00:00 -0800"), Utc(2025, 1, 1, 4, 0, 0));
  EXPECT_EQ(at("29/Feb/2024:23:59:59 +0000"), Utc(2024, 2, 29, 23, 59, 59));
  EXPECT_EQ(at("01/Jan/1970:00:00:00 +0000"), 0);
}

TEST(LineParser, BadTimes) {
  LineParser p = MustCompile("[$time_local] \"$request\" $status");
  for (const char* t :
       {"29/Feb/2023:00:00:00 +0000", "31/Apr/2024:00:00:00 +0000", "00/Jan/2024:00:00:00 +0000",
        "10/Foo/2024:00:00:00 +0000", "10/oct/2024:00:00:00 +0000", "10/Oct/2024:24:00:00 +0000",
        "10/Oct/2024:23:60:00 +0000", "10/Oct/2024:23:00:61 +0000", "10/Oct/1969:23:00:00 +0000",
        "10/Oct/2024:23:00:00 +0099", "01/Jan/1970:00:00:00 +0100"}) {
    ParseError e = MustReject(p, "[" + std::string(t) + "] \"GET / HTTP/1.1\" 200");
    EXPECT_EQ(e.kind, ParseErrorKind::kBadTime) << t;
    EXPECT_EQ(e.field, "time_local");
    EXPECT_EQ(e.offset, 1u);
  }
  // Shape mismatches are no_match: the value class admits only the nginx layout.
  EXPECT_EQ(MustReject(p, "[10/Oct/2024:1:00:00 +0000] \"GET / HTTP/1.1\" 200").kind,
            ParseErrorKind::kNoMatch);
}

TEST(LineParser, Iso8601AndMsec) {
  LineParser iso = MustCompile("$time_iso8601 $request_method $request_uri $status");
  EXPECT_EQ(MustParse(iso, "2025-10-10T13:55:36+05:30 GET /a?b 200").time_us,
            Utc(2025, 10, 10, 8, 25, 36));
  EXPECT_EQ(MustParse(iso, "2025-10-10T13:55:36-08:00 GET /a?b 200").time_us,
            Utc(2025, 10, 10, 21, 55, 36));
  EXPECT_EQ(MustParse(iso, "2025-10-10T13:55:36Z GET /a 200").time_us,
            Utc(2025, 10, 10, 13, 55, 36));
  EXPECT_EQ(MustParse(iso, "2025-10-10T13:55:36+00:00 GET /a?b 200").path, "/a");
  EXPECT_EQ(MustReject(iso, "2025-13-10T13:55:36+00:00 GET /a 200").kind, ParseErrorKind::kBadTime);
  EXPECT_EQ(MustReject(iso, "2025-10-10 13:55:36+00:00 GET /a 200").kind, ParseErrorKind::kNoMatch);

  LineParser ms = MustCompile("$msec \"$request\" $status");
  EXPECT_EQ(MustParse(ms, "1760104536.123 \"GET / HTTP/1.1\" 200").time_us,
            int64_t{1760104536} * kSec + 123000);
  EXPECT_EQ(MustReject(ms, "1760104536.12 \"GET / HTTP/1.1\" 200").kind, ParseErrorKind::kNoMatch);
  EXPECT_EQ(MustReject(ms, "9999999999999.123 \"GET / HTTP/1.1\" 200").kind,
            ParseErrorKind::kBadTime);
}

TEST(LineParser, FirstTimeVariableWins) {
  LineParser p = MustCompile("$msec [$time_local] \"$request\" $status");
  EXPECT_EQ(
      MustParse(p, "1760104536.500 [10/Oct/2000:00:00:00 +0000] \"GET / HTTP/1.1\" 200").time_us,
      int64_t{1760104536500000});
}

TEST(LineParser, BracedVariablesAndAdjacentText) {
  LineParser p = MustCompile("${time_iso8601}|${status}|${request_method}|${uri}|${request_time}s");
  FormatSpec s;
  s.log_format = "${time_iso8601}|${status}|${request_method}|${uri}|${request_time}s";
  s.latency_var = "request_time";
  p = MustCompile(s);
  LogRecord r = MustParse(p, "2025-01-02T03:04:05+00:00|404|DELETE|/x/y|0.250s");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.method, "DELETE");
  EXPECT_EQ(r.path, "/x/y");
  EXPECT_EQ(r.latency_us, 250000);
}

TEST(LineParser, StatusRules) {
  LineParser p = MustCompile("[$time_local] \"$request\" $status");
  const std::string head = "[10/Oct/2025:13:55:36 +0000] \"GET / HTTP/1.1\" ";
  EXPECT_EQ(MustParse(p, head + "499").status, 499);
  EXPECT_EQ(MustParse(p, head + "100").status, 100);
  EXPECT_EQ(MustParse(p, head + "599").status, 599);
  for (const char* bad : {"000", "099", "600", "999"}) {
    ParseError e = MustReject(p, head + bad);
    EXPECT_EQ(e.kind, ParseErrorKind::kBadStatus) << bad;
    EXPECT_EQ(e.field, "status");
    EXPECT_EQ(e.offset, head.size());
  }
  EXPECT_EQ(MustReject(p, head + "20").kind, ParseErrorKind::kNoMatch);
  EXPECT_EQ(MustReject(p, head + "2000").kind, ParseErrorKind::kNoMatch);
  EXPECT_EQ(MustReject(p, head + "-").kind, ParseErrorKind::kNoMatch);
}

TEST(LineParser, ByteCounts) {
  FormatSpec s;
  s.log_format = "[$time_local] \"$request\" $status $body_bytes_sent $request_length";
  LineParser p = MustCompile(s);
  const std::string head = "[10/Oct/2025:13:55:36 +0000] \"GET / HTTP/1.1\" 200 ";
  LogRecord r = MustParse(p, head + "- -");
  EXPECT_EQ(r.bytes_out, 0u);
  EXPECT_EQ(r.bytes_in, 0u);
  r = MustParse(p, head + "18446744073709551615 0");
  EXPECT_EQ(r.bytes_out, UINT64_MAX);
  ParseError e = MustReject(p, head + "18446744073709551616 0");
  EXPECT_EQ(e.kind, ParseErrorKind::kBadNumber);
  EXPECT_EQ(e.field, "body_bytes_sent");
  EXPECT_EQ(MustReject(p, head + "1 99999999999999999999999").kind, ParseErrorKind::kBadNumber);
  EXPECT_EQ(MustReject(p, head + "1x 2").kind, ParseErrorKind::kNoMatch);
  EXPECT_EQ(MustReject(p, head + "-1 2").kind, ParseErrorKind::kNoMatch);
}

TEST(LineParser, RequestLines) {
  LineParser p = MustCompile("combined");
  auto line = [](const std::string& req) {
    return "1.2.3.4 - - [10/Oct/2025:13:55:36 +0000] \"" + req + "\" 400 0 \"-\" \"-\"";
  };
  // The record's views point into the line: keep each line alive while it is read.
  const std::string absolute = line("GET http://example.com/a/b?c HTTP/1.1");
  LogRecord r = MustParse(p, absolute);
  EXPECT_EQ(r.path, "/a/b");
  EXPECT_EQ(MustParse(p, line("GET https://example.com HTTP/1.1")).path, "/");
  EXPECT_EQ(MustParse(p, line("GET https://example.com?x HTTP/1.1")).path, "/");
  EXPECT_EQ(MustParse(p, line("GET /")).path, "/");  // HTTP/0.9
  EXPECT_EQ(MustParse(p, line("GET /a b HTTP/1.1")).path, "/a b");
  EXPECT_EQ(MustParse(p, line("OPTIONS * HTTP/1.1")).path, "*");
  const std::string connect = line("CONNECT example.com:443 HTTP/1.1");
  r = MustParse(p, connect);
  EXPECT_EQ(r.method, "CONNECT");
  EXPECT_EQ(r.path, "example.com:443");
  EXPECT_EQ(MustParse(p, line("PROPFIND /dav HTTP/1.1")).method, "PROPFIND");
  EXPECT_EQ(MustParse(p, line("GET /p?q=\\x22x\\x22 HTTP/1.1")).path, "/p");

  EXPECT_EQ(MustReject(p, line("")).kind, ParseErrorKind::kEmptyRequest);
  EXPECT_EQ(MustReject(p, line("-")).kind, ParseErrorKind::kEmptyRequest);
  ParseError e = MustReject(p, line("\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xFC\\x03\\x03"));
  EXPECT_EQ(e.kind, ParseErrorKind::kBadRequestLine);
  EXPECT_EQ(e.field, "request");
  EXPECT_EQ(MustReject(p, line("GET")).kind, ParseErrorKind::kBadRequestLine);
  EXPECT_EQ(MustReject(p, line("GET foo HTTP/1.1")).kind, ParseErrorKind::kBadRequestLine);
  EXPECT_EQ(MustReject(p, line("G\\x00T / HTTP/1.1")).kind, ParseErrorKind::kBadRequestLine);
  EXPECT_EQ(MustReject(p, line(" / HTTP/1.1")).kind, ParseErrorKind::kBadRequestLine);
}

TEST(LineParser, MethodAndUriVariables) {
  LineParser p = MustCompile("[$time_local] $request_method \"$request_uri\" $status");
  const std::string t = "[10/Oct/2025:13:55:36 +0000] ";
  const std::string put = t + "PUT \"/v1/x?y=1\" 204";
  LogRecord r = MustParse(p, put);
  EXPECT_EQ(r.method, "PUT");
  EXPECT_EQ(r.path, "/v1/x");
  EXPECT_EQ(MustReject(p, t + "- \"-\" 400").kind, ParseErrorKind::kEmptyRequest);
  EXPECT_EQ(MustReject(p, t + "GET \"-\" 400").kind, ParseErrorKind::kBadRequestLine);
  EXPECT_EQ(MustReject(p, t + "- \"/x\" 400").kind, ParseErrorKind::kBadRequestLine);
}

TEST(LineParser, EscapeJsonFormat) {
  FormatSpec s;
  s.log_format =
      "{\"time\":\"$time_iso8601\",\"remote\":\"$remote_addr\",\"request\":\"$request\","
      "\"status\":$status,\"bytes\":$body_bytes_sent,\"rt\":$request_time,"
      "\"urt\":\"$upstream_response_time\",\"ua\":\"$http_user_agent\",\"key\":\"$http_x_api_"
      "key\"}";
  s.escape = "json";
  s.customer_var = "http_x_api_key";
  s.latency_var = "request_time";
  LineParser p = MustCompile(s);
  EXPECT_TRUE(p.has_fast_path());
  LogRecord r = MustParse(
      p,
      "{\"time\":\"2025-10-10T13:55:36+02:00\",\"remote\":\"::1\",\"request\":\"GET "
      "/q?s=\\\"a b\\\" HTTP/1.1\",\"status\":200,\"bytes\":10,\"rt\":0.002,\"urt\":\"0.001\","
      "\"ua\":\"Weird \\\"agent\\\" \\\\ \\u0001\",\"key\":\"k\\\"1\"}");
  EXPECT_EQ(r.time_us, Utc(2025, 10, 10, 11, 55, 36));
  EXPECT_EQ(r.path, "/q");
  EXPECT_EQ(r.latency_us, 2000);
  EXPECT_EQ(r.customer_key, "k\\\"1");  // views stay raw (escaped)
  EXPECT_EQ(MustReject(p, "{\"time\":\"2025-10-10T13:55:36+02:00\",\"remote\":\"::1\"").kind,
            ParseErrorKind::kNoMatch);
}

TEST(LineParser, EscapeNoneAllowsRawQuotesInsideQuotedFields) {
  LineParser p = MustCompile("[$time_local] \"$request\" $status \"$http_user_agent\"", "none");
  LogRecord r =
      MustParse(p, "[10/Oct/2025:13:55:36 +0000] \"GET /a\"b HTTP/1.1\" 200 \"say \"hi\" there\"");
  EXPECT_EQ(r.path, "/a\"b");
  // The same line in escape=default is not an nginx line.
  LineParser d = MustCompile("[$time_local] \"$request\" $status \"$http_user_agent\"");
  EXPECT_EQ(MustReject(d, "[10/Oct/2025:13:55:36 +0000] \"GET /a\"b HTTP/1.1\" 200 \"x\"").kind,
            ParseErrorKind::kNoMatch);
}

TEST(LineParser, AdjacentVariablesUseRe2Only) {
  LineParser p = MustCompile("[$time_local] $status$body_bytes_sent \"$request\"");
  EXPECT_FALSE(p.has_fast_path());
  LogRecord r = MustParse(p, "[10/Oct/2025:13:55:36 +0000] 2001234 \"GET /x HTTP/1.1\"");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.bytes_out, 1234u);
  ParseError e;
  EXPECT_FALSE(p.ParseFast("[10/Oct/2025:13:55:36 +0000] 2001234 \"GET /x HTTP/1.1\"", &r, &e));
}

TEST(LineParser, RejectReasons) {
  FormatSpec s;
  s.log_format = "combined";
  s.max_line_bytes = 300;
  LineParser p = MustCompile(s);
  EXPECT_EQ(MustReject(p, "").kind, ParseErrorKind::kEmpty);
  EXPECT_EQ(MustReject(p, "\r").kind, ParseErrorKind::kEmpty);
  EXPECT_EQ(MustReject(p, std::string(301, 'a')).kind, ParseErrorKind::kTooLong);
  const std::string valid = kCombinedLine;
  EXPECT_EQ(MustParse(p, valid + "\r").status, 200);                             // CRLF tolerated
  EXPECT_EQ(MustReject(p, valid.substr(0, 60)).kind, ParseErrorKind::kNoMatch);  // truncated
  EXPECT_EQ(MustReject(p, valid + valid).kind, ParseErrorKind::kNoMatch);        // merged
  EXPECT_EQ(MustReject(p, "2025/10/10 13:55:36 [error] 123#0: *1 open() failed").kind,
            ParseErrorKind::kNoMatch);
  std::string with_nul = valid;
  with_nul[70] = '\0';
  ParseError e = MustReject(p, with_nul);
  EXPECT_EQ(e.kind, ParseErrorKind::kBinary);
  const std::string tls("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x8a\x11", 13);
  EXPECT_EQ(MustReject(p, tls).kind, ParseErrorKind::kBinary);
  EXPECT_EQ(MustReject(p, "\x16\x03\x01 junk").kind, ParseErrorKind::kBinary);
}

TEST(LineParser, NoMatchOffsetPointsAtTheDeparture) {
  LineParser p = MustCompile("combined");
  std::string bad = kCombinedLine;
  const size_t at = bad.find("200");
  bad.replace(at, 3, "2x0");
  LogRecord r;
  ParseError e;
  ASSERT_FALSE(p.Parse(bad, &r, &e));
  EXPECT_EQ(e.kind, ParseErrorKind::kNoMatch);
  EXPECT_EQ(e.offset, at);
  EXPECT_EQ(e.field, "status");
}

TEST(LineParser, ParseErrorNames) {
  EXPECT_EQ(ParseErrorName(ParseErrorKind::kEmpty), "empty");
  EXPECT_EQ(ParseErrorName(ParseErrorKind::kTooLong), "too_long");
  EXPECT_EQ(ParseErrorName(ParseErrorKind::kBinary), "binary");
  EXPECT_EQ(ParseErrorName(ParseErrorKind::kNoMatch), "no_match");
  EXPECT_EQ(ParseErrorName(ParseErrorKind::kBadTime), "bad_time");
  EXPECT_EQ(ParseErrorName(ParseErrorKind::kBadStatus), "bad_status");
  EXPECT_EQ(ParseErrorName(ParseErrorKind::kBadNumber), "bad_number");
  EXPECT_EQ(ParseErrorName(ParseErrorKind::kEmptyRequest), "empty_request");
  EXPECT_EQ(ParseErrorName(ParseErrorKind::kBadRequestLine), "bad_request_line");
}

TEST(LineParser, ExplainShowsValuesRecordAndFailures) {
  LineParser p = MustCompile("combined");
  std::string ok = p.Explain(kCombinedLine);
  EXPECT_NE(ok.find("$remote_user = \"alice\""), std::string::npos) << ok;
  EXPECT_NE(ok.find("$http_user_agent = \"Mozilla/5.0 (X11; Linux)\""), std::string::npos) << ok;
  EXPECT_NE(ok.find("time = 2025-10-10T13:55:36Z"), std::string::npos) << ok;
  EXPECT_NE(ok.find("path = \"/v1/orders/42\""), std::string::npos) << ok;

  std::string bad = kCombinedLine;
  bad.replace(bad.find("200"), 3, "2x0");
  std::string why = p.Explain(bad);
  EXPECT_NE(why.find("no_match at column"), std::string::npos) << why;
  EXPECT_NE(why.find("expected $status (a 3-digit status)"), std::string::npos) << why;
  EXPECT_NE(why.find("saw \"2x0"), std::string::npos) << why;

  std::string bt = kCombinedLine;
  bt.replace(bt.find("Oct"), 3, "Foo");
  EXPECT_NE(p.Explain(bt).find("rejected: bad_time at column 22 ($time_local)"), std::string::npos)
      << p.Explain(bt);
  EXPECT_NE(p.Explain("").find("rejected: empty"), std::string::npos);
}

TEST(LineParser, FastPathParseDoesNotAllocate) {
  LineParser p = MustCompile("combined");
  std::string bad_status = kCombinedLine;
  bad_status.replace(bad_status.find("200"), 3, "000");
  LogRecord r;
  ParseError e;
  testing::StartCountingAllocations();
  bool ok = true;
  for (int i = 0; i < 100; ++i) {
    ok = ok && p.Parse(kCombinedLine, &r, &e);
    ok = ok && !p.ParseFast(bad_status, &r, &e);
    ok = ok && !p.Parse("", &r, &e);
  }
  EXPECT_EQ(testing::StopCountingAllocations(), 0);
  EXPECT_TRUE(ok);
}

// parsers/line_parser.h: copies share the compiled state (no recompiling, no
// second RE2 program), so a ParseError::field view from one copy stays valid
// while any copy lives. A copy that compiled its own state would fail the
// identity checks here (and, under ASan, the read of the view after reset).
TEST(LineParser, ParserIsMovableAndCopiesShareState) {
  LineParser a = MustCompile("combined");
  const std::string* compiled = &a.re2_pattern();
  LineParser b = std::move(a);
  EXPECT_EQ(&b.re2_pattern(), compiled) << "a move keeps the same compiled state";
  std::optional<LineParser> c(b);
  EXPECT_EQ(&c->re2_pattern(), compiled) << "a copy shares the compiled state";

  std::string bad = kCombinedLine;
  bad.replace(bad.find("200"), 3, "2x0");
  LogRecord r;
  ParseError e;
  ASSERT_FALSE(c->Parse(bad, &r, &e));
  ASSERT_EQ(e.field, "status");
  c.reset();  // the copy that produced the view is gone; b still holds the state
  EXPECT_EQ(e.field, "status");
  EXPECT_TRUE(b.Parse(kCombinedLine, &r, &e));
}

}  // namespace
}  // namespace apimeter
