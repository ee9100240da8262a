// ClientReducer: the client dimension (issue 18 part 2) — a User-Agent
// header reduced to "product/major.minor" ("acme-python/2.3",
// "okhttp/4.12"), "curl/8" for products whose rule keeps only the major
// version, and "Mozilla" for browsers.
//
// The rules are ONE table (kBuiltinClientRules below), keyed by the product
// token (the bytes before the first '/', compared without case); the config
// (`clients.rules`, docs/config.md) adds rules or overrides built-in ones. A
// product with no rule keeps major.minor.
//
// Promise: pure; Reduce never throws and returns a bounded, printable name:
// at most kMaxClientNameBytes bytes of [A-Za-z0-9._+-] and one '/', so a name
// is safe in Redis, JSON, tables and HTML. The user agent is untrusted: only
// its first kMaxUserAgentScanBytes bytes are looked at; "" or "-" (not sent)
// is "none"; a first token that is empty, over kMaxProductBytes, or holds any
// other byte (control characters included) is "other". The aggregator then
// caps the distinct names per day like endpoints (overflow "other").
// Thread-safety: const methods, safe from many threads.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"

namespace apimeter {

enum class ClientVersion : uint8_t { kNone, kMajor, kMajorMinor };

struct ClientRule {
  std::string product;  // the token before '/', e.g. "curl"; matched without case
  ClientVersion version = ClientVersion::kMajorMinor;
  std::string name;     // shown instead of the product; "" = the product as sent
};

inline constexpr size_t kMaxUserAgentScanBytes = 256;
inline constexpr size_t kMaxProductBytes = 48;
inline constexpr size_t kMaxClientNameBytes = kMaxProductBytes + 1 + 13;  // name/9999999.99999
inline constexpr std::string_view kNoClient = "none";        // user agent "" or "-"
inline constexpr std::string_view kUnreadableClient = "other";  // not a product token

// The built-in table (parsers/client_agent.cpp): browsers, curl, wget.
std::span<const ClientRule> BuiltinClientRules();

// "major.minor", "major" or "none"; InvalidArgument naming the choices.
Result<ClientVersion> ParseClientVersion(std::string_view text);
// Checks a rule from the config: product and name are [A-Za-z0-9._+-],
// 1..kMaxProductBytes bytes (name may be empty). The message says how to fix it.
Status CheckClientRule(const ClientRule& rule);

class ClientReducer {
 public:
  // The built-in table, then `extra` (a later rule for the same product wins).
  explicit ClientReducer(const std::vector<ClientRule>& extra = {});

  std::string Reduce(std::string_view user_agent) const;

 private:
  std::unordered_map<std::string, ClientRule> rules_;  // by lower-case product
};

}  // namespace apimeter
