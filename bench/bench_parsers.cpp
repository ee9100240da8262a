// Parse throughput: the fast path against the RE2 reference on realistic lines, and
// EndpointNormalizer::Normalize. items_per_second = lines per second on one core.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "parsers/endpoint_normalizer.h"
#include "parsers/line_parser.h"

namespace {

using apimeter::FormatSpec;
using apimeter::LineParser;

const char kApiFormat[] =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
    "\"$http_referer\" \"$http_user_agent\" $request_time \"$upstream_response_time\" "
    "\"$http_x_api_key\" $request_length";

LineParser Make(const char* format, const char* customer = "", const char* latency = "") {
  FormatSpec s;
  s.log_format = format;
  s.customer_var = customer;
  s.latency_var = latency;
  auto p = LineParser::Compile(s);
  if (!p.ok()) std::abort();
  return *p;
}

// ingress-nginx's default (the `upstreaminfo` preset). A parser from before any variable
// was accepted refuses $proxy_upstream_name, $proxy_alternative_upstream_name, $req_id and
// $upstream_response_length; the same shape with $http_* in their place lets this program
// run against it too, for a before/after ratio (its generic values cost what an opaque
// field costs now; the list values are generic there).
const char kUpstreamInfo[] =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
    "\"$http_referer\" \"$http_user_agent\" $request_length $request_time [$proxy_upstream_name] "
    "[$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length "
    "$upstream_response_time $upstream_status $req_id";
const char kUpstreamInfoBefore[] =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
    "\"$http_referer\" \"$http_user_agent\" $request_length $request_time "
    "[$http_proxy_upstream_name] [$http_proxy_alternative_upstream_name] $upstream_addr "
    "$http_upstream_response_length $upstream_response_time $upstream_status $http_req_id";

std::vector<std::string> CombinedLines() {
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

std::vector<std::string> ApiLines() {
  std::vector<std::string> out;
  for (const std::string& l : CombinedLines()) {
    out.push_back(l + " 0.015 \"0.003, 0.010\" \"sk_live_4eC39HqLyjWDarjtT1zdp7dc\" 734");
  }
  return out;
}

// One upstream per request: the lines a parser from before upstream lists also reads.
std::vector<std::string> UpstreamInfoLines() {
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

LineParser MakeUpstreamInfo() {
  FormatSpec s;
  s.log_format = kUpstreamInfo;
  s.latency_var = "upstream_response_time";
  auto p = LineParser::Compile(s);
  if (p.ok()) return *p;
  s.log_format = kUpstreamInfoBefore;
  p = LineParser::Compile(s);
  if (!p.ok()) std::abort();
  return *p;
}

template <bool (LineParser::*Fn)(std::string_view, apimeter::LogRecord*, apimeter::ParseError*)
              const>
void Run(benchmark::State& state, const LineParser& p, const std::vector<std::string>& lines) {
  apimeter::LogRecord r;
  apimeter::ParseError e;
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& l = lines[i++ % lines.size()];
    if (!(p.*Fn)(l, &r, &e)) state.SkipWithError("line rejected");
    benchmark::DoNotOptimize(r);
    bytes += l.size();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

void BM_Parse_Combined(benchmark::State& s) {
  Run<&LineParser::Parse>(s, Make("combined"), CombinedLines());
}
void BM_ParseRe2_Combined(benchmark::State& s) {
  Run<&LineParser::ParseRe2>(s, Make("combined"), CombinedLines());
}
void BM_Parse_Api(benchmark::State& s) {
  Run<&LineParser::Parse>(s, Make(kApiFormat, "http_x_api_key", "upstream_response_time"),
                          ApiLines());
}
void BM_ParseRe2_Api(benchmark::State& s) {
  Run<&LineParser::ParseRe2>(s, Make(kApiFormat, "http_x_api_key", "upstream_response_time"),
                             ApiLines());
}
void BM_Parse_UpstreamInfo(benchmark::State& s) {
  Run<&LineParser::Parse>(s, MakeUpstreamInfo(), UpstreamInfoLines());
}
void BM_ParseRe2_UpstreamInfo(benchmark::State& s) {
  Run<&LineParser::ParseRe2>(s, MakeUpstreamInfo(), UpstreamInfoLines());
}
BENCHMARK(BM_Parse_Combined);
BENCHMARK(BM_ParseRe2_Combined);
BENCHMARK(BM_Parse_Api);
BENCHMARK(BM_ParseRe2_Api);
BENCHMARK(BM_Parse_UpstreamInfo);
BENCHMARK(BM_ParseRe2_UpstreamInfo);

void BM_Normalize(benchmark::State& state) {
  auto n = apimeter::EndpointNormalizer::Create({});
  if (!n.ok()) std::abort();
  const std::vector<std::string> paths = {"/v1/orders/42/items", "/v1/users/me",
                                          "/u/550e8400-e29b-41d4-a716-446655440000/avatar",
                                          "/static/app.9f86d081884c7d65.js"};
  std::string out;
  out.reserve(apimeter::kMaxEndpointBytes + 1);
  size_t i = 0;
  for (auto _ : state) {
    n->Normalize("GET", paths[i++ % paths.size()], &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Normalize);

void BM_NormalizeWithRoutes(benchmark::State& state) {
  auto n = apimeter::EndpointNormalizer::Create(
      {{"/v1/orders/{id}/items", "", ""}, {"", "/static/.*", "/static/*"}});
  if (!n.ok()) std::abort();
  const std::vector<std::string> paths = {"/v1/orders/42/items", "/v1/users/me",
                                          "/static/app.9f86d081884c7d65.js"};
  std::string out;
  out.reserve(apimeter::kMaxEndpointBytes + 1);
  size_t i = 0;
  for (auto _ : state) {
    n->Normalize("GET", paths[i++ % paths.size()], &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NormalizeWithRoutes);

}  // namespace

BENCHMARK_MAIN();
