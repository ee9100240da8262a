// The fast path: a deterministic walk over the compiled tokens.
//
// Why it agrees with RE2: RE2 reports the submatches of the leftmost-first
// (Perl) match, i.e. the first successful path when every choice point is
// tried in priority order (greedy repeats longest first, alternatives left to
// right, lazy repeats shortest first). Each matcher below takes, at every
// choice point, the highest-priority option that can match locally; an option
// it skips cannot match at all. So if the walk reaches the end of the line, no
// higher-priority path exists and the walk's split is exactly RE2's. When the
// walk fails, the caller asks RE2.
#include <cstring>

#include "parsers/compiled_format.h"

namespace apimeter::parsers_internal {
namespace {

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

inline const char* SkipDigits(const char* p, const char* e) {
  while (p < e && IsDigit(*p)) ++p;
  return p;
}

// [0-9]+\.[0-9]+
const char* MatchSeconds(const char* p, const char* e) {
  const char* d = SkipDigits(p, e);
  if (d == p || d == e || *d != '.') return nullptr;
  const char* f = SkipDigits(d + 1, e);
  return f == d + 1 ? nullptr : f;
}

// [0-9]+\.[0-9]+|-
const char* MatchSecondsItem(const char* p, const char* e) {
  if (const char* q = MatchSeconds(p, e)) return q;
  return p < e && *p == '-' ? p + 1 : nullptr;
}

// item(?:(?:, | : )item)*, greedy: another item is taken whenever one follows a separator.
const char* MatchSecondsList(const char* p, const char* e) {
  const char* q = MatchSecondsItem(p, e);
  while (q != nullptr) {
    const char* next = nullptr;
    if (e - q >= 2 && q[0] == ',' && q[1] == ' ') {
      next = MatchSecondsItem(q + 2, e);
    } else if (e - q >= 3 && q[0] == ' ' && q[1] == ':' && q[2] == ' ') {
      next = MatchSecondsItem(q + 3, e);
    }
    if (next == nullptr) break;
    q = next;
  }
  return q;
}

// A fixed-width shape: 'd' = digit, 'a' = ASCII letter, 's' = '+' or '-', other = itself.
const char* MatchShape(const char* p, const char* e, std::string_view shape) {
  if (static_cast<size_t>(e - p) < shape.size()) return nullptr;
  for (size_t i = 0; i < shape.size(); ++i) {
    const char c = p[i];
    switch (shape[i]) {
      case 'd':
        if (!IsDigit(c)) return nullptr;
        break;
      case 'a':
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return nullptr;
        break;
      case 's':
        if (c != '+' && c != '-') return nullptr;
        break;
      default:
        if (c != shape[i]) return nullptr;
    }
  }
  return p + shape.size();
}

const char* MatchTimeIso(const char* p, const char* e) {
  const char* q = MatchShape(p, e, "dddd-dd-ddTdd:dd:dd");
  if (q == nullptr) return nullptr;
  if (const char* z = MatchShape(q, e, "sdd:dd")) return z;
  return q < e && *q == 'Z' ? q + 1 : nullptr;
}

const char* MatchGeneric(const Token& t, const Token* next, const char* p, const char* e) {
  if (t.lazy) {  // shortest value after which the next literal follows
    const std::string_view rest(p, static_cast<size_t>(e - p));
    if (next->last) {
      // The literal must end the line, so only one split can succeed.
      const size_t len = next->text.size();
      return rest.size() >= len && rest.substr(rest.size() - len) == next->text ? e - len : nullptr;
    }
    const size_t at = rest.find(next->text);
    return at == std::string_view::npos ? nullptr : p + at;
  }
  const char s0 = t.stop[0];
  if (s0 == 0) return e;
  const char s1 = t.stop[1] != 0 ? t.stop[1] : s0;
  if (t.json_escapes) {
    while (p < e && *p != s0 && *p != s1) {
      if (*p == '\\') {
        if (e - p < 2) break;  // a lone trailing backslash ends the value
        p += 2;
      } else {
        ++p;
      }
    }
    return p;
  }
  if (s1 == s0) {
    const void* hit = std::memchr(p, s0, static_cast<size_t>(e - p));
    return hit ? static_cast<const char*>(hit) : e;
  }
  while (p < e && *p != s0 && *p != s1) ++p;
  return p;
}

// I(?:(?:, | : )I)*, I = one or more bytes other than space, comma and the stop byte;
// greedy like the item repeat: another item is taken whenever one follows a separator.
const char* MatchList(const Token& t, const char* p, const char* e) {
  const char stop = t.stop[0] != 0 ? t.stop[0] : ' ';
  auto item = [stop, e](const char* q) -> const char* {
    const char* s = q;
    while (q < e && *q != ' ' && *q != ',' && *q != stop) ++q;
    return q == s ? nullptr : q;
  };
  const char* q = item(p);
  while (q != nullptr) {
    const char* next = nullptr;
    if (e - q >= 2 && q[0] == ',' && q[1] == ' ') {
      next = item(q + 2);
    } else if (e - q >= 3 && q[0] == ' ' && q[1] == ':' && q[2] == ' ') {
      next = item(q + 3);
    }
    if (next == nullptr) break;
    q = next;
  }
  return q;
}

// The class without its empty alternative; nullptr when it does not match here.
const char* MatchNonEmpty(const Token& t, const char* p, const char* e) {
  switch (t.cls) {
    case ValueClass::kStatus:
      return e - p >= 3 && IsDigit(p[0]) && IsDigit(p[1]) && IsDigit(p[2]) ? p + 3 : nullptr;
    case ValueClass::kCount: {
      const char* q = SkipDigits(p, e);
      if (q != p) return q;
      return p < e && *p == '-' ? p + 1 : nullptr;
    }
    case ValueClass::kSeconds:
      return MatchSeconds(p, e);
    case ValueClass::kSecondsList:
      return MatchSecondsList(p, e);
    case ValueClass::kList:
      return MatchList(t, p, e);
    case ValueClass::kTimeLocal:
      return MatchShape(p, e, "dd/aaa/dddd:dd:dd:dd sdddd");
    case ValueClass::kTimeIso:
      return MatchTimeIso(p, e);
    case ValueClass::kMsec: {
      const char* d = SkipDigits(p, e);
      if (d == p) return nullptr;
      return MatchShape(d, e, ".ddd");
    }
    case ValueClass::kGeneric:
      break;
  }
  return nullptr;
}

const char* MatchValue(const Token& t, const Token* next, const char* p, const char* e) {
  if (t.cls == ValueClass::kGeneric) return MatchGeneric(t, next, p, e);
  // (?:class)? is greedy: the class when it matches here, else the empty value.
  const char* q = MatchNonEmpty(t, p, e);
  return q != nullptr ? q : p;
}

// Literals are mostly 1-3 bytes: a byte loop beats a call to memcmp.
inline bool LiteralAt(const char* p, const char* lit, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    if (p[i] != lit[i]) return false;
  }
  return true;
}

}  // namespace

bool Walk(const CompiledFormat& f, std::string_view line, std::string_view* caps,
          std::string_view* values, WalkFailure* failure) {
  const char* const begin = line.data();
  const char* p = begin;
  const char* const e = begin + line.size();
  const size_t n = f.tokens.size();
  const char* value_start = nullptr;  // where the last variable's value began
  for (size_t i = 0; i < n; ++i) {
    const Token& t = f.tokens[i];
    const char* q;
    if (!t.is_var) {
      const size_t len = t.text.size();
      q = static_cast<size_t>(e - p) >= len && LiteralAt(p, t.text.data(), len) ? p + len : nullptr;
    } else {
      q = MatchValue(t, i + 1 < n ? &f.tokens[i + 1] : nullptr, p, e);
      if (q != nullptr) {
        const std::string_view v(p, static_cast<size_t>(q - p));
        if (t.slot >= 0) caps[t.slot] = v;
        if (values != nullptr) values[i] = v;
      }
    }
    if (q == nullptr) {
      // A typed value that matched only as empty is what departs from the format when the
      // literal after it fails right there ("abc" where $status was due): name the variable.
      const bool blame_prev = i > 0 && f.tokens[i - 1].is_var &&
                              f.tokens[i - 1].cls != ValueClass::kGeneric && p == value_start;
      if (failure) {
        *failure = {static_cast<size_t>(p - begin), static_cast<int>(blame_prev ? i - 1 : i)};
      }
      return false;
    }
    if (t.is_var) value_start = p;
    p = q;
  }
  if (p != e) {
    const bool blame_last = n > 0 && f.tokens[n - 1].is_var &&
                            f.tokens[n - 1].cls != ValueClass::kGeneric && p == value_start;
    if (failure) {
      *failure = {static_cast<size_t>(p - begin), static_cast<int>(blame_last ? n - 1 : n)};
    }
    return false;
  }
  return true;
}

}  // namespace apimeter::parsers_internal
