// CustomerKeyExtractor: customer_match (RE2, one group) and customer_jwt_claim (an
// unverified JWT's payload claim, found by a small JSON scanner that allocates nothing).
#include "parsers/customer_key.h"

#include <re2/re2.h>

#include <array>
#include <cstring>

namespace apimeter {
namespace {

bool Fail(CustomerKeyError* out, CustomerKeyError e) {
  if (out != nullptr) *out = e;
  return false;
}

// base64url alphabet → 6-bit value; -1 for any other byte.
constexpr std::array<int8_t, 256> MakeBase64Url() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 26; ++i) {
    t['A' + i] = static_cast<int8_t>(i);
    t['a' + i] = static_cast<int8_t>(26 + i);
  }
  for (int i = 0; i < 10; ++i) t['0' + i] = static_cast<int8_t>(52 + i);
  t['-'] = 62;
  t['_'] = 63;
  return t;
}
constexpr std::array<int8_t, 256> kBase64Url = MakeBase64Url();

bool IsBase64Url(std::string_view s) {
  while (!s.empty() && s.back() == '=') s.remove_suffix(1);
  for (char c : s) {
    if (kBase64Url[static_cast<unsigned char>(c)] < 0) return false;
  }
  return true;
}

// Decodes unpadded (or '='-padded) base64url into *out. False on a bad byte or length.
bool DecodeBase64Url(std::string_view in, std::string* out) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return false;
  out->resize(in.size() / 4 * 3 + (in.size() % 4 == 0 ? 0 : in.size() % 4 - 1));
  char* w = out->data();
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int v = kBase64Url[static_cast<unsigned char>(c)];
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      *w++ = static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return true;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool Hex4(const char* p, const char* e, uint32_t* out) {
  if (e - p < 4) return false;
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    const int d = HexDigit(p[i]);
    if (d < 0) return false;
    v = v << 4 | static_cast<uint32_t>(d);
  }
  *out = v;
  return true;
}

int Utf8(uint32_t cp, char* out) {
  if (cp < 0x80) {
    out[0] = static_cast<char>(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = static_cast<char>(0xc0 | cp >> 6);
    out[1] = static_cast<char>(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<char>(0xe0 | cp >> 12);
    out[1] = static_cast<char>(0x80 | (cp >> 6 & 0x3f));
    out[2] = static_cast<char>(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = static_cast<char>(0xf0 | cp >> 18);
  out[1] = static_cast<char>(0x80 | (cp >> 12 & 0x3f));
  out[2] = static_cast<char>(0x80 | (cp >> 6 & 0x3f));
  out[3] = static_cast<char>(0x80 | (cp & 0x3f));
  return 4;
}

// One character of a JSON string body at *p (already validated): its bytes in out[0..n).
// Never more bytes than it consumed, so unescaping in place is safe.
int NextChar(const char** p, const char* e, char* out) {
  const char* q = *p;
  if (*q != '\\') {
    out[0] = *q;
    *p = q + 1;
    return 1;
  }
  const char c = q[1];
  *p = q + 2;
  switch (c) {
    case 'b':
      out[0] = '\b';
      return 1;
    case 'f':
      out[0] = '\f';
      return 1;
    case 'n':
      out[0] = '\n';
      return 1;
    case 'r':
      out[0] = '\r';
      return 1;
    case 't':
      out[0] = '\t';
      return 1;
    case 'u':
      break;
    default:  // " \ /
      out[0] = c;
      return 1;
  }
  uint32_t cp = 0;
  Hex4(q + 2, e, &cp);
  *p = q + 6;
  uint32_t lo = 0;
  if (cp >= 0xd800 && cp < 0xdc00 && e - *p >= 6 && (*p)[0] == '\\' && (*p)[1] == 'u' &&
      Hex4(*p + 2, e, &lo) && lo >= 0xdc00 && lo < 0xe000) {
    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    *p += 6;
  }
  return Utf8(cp, out);
}

// A strict, allocation-free scan of one JSON object, looking for a top-level member.
class ClaimScanner {
 public:
  ClaimScanner(const char* p, const char* e) : p_(p), e_(e) {}

  // Scans the whole text as one JSON object. Returns false when it is not valid JSON (or is
  // nested deeper than kMaxDepth). Sets *kind and the raw bytes of the first `claim` member.
  enum class Kind { kAbsent, kString, kNumber, kOther };
  bool Scan(std::string_view claim, Kind* kind, const char** begin, const char** end) {
    *kind = Kind::kAbsent;
    Ws();
    if (!Eat('{')) return false;
    Ws();
    if (Eat('}')) return AtEnd();
    while (true) {
      const char *kb, *ke;
      if (!String(&kb, &ke)) return false;
      Ws();
      if (!Eat(':')) return false;
      Ws();
      const bool wanted = *kind == Kind::kAbsent && KeyEquals(kb, ke, claim);
      const char* vb = p_;
      if (wanted && p_ < e_ && *p_ == '"') {
        if (!String(begin, end)) return false;
        *kind = Kind::kString;
      } else if (wanted && p_ < e_ && (*p_ == '-' || (*p_ >= '0' && *p_ <= '9'))) {
        if (!Number()) return false;
        *kind = Kind::kNumber;
        *begin = vb;
        *end = p_;
      } else {
        if (!Value(1)) return false;
        if (wanted) *kind = Kind::kOther;
      }
      Ws();
      if (Eat(',')) {
        Ws();
        continue;
      }
      if (Eat('}')) return AtEnd();
      return false;
    }
  }

 private:
  static constexpr int kMaxDepth = 64;

  bool AtEnd() {
    Ws();
    return p_ == e_;
  }
  void Ws() {
    while (p_ < e_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool Eat(char c) {
    if (p_ < e_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  // A string; [*b, *e) is its raw body between the quotes, escapes validated.
  bool String(const char** b, const char** e) {
    if (!Eat('"')) return false;
    *b = p_;
    while (p_ < e_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        *e = p_++;
        return true;
      }
      if (c < 0x20) return false;
      if (c != '\\') {
        ++p_;
        continue;
      }
      if (e_ - p_ < 2) return false;
      const char x = p_[1];
      uint32_t cp;
      if (x == 'u') {
        if (!Hex4(p_ + 2, e_, &cp)) return false;
        p_ += 6;
      } else if (std::strchr("\"\\/bfnrt", x) != nullptr && x != 0) {
        p_ += 2;
      } else {
        return false;
      }
    }
    return false;
  }
  bool Digits() {
    const char* s = p_;
    while (p_ < e_ && *p_ >= '0' && *p_ <= '9') ++p_;
    return p_ != s;
  }
  bool Number() {
    Eat('-');
    if (!Digits()) return false;
    if (Eat('.') && !Digits()) return false;
    if (p_ < e_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (!Eat('+')) Eat('-');
      if (!Digits()) return false;
    }
    return true;
  }
  bool Word(std::string_view w) {
    if (static_cast<size_t>(e_ - p_) < w.size() || std::memcmp(p_, w.data(), w.size()) != 0) {
      return false;
    }
    p_ += w.size();
    return true;
  }
  bool Value(int depth) {
    if (depth > kMaxDepth || p_ >= e_) return false;
    const char c = *p_;
    const char *b, *e;
    if (c == '"') return String(&b, &e);
    if (c == '{' || c == '[') {
      const char close = c == '{' ? '}' : ']';
      ++p_;
      Ws();
      if (Eat(close)) return true;
      while (true) {
        if (c == '{') {
          if (!String(&b, &e)) return false;
          Ws();
          if (!Eat(':')) return false;
          Ws();
        }
        if (!Value(depth + 1)) return false;
        Ws();
        if (Eat(close)) return true;
        if (!Eat(',')) return false;
        Ws();
      }
    }
    if (c == 't') return Word("true");
    if (c == 'f') return Word("false");
    if (c == 'n') return Word("null");
    return Number();
  }
  // Compares a raw (validated) key body with `want`, decoding escapes as it goes.
  bool KeyEquals(const char* b, const char* e, std::string_view want) const {
    if (std::memchr(b, '\\', static_cast<size_t>(e - b)) == nullptr) {
      return std::string_view(b, static_cast<size_t>(e - b)) == want;
    }
    size_t at = 0;
    char buf[4];
    while (b < e) {
      const int n = NextChar(&b, e, buf);
      if (want.size() - at < static_cast<size_t>(n) || std::memcmp(want.data() + at, buf, n) != 0) {
        return false;
      }
      at += static_cast<size_t>(n);
    }
    return at == want.size();
  }

  const char* p_;
  const char* e_;
};

// Unescapes the string body [b, e) in place; returns its new end.
char* UnescapeInPlace(char* b, const char* e) {
  char* w = b;
  const char* r = b;
  char buf[4];
  while (r < e) {
    const int n = NextChar(&r, e, buf);
    std::memcpy(w, buf, static_cast<size_t>(n));
    w += n;
  }
  return w;
}

bool StartsWithBearer(std::string_view v) {
  constexpr std::string_view kBearer = "bearer ";
  if (v.size() < kBearer.size()) return false;
  for (size_t i = 0; i < kBearer.size(); ++i) {
    const char c = v[i] >= 'A' && v[i] <= 'Z' ? static_cast<char>(v[i] - 'A' + 'a') : v[i];
    if (c != kBearer[i]) return false;
  }
  return true;
}

}  // namespace

std::string_view CustomerKeyErrorName(CustomerKeyError error) {
  switch (error) {
    case CustomerKeyError::kMatchFailed:
      return "match_failed";
    case CustomerKeyError::kJwtMalformed:
      return "jwt_malformed";
    case CustomerKeyError::kJwtNoClaim:
      return "jwt_no_claim";
  }
  return "unknown";
}

bool JwtClaim(std::string_view token, std::string_view claim, std::string* scratch,
              std::string_view* value, CustomerKeyError* error) {
  if (StartsWithBearer(token)) {
    token.remove_prefix(7);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  }
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || dot1 == 0 || dot2 == dot1 + 1 ||
      token.find('.', dot2 + 1) != std::string_view::npos) {
    return Fail(error, CustomerKeyError::kJwtMalformed);  // not three parts (JWE has five)
  }
  if (!IsBase64Url(token.substr(0, dot1)) || !IsBase64Url(token.substr(dot2 + 1)) ||
      !DecodeBase64Url(token.substr(dot1 + 1, dot2 - dot1 - 1), scratch)) {
    return Fail(error, CustomerKeyError::kJwtMalformed);
  }
  const char* b = scratch->data();
  ClaimScanner scanner(b, b + scratch->size());
  ClaimScanner::Kind kind;
  const char *vb = nullptr, *ve = nullptr;
  if (!scanner.Scan(claim, &kind, &vb, &ve)) return Fail(error, CustomerKeyError::kJwtMalformed);
  if (kind != ClaimScanner::Kind::kString && kind != ClaimScanner::Kind::kNumber) {
    return Fail(error, CustomerKeyError::kJwtNoClaim);
  }
  char* start = scratch->data() + (vb - b);
  const char* end = kind == ClaimScanner::Kind::kString ? UnescapeInPlace(start, ve) : ve;
  if (end == start) return Fail(error, CustomerKeyError::kJwtNoClaim);
  *value = std::string_view(start, static_cast<size_t>(end - start));
  return true;
}

Result<CustomerKeyExtractor> CustomerKeyExtractor::Compile(const CustomerKeySpec& spec) {
  CustomerKeyExtractor x;
  x.claim_ = spec.jwt_claim;
  if (spec.match.empty()) return x;
  RE2::Options opts;
  opts.set_encoding(RE2::Options::EncodingLatin1);  // values are bytes, as in the line
  opts.set_log_errors(false);
  auto re = std::make_shared<const RE2>(spec.match, opts);
  if (!re->ok()) {
    return Status::InvalidArgument("customer_match '" + spec.match.substr(0, 80) +
                                   "' does not compile: " + re->error() +
                                   "; write an RE2 regex, e.g. '^Bearer (.+)$'");
  }
  if (re->NumberOfCapturingGroups() != 1) {
    return Status::InvalidArgument(
        "customer_match '" + spec.match.substr(0, 80) + "' has " +
        std::to_string(re->NumberOfCapturingGroups()) +
        " capture groups; it needs exactly one, around the key (use (?:...) for other groups)");
  }
  x.match_ = std::move(re);
  return x;
}

bool CustomerKeyExtractor::Extract(std::string_view value, std::string* scratch,
                                   std::string_view* key, CustomerKeyError* error) const {
  if (match_ != nullptr) {
    re2::StringPiece group;
    if (!RE2::PartialMatch(re2::StringPiece(value.data(), value.size()), *match_, &group) ||
        group.empty()) {
      return Fail(error, CustomerKeyError::kMatchFailed);
    }
    value = std::string_view(group.data(), group.size());
  }
  if (claim_.empty()) {
    *key = value;
    return true;
  }
  return JwtClaim(value, claim_, scratch, key, error);
}

}  // namespace apimeter
