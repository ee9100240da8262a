// Redaction: API keys are never shown raw in what apimeter shows of a line
// (rejected-line samples, test-format's Explain). The customer variable is
// masked wherever the format tells its position (accepted lines, lines that
// matched but failed a later check, the matched part of a mismatching line);
// where the line did not match, quoted fields and long token-like runs are.
#include "parsers/redact.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "parsers/line_parser.h"

namespace apimeter {
namespace {

constexpr const char* kApiFormat =
    R"($remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent )"
    R"("$http_referer" "$http_user_agent" $request_time "$http_x_api_key")";
constexpr const char* kKey = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";  // 32 bytes, key-shaped
constexpr const char* kShortKey = "acme-key-1";                   // shorter than a token run

std::string Line(const std::string& status = "200", const std::string& key = kKey,
                 const std::string& query = "") {
  return "203.0.113.7 - - [10/Oct/2025:13:55:36 +0000] \"GET /v1/orders/42" + query +
         " HTTP/1.1\" " + status + " 512 \"-\" \"Mozilla/5.0 (X11; Linux)\" 0.004 \"" + key + "\"";
}

LineParser Compile(const std::string& format, const std::string& customer = "http_x_api_key",
                   const std::string& escape = "default") {
  FormatSpec spec;
  spec.log_format = format;
  spec.customer_var = customer;
  spec.escape = escape;
  auto p = LineParser::Compile(spec);
  EXPECT_TRUE(p.ok()) << p.status().message();
  if (!p.ok()) std::abort();
  return *p;
}

RedactOptions WithIds() {
  RedactOptions o;
  o.customer_mask = [](std::string_view key) {
    return "<customer id-of-" + std::to_string(key.size()) + ">";
  };
  return o;
}

std::string Redact(const LineParser& p, const std::string& line,
                   const RedactOptions& o = RedactOptions()) {
  return RedactLine(line, p.SecretSpans(line), o);
}

TEST(Redact, AcceptedLineMasksOnlyTheCustomerKeyEverywhereItIsLogged) {
  const LineParser p = Compile(kApiFormat);
  const std::string line = Line("200", kKey, std::string("?api_key=") + kKey);
  const std::string shown = Redact(p, line, WithIds());
  EXPECT_EQ(shown.find(kKey), std::string::npos) << shown;
  // Both occurrences (the header and the query string) become the marker.
  EXPECT_EQ(shown,
            "203.0.113.7 - - [10/Oct/2025:13:55:36 +0000] \"GET /v1/orders/42?api_key=<customer "
            "id-of-32> HTTP/1.1\" 200 512 \"-\" \"Mozilla/5.0 (X11; Linux)\" 0.004 \"<customer "
            "id-of-32>\"");
  // Without a customer marker, the key is shown as <masked>.
  EXPECT_NE(Redact(p, line).find("\"<masked>\""), std::string::npos);
}

TEST(Redact, ShortKeysAreMaskedWhenTheirPositionIsKnown) {
  const LineParser p = Compile(kApiFormat);
  const std::string shown = Redact(p, Line("200", kShortKey), WithIds());
  EXPECT_EQ(shown.find(kShortKey), std::string::npos) << shown;
  EXPECT_NE(shown.find("\"<customer id-of-10>\""), std::string::npos) << shown;
  // "-" is nginx's "no value": nothing to mask.
  EXPECT_EQ(Redact(p, Line("200", "-")), Line("200", "-"));
}

TEST(Redact, LineThatMatchedButFailedALaterCheckKeepsItsOtherFields) {
  const LineParser p = Compile(kApiFormat);
  const std::string line = Line("000", kShortKey);  // bad_status: the whole line matched
  LogRecord r;
  ParseError e;
  ASSERT_FALSE(p.Parse(line, &r, &e));
  ASSERT_EQ(e.kind, ParseErrorKind::kBadStatus);
  const std::string shown = Redact(p, line, WithIds());
  EXPECT_EQ(shown.find(kShortKey), std::string::npos) << shown;
  EXPECT_NE(shown.find("\"Mozilla/5.0 (X11; Linux)\""), std::string::npos) << shown;
  EXPECT_NE(shown.find("<customer id-of-10>"), std::string::npos) << shown;
}

TEST(Redact, MismatchAfterTheKeyMasksTheKnownKeyAndGuessesTheRest) {
  // The key's position is known (matched before the mismatch), and is masked
  // even though it is short; the unmatched tail is guessed.
  const LineParser p = Compile(
      R"($remote_addr "$http_x_api_key" [$time_local] "$request" $status $body_bytes_sent)");
  const std::string line = std::string("203.0.113.7 \"") + kShortKey +
                           "\" [10/Oct/2025:13:55:36 +0000] \"GET /a HTTP/1.1\" 2x0 5";
  LogRecord r;
  ParseError e;
  ASSERT_FALSE(p.Parse(line, &r, &e));
  ASSERT_EQ(e.kind, ParseErrorKind::kNoMatch);
  const std::string shown = Redact(p, line, WithIds());
  EXPECT_EQ(shown.find(kShortKey), std::string::npos) << shown;
  EXPECT_NE(shown.find("<customer id-of-10>"), std::string::npos) << shown;
  EXPECT_NE(shown.find("\"GET /a HTTP/1.1\" 2x0 5"), std::string::npos) << shown;
}

TEST(Redact, MismatchBeforeTheKeyMasksQuotedFieldsAndTokenRuns) {
  const LineParser p = Compile(kApiFormat);
  for (const std::string& key : {std::string(kKey), std::string(kShortKey)}) {
    const std::string line = Line("2x0", key);  // departs from the format at $status
    const std::string shown = Redact(p, line, WithIds());
    EXPECT_EQ(shown.find(key), std::string::npos) << shown;
    EXPECT_NE(shown.find("\"<masked>\""), std::string::npos) << shown;
    // The request line stays readable: the operator needs to see why it failed.
    EXPECT_NE(shown.find("\"GET /v1/orders/42 HTTP/1.1\" 2x0"), std::string::npos) << shown;
  }
}

TEST(Redact, GuessesMaskQueryStringsUnquotedTokensAndJsonValues) {
  EXPECT_EQ(RedactLine("GET /x?k=abc 200 - \"\" \"-\"",
                       GuessSecretSpans("GET /x?k=abc 200 - \"\" \"-\""), {}),
            "GET /x?k=abc 200 - \"\" \"-\"");  // nothing key-like: short, unquoted
  const std::string unquoted = std::string("1.2.3.4 key=") + kKey + " 200";
  EXPECT_EQ(RedactLine(unquoted, GuessSecretSpans(unquoted), {}), "1.2.3.4 key=<masked> 200");
  const std::string request = "\"POST /v1/pay?token=abc&x=1 HTTP/1.1\" 201";
  EXPECT_EQ(RedactLine(request, GuessSecretSpans(request), {}),
            "\"POST /v1/pay?<masked> HTTP/1.1\" 201");
  const std::string json = std::string("{\"status\":\"20x\",\"key\":\"") + kShortKey + "\"}";
  EXPECT_EQ(RedactLine(json, GuessSecretSpans(json), {}),
            "{\"status\":\"<masked>\",\"key\":\"<masked>\"}");
  const std::string unclosed = std::string("x \"") + kShortKey;
  EXPECT_EQ(RedactLine(unclosed, GuessSecretSpans(unclosed), {}), "x \"<masked>");
}

TEST(Redact, BinaryAndOverlongLinesAreGuessed) {
  const LineParser p = Compile(kApiFormat);
  const std::string binary = std::string("\x16\x03\x01\x00\x01 \"", 7) + kShortKey + "\" " + kKey;
  const std::string shown = Redact(p, binary);
  EXPECT_EQ(shown.find(kShortKey), std::string::npos) << shown;
  EXPECT_EQ(shown.find(kKey), std::string::npos) << shown;
  // Longer than max_line_bytes: not matched, so guessed (the key is quoted).
  const std::string overlong = Line("200", kShortKey) + std::string(70000, ' ');
  EXPECT_EQ(Redact(p, overlong).find(kShortKey), std::string::npos);
}

TEST(Redact, CredentialVariablesAreMaskedToo) {
  EXPECT_TRUE(IsCredentialVariable("http_authorization"));
  EXPECT_TRUE(IsCredentialVariable("cookie_session"));
  EXPECT_TRUE(IsCredentialVariable("arg_api_key"));
  EXPECT_FALSE(IsCredentialVariable("http_user_agent"));
  EXPECT_FALSE(IsCredentialVariable("remote_user"));
  const LineParser p = Compile(R"($time_local "$request" $status "$http_authorization")", "");
  const std::string line =
      "10/Oct/2025:13:55:36 +0000 \"GET / HTTP/1.1\" 200 \"Basic dXNlcjpwYXNz\"";
  EXPECT_EQ(Redact(p, line), "10/Oct/2025:13:55:36 +0000 \"GET / HTTP/1.1\" 200 \"<masked>\"");
}

TEST(Redact, ShowRawKeepsEveryByte) {
  const LineParser p = Compile(kApiFormat);
  RedactOptions raw;
  raw.show_raw = true;
  EXPECT_EQ(Redact(p, Line("2x0"), raw), Line("2x0"));
}

TEST(Redact, MergeKeepsTheStrongestSpan) {
  const std::vector<SecretSpan> merged = MergeSecretSpans(
      {{0, 10, SecretSpan::Kind::kGuessed}, {2, 5, SecretSpan::Kind::kCustomer}}, 12);
  const std::vector<SecretSpan> want = {{0, 2, SecretSpan::Kind::kGuessed},
                                        {2, 5, SecretSpan::Kind::kCustomer},
                                        {5, 10, SecretSpan::Kind::kGuessed}};
  EXPECT_EQ(merged, want);
}

TEST(Redact, ExplainNeverShowsTheKeyUnlessAsked) {
  const LineParser p = Compile(kApiFormat);
  for (const std::string& line :
       {Line("200"), Line("000"), Line("2x0"), Line("200").substr(0, 150)}) {
    const std::string shown = p.Explain(line, WithIds());
    EXPECT_EQ(shown.find(kKey), std::string::npos) << shown;
    EXPECT_EQ(shown.find(std::string(kKey).substr(0, 12)), std::string::npos) << shown;
  }
  RedactOptions raw;
  raw.show_raw = true;
  EXPECT_NE(p.Explain(Line("000"), raw).find(std::string("= \"") + kKey), std::string::npos);
  const std::string ok = p.Explain(Line("200"), WithIds());
  EXPECT_NE(ok.find("$http_x_api_key = \"<customer id-of-32>\""), std::string::npos) << ok;
  EXPECT_NE(ok.find("customer_key = \"<customer id-of-32>\""), std::string::npos) << ok;
  EXPECT_NE(ok.find("$http_user_agent = \"Mozilla/5.0 (X11; Linux)\""), std::string::npos) << ok;
  // Default options: masked, no marker function needed.
  EXPECT_NE(p.Explain(Line("2x0")).find("<masked>"), std::string::npos);
}

}  // namespace
}  // namespace apimeter
