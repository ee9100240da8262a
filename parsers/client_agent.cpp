#include "parsers/client_agent.h"

#include <algorithm>
#include <array>

namespace apimeter {
namespace {

// The one table. Browsers all start "Mozilla/5.0 (...)": the version says
// nothing, so they are one client. curl and wget change minor versions
// often and matter by major.
const std::array<ClientRule, 3> kBuiltinClientRules = {{
    {"Mozilla", ClientVersion::kNone, "Mozilla"},
    {"curl", ClientVersion::kMajor, "curl"},
    {"Wget", ClientVersion::kMajor, "Wget"},
}};

bool ProductByte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '+' || c == '-';
}

bool Digit(char c) { return c >= '0' && c <= '9'; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Leading digits of s (at most `max`), advancing s past all of them.
std::string_view Digits(std::string_view& s, size_t max) {
  size_t n = 0;
  while (n < s.size() && Digit(s[n])) ++n;
  std::string_view d = s.substr(0, std::min(n, max));
  s.remove_prefix(n);
  return d;
}

}  // namespace

std::span<const ClientRule> BuiltinClientRules() { return kBuiltinClientRules; }

Result<ClientVersion> ParseClientVersion(std::string_view text) {
  if (text == "major.minor") return ClientVersion::kMajorMinor;
  if (text == "major") return ClientVersion::kMajor;
  if (text == "none") return ClientVersion::kNone;
  return Status::InvalidArgument("version must be major.minor, major or none (got '" +
                                 std::string(text.substr(0, 40)) + "')");
}

Status CheckClientRule(const ClientRule& rule) {
  auto bad = [](std::string_view s) {
    return s.size() > kMaxProductBytes || !std::all_of(s.begin(), s.end(), ProductByte);
  };
  if (rule.product.empty() || bad(rule.product)) {
    return Status::InvalidArgument(
        "product must be the user agent's first token before '/', 1.." +
        std::to_string(kMaxProductBytes) + " bytes of letters, digits and ._+- (e.g. product: " +
        "acme-python for 'acme-python/2.3.1 (Linux)')");
  }
  if (bad(rule.name)) {
    return Status::InvalidArgument("name must be at most " + std::to_string(kMaxProductBytes) +
                                   " bytes of letters, digits and ._+- (e.g. name: acme-sdk)");
  }
  return Status::Ok();
}

ClientReducer::ClientReducer(const std::vector<ClientRule>& extra) {
  for (const ClientRule& r : BuiltinClientRules()) rules_[Lower(r.product)] = r;
  for (const ClientRule& r : extra) rules_[Lower(r.product)] = r;
}

std::string ClientReducer::Reduce(std::string_view ua) const {
  ua = ua.substr(0, kMaxUserAgentScanBytes);
  while (!ua.empty() && ua.front() == ' ') ua.remove_prefix(1);
  if (ua.empty() || ua == "-") return std::string(kNoClient);
  size_t n = 0;
  while (n < ua.size() && ProductByte(ua[n])) ++n;
  const std::string_view product = ua.substr(0, n);
  std::string_view rest = ua.substr(n);
  // The token must end at '/', a space, '(' or the end: anything else (a
  // control byte, a quote, UTF-8) makes it unreadable.
  if (product.empty() || product.size() > kMaxProductBytes ||
      !(rest.empty() || rest.front() == '/' || rest.front() == ' ' || rest.front() == '(')) {
    return std::string(kUnreadableClient);
  }
  ClientVersion precision = ClientVersion::kMajorMinor;
  std::string name(product);
  if (auto it = rules_.find(Lower(product)); it != rules_.end()) {
    precision = it->second.version;
    if (!it->second.name.empty()) name = it->second.name;
  }
  if (precision == ClientVersion::kNone || rest.empty() || rest.front() != '/') return name;
  rest.remove_prefix(1);
  const std::string_view major = Digits(rest, 7);
  if (major.empty()) return name;
  name += '/';
  name += major;
  if (precision == ClientVersion::kMajorMinor && rest.size() > 1 && rest.front() == '.' &&
      Digit(rest[1])) {
    rest.remove_prefix(1);
    name += '.';
    name += Digits(rest, 5);
  }
  return name;
}

}  // namespace apimeter
