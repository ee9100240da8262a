// The request and response values the pure HTTP handlers work on; the socket
// side (server/http_server.h) converts to and from Beast's types.
#pragma once

#include <map>
#include <string>

namespace apimeter {

struct HttpRequest {
  std::string method;                          // "GET", "POST", ...
  std::string target;                          // path and query, e.g. "/api/v1/overview?from=1h"
  std::map<std::string, std::string> headers;  // names lower-case
  std::string body;
  // The TCP peer's address (server/client_address.h, CanonicalAddress): what
  // the trusted header's proxies are checked against; "" when unknown.
  std::string peer{};  // a default, so 4-field aggregate inits stay warning-free
};

struct HttpResponse {
  int status = 200;
  std::map<std::string, std::string> headers;  // names as sent
  std::string body;
};

}  // namespace apimeter
