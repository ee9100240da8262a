// HttpPost: one HTTP(S) POST of a JSON body with an overall deadline, for
// webhooks (Boost.Beast client).
//
// Promise: returns within about timeout_ms whatever the peer does (resolve,
// connect, TLS handshake, write and read all count against one deadline);
// never throws. HTTPS verifies the peer certificate and host name against
// the system's CA store. The result's error text never contains the URL's
// path or query (webhook URLs carry secrets). Thread-safety: reentrant.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace apimeter {

struct HttpPostResult {
  int status = 0;     // HTTP status, 0 when no response was read
  std::string error;  // "" when a response was read
  bool ok() const { return error.empty() && status >= 200 && status < 300; }
  std::string Describe() const { return error.empty() ? "HTTP " + std::to_string(status) : error; }
};

// Extra request headers (e.g. Idempotency-Key); names and values must not
// contain CR or LF.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

HttpPostResult HttpPostJson(const std::string& url, const std::string& body,
                            const HttpHeaders& headers, int64_t timeout_ms);

}  // namespace apimeter
