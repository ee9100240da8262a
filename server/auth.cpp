#include "server/auth.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <charconv>

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

std::string DeriveSessionKey(std::string_view secret, const std::vector<std::string>& hashes) {
  if (!secret.empty()) return std::string(secret);
  std::string material = "apimeter-session-v1";
  for (const std::string& h : hashes) material += "\n" + h;
  return Sha256Hex(material);
}

bool TokenMatches(std::string_view token, const AuthConfig& auth) {
  if (token.empty()) return false;
  const std::string presented = HashToken(token);
  bool match = false;
  for (const std::string& h : auth.token_hashes) match |= ConstantTimeEquals(presented, h);
  return match;
}

Result<std::string> MakeSessionValue(const AuthConfig& auth, int64_t now_s) {
  unsigned char nonce[kNonceBytes];
  if (RAND_bytes(nonce, sizeof nonce) != 1) {
    return Status::Internal("the system random source failed; cannot create a session");
  }
  const std::string payload =
      std::to_string(now_s + auth.session_ttl_s) + "." + Hex(nonce, sizeof nonce);
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
  int64_t expiry = 0;
  const size_t dot = payload.find('.');
  const std::string_view expiry_text = payload.substr(0, dot);
  auto [ptr, ec] =
      std::from_chars(expiry_text.data(), expiry_text.data() + expiry_text.size(), expiry);
  if (ec != std::errc() || ptr != expiry_text.data() + expiry_text.size()) return false;
  return now_s < expiry;
}

}  // namespace apimeter
