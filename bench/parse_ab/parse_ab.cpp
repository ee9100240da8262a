// parse_ab.sh's benchmark: Parse and ParseRe2 of the old and the new parser on the same
// lines (combined, the API format, ingress-nginx's upstreaminfo). The old parser reads
// upstreaminfo only with its made-up variables renamed to $http_* (same shape).
#include <benchmark/benchmark.h>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/parse_corpus.h"
extern "C" void* CompileOld(const char*, const char*, const char*);
extern "C" long ParseOld(void*, const char*, size_t, int);
extern "C" void* CompileNew(const char*, const char*, const char*);
extern "C" long ParseNew(void*, const char*, size_t, int);

using namespace apimeter_bench;  // NOLINT: the corpus

template <bool kNew>
void Run(benchmark::State& st, const char* fmt, const char* fmt_old, const char* cust,
         const char* lat, std::vector<std::string> lines, int re2) {
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
#define PAIR(name, fmt, fmt_old, cust, lat, lines, re2)                                            \
  void BM_Old_##name(benchmark::State& s) {                                                        \
    Run<false>(s, fmt, fmt_old, cust, lat, lines(), re2);                                          \
  }                                                                                                \
  void BM_New_##name(benchmark::State& s) { Run<true>(s, fmt, fmt_old, cust, lat, lines(), re2); } \
  BENCHMARK(BM_Old_##name);                                                                        \
  BENCHMARK(BM_New_##name);
PAIR(Parse_Combined, "combined", "combined", "", "", CombinedLines, 0)
PAIR(Parse_Api, kApiFormat, kApiFormat, "http_x_api_key", "upstream_response_time", ApiLines, 0)
PAIR(Parse_UpstreamInfo, kUpstreamInfo, kUpstreamInfoBefore, "", "upstream_response_time",
     UpstreamInfoLines, 0)
PAIR(ParseRe2_Combined, "combined", "combined", "", "", CombinedLines, 1)
PAIR(ParseRe2_Api, kApiFormat, kApiFormat, "http_x_api_key", "upstream_response_time", ApiLines, 1)
PAIR(ParseRe2_UpstreamInfo, kUpstreamInfo, kUpstreamInfoBefore, "", "upstream_response_time",
     UpstreamInfoLines, 1)
BENCHMARK_MAIN();
