// Real log formats through the config loader (issue 14, section 4): each loads, and the
// parser built from the loaded source (as Runtime builds it) parses a line nginx wrote in
// that format, with the customer key taken as configured.
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"
#include "parsers/customer_key.h"
#include "parsers/line_parser.h"
#include "tests/config/config_test_util.h"

namespace apimeter::testing {
namespace {

struct Case {
  std::string source;  // the source's keys after `paths:`
  std::string line;    // a line nginx writes in that format
  std::string key;     // the customer key the agent would count ("" = anonymous)
};

// The customer key of `line` under the loaded `source`, or "!<reason>".
std::string KeyOf(const SourceConfig& s, const std::string& line) {
  auto parser = LineParser::Compile(FormatSpecOf(s, 65536));
  if (!parser.ok()) return "!compile: " + parser.status().message();
  auto extractor = CustomerKeyExtractor::Compile(CustomerKeySpecOf(s));
  if (!extractor.ok()) return "!extractor: " + extractor.status().message();
  LogRecord r;
  ParseError e;
  if (!parser->Parse(line, &r, &e)) return "!parse: " + std::string(ParseErrorName(e.kind));
  std::string scratch;
  std::string_view key = r.customer_key;
  CustomerKeyError error;
  if (!key.empty() && !extractor->Extract(key, &scratch, &key, &error)) {
    return "!" + std::string(CustomerKeyErrorName(error));
  }
  return std::string(key);
}

// {"alg":"RS256","typ":"JWT"} . {"sub":"client-42","azp":"app-7"} . signature
constexpr char kJwt[] =
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjbGllbnQtNDIiLCJhenAiOiJhcHAtNyJ9.c2ln";

// A source whose customer is the Authorization header, and the start of its lines.
const std::string kAuthSource =
    "    log_format: '$remote_addr [$time_local] \"$request\" $status \"$http_authorization\"'\n"
    "    customer: $http_authorization\n";
const std::string kAuthLine = "1.2.3.4 [10/Oct/2025:13:55:36 +0000] \"GET / HTTP/1.1\" 200 \"";

TEST(ConfigFormats, RealFormatsLoadAndParse) {
  const std::string t = "[10/Oct/2025:13:55:36 +0000]";
  const Case cases[] = {
      {"    log_format: upstreaminfo\n    latency: $upstream_response_time\n",
       "10.42.0.1 - - " + t +
           " \"GET /api/v1/users HTTP/1.1\" 200 1534 \"-\" \"curl/8.0\" 512 0.012 "
           "[default-api-80] [] 10.244.0.12:8080, 10.244.0.13:8080 0, 1534 0.001, 0.011 502, 200 "
           "6c3a8e0f9b1d4c2e8f7a6b5c4d3e2f1a",
       ""},
      {"    log_format: upstreaminfo\n    customer: $proxy_upstream_name\n",
       "10.42.0.1 - - " + t +
           " \"GET / HTTP/1.1\" 308 164 \"-\" \"curl/8.0\" 78 0.000 [default-web-80] [] - - - - "
           "0123abcd",
       "default-web-80"},
      {"    log_format: main\n    customer: $http_x_forwarded_for\n",
       "203.0.113.9 - - " + t + " \"GET / HTTP/1.1\" 200 612 \"-\" \"curl/8.4.0\" \"198.51.100.1\"",
       "198.51.100.1"},
      {"    log_format: '$remote_addr [$time_local] \"$request\" $status $body_bytes_sent "
       "\"$sent_http_content_type\" "
       "cache=$upstream_http_x_cache key=$arg_api_key'\n    customer: $arg_api_key\n",
       "1.2.3.4 " + t +
           " \"GET /v1/geo?api_key=ak_1 HTTP/1.1\" 200 99 \"application/json; charset=utf-8\" "
           "cache=MISS key=ak_1",
       "ak_1"},
      {"    log_format: '$remote_addr [$time_local] \"$request\" $status \"$cookie_session\"'\n"
       "    customer: ${cookie_session}\n",
       kAuthLine + "s%3Aabc\"", "s%3Aabc"},
      // A variable made with map (or set), in a JSON format with empty values.
      {"    log_format: '{\"t\":\"$time_iso8601\",\"r\":\"$request\",\"s\":$status,"
       "\"client\":\"$api_client\",\"urt\":\"$upstream_response_time\"}'\n"
       "    escape: json\n    customer: $api_client\n    latency: $upstream_response_time\n",
       "{\"t\":\"2025-10-10T13:55:36+00:00\",\"r\":\"GET / HTTP/1.1\",\"s\":200,"
       "\"client\":\"acme\",\"urt\":\"\"}",
       "acme"},
      // Customers from part of a value.
      {kAuthSource + "    customer_match: '^Bearer (.+)$'\n", kAuthLine + "Bearer opaque-token-1\"",
       "opaque-token-1"},
      {kAuthSource + "    customer_match: '^Bearer (.+)$'\n", kAuthLine + "Basic dXNlcjpw\"",
       "!match_failed"},
      {kAuthSource + "    customer_jwt_claim: azp\n", kAuthLine + "Bearer " + kJwt + "\"", "app-7"},
      {kAuthSource + "    customer_jwt_claim: sub\n", kAuthLine + "Bearer not.a-jwt\"",
       "!jwt_malformed"},
      {kAuthSource + "    customer_jwt_claim: tenant\n", kAuthLine + "Bearer " + kJwt + "\"",
       "!jwt_no_claim"},
      {kAuthSource + "    customer_jwt_claim: sub\n", kAuthLine + "-\"", ""},
  };
  FakeMachine machine;
  for (const Case& c : cases) {
    Result<Config> r =
        machine.Load("sources:\n  - paths: [\"/var/log/nginx/access.log\"]\n" + c.source);
    ASSERT_TRUE(r.ok()) << r.status().message() << "\n" << c.source;
    EXPECT_EQ(KeyOf(r->sources[0], c.line), c.key) << c.source << c.line;
  }
}

TEST(ConfigFormats, PresetsExpandForTheVariableRoles) {
  FakeMachine machine;
  // $http_x_forwarded_for is in `main` only, $req_id in `upstreaminfo` only.
  EXPECT_TRUE(FailsAt(machine.Load("sources:\n  - paths: [\"/var/log/a.log\"]\n"
                                   "    log_format: combined\n    customer: $req_id\n"),
                      4, "customer variable '$req_id' does not appear in the log_format"));
  EXPECT_TRUE(machine
                  .Load("sources:\n  - paths: [\"/var/log/a.log\"]\n"
                        "    log_format: upstreaminfo\n    customer: $req_id\n")
                  .ok());
}

}  // namespace
}  // namespace apimeter::testing
