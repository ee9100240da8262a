// Redaction: showing log lines to people without showing API keys.
//
// Promise: API keys and other credentials in a log line are never shown raw
// unless the caller asks for it (`--show-raw-lines`). LineParser::SecretSpans
// says where a line may hold one: the customer variable and variables named
// like credentials wherever the format tells their position (an accepted
// line, a line that matched but failed a later check, the part of a line
// matched before it departed from the format), plus, wherever the line did
// not match, GuessSecretSpans: every quoted field (but a request line's
// method, path and protocol) and every long token-like run. RedactLine then
// replaces each span by a marker. Used only to show lines (rejected-line
// samples, test-format), never on the hot path: these functions allocate.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace apimeter {

// A byte range [begin, end) of a line that may hold a secret.
struct SecretSpan {
  enum class Kind { kCustomer, kCredential, kGuessed };
  size_t begin = 0;
  size_t end = 0;
  Kind kind = Kind::kGuessed;
  bool operator==(const SecretSpan&) const = default;
};

// How a customer key is shown instead of the key, e.g. "<customer k_1a2b3c4d5e6f>".
using CustomerMask = std::function<std::string(std::string_view raw_key)>;

struct RedactOptions {
  bool show_raw = false;       // show every byte as logged (the operator asked, with a warning)
  CustomerMask customer_mask;  // empty: customer keys are shown as kMaskedText too
};

inline constexpr std::string_view kMaskedText = "<masked>";

// Token-like runs ([A-Za-z0-9_+-], then any '=' padding) at least this long are treated as keys.
inline constexpr size_t kKeyLikeRunBytes = 16;

// True for variable names (without '$') that usually carry credentials:
// those containing authorization, auth, cookie, token, key, secret, passw,
// session or jwt (case-insensitive), e.g. http_x_api_key, cookie_sid.
bool IsCredentialVariable(std::string_view name);

// Where a line that did not match its format may hold a key: the contents of
// every quoted field except JSON object keys ("name":), "" and "-"; in a
// quoted field shaped like a request line ("GET /p?q HTTP/1.1") only the
// query string; and every token-like run of kKeyLikeRunBytes or more.
// Sorted and non-overlapping.
std::vector<SecretSpan> GuessSecretSpans(std::string_view line);

// Sorted, non-overlapping spans from any set: where spans overlap, a customer
// span wins over a credential span, which wins over a guessed one.
std::vector<SecretSpan> MergeSecretSpans(std::vector<SecretSpan> spans, size_t line_size);

// The marker shown for a span: options.customer_mask(value) for a customer
// span when set, else kMaskedText.
std::string SecretMarker(const SecretSpan& span, std::string_view line,
                         const RedactOptions& options);

// `line` with each span (sorted, non-overlapping) replaced by its marker;
// the line as is with options.show_raw.
std::string RedactLine(std::string_view line, const std::vector<SecretSpan>& spans,
                       const RedactOptions& options);

}  // namespace apimeter
