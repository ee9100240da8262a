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

bool TokenMatches(std::string_view token, const AuthConfig& auth) {
  if (token.empty()) return false;
  const std::string presented = HashToken(token);
  bool match = false;
  for (const std::string& h : auth.token_hashes) match |= ConstantTimeEquals(presented, h);
  return match;
}

Result<std::string> MakeSessionValue(const AuthConfig& auth, int64_t now_s) {
  if (auth.session_key.empty()) return Status::Internal("no session key; cannot create a session");
  unsigned char nonce[kNonceBytes];
  if (RAND_bytes(nonce, sizeof nonce) != 1) {
    return Status::Internal("the system random source failed; cannot create a session");
  }
  const std::string payload = std::to_string(now_s) + "." +
                              std::to_string(now_s + auth.session_ttl_s) + "." +
                              Hex(nonce, sizeof nonce);
  return payload + "." + HmacHex(auth.session_key, payload);
}

bool SessionValid(std::string_view value, const AuthConfig& auth, int64_t now_s) {
  if (value.size() > 256 || auth.session_key.empty()) return false;
  const size_t last_dot = value.rfind('.');
  if (last_dot == std::string_view::npos) return false;
  const std::string_view payload = value.substr(0, last_dot);
  if (!ConstantTimeEquals(HmacHex(auth.session_key, payload), value.substr(last_dot + 1))) {
    return false;
  }
  // payload = "<issued>.<expiry>.<nonce>"
  const size_t dot1 = payload.find('.');
  if (dot1 == std::string_view::npos) return false;
  const size_t dot2 = payload.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) return false;
  const std::optional<int64_t> issued = DecimalSeconds(payload.substr(0, dot1));
  const std::optional<int64_t> expiry = DecimalSeconds(payload.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!issued || !expiry) return false;
  return *issued <= now_s + kSessionClockSkewSeconds && now_s < *expiry && *issued < *expiry &&
         *expiry - *issued <= auth.session_ttl_s;
}

}  // namespace apimeter
