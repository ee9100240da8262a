#include "parsers/endpoint_normalizer.h"

#include <re2/re2.h>

namespace apimeter {
namespace {

constexpr std::string_view kMethods[] = {"GET",  "POST",    "PUT",     "PATCH", "DELETE",
                                         "HEAD", "OPTIONS", "CONNECT", "TRACE"};
constexpr std::string_view kTruncated = "/\xE2\x80\xA6";  // "/…"
constexpr std::string_view kId = ":id";

std::string_view CanonicalMethod(std::string_view m) {
  for (std::string_view k : kMethods) {
    if (k == m) return k;
  }
  return "OTHER";
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Splits off the next non-empty segment of `*rest` (so "//" collapses). Returns false at the end.
bool NextSegment(std::string_view* rest, std::string_view* seg) {
  size_t i = 0;
  while (i < rest->size() && (*rest)[i] == '/') ++i;
  if (i == rest->size()) return false;
  size_t j = i;
  while (j < rest->size() && (*rest)[j] != '/') ++j;
  *seg = rest->substr(i, j - i);
  rest->remove_prefix(j);
  return true;
}

bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (!IsDigit(c)) return false;
  }
  return !s.empty();
}

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < 36; ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !IsHex(s[i])) return false;
  }
  return true;
}

// >= 16 hex digits, or >= 8 with both a digit and a letter (so "deadbeef" or "cafe" stay).
bool IsHexId(std::string_view s) {
  if (s.size() < 8) return false;
  bool digit = false, letter = false;
  for (char c : s) {
    if (!IsHex(c)) return false;
    digit |= IsDigit(c);
    letter |= !IsDigit(c);
  }
  return s.size() >= 16 || (digit && letter);
}

bool IsIpv4(std::string_view s) {
  int parts = 0;
  while (true) {
    size_t n = 0;
    int v = 0;
    while (n < s.size() && n < 4 && IsDigit(s[n])) v = v * 10 + (s[n++] - '0');
    if (n == 0 || n > 3 || v > 255) return false;
    ++parts;
    s.remove_prefix(n);
    if (s.empty()) return parts == 4;
    if (s[0] != '.' || parts == 4) return false;
    s.remove_prefix(1);
  }
}

bool IsIpv6(std::string_view s) {
  int colons = 0;
  bool hex = false;
  for (char c : s) {
    if (c == ':')
      ++colons;
    else if (IsHex(c))
      hex = true;
    else if (c != '.')
      return false;
  }
  return colons >= 2 && (hex || s == "::");
}

// Random tokens (API keys, base64url ids): >= 20 bytes of [A-Za-z0-9_=+-] with a letter, a
// digit and at most two '-'/'_' (a longer run of separators is a readable slug).
bool IsToken(std::string_view s) {
  if (s.size() < 20) return false;
  bool digit = false, letter = false;
  int separators = 0;
  for (char c : s) {
    if (IsDigit(c))
      digit = true;
    else if (IsLetter(c))
      letter = true;
    else if (c == '-' || c == '_')
      ++separators;
    else if (c != '=' && c != '+')
      return false;
  }
  return digit && letter && separators <= 2;
}

bool IsIdSegment(std::string_view s) {
  return AllDigits(s) || IsUuid(s) || IsHexId(s) || IsIpv4(s) || IsIpv6(s) || IsToken(s);
}

// Appends with control bytes replaced, so names never hold the \x1f separator.
void AppendClean(std::string_view s, std::string* out) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    out->push_back(u < 0x20 || u == 0x7f ? '?' : c);
  }
}

std::string_view StripQuery(std::string_view path) {
  const size_t q = path.find_first_of("?#");
  return q == std::string_view::npos ? path : path.substr(0, q);
}

// Appends "/seg" for each segment within the bounds, then "/…" if anything was left out.
void AppendBoundedPath(std::string_view path, bool builtin_ids, std::string* out) {
  std::string_view rest = path, seg;
  size_t count = 0;
  const size_t start = out->size();
  while (NextSegment(&rest, &seg)) {
    const std::string_view shown = builtin_ids && IsIdSegment(seg) ? kId : seg;
    // Leave room for the marker unless this is the last segment.
    std::string_view peek = rest, next;
    const size_t reserve = NextSegment(&peek, &next) ? kTruncated.size() : 0;
    const bool fits = out->size() + 1 + shown.size() + reserve <= kMaxEndpointBytes;
    if (++count > kMaxEndpointSegments || !fits) {
      out->append(kTruncated);
      return;
    }
    out->push_back('/');
    AppendClean(shown, out);
  }
  if (out->size() == start) {
    out->push_back('/');
  } else if (!path.empty() && path.back() == '/' && out->size() < kMaxEndpointBytes) {
    out->push_back('/');  // "/users/" and "/users" can be different routes
  }
}

Result<std::vector<std::string>> SplitTemplate(const std::string& t, size_t index) {
  const std::string where = "route " + std::to_string(index + 1) + " template '" + t + "'";
  if (t.empty() || t[0] != '/') return Status::InvalidArgument(where + " must start with '/'");
  std::vector<std::string> parts;
  std::string_view rest = t, seg;
  while (NextSegment(&rest, &seg)) parts.emplace_back(seg);
  return parts;
}

}  // namespace

Result<EndpointNormalizer> EndpointNormalizer::Create(const std::vector<RouteSpec>& routes) {
  EndpointNormalizer n;
  for (size_t i = 0; i < routes.size(); ++i) {
    const RouteSpec& spec = routes[i];
    const std::string where = "route " + std::to_string(i + 1);
    Route r;
    if (spec.template_path.empty() == spec.match.empty()) {
      return Status::InvalidArgument(where + " needs exactly one of template or match");
    }
    if (!spec.template_path.empty()) {
      APIMETER_ASSIGN_OR_RETURN(auto parts, SplitTemplate(spec.template_path, i));
      for (const std::string& p : parts) {
        Segment s;
        s.param = p.size() >= 2 && p.front() == '{' && p.back() == '}';
        s.text = s.param ? p.substr(1, p.size() - 2) : p;
        if (s.text.empty() || s.text.find_first_of("{}") != std::string::npos) {
          return Status::InvalidArgument(where + " template '" + spec.template_path +
                                         "' has a bad segment '" + p + "'; use /a/{name}/b");
        }
        r.output += s.param ? "/:" + s.text : "/" + s.text;
        r.segments.push_back(std::move(s));
      }
      if (r.output.empty()) r.output = "/";
    } else {
      if (spec.name.empty()) {
        return Status::InvalidArgument(where + " with match '" + spec.match + "' needs a name");
      }
      RE2::Options opts;
      opts.set_log_errors(false);
      auto re = std::make_shared<RE2>(spec.match, opts);
      if (!re->ok()) {
        return Status::InvalidArgument(where + " match regex '" + spec.match +
                                       "' does not compile: " + re->error());
      }
      r.regex = std::move(re);
      r.output = spec.name;
    }
    n.routes_.push_back(std::move(r));
  }
  return n;
}

bool EndpointNormalizer::MatchRoute(const Route& route, std::string_view path) const {
  if (route.regex) return RE2::FullMatch(re2::StringPiece(path.data(), path.size()), *route.regex);
  std::string_view rest = path, seg;
  for (const Segment& s : route.segments) {
    if (!NextSegment(&rest, &seg)) return false;
    if (!s.param && seg != s.text) return false;
  }
  return !NextSegment(&rest, &seg);
}

void EndpointNormalizer::Normalize(std::string_view method, std::string_view path,
                                   std::string* out) const {
  out->clear();
  out->append(CanonicalMethod(method));
  out->push_back(' ');
  path = StripQuery(path);
  for (const Route& r : routes_) {
    if (MatchRoute(r, path)) {
      const size_t room = kMaxEndpointBytes - out->size();
      if (r.output.size() <= room) {
        AppendClean(r.output, out);
      } else {
        AppendBoundedPath(r.output, /*builtin_ids=*/false, out);
      }
      return;
    }
  }
  AppendBoundedPath(path, /*builtin_ids=*/true, out);
}

}  // namespace apimeter
