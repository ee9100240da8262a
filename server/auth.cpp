#include "server/auth.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <charconv>
#include <optional>

namespace apimeter {
namespace {

constexpr std::string_view kHashPrefix = "sha256:";
constexpr size_t kNonceBytes = 32;  // 256 bits

std::string Hex(const unsigned char* bytes, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

std::string HmacHex(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return Hex(mac, len);
}

// Non-negative decimal seconds with at most 12 digits (no sign, no overflow).
std::optional<int64_t> DecimalSeconds(std::string_view text) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v < 0) return std::nullopt;
  return v;
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return Hex(digest, sizeof digest);
}

std::string HashToken(std::string_view token) {
  return std::string(kHashPrefix) + Sha256Hex(token);
}

bool IsTokenHash(std::string_view text) {
  if (text.size() != kHashPrefix.size() + 64 || text.substr(0, kHashPrefix.size()) != kHashPrefix) {
    return false;
  }
  for (char c : text.substr(kHashPrefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::optional<Access> MatchToken(std::string_view token, const AuthConfig& auth) {
  if (token.empty()) return std::nullopt;
  const std::string presented = HashToken(token);
  bool admin = false;
  const TokenGrant* granted = nullptr;
  for (const std::string& h : auth.token_hashes) admin |= ConstantTimeEquals(presented, h);
  for (const TokenGrant& g : auth.grants) {
    const bool match = ConstantTimeEquals(presented, g.hash);
    if (match) granted = &g;  // a branch on the result only; every hash is still compared
  }
  if (granted != nullptr) return granted->access;
  if (admin) return Access{};
  return std::nullopt;
}

bool TokenMatches(std::string_view token, const AuthConfig& auth) {
  return MatchToken(token, auth).has_value();
}

namespace {

std::string HexOf(std::string_view s) {
  return Hex(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

std::optional<std::string> Unhex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int v = 0;
    for (char c : hex.substr(i, 2)) {
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0) return std::nullopt;
      v = v * 16 + d;
    }
    out += static_cast<char>(v);
  }
  return out;
}

// Splits on '.' into exactly n fields.
bool SplitFields(std::string_view s, size_t n, std::vector<std::string_view>* out) {
  out->clear();
  size_t start = 0;
  while (out->size() + 1 < n) {
    const size_t dot = s.find('.', start);
    if (dot == std::string_view::npos) return false;
    out->push_back(s.substr(start, dot - start));
    start = dot + 1;
  }
  const std::string_view last = s.substr(start);
  if (last.find('.') != std::string_view::npos) return false;
  out->push_back(last);
  return true;
}

constexpr size_t kMaxSessionValueBytes = 1024;
constexpr size_t kMaxTrustedUserBytes = 256;

}  // namespace

Result<std::string> MakeSessionValue(const AuthConfig& auth, int64_t now_s, const Access& access) {
  if (auth.session_key.empty()) return Status::Internal("no session key; cannot create a session");
  unsigned char nonce[kNonceBytes];
  if (RAND_bytes(nonce, sizeof nonce) != 1) {
    return Status::Internal("the system random source failed; cannot create a session");
  }
  const std::string payload = std::to_string(now_s) + "." +
                              std::to_string(now_s + auth.session_ttl_s) + "." +
                              Hex(nonce, sizeof nonce) + "." + std::string(RoleName(access.role)) +
                              "." + HexOf(access.customer) + "." + HexOf(access.customer_id);
  return payload + "." + HmacHex(auth.session_key, payload);
}

std::optional<Access> SessionAccess(std::string_view value, const AuthConfig& auth,
                                    int64_t now_s) {
  if (value.size() > kMaxSessionValueBytes || auth.session_key.empty()) return std::nullopt;
  const size_t last_dot = value.rfind('.');
  if (last_dot == std::string_view::npos) return std::nullopt;
  const std::string_view payload = value.substr(0, last_dot);
  if (!ConstantTimeEquals(HmacHex(auth.session_key, payload), value.substr(last_dot + 1))) {
    return std::nullopt;
  }
  // payload = "<issued>.<expiry>.<nonce>.<role>.<customer hex>.<customer id hex>"
  std::vector<std::string_view> f;
  if (!SplitFields(payload, 6, &f)) return std::nullopt;
  const std::optional<int64_t> issued = DecimalSeconds(f[0]);
  const std::optional<int64_t> expiry = DecimalSeconds(f[1]);
  if (!issued || !expiry) return std::nullopt;
  if (!(*issued <= now_s + kSessionClockSkewSeconds && now_s < *expiry && *issued < *expiry &&
        *expiry - *issued <= auth.session_ttl_s)) {
    return std::nullopt;
  }
  Access a;
  if (f[3] == "admin") {
    a.role = Role::kAdmin;
  } else if (f[3] == "viewer") {
    a.role = Role::kViewer;
  } else {
    return std::nullopt;
  }
  std::optional<std::string> customer = Unhex(f[4]), id = Unhex(f[5]);
  if (!customer || !id || (customer->empty() && !id->empty())) return std::nullopt;
  a.customer = std::move(*customer);
  a.customer_id = std::move(*id);
  if (a.scoped() && a.role == Role::kAdmin) return std::nullopt;  // never issued
  return a;
}

bool SessionValid(std::string_view value, const AuthConfig& auth, int64_t now_s) {
  return SessionAccess(value, auth, now_s).has_value();
}

TrustedHeaderResult ReadTrustedHeader(const HttpRequest& req, const AuthConfig& auth) {
  TrustedHeaderResult out;
  const TrustedHeaderAuth& th = auth.trusted_header;
  if (!th.enabled()) return out;
  auto it = req.headers.find(th.header);
  if (it == req.headers.end() || it->second.empty()) return out;
  bool from_proxy = false;
  for (const std::string& p : th.proxies) from_proxy |= !req.peer.empty() && req.peer == p;
  if (!from_proxy) {
    out.kind = TrustedHeaderResult::kIgnored;
    return out;
  }
  out.user = it->second.substr(0, kMaxTrustedUserBytes);
  auto user = th.users.find(out.user);
  if (user != th.users.end()) {
    out.kind = TrustedHeaderResult::kAccepted;
    out.access = user->second;
  } else if (th.unlisted) {
    out.kind = TrustedHeaderResult::kAccepted;
    out.access = *th.unlisted;
  } else {
    out.kind = TrustedHeaderResult::kRefused;
    return out;
  }
  out.access.user = out.user;
  return out;
}

}  // namespace apimeter
