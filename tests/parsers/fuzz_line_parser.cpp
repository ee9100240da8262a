// libFuzzer target: for arbitrary bytes, under several formats, Parse must agree with the
// RE2 reference, and a fast-path accept must produce RE2's record.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "parsers/line_parser.h"

namespace {

std::vector<apimeter::LineParser> MakeParsers() {
  std::vector<apimeter::LineParser> parsers;
  const apimeter::FormatSpec specs[] = {
      {"combined", "default", "", "", "", 65536},
      {"$remote_addr [$time_local] \"$request\" $status $bytes_sent $request_time "
       "\"$upstream_response_time\" \"$http_x_api_key\" $request_length",
       "default", "http_x_api_key", "upstream_response_time", "", 65536},
      {"{\"t\":\"$time_iso8601\",\"m\":\"$request_method\",\"u\":\"$request_uri\",\"s\":$status,"
       "\"b\":$body_bytes_sent,\"k\":\"$http_x_api_key\",\"rt\":$request_time}",
       "json", "http_x_api_key", "request_time", "", 65536},
      {"$msec \"$request\" $status \"$http_user_agent\"", "none", "", "", "", 65536},
      {"upstreaminfo", "default", "", "upstream_response_time", "", 65536},
  };
  for (const auto& s : specs) {
    auto p = apimeter::LineParser::Compile(s);
    if (!p.ok()) std::abort();
    parsers.push_back(*p);
  }
  return parsers;
}

bool Same(const apimeter::LogRecord& a, const apimeter::LogRecord& b) {
  return a.time_us == b.time_us && a.method == b.method && a.path == b.path &&
         a.status == b.status && a.bytes_in == b.bytes_in && a.bytes_out == b.bytes_out &&
         a.latency_us == b.latency_us && a.customer_key == b.customer_key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<apimeter::LineParser> parsers = MakeParsers();
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  for (const auto& p : parsers) {
    apimeter::LogRecord fast, ref, any;
    apimeter::ParseError e1, e2, e3;
    const bool f = p.ParseFast(line, &fast, &e1);
    const bool r = p.ParseRe2(line, &ref, &e2);
    const bool a = p.Parse(line, &any, &e3);
    if (f && (!r || !Same(fast, ref))) std::abort();
    if (a != r || (a && !Same(any, ref))) std::abort();
    if (!a && e3.kind != e2.kind) std::abort();
  }
  return 0;
}
