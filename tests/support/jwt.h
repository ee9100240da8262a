// Unsigned test JWTs: base64url (no padding) of a header and a payload, and a dummy
// signature. apimeter never verifies signatures (customer_jwt_claim is attribution only).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace apimeter::testing {

inline std::string Base64Url(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = acc << 8 | c;
    for (bits += 8; bits >= 6; bits -= 6) out += kAlphabet[(acc >> (bits - 6)) & 63];
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

// header.payload.signature with the given payload JSON.
inline std::string Jwt(std::string_view payload_json) {
  return Base64Url(R"({"alg":"RS256","typ":"JWT","kid":"k1"})") + "." + Base64Url(payload_json) +
         ".c2lnbmF0dXJlLW5vdC1jaGVja2Vk";
}

}  // namespace apimeter::testing
