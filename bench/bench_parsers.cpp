// Parse throughput: the fast path against the RE2 reference on realistic lines, and
// EndpointNormalizer::Normalize. items_per_second = lines per second on one core.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "bench/parse_corpus.h"
#include "parsers/endpoint_normalizer.h"
#include "parsers/line_parser.h"

namespace {

using apimeter::FormatSpec;
using apimeter::LineParser;
using namespace apimeter_bench;  // NOLINT: the corpus

LineParser Make(const char* format, const char* customer = "", const char* latency = "") {
  FormatSpec s;
  s.log_format = format;
  s.customer_var = customer;
  s.latency_var = latency;
  auto p = LineParser::Compile(s);
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
  Run<&LineParser::Parse>(s, Make(kUpstreamInfo, "", "upstream_response_time"),
                          UpstreamInfoLines());
}
void BM_ParseRe2_UpstreamInfo(benchmark::State& s) {
  Run<&LineParser::ParseRe2>(s, Make(kUpstreamInfo, "", "upstream_response_time"),
                             UpstreamInfoLines());
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
