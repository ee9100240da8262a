// One side of parse_ab.sh: compiled against the old tree with -Dapimeter=apimeter_old
// -DSIDE=Old, and against this tree with -DSIDE=New. Same interface, same call cost.
#include <cstdlib>
#include <string_view>
#include "parsers/line_parser.h"
#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
extern "C" void* CAT(Compile, SIDE)(const char* fmt, const char* customer, const char* latency) {
  apimeter::FormatSpec s;
  s.log_format = fmt;
  s.customer_var = customer;
  s.latency_var = latency;
  auto p = apimeter::LineParser::Compile(s);
  if (!p.ok()) return nullptr;
  return new apimeter::LineParser(*p);
}
extern "C" long CAT(Parse, SIDE)(void* p, const char* line, size_t n, int re2) {
  apimeter::LogRecord r;
  apimeter::ParseError e;
  auto* lp = static_cast<apimeter::LineParser*>(p);
  const bool ok = re2 ? lp->ParseRe2(std::string_view(line, n), &r, &e)
                      : lp->Parse(std::string_view(line, n), &r, &e);
  return ok ? r.status + static_cast<long>(r.bytes_out) + r.latency_us : -1;
}
