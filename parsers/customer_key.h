// CustomerKeyExtractor: the customer key taken from part of the customer variable's value
// (a source's `customer_match` and `customer_jwt_claim`, docs/log-formats.md).
//
// Promise: compiled once from a CustomerKeySpec (Compile refuses a regex that does not
// compile or does not have exactly one capture group). Extract is a pure function of the
// value: no I/O, no globals, never throws; it allocates only when the caller's scratch string
// has to grow to hold a decoded JWT payload (reuse one scratch per thread and that stops
// after the first few tokens). The JWT is decoded WITHOUT verifying its signature: the claim
// is used for attribution only. Nothing here logs, stores or returns the raw value; the key
// goes on to CustomerResolver like any API key. A value the extractor cannot use is a
// CustomerKeyError, never a failure of the line: the request counts as anonymous.
// Thread-safety: immutable after Compile; Extract may run concurrently when each thread
// passes its own scratch. Copies share the compiled regex.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace re2 {
class RE2;
}

namespace apimeter {

struct CustomerKeySpec {
  std::string match;      // RE2 regex with exactly one capture group; "" = the whole value
  std::string jwt_claim;  // claim of the JWT payload to use as the key; "" = no JWT decoding
};

enum class CustomerKeyError : uint8_t {
  kMatchFailed,   // customer_match did not match the value (or captured nothing)
  kJwtMalformed,  // not header.payload.signature, bad base64url, payload not a JSON object
  kJwtNoClaim,    // the payload has no such claim, or it is not a non-empty string or number
};
inline constexpr int kCustomerKeyErrorCount = 3;

// "match_failed", "jwt_malformed", "jwt_no_claim". Stable: used as metric labels.
std::string_view CustomerKeyErrorName(CustomerKeyError error);

class CustomerKeyExtractor {
 public:
  // Errors say what is wrong with the regex, e.g. "customer_match '...' has 2 capture groups;
  // it needs exactly one, around the key".
  static Result<CustomerKeyExtractor> Compile(const CustomerKeySpec& spec);

  // The identity: every value is its own key.
  CustomerKeyExtractor() = default;

  // True when the value is transformed (a regex or a JWT claim is configured).
  bool active() const { return match_ != nullptr || !claim_.empty(); }

  // `value` is the customer variable's value as logged, never empty or "-" (those are
  // anonymous before this is asked). On success sets *key (a view into `value` or into
  // *scratch, valid until scratch changes) and returns true. Otherwise returns false with
  // *error set: the request counts as anonymous.
  bool Extract(std::string_view value, std::string* scratch, std::string_view* key,
               CustomerKeyError* error) const;

 private:
  std::shared_ptr<const re2::RE2> match_;
  std::string claim_;
};

// The JWT part on its own (tests and benchmarks): `token` is "header.payload.signature",
// optionally after a "Bearer " prefix (any case). Decodes the base64url payload into *scratch
// and sets *value to the top-level `claim` (a string, unescaped, or a number as written).
bool JwtClaim(std::string_view token, std::string_view claim, std::string* scratch,
              std::string_view* value, CustomerKeyError* error);

}  // namespace apimeter
