// Auth: token hashing and signed session cookies for `apimeter serve`.
//
// Promise: raw tokens are never stored — only "sha256:<64 hex>" strings, and
// a presented token is hashed and compared against every configured hash in
// constant time (time does not depend on where the bytes differ). Session
// cookies are "<issued>.<expiry>.<nonce>.<mac>": issue and expiry times in
// epoch seconds, a 256-bit random nonce and an HMAC-SHA256 over the rest
// keyed by the session key, so any serve instance with the same key accepts
// them and nothing is kept in memory. The key is a secret that nothing public
// derives (server/session_key.h); the issue time is signed, and a cookie is
// valid only while issued <= now + kSessionClockSkewSeconds, now < expiry and
// expiry - issued <= session_ttl (a signed far-future expiry, or a cookie
// made under a longer ttl, is refused). Times come from the injected clock.
// Nothing here logs.
// Thread-safety: stateless functions; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace apimeter {

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);
// "sha256:<hex>" of a token (what `apimeter hash-token` prints).
std::string HashToken(std::string_view token);
// True when `text` is "sha256:" followed by 64 lower-case hex digits.
bool IsTokenHash(std::string_view text);
// Equality whose time depends only on the lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

struct AuthConfig {
  std::vector<std::string> token_hashes;  // "sha256:<hex>"
  std::string session_key;  // HMAC key for session cookies (secret; server/session_key.h)
  int64_t session_ttl_s = 12 * 3600;
};

// How far ahead of this instance's clock another instance's may be.
inline constexpr int64_t kSessionClockSkewSeconds = 60;

// True when `token` hashes to one of the configured hashes. Every hash is
// compared (no early exit), so timing does not reveal which one matched.
bool TokenMatches(std::string_view token, const AuthConfig& auth);

// A new signed session value issued at now_s, expiring at now_s + ttl;
// Internal when the system random source fails or there is no key.
Result<std::string> MakeSessionValue(const AuthConfig& auth, int64_t now_s);
// True when `value` carries a valid MAC and its times hold (see above).
bool SessionValid(std::string_view value, const AuthConfig& auth, int64_t now_s);

}  // namespace apimeter
