// parse_ab.sh's benchmark: Parse and ParseRe2 of the old and the new parser on the same
// lines (combined, the API format, ingress-nginx's upstreaminfo). The old parser reads
// upstreaminfo only with its made-up variables renamed to $http_* (same shape).
#include <benchmark/benchmark.h>
#include <cstdlib>
#include <string>
#include <vector>
extern "C" void* CompileOld(const char*, const char*, const char*);
extern "C" long ParseOld(void*, const char*, size_t, int);
extern "C" void* CompileNew(const char*, const char*, const char*);
extern "C" long ParseNew(void*, const char*, size_t, int);

const char kApi[] =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
    "\"$http_referer\" \"$http_user_agent\" $request_time \"$upstream_response_time\" "
    "\"$http_x_api_key\" $request_length";
const char kInfo[] =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
    "\"$http_referer\" \"$http_user_agent\" $request_length $request_time [$proxy_upstream_name] "
    "[$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length "
    "$upstream_response_time $upstream_status $req_id";
const char kInfoOld[] =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
    "\"$http_referer\" \"$http_user_agent\" $request_length $request_time "
    "[$http_proxy_upstream_name] [$http_proxy_alternative_upstream_name] $upstream_addr "
    "$http_upstream_response_length $upstream_response_time $upstream_status $http_req_id";

std::vector<std::string> Combined() {
  return {
      "203.0.113.9 - - [10/Oct/2025:13:55:36 +0000] \"GET /v1/orders/42?expand=items HTTP/1.1\" "
      "200 2326 \"https://example.com/app\" \"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
      "(KHTML, like Gecko) Chrome/120.0 Safari/537.36\"",
      "198.51.100.7 - bob [10/Oct/2025:13:55:37 +0200] \"POST /v1/payments HTTP/2.0\" 201 512 "
      "\"-\" \"python-requests/2.31.0\"",
      "2001:db8::1 - - [10/Oct/2025:13:55:38 -0800] \"DELETE /v1/users/7f3c/sessions HTTP/1.1\" "
      "204 0 \"-\" \"curl/8.4.0\""};
}
std::vector<std::string> Api() {
  std::vector<std::string> o;
  for (auto& l : Combined()) o.push_back(l + " 0.015 \"0.003, 0.010\" \"sk_live_4eC39HqLyjWDarjtT1zdp7dc\" 734");
  return o;
}
std::vector<std::string> Info() {
  const char* t[] = {" 512 0.012 [default-api-80] [] 10.244.0.12:8080 2326 0.011 200 6c3a8e0f9b1d4c2e8f7a6b5c4d3e2f1a",
                     " 734 0.004 [default-api-80] [] 10.244.0.13:8080 512 0.003 201 0b1d4c2e8f7a6b5c4d3e2f1a6c3a8e0f",
                     " 78 0.000 [default-web-80] [] - - - - 4c2e8f7a6b5c4d3e2f1a6c3a8e0f9b1d"};
  std::vector<std::string> o; size_t i = 0;
  for (auto& l : Combined()) o.push_back(l + t[i++ % 3]);
  return o;
}

template <bool kNew>
void Run(benchmark::State& st, const char* fmt, const char* fmt_old, const char* cust, const char* lat,
         std::vector<std::string> lines, int re2) {
  void* p = kNew ? CompileNew(fmt, cust, lat) : CompileOld(fmt_old, cust, lat);
  if (!p) std::abort();
  size_t i = 0;
  for (auto _ : st) {
    const std::string& l = lines[i++ % lines.size()];
    long v = kNew ? ParseNew(p, l.data(), l.size(), re2) : ParseOld(p, l.data(), l.size(), re2);
    if (v < 0) st.SkipWithError("rejected");
    benchmark::DoNotOptimize(v);
  }
  st.SetItemsProcessed(st.iterations());
}
#define PAIR(name, fmt, fmt_old, cust, lat, lines, re2) \
  void BM_Old_##name(benchmark::State& s) { Run<false>(s, fmt, fmt_old, cust, lat, lines(), re2); } \
  void BM_New_##name(benchmark::State& s) { Run<true>(s, fmt, fmt_old, cust, lat, lines(), re2); } \
  BENCHMARK(BM_Old_##name); BENCHMARK(BM_New_##name);
PAIR(Parse_Combined, "combined", "combined", "", "", Combined, 0)
PAIR(Parse_Api, kApi, kApi, "http_x_api_key", "upstream_response_time", Api, 0)
PAIR(Parse_UpstreamInfo, kInfo, kInfoOld, "", "upstream_response_time", Info, 0)
PAIR(ParseRe2_Combined, "combined", "combined", "", "", Combined, 1)
PAIR(ParseRe2_Api, kApi, kApi, "http_x_api_key", "upstream_response_time", Api, 1)
PAIR(ParseRe2_UpstreamInfo, kInfo, kInfoOld, "", "upstream_response_time", Info, 1)
BENCHMARK_MAIN();
