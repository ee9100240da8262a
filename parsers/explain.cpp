// LineParser::Explain: the human view of one line for `apimeter test-format`.
// Not on the hot path: it allocates freely.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "common/time_util.h"
#include "parsers/compiled_format.h"
#include "parsers/line_parser.h"

namespace apimeter {
namespace {

using parsers_internal::CompiledFormat;
using parsers_internal::Token;

constexpr size_t kMaxShown = 120;  // bytes of any one value shown

void AppendShown(char ch, std::string* s) {
  const auto c = static_cast<unsigned char>(ch);
  if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
    *s += static_cast<char>(c);
  } else {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02X", c);
    *s += buf;
  }
}

// Printable ASCII as is, everything else as \xHH, cut at kMaxShown bytes.
std::string Show(std::string_view v) {
  std::string s = "\"";
  for (size_t i = 0; i < v.size() && i < kMaxShown; ++i) AppendShown(v[i], &s);
  s += v.size() > kMaxShown ? "\"..." : "\"";
  return s;
}

// Shows views into one line with its secret spans replaced by their markers.
class Shower {
 public:
  Shower(std::string_view line, std::vector<SecretSpan> spans, const RedactOptions& options)
      : line_(line), spans_(std::move(spans)), options_(options) {}

  std::string operator()(std::string_view v) const {
    const auto base = reinterpret_cast<uintptr_t>(line_.data());
    const auto at = reinterpret_cast<uintptr_t>(v.data());
    if (spans_.empty() || v.empty() || at < base || at + v.size() > base + line_.size()) {
      return Show(v);
    }
    const size_t off = at - base;
    std::string s = "\"";
    size_t i = 0;
    for (; i < v.size() && i < kMaxShown;) {
      const SecretSpan* span = SpanAt(off + i);
      if (span == nullptr) {
        AppendShown(v[i++], &s);
        continue;
      }
      s += SecretMarker(*span, line_, options_);
      i = std::min(v.size(), span->end - off);
    }
    s += i < v.size() ? "\"..." : "\"";
    return s;
  }

 private:
  const SecretSpan* SpanAt(size_t pos) const {
    for (const SecretSpan& sp : spans_) {
      if (pos >= sp.begin && pos < sp.end) return &sp;
    }
    return nullptr;
  }
  std::string_view line_;
  std::vector<SecretSpan> spans_;
  const RedactOptions& options_;
};

std::string Expected(const CompiledFormat& f, int token) {
  if (token < 0 || static_cast<size_t>(token) >= f.tokens.size()) return "end of line";
  const Token& t = f.tokens[token];
  if (!t.is_var) return "literal " + Show(t.text);
  return "$" + t.text + " (" + std::string(parsers_internal::DescribeClass(t)) + ")";
}

void AppendValues(const CompiledFormat& f, const std::vector<std::string_view>& values, size_t upto,
                  const Shower& show, std::string* out) {
  for (size_t i = 0; i < upto && i < f.tokens.size(); ++i) {
    if (f.tokens[i].is_var) *out += "  $" + f.tokens[i].text + " = " + show(values[i]) + "\n";
  }
}

void AppendRecord(const LogRecord& r, const Shower& show, std::string* out) {
  const int64_t secs = r.time_us >= 0 ? r.time_us / kMicrosPerSecond : 0;
  *out += "record:\n";
  *out += "  time = " + FormatIso8601(secs) + " (" + std::to_string(r.time_us) + " us UTC)\n";
  *out += "  method = " + show(r.method) + "\n";
  *out += "  path = " + show(r.path) + "\n";
  *out += "  status = " + std::to_string(r.status) + "\n";
  *out += "  bytes_in = " + std::to_string(r.bytes_in) + "\n";
  *out += "  bytes_out = " + std::to_string(r.bytes_out) + "\n";
  *out += "  latency_us = " + std::to_string(r.latency_us) +
          (r.latency_us < 0 ? " (not logged)\n" : "\n");
  *out += "  customer_key = " +
          (r.customer_key.empty() ? std::string("(none)") : show(r.customer_key)) + "\n";
}

std::string Rejected(const ParseError& e, std::string_view line, const Shower& show) {
  std::string s = "rejected: " + std::string(ParseErrorName(e.kind)) + " at column " +
                  std::to_string(e.offset + 1);
  if (!e.field.empty()) s += " ($" + std::string(e.field) + ")";
  if (e.offset < line.size()) s += ", saw " + show(line.substr(e.offset, 24));
  return s + "\n";
}

}  // namespace

std::string LineParser::Explain(std::string_view line, const RedactOptions& options) const {
  const CompiledFormat& f = *impl_;
  const Shower show(line, options.show_raw ? std::vector<SecretSpan>() : SecretSpans(line),
                    options);
  std::string out = "line: " + show(line) + "\n";
  ParseError err;
  std::string_view checked = line;
  if (!parsers_internal::PreCheck(f, &checked, &err)) return out + Rejected(err, line, show);

  std::vector<std::string_view> values(f.tokens.size());
  std::vector<std::string_view> caps(parsers_internal::kMaxSlots);
  parsers_internal::WalkFailure failure;
  const bool walked = parsers_internal::Walk(f, checked, caps.data(), values.data(), &failure);
  LogRecord record;
  if (walked) {
    out += "matched (fast walker):\n";
    AppendValues(f, values, f.tokens.size(), show, &out);
  } else if (ParseRe2(checked, &record, &err) || err.kind != ParseErrorKind::kNoMatch) {
    out += "matched (RE2 reference):\n";
  } else {
    out += "rejected: no_match at column " + std::to_string(failure.offset + 1) + ": expected " +
           Expected(f, failure.token) + ", saw " +
           (failure.offset < checked.size() ? show(checked.substr(failure.offset, 24))
                                            : std::string("end of line")) +
           "\n";
    out += "matched before that point:\n";
    AppendValues(f, values, static_cast<size_t>(failure.token), show, &out);
    return out;
  }
  if (!Parse(line, &record, &err)) return out + Rejected(err, line, show);
  AppendRecord(record, show, &out);
  return out;
}

}  // namespace apimeter
