// For the auth tests: HMAC-SHA256 in hex, computed with OpenSSL here, apart
// from server/auth.cpp, so a test can sign a cookie the way an attacker would.
#pragma once

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>
#include <string>

namespace apimeter::testing {

inline std::string HmacSha256Hex(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  std::string out;
  char hex[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(hex, sizeof hex, "%02x", mac[i]);
    out += hex;
  }
  return out;
}

}  // namespace apimeter::testing
