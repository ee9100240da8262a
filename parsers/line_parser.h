// LineParser: turns one nginx access-log line into a LogRecord.
//
// Promise: a LineParser is compiled once from an nginx `log_format` (see
// docs/log-formats.md) and then maps any byte string to either a LogRecord or
// a ParseError, never crashing. Lines the fast path accepts (and lines rejected by the
// pre-checks) cost no heap allocation; lines that fall back to RE2 may allocate inside RE2
// (its matcher scratch space), never in apimeter code. RE2 is the
// reference matcher; a hand-written fast path built from the same token list
// is used when it is eligible, and whenever the fast path accepts a line its
// record equals RE2's (when it does not accept, RE2 decides). Rejections are
// bounded values (a kind, a byte offset and the variable involved).
//
// Thread-safety: a compiled LineParser is immutable; Parse, Explain and the
// accessors may be called concurrently from any number of threads. Copies
// share the compiled state, so ParseError::field (a view of a variable name)
// stays valid as long as any copy of the parser lives.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/log_record.h"
#include "common/result.h"
#include "parsers/redact.h"

namespace apimeter {

struct FormatSpec {
  std::string log_format;          // nginx log_format text verbatim, or a preset name
                                   // ("combined", "main", "upstreaminfo"; LogFormatText)
  std::string escape = "default";  // nginx escape= mode: "default", "json" or "none"
  std::string customer_var;        // variable name without '$' (e.g. "http_x_api_key"); "" = none
  std::string latency_var;         // e.g. "request_time" or "upstream_response_time"; "" = none
  std::string bytes_out_var;       // "bytes_sent" / "body_bytes_sent"; "" = $bytes_sent if in the
                                   // format, else $body_bytes_sent
  size_t max_line_bytes = 65536;
};

enum class ParseErrorKind {
  kEmpty,
  kTooLong,
  kBinary,
  kNoMatch,
  kBadTime,
  kBadStatus,
  kBadNumber,
  kEmptyRequest,
  kBadRequestLine,
  // Never returned by LineParser (a pure parser has no clock): the line pipeline rejects a
  // line dated further in the future than limits.max_future with it.
  kFutureTime,
};
inline constexpr int kParseErrorKindCount = 10;

// "empty", "too_long", "binary", "no_match", "bad_time", "bad_status", "bad_number",
// "empty_request", "bad_request_line", "future_time". Stable: used as metric labels.
std::string_view ParseErrorName(ParseErrorKind kind);

struct ParseError {
  ParseErrorKind kind = ParseErrorKind::kNoMatch;
  size_t offset = 0;       // byte offset in the line where the problem was found (a hint)
  std::string_view field;  // variable name without '$', or "" when no variable is involved
};

namespace parsers_internal {
struct CompiledFormat;
}

class LineParser {
 public:
  // Errors name the problem and the fix, e.g. "unterminated '${' at column 12 of log_format"
  // or "customer variable '$x' is not in log_format". Any nginx variable name is accepted.
  static Result<LineParser> Compile(const FormatSpec& spec);

  // Pure, no I/O; no heap allocation on the fast path (see above). On success fills *out (views
  // into `line`) and returns true; otherwise fills *err and returns false.
  bool Parse(std::string_view line, LogRecord* out, ParseError* err) const;

  // Human explanation for `apimeter test-format`: every variable and its value, the derived
  // record, or where and why the line was rejected (column, expected what, saw what).
  // Secrets (SecretSpans) are shown as markers unless options.show_raw (parsers/redact.h).
  std::string Explain(std::string_view line, const RedactOptions& options = {}) const;

  // Where `line` may hold an API key or another credential, for showing it to
  // people: see parsers/redact.h. Sorted, non-overlapping. Allocates.
  std::vector<SecretSpan> SecretSpans(std::string_view line) const;

  // The anchored RE2 pattern the format compiled to (Latin-1, dot matches newline).
  const std::string& re2_pattern() const;
  // True when the format is eligible for the hand-written fast path (docs/log-formats.md).
  bool has_fast_path() const;

  // The reference matcher alone (for tests and benchmarks).
  bool ParseRe2(std::string_view line, LogRecord* out, ParseError* err) const;
  // The fast path alone; returns false with kNoMatch when the format is not eligible or the
  // fast path cannot decide (for tests and benchmarks).
  bool ParseFast(std::string_view line, LogRecord* out, ParseError* err) const;

 private:
  explicit LineParser(std::shared_ptr<const parsers_internal::CompiledFormat> impl)
      : impl_(std::move(impl)) {}
  std::shared_ptr<const parsers_internal::CompiledFormat> impl_;
};

// The format text a log_format stands for: a preset name ("combined", "main",
// "upstreaminfo"; docs/log-formats.md) gives its text, anything else is returned as is.
std::string_view LogFormatText(std::string_view log_format);

}  // namespace apimeter
