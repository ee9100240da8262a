// Differential test: the fast path against the RE2 reference on many formats and many
// generated lines (valid, mutated, truncated, merged, random bytes).
//   ParseFast accepts  ⇒  ParseRe2 accepts with an identical record;
//   Parse accepts      ⇔  ParseRe2 accepts (same record; same reject kind otherwise).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "parsers/line_parser.h"
#include "tests/parsers/parser_test_util.h"

namespace apimeter {
namespace {

bool Same(const LogRecord& a, const LogRecord& b) { return testing::SameRecord(a, b); }

class Generator {
 public:
  Generator(uint32_t seed, std::string escape) : rng_(seed), escape_(std::move(escape)) {}

  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  template <typename T>
  const T& OneOf(const std::vector<T>& v) {
    return v[Pick(static_cast<int>(v.size()))];
  }

  // A plausible value for an nginx variable, with awkward bytes now and then, and now and
  // then the empty value (a variable with no value under escape=json/none).
  std::string Value(const std::string& var) {
    if (Pick(12) == 0) return "";
    if (var == "time_local") {
      return OneOf<std::string>({"10/Oct/2025:13:55:36 +0000", "29/Feb/2024:23:59:59 -0800",
                                 "01/Jan/2025:00:00:00 +0530", "31/Apr/2024:00:00:00 +0000",
                                 "10/Foo/2025:13:55:36 +0000"});
    }
    if (var == "time_iso8601") {
      return OneOf<std::string>({"2025-10-10T13:55:36+00:00", "2024-02-29T23:59:59-08:00",
                                 "2025-01-01T00:00:00Z", "2025-13-01T00:00:00+00:00"});
    }
    if (var == "msec") return OneOf<std::string>({"1760104536.123", "1.000", "99999999999999.999"});
    if (var == "status") return OneOf<std::string>({"200", "404", "499", "000", "503", "201"});
    if (var == "body_bytes_sent" || var == "bytes_sent" || var == "request_length") {
      return OneOf<std::string>({"0", "-", "1234", "18446744073709551615", "99999999999999999999"});
    }
    if (var == "request_time") return OneOf<std::string>({"0.000", "0.123", "12.5", "1.000001"});
    if (var.find("upstream_") == 0 && var.size() > 5 && var.substr(var.size() - 5) == "_time") {
      return OneOf<std::string>({"-", "0.003", "0.003, 0.010", "- : 0.200", "0.1, -, 0.2"});
    }
    if (var == "upstream_addr" || var == "upstream_status" || var == "upstream_response_length") {
      return OneOf<std::string>({"-", "10.0.0.1:80", "10.0.0.1:80, 10.0.0.2:80", "502, 200",
                                 "0 : 1534", "a, b : c", "unix:/run/app.sock"});
    }
    if (var == "request") {
      return OneOf<std::string>({"GET /v1/orders/42?x=1 HTTP/1.1", "POST /a HTTP/2.0", "-", "",
                                 "GET http://h/p?q HTTP/1.1", "GET /a b HTTP/1.1",
                                 Escaped("GET /q?s=\"x\" HTTP/1.1"), "\\x16\\x03\\x01", "GET /"});
    }
    if (var == "request_method") return OneOf<std::string>({"GET", "POST", "-", "BREW", ""});
    if (var == "request_uri" || var == "uri") {
      return OneOf<std::string>({"/", "/v1/x?y=2", "-", "/a b", Escaped("/q\"x")});
    }
    return OneOf<std::string>({"-", "", "abc", "Mozilla/5.0 (X11; Linux x86_64)", "a b c",
                               Escaped("say \"hi\" \\ now"), "k_123", "x:y", "[brackets]"});
  }

  // How nginx would write `raw` in this escape mode.
  std::string Escaped(const std::string& raw) {
    std::string out;
    for (char c : raw) {
      if (escape_ == "default" && (c == '"' || c == '\\')) {
        out += c == '"' ? "\\x22" : "\\x5C";
      } else if (escape_ == "json" && (c == '"' || c == '\\')) {
        out += '\\';
        out += c;
      } else {
        out += c;
      }
    }
    return out;
  }

  std::string Mutate(std::string line) {
    if (line.empty()) return "x";
    const size_t at = static_cast<size_t>(Pick(static_cast<int>(line.size())));
    static const std::string kBytes = " \"\\-:.,/[]{}0123456789aZ\t\x01\x7f\xff";
    switch (Pick(7)) {
      case 0:
        return line.substr(0, at);  // truncated
      case 1:
        return line.insert(at, 1, kBytes[Pick(static_cast<int>(kBytes.size()))]);
      case 2:
        return line.erase(at, 1);
      case 3:
        line[at] = kBytes[Pick(static_cast<int>(kBytes.size()))];
        return line;
      case 4:
        return line + line;  // merged lines
      case 5:
        return line.substr(at) + line.substr(0, at);
      default: {
        std::string junk;
        const int n = Pick(64);
        for (int i = 0; i < n; ++i) junk += static_cast<char>(Pick(256));
        return junk;
      }
    }
  }

 private:
  std::mt19937 rng_;
  std::string escape_;
};

// Variables of a format, in order, with the literal text around them.
struct Piece {
  bool var;
  std::string text;
};
std::vector<Piece> Split(const std::string& fmt) {
  std::vector<Piece> out;
  for (size_t i = 0; i < fmt.size();) {
    if (fmt[i] == '$') {
      size_t s = i + 1, e;
      const bool braced = fmt[s] == '{';
      if (braced) ++s;
      e = s;
      while (e < fmt.size() && (isalnum(static_cast<unsigned char>(fmt[e])) || fmt[e] == '_')) ++e;
      out.push_back({true, fmt.substr(s, e - s)});
      i = braced ? e + 1 : e;
    } else {
      if (out.empty() || out.back().var) out.push_back({false, ""});
      out.back().text += fmt[i++];
    }
  }
  return out;
}

struct Stats {
  int lines = 0, re2_accepts = 0, fast_accepts = 0;
  int valid_re2_accepts = 0, valid_fast_accepts = 0;  // generated lines, before mutation
};

void CheckLine(const LineParser& p, std::string_view line, Stats* stats) {
  LogRecord fast, ref, any;
  ParseError ef, er, ea;
  const bool f = p.ParseFast(line, &fast, &ef);
  const bool r = p.ParseRe2(line, &ref, &er);
  const bool a = p.Parse(line, &any, &ea);
  ++stats->lines;
  stats->re2_accepts += r;
  stats->fast_accepts += f;
  if (f) {
    ASSERT_TRUE(r) << "fast accepted, RE2 rejected (" << ParseErrorName(er.kind) << "): " << line;
    ASSERT_TRUE(Same(fast, ref)) << "records differ: " << line;
  }
  ASSERT_EQ(a, r) << "Parse and RE2 disagree: " << line << "\n" << p.Explain(line);
  if (a) {
    ASSERT_TRUE(Same(any, ref)) << line;
  } else {
    ASSERT_EQ(ea.kind, er.kind) << line;
  }
}

// Which lines the fast path must take whenever RE2 accepts them.
enum class Complete {
  kAllLines,    // every line, mutated ones included
  kValidLines,  // the generated lines; a mutated line may need RE2's backtracking (a list or
                // an empty value giving up an item so that a later generic value takes it)
  kHalf,        // escape=none: a raw '" ' inside a quoted value sends lines to RE2
};

struct FormatCase {
  FormatSpec spec;
  bool expect_fast;
  Complete expect_complete = Complete::kAllLines;
};

std::vector<FormatCase> Formats() {
  auto spec = [](std::string f, std::string esc = "default", std::string cust = "",
                 std::string lat = "") {
    return testing::Spec(std::move(f), std::move(esc), std::move(cust), std::move(lat), "", 400);
  };
  return {
      {spec("combined"), true},
      {spec("combined", "json"), true},
      {spec("$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
            "\"$http_referer\" \"$http_user_agent\" $request_time \"$upstream_response_time\" "
            "\"$http_x_api_key\" $request_length",
            "default", "http_x_api_key", "upstream_response_time"),
       true},
      {spec("$time_iso8601 $host $request_method $request_uri $status $bytes_sent "
            "$upstream_connect_time $upstream_header_time rt=$request_time",
            "default", "host", "request_time"),
       true},
      {spec("{\"time\":\"$time_iso8601\",\"req\":\"$request\",\"status\":$status,"
            "\"bytes\":$body_bytes_sent,\"ua\":\"$http_user_agent\",\"key\":\"$http_x_api_key\","
            "\"rt\":$request_time}",
            "json", "http_x_api_key", "request_time"),
       true},
      {spec("$msec|${request_method}|${uri}|$status|$upstream_response_time|$cookie_session",
            "default", "cookie_session", "upstream_response_time"),
       true},
      {spec("[$time_local] \"$request\" $status \"$http_user_agent\" \"$http_x_api_key\"", "none",
            "http_x_api_key"),
       true, Complete::kHalf},
      {spec("$remote_addr [$time_local] \"$request_method $request_uri $server_protocol\" $status"),
       true},
      {spec("[$time_local] $status$body_bytes_sent \"$request\" $http_x_a$http_x_b"), false},
      {spec("upstreaminfo", "default", "", "upstream_response_time"), true, Complete::kValidLines},
      {spec("main", "json", "http_x_forwarded_for"), true},
      {spec("{\"t\":\"$time_iso8601\",\"r\":\"$request\",\"s\":$status,\"b\":$body_bytes_sent,"
            "\"ua\":\"$upstream_addr\",\"uct\":$upstream_connect_time,\"us\":$upstream_status,"
            "\"urt\":\"$upstream_response_time\",\"c\":\"$cookie_session\",\"m\":\"$my_map\"}",
            "json", "cookie_session", "upstream_response_time"),
       true},
      {spec("$remote_addr [$time_local] \"$request\" $status|$upstream_addr|$upstream_status,"
            "$upstream_response_length [$proxy_upstream_name] $arg_api_key",
            "none", "arg_api_key"),
       true, Complete::kHalf},
  };
}

TEST(Differential, FastPathAgreesWithRe2) {
  uint32_t seed = 12345;
  for (const FormatCase& fc : Formats()) {
    auto compiled = LineParser::Compile(fc.spec);
    ASSERT_TRUE(compiled.ok()) << compiled.status().message();
    const LineParser& p = *compiled;
    EXPECT_EQ(p.has_fast_path(), fc.expect_fast) << fc.spec.log_format;
    Generator gen(seed++, fc.spec.escape);
    const std::string fmt(LogFormatText(fc.spec.log_format));
    const std::vector<Piece> pieces = Split(fmt);
    Stats stats;
    for (int i = 0; i < 4000; ++i) {
      std::string line;
      for (const Piece& pc : pieces) line += pc.var ? gen.Value(pc.text) : pc.text;
      const Stats before = stats;
      CheckLine(p, line, &stats);
      stats.valid_re2_accepts += stats.re2_accepts - before.re2_accepts;
      stats.valid_fast_accepts += stats.fast_accepts - before.fast_accepts;
      for (int m = 0; m < 3; ++m) {
        line = gen.Mutate(line);
        CheckLine(p, line, &stats);
      }
      if (HasFatalFailure()) return;
    }
    // The generators must exercise both outcomes, or this test proves nothing.
    EXPECT_GT(stats.re2_accepts, stats.lines / 100) << fmt;
    EXPECT_LT(stats.re2_accepts, stats.lines) << fmt;
    if (fc.expect_fast && fc.expect_complete == Complete::kAllLines) {
      EXPECT_EQ(stats.fast_accepts, stats.re2_accepts) << fmt;
    } else if (fc.expect_fast && fc.expect_complete == Complete::kValidLines) {
      EXPECT_EQ(stats.valid_fast_accepts, stats.valid_re2_accepts) << fmt;
      EXPECT_GT(stats.fast_accepts, stats.re2_accepts * 9 / 10) << fmt;
    } else if (fc.expect_fast) {
      EXPECT_GT(stats.fast_accepts, stats.re2_accepts / 2) << fmt;
    } else {
      EXPECT_EQ(stats.fast_accepts, 0) << fmt;
    }
  }
}

}  // namespace
}  // namespace apimeter
