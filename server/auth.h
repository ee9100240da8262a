// Auth: token hashing, signed session cookies and trusted-header sign-in
// for `apimeter serve`; each says who the caller is as an Access
// (server/access.h: a role and an optional customer scope).
//
// Promise: raw tokens are never stored — only "sha256:<64 hex>" strings, and
// a presented token is hashed and compared against every configured hash in
// constant time (time does not depend on where the bytes differ, nor on
// which token matched). Session cookies are
// "<issued>.<expiry>.<nonce>.<role>.<customer hex>.<customer id>.<mac>":
// issue and expiry times in epoch seconds, a 256-bit random nonce, the role
// and customer scope of the token that signed in (the customer's stored name
// hex-encoded and its k_ id, both "" for every customer) and an HMAC-SHA256
// over all the rest keyed by the session key, so the scope cannot be changed
// without the key, any serve instance with the same key accepts them and
// nothing is kept in memory. The key is a secret that nothing public derives
// (server/session_key.h); the issue time is signed, and a cookie is valid
// only while issued <= now + kSessionClockSkewSeconds, now < expiry and
// expiry - issued <= session_ttl (a signed far-future expiry, or a cookie
// made under a longer ttl, is refused). Cookies of the older four-field form
// carry no scope and are refused. The trusted header (when configured) is
// believed only from a peer address listed in its proxies; its user is
// mapped to an Access by the configured users (or `unlisted`). Times come
// from the injected clock. Nothing here logs.
// Thread-safety: stateless functions; safe from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "server/access.h"
#include "server/http_types.h"

namespace apimeter {

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);
// "sha256:<hex>" of a token (what `apimeter hash-token` prints).
std::string HashToken(std::string_view token);
// True when `text` is "sha256:" followed by 64 lower-case hex digits.
bool IsTokenHash(std::string_view text);
// Equality whose time depends only on the lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// A token with a role or a customer scope (server.tokens entries written as
// mappings).
struct TokenGrant {
  std::string hash;  // "sha256:<hex>"
  Access access;
};

// Sign-in by a header that a proxy in front sets (oauth2-proxy, nginx
// auth_request). Off while `header` is "".
struct TrustedHeaderAuth {
  std::string header;                   // lower-case name, e.g. "x-forwarded-user"
  std::vector<std::string> proxies;     // peer addresses believed (CanonicalAddress text)
  std::map<std::string, Access> users;  // user → access
  std::optional<Access> unlisted;       // for users not in `users`; nullopt = refused (403)
  bool enabled() const { return !header.empty(); }
};

struct AuthConfig {
  std::vector<std::string> token_hashes;  // "sha256:<hex>": admin tokens for every customer
  std::vector<TokenGrant> grants;         // tokens with a role or a customer scope
  std::string session_key;  // HMAC key for session cookies (secret; server/session_key.h)
  int64_t session_ttl_s = 12 * 3600;
  TrustedHeaderAuth trusted_header;
};

// How far ahead of this instance's clock another instance's may be.
inline constexpr int64_t kSessionClockSkewSeconds = 60;

// The access of the configured token `token` hashes to, or nullopt. Every
// hash is compared (no early exit), so timing does not reveal which one matched.
std::optional<Access> MatchToken(std::string_view token, const AuthConfig& auth);
// True when `token` is any configured token.
bool TokenMatches(std::string_view token, const AuthConfig& auth);

// A new signed session value for `access`, issued at now_s, expiring at now_s
// + ttl; Internal when the system random source fails or there is no key.
Result<std::string> MakeSessionValue(const AuthConfig& auth, int64_t now_s,
                                     const Access& access = {});
// The access a session value carries when its MAC is right and its times
// hold (see above); nullopt otherwise.
std::optional<Access> SessionAccess(std::string_view value, const AuthConfig& auth, int64_t now_s);
bool SessionValid(std::string_view value, const AuthConfig& auth, int64_t now_s);

// What the trusted header says about a request.
struct TrustedHeaderResult {
  enum Kind {
    kAbsent,    // off, or the request has no (or an empty) such header
    kIgnored,   // present, but the peer is not a configured proxy: not believed
    kAccepted,  // believed; `access` is the user's
    kRefused,   // believed, but the user has no access (not listed, unlisted unset)
  } kind = kAbsent;
  Access access;
  std::string user;  // the header's value when believed (at most 256 bytes used)
};
TrustedHeaderResult ReadTrustedHeader(const HttpRequest& req, const AuthConfig& auth);

}  // namespace apimeter
