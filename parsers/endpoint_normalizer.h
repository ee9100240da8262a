// EndpointNormalizer: maps (method, path) to a bounded endpoint name such as
// "GET /v1/orders/:id", so that ids in URLs do not explode cardinality.
//
// Promise: Normalize never fails and never allocates when *out already has
// capacity (257 bytes suffice). Its output is at most kMaxEndpointBytes bytes,
// holds no control characters (they become '?'), has at most
// kMaxEndpointSegments path segments (the rest become the marker "/…"), and
// its method is one of GET POST PUT PATCH DELETE HEAD OPTIONS CONNECT TRACE or
// OTHER. Configured routes are tried in order before the built-in rules; the
// built-in rules are listed in docs/log-formats.md.
//
// Thread-safety: immutable after Create; Normalize may be called concurrently.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace re2 {
class RE2;
}

namespace apimeter {

inline constexpr size_t kMaxEndpointBytes = 256;
inline constexpr size_t kMaxEndpointSegments = 16;

// Either template_path ("/v1/orders/{id}/items": a {name} segment matches exactly one
// non-empty segment and is written as ":name"), or match (an RE2 regex that must match the
// whole path, query string removed) together with name (the endpoint path written then).
struct RouteSpec {
  std::string template_path;
  std::string match;
  std::string name;
};

class EndpointNormalizer {
 public:
  // Errors name the route (1-based) and what is wrong, e.g. a regex that does not compile.
  static Result<EndpointNormalizer> Create(const std::vector<RouteSpec>& routes);

  // Writes "METHOD /template" into *out (cleared first).
  void Normalize(std::string_view method, std::string_view path, std::string* out) const;

 private:
  struct Segment {
    std::string text;  // literal segment, or the parameter name
    bool param = false;
  };
  struct Route {
    std::vector<Segment> segments;          // template routes
    std::shared_ptr<const re2::RE2> regex;  // regex routes
    std::string output;                     // path written when the route matches
  };

  bool MatchRoute(const Route& route, std::string_view path) const;
  std::vector<Route> routes_;
};

}  // namespace apimeter
