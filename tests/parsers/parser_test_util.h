// Helpers shared by the parser tests: compiling a format that must compile, a FormatSpec
// in one call, record equality and a line that must be rejected.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "parsers/line_parser.h"

namespace apimeter::testing {

inline LineParser MustCompile(const FormatSpec& spec) {
  auto p = LineParser::Compile(spec);
  EXPECT_TRUE(p.ok()) << p.status().message();
  if (!p.ok()) std::abort();
  return *p;
}

inline FormatSpec Spec(std::string format, std::string escape = "default",
                       std::string customer = "", std::string latency = "",
                       std::string bytes_out = "", size_t max_line = 65536) {
  FormatSpec s;
  s.log_format = std::move(format);
  s.escape = std::move(escape);
  s.customer_var = std::move(customer);
  s.latency_var = std::move(latency);
  s.bytes_out_var = std::move(bytes_out);
  s.max_line_bytes = max_line;
  return s;
}

inline bool SameRecord(const LogRecord& a, const LogRecord& b) {
  return a.time_us == b.time_us && a.method == b.method && a.path == b.path &&
         a.status == b.status && a.bytes_in == b.bytes_in && a.bytes_out == b.bytes_out &&
         a.latency_us == b.latency_us && a.customer_key == b.customer_key;
}

// Rejected by Parse and by RE2, for the same reason; returns Parse's error.
inline ParseError MustReject(const LineParser& p, std::string_view line) {
  LogRecord r;
  ParseError e, ref;
  EXPECT_FALSE(p.Parse(line, &r, &e)) << "accepted: " << line;
  EXPECT_FALSE(p.ParseRe2(line, &r, &ref));
  EXPECT_EQ(e.kind, ref.kind) << line;
  return e;
}

}  // namespace apimeter::testing
