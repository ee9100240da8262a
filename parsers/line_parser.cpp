// LineParser: pre-checks, the RE2 reference match, the fast-path dispatch and
// the derivation of a LogRecord from captured values.
#include "parsers/line_parser.h"

#include <cstring>

#include "common/time_util.h"
#include "parsers/compiled_format.h"
#include "parsers/nginx_time.h"

namespace apimeter {

using parsers_internal::CompiledFormat;
using parsers_internal::WalkFailure;

std::string_view ParseErrorName(ParseErrorKind kind) {
  switch (kind) {
    case ParseErrorKind::kEmpty:
      return "empty";
    case ParseErrorKind::kTooLong:
      return "too_long";
    case ParseErrorKind::kBinary:
      return "binary";
    case ParseErrorKind::kNoMatch:
      return "no_match";
    case ParseErrorKind::kBadTime:
      return "bad_time";
    case ParseErrorKind::kBadStatus:
      return "bad_status";
    case ParseErrorKind::kBadNumber:
      return "bad_number";
    case ParseErrorKind::kEmptyRequest:
      return "empty_request";
    case ParseErrorKind::kBadRequestLine:
      return "bad_request_line";
    case ParseErrorKind::kFutureTime:
      return "future_time";
  }
  return "unknown";
}

namespace parsers_internal {
namespace {

bool Fail(ParseError* err, ParseErrorKind kind, size_t offset, std::string_view field = {}) {
  if (err != nullptr) *err = ParseError{kind, offset, field};
  return false;
}

// A valid nginx line never holds raw control bytes in escape=default; a line that has a
// NUL, or one control byte in eight, is binary garbage (TLS to a plain port, a file
// hole after a crash) rather than a malformed log line.
// True when some byte is < 0x20 or == 0x7f (tabs included; the exact count follows).
// Eight bytes at a time: the "has a byte less than n" and "has a zero byte" word tricks.
bool MayHaveControlBytes(std::string_view line) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  size_t i = 0;
  uint64_t hit = 0;
  for (; i + 8 <= line.size(); i += 8) {
    uint64_t x;
    std::memcpy(&x, line.data() + i, 8);
    const uint64_t del = x ^ (kOnes * 0x7f);
    hit |= ((x - kOnes * 0x20) & ~x & kHigh) | ((del - kOnes) & ~del & kHigh);
  }
  if (hit != 0) return true;
  for (; i < line.size(); ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

bool LooksBinary(std::string_view line, size_t* first_bad) {
  if (!MayHaveControlBytes(line)) return false;
  size_t control = 0;
  bool nul = false;
  for (char ch : line) {
    const auto c = static_cast<unsigned char>(ch);
    nul |= c == 0;
    control += static_cast<size_t>((c < 0x20 && c != '\t') | (c == 0x7f));
  }
  if (!nul && control * 8 < line.size()) return false;
  *first_bad = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      *first_bad = i;
      break;
    }
  }
  return true;
}

// Whole number, "-" or empty (no value) meaning 0; more than fits in 64 bits is kBadNumber.
bool ParseCount(std::string_view v, uint64_t* out) {
  if (v.empty() || v == "-") {
    *out = 0;
    return true;
  }
  if (v.size() > 20) return false;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (n > (UINT64_MAX - d) / 10) return false;
    n = n * 10 + d;
  }
  *out = n;
  return true;
}

// "12.345" → 12345000 µs. Digits past the sixth decimal are truncated (nginx writes three).
bool ParseSecondsItem(std::string_view v, int64_t* us) {
  const size_t dot = v.find('.');
  if (dot == 0 || dot == std::string_view::npos || dot > 9 || dot + 1 == v.size()) return false;
  int64_t secs = 0;
  for (size_t i = 0; i < dot; ++i) {
    if (v[i] < '0' || v[i] > '9') return false;
    secs = secs * 10 + (v[i] - '0');
  }
  int64_t frac = 0;
  int64_t scale = 100000;
  for (size_t i = dot + 1; i < v.size(); ++i) {
    if (v[i] < '0' || v[i] > '9') return false;
    frac += (v[i] - '0') * scale;
    scale /= 10;
  }
  *us = secs * kMicrosPerSecond + frac;
  return true;
}

// A single value or a list ("0.003, 0.010" / "0.003 : 0.010") summed; "-" items are
// skipped and a value with no number at all (including the empty value) is -1 (not logged).
bool ParseLatency(std::string_view v, int64_t* us) {
  int64_t total = -1;
  if (v.empty()) {
    *us = total;
    return true;
  }
  while (true) {
    size_t sep = v.find(", ");
    size_t skip = 2;
    const size_t colon = v.find(" : ");
    if (colon < sep) sep = colon, skip = 3;
    const std::string_view item = v.substr(0, sep);
    if (item != "-") {
      int64_t x = 0;
      if (!ParseSecondsItem(item, &x)) return false;
      total = (total < 0 ? 0 : total) + x;
    }
    if (sep == std::string_view::npos) break;
    v.remove_prefix(sep + skip);
  }
  *us = total;
  return true;
}

bool IsTokenByte(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

// An HTTP token that starts with a letter ("-" is nginx's empty value, not a method).
bool ValidMethod(std::string_view m) {
  if (m.empty() || m.size() > 32 ||
      !((m[0] >= 'A' && m[0] <= 'Z') || (m[0] >= 'a' && m[0] <= 'z'))) {
    return false;
  }
  for (char c : m) {
    if (!IsTokenByte(c)) return false;
  }
  return true;
}

bool StartsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(0, p.size()) == p;
}

// Path of a request-target: origin-form up to '?', absolute-form's path, "*", or for
// CONNECT the authority as logged. Returns false for anything else.
bool TargetPath(std::string_view method, std::string_view target, std::string_view* path) {
  if (!target.empty() && target[0] == '/') {
    *path = target.substr(0, target.find('?'));
    return true;
  }
  for (std::string_view scheme : {"http://", "https://", "HTTP://", "HTTPS://"}) {
    if (!StartsWith(target, scheme)) continue;
    const std::string_view rest = target.substr(scheme.size());
    const size_t end = rest.find_first_of("/?");
    if (end == std::string_view::npos || rest[end] == '?') {
      *path = "/";
    } else {
      const std::string_view p = rest.substr(end);
      *path = p.substr(0, p.find('?'));
    }
    return true;
  }
  if (target == "*" || (method == "CONNECT" && !target.empty())) {
    *path = target;
    return true;
  }
  return false;
}

bool IsAbsent(std::string_view v) { return v.empty() || v == "-"; }

bool DeriveRequest(const CompiledFormat& f, std::string_view line, const std::string_view* caps,
                   LogRecord* r, ParseError* err) {
  const std::string_view req = caps[f.request_slot];
  const size_t at = static_cast<size_t>(req.data() - line.data());
  const std::string_view field = f.slot_names[f.request_slot];
  if (f.request_kind == RequestKind::kMethodAndUri) {
    const std::string_view method = caps[f.method_slot];
    if (IsAbsent(method) && IsAbsent(req))
      return Fail(err, ParseErrorKind::kEmptyRequest, at, field);
    if (!ValidMethod(method) || !TargetPath(method, req, &r->path)) {
      return Fail(err, ParseErrorKind::kBadRequestLine, at, field);
    }
    r->method = method;
    return true;
  }
  if (IsAbsent(req)) return Fail(err, ParseErrorKind::kEmptyRequest, at, field);
  // "METHOD target[ HTTP/x.y]"; the target may hold raw spaces when nginx logged them.
  const size_t sp = req.find(' ');
  if (sp == std::string_view::npos) return Fail(err, ParseErrorKind::kBadRequestLine, at, field);
  const std::string_view method = req.substr(0, sp);
  std::string_view target = req.substr(sp + 1);
  const size_t last = target.rfind(' ');
  if (last != std::string_view::npos && StartsWith(target.substr(last + 1), "HTTP/")) {
    target = target.substr(0, last);
  }
  if (!ValidMethod(method) || !TargetPath(method, target, &r->path)) {
    return Fail(err, ParseErrorKind::kBadRequestLine, at, field);
  }
  r->method = method;
  return true;
}

bool DeriveTime(const CompiledFormat& f, std::string_view line, const std::string_view* caps,
                LogRecord* r, ParseError* err) {
  const std::string_view v = caps[f.time_slot];
  bool ok = false;
  switch (f.time_kind) {
    case TimeKind::kLocal:
      ok = ParseTimeLocal(v, &r->time_us);
      break;
    case TimeKind::kIso:
      ok = ParseTimeIso8601(v, &r->time_us);
      break;
    case TimeKind::kMsec:
      ok = ParseMsec(v, &r->time_us);
      break;
  }
  return ok || Fail(err, ParseErrorKind::kBadTime, static_cast<size_t>(v.data() - line.data()),
                    f.slot_names[f.time_slot]);
}

bool DeriveStatus(const CompiledFormat& f, std::string_view line, const std::string_view* caps,
                  LogRecord* r, ParseError* err) {
  const std::string_view v = caps[f.status_slot];
  int status = 0;
  for (char c : v) status = status * 10 + (c - '0');
  r->status = status;
  if (v.size() == 3 && status >= 100 && status <= 599) return true;
  return Fail(err, ParseErrorKind::kBadStatus, static_cast<size_t>(v.data() - line.data()),
              f.slot_names[f.status_slot]);
}

bool DeriveNumbers(const CompiledFormat& f, std::string_view line, const std::string_view* caps,
                   LogRecord* r, ParseError* err) {
  auto bad = [&](int slot) {
    return Fail(err, ParseErrorKind::kBadNumber,
                static_cast<size_t>(caps[slot].data() - line.data()), f.slot_names[slot]);
  };
  if (f.bytes_out_slot >= 0 && !ParseCount(caps[f.bytes_out_slot], &r->bytes_out)) {
    return bad(f.bytes_out_slot);
  }
  if (f.bytes_in_slot >= 0 && !ParseCount(caps[f.bytes_in_slot], &r->bytes_in)) {
    return bad(f.bytes_in_slot);
  }
  if (f.latency_slot >= 0 && !ParseLatency(caps[f.latency_slot], &r->latency_us)) {
    return bad(f.latency_slot);
  }
  return true;
}

}  // namespace

bool Re2Match(const CompiledFormat& f, std::string_view line, std::string_view* caps) {
  re2::StringPiece sub[kMaxSlots + 1];
  if (!f.re2->Match(re2::StringPiece(line.data(), line.size()), 0, line.size(), RE2::ANCHOR_BOTH,
                    sub, f.slots + 1)) {
    return false;
  }
  for (int i = 0; i < f.slots; ++i)
    caps[i] = std::string_view(sub[i + 1].data(), sub[i + 1].size());
  return true;
}

bool PreCheck(const CompiledFormat& f, std::string_view* line, ParseError* err) {
  if (line->empty()) return Fail(err, ParseErrorKind::kEmpty, 0);
  if (line->size() > f.max_line_bytes) return Fail(err, ParseErrorKind::kTooLong, f.max_line_bytes);
  if (line->back() == '\r') line->remove_suffix(1);  // CRLF files
  if (line->empty()) return Fail(err, ParseErrorKind::kEmpty, 0);
  size_t bad = 0;
  if (LooksBinary(*line, &bad)) return Fail(err, ParseErrorKind::kBinary, bad);
  return true;
}

bool Derive(const CompiledFormat& f, std::string_view line, const std::string_view* caps,
            LogRecord* out, ParseError* err) {
  LogRecord r;
  if (!DeriveTime(f, line, caps, &r, err) || !DeriveStatus(f, line, caps, &r, err) ||
      !DeriveRequest(f, line, caps, &r, err) || !DeriveNumbers(f, line, caps, &r, err)) {
    return false;
  }
  if (f.customer_slot >= 0 && !IsAbsent(caps[f.customer_slot])) {
    r.customer_key = caps[f.customer_slot];
  }
  if (f.user_agent_slot >= 0) {
    r.user_agent_logged = true;
    r.user_agent = caps[f.user_agent_slot];
  }
  *out = r;
  return true;
}

}  // namespace parsers_internal

Result<LineParser> LineParser::Compile(const FormatSpec& spec) {
  APIMETER_ASSIGN_OR_RETURN(auto impl, parsers_internal::CompileFormat(spec));
  return LineParser(std::move(impl));
}

const std::string& LineParser::re2_pattern() const { return impl_->pattern; }
bool LineParser::has_fast_path() const { return impl_->fast_eligible; }

bool LineParser::ParseRe2(std::string_view line, LogRecord* out, ParseError* err) const {
  const CompiledFormat& f = *impl_;
  if (!parsers_internal::PreCheck(f, &line, err)) return false;
  std::string_view caps[parsers_internal::kMaxSlots];
  if (!parsers_internal::Re2Match(f, line, caps)) {
    return parsers_internal::Fail(err, ParseErrorKind::kNoMatch, 0);
  }
  return parsers_internal::Derive(f, line, caps, out, err);
}

bool LineParser::ParseFast(std::string_view line, LogRecord* out, ParseError* err) const {
  const CompiledFormat& f = *impl_;
  if (!f.fast_eligible) return parsers_internal::Fail(err, ParseErrorKind::kNoMatch, 0);
  if (!parsers_internal::PreCheck(f, &line, err)) return false;
  std::string_view caps[parsers_internal::kMaxSlots];
  WalkFailure failure;
  if (!parsers_internal::Walk(f, line, caps, nullptr, &failure)) {
    return parsers_internal::Fail(err, ParseErrorKind::kNoMatch, failure.offset);
  }
  return parsers_internal::Derive(f, line, caps, out, err);
}

bool LineParser::Parse(std::string_view line, LogRecord* out, ParseError* err) const {
  const CompiledFormat& f = *impl_;
  // Pre-checks do not depend on the matcher, so their verdict is RE2's too.
  if (!parsers_internal::PreCheck(f, &line, err)) return false;
  std::string_view caps[parsers_internal::kMaxSlots];
  WalkFailure failure;
  bool walked = false;
  if (f.fast_eligible) {
    walked = parsers_internal::Walk(f, line, caps, nullptr, &failure);
    if (walked && parsers_internal::Derive(f, line, caps, out, err)) return true;
  }
  // The fast path did not accept: RE2 decides.
  if (!parsers_internal::Re2Match(f, line, caps)) {
    // The walker's stopping point is where the line first departs from the format.
    const bool have_hint = f.fast_eligible && !walked;
    const size_t at = have_hint ? failure.offset : 0;
    std::string_view field;
    if (have_hint && failure.token >= 0 && static_cast<size_t>(failure.token) < f.tokens.size() &&
        f.tokens[failure.token].is_var) {
      field = f.tokens[failure.token].text;
    }
    return parsers_internal::Fail(err, ParseErrorKind::kNoMatch, at, field);
  }
  return parsers_internal::Derive(f, line, caps, out, err);
}

}  // namespace apimeter
