// The lines and formats the parse benchmarks run on (bench_parsers and parse_ab/):
// combined, the API format and ingress-nginx's upstreaminfo. Header-only, no apimeter types,
// so it builds next to any version of the parser.
#pragma once

#include <string>
#include <vector>

namespace apimeter_bench {

inline constexpr char kApiFormat[] =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
    "\"$http_referer\" \"$http_user_agent\" $request_time \"$upstream_response_time\" "
    "\"$http_x_api_key\" $request_length";

// ingress-nginx's default (the `upstreaminfo` preset). A parser from before any variable
// was accepted refuses $proxy_upstream_name, $proxy_alternative_upstream_name, $req_id and
// $upstream_response_length; parse_ab gives it the same shape with $http_* in their place
// (its generic values cost what an opaque field costs now; the list values are generic there).
inline constexpr char kUpstreamInfo[] =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
    "\"$http_referer\" \"$http_user_agent\" $request_length $request_time [$proxy_upstream_name] "
    "[$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length "
    "$upstream_response_time $upstream_status $req_id";
inline constexpr char kUpstreamInfoBefore[] =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
    "\"$http_referer\" \"$http_user_agent\" $request_length $request_time "
    "[$http_proxy_upstream_name] [$http_proxy_alternative_upstream_name] $upstream_addr "
    "$http_upstream_response_length $upstream_response_time $upstream_status $http_req_id";

inline std::vector<std::string> CombinedLines() {
  return {
      "203.0.113.9 - - [10/Oct/2025:13:55:36 +0000] \"GET /v1/orders/42?expand=items HTTP/1.1\" "
      "200 2326 \"https://example.com/app\" \"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
      "(KHTML, like Gecko) Chrome/120.0 Safari/537.36\"",
      "198.51.100.7 - bob [10/Oct/2025:13:55:37 +0200] \"POST /v1/payments HTTP/2.0\" 201 512 "
      "\"-\" \"python-requests/2.31.0\"",
      "2001:db8::1 - - [10/Oct/2025:13:55:38 -0800] \"DELETE /v1/users/7f3c/sessions HTTP/1.1\" "
      "204 0 \"-\" \"curl/8.4.0\"",
  };
}

inline std::vector<std::string> ApiLines() {
  std::vector<std::string> out;
  for (const std::string& l : CombinedLines()) {
    out.push_back(l + " 0.015 \"0.003, 0.010\" \"sk_live_4eC39HqLyjWDarjtT1zdp7dc\" 734");
  }
  return out;
}

// One upstream per request: the lines a parser from before upstream lists also reads.
inline std::vector<std::string> UpstreamInfoLines() {
  std::vector<std::string> out;
  const char* tails[] = {
      " 512 0.012 [default-api-80] [] 10.244.0.12:8080 2326 0.011 200 "
      "6c3a8e0f9b1d4c2e8f7a6b5c4d3e2f1a",
      " 734 0.004 [default-api-80] [] 10.244.0.13:8080 512 0.003 201 "
      "0b1d4c2e8f7a6b5c4d3e2f1a6c3a8e0f",
      " 78 0.000 [default-web-80] [] - - - - 4c2e8f7a6b5c4d3e2f1a6c3a8e0f9b1d",
  };
  size_t i = 0;
  for (const std::string& l : CombinedLines()) out.push_back(l + tails[i++ % 3]);
  return out;
}

}  // namespace apimeter_bench
