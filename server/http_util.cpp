// Shared HTTP building blocks (see http_util.h).
#include "server/http_util.h"

#include <charconv>

#include "common/time_util.h"

namespace apimeter {
namespace {

using nlohmann::json;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding; nullopt on a broken %XX.
std::optional<std::string> FormDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// True when `message` starts with the whole word `word` ("to must…" is about
// `to`; "top must…" is not), followed by a space, ':' or '=' ("step_s=60…").
bool StartsWithWord(const std::string& message, std::string_view word) {
  return message.compare(0, word.size(), word) == 0 &&
         (message.size() == word.size() || message[word.size()] == ' ' ||
          message[word.size()] == ':' || message[word.size()] == '=');
}

// Which parameter an engine InvalidArgument is about, from its wording
// (the engine's messages start with the parameter; see docs/api.md).
std::string ParameterOf(const std::string& message) {
  for (const char* p : {"limit", "step", "from", "to", "metric", "top", "matrix_customers",
                        "matrix_endpoints", "customer", "format", "section"}) {
    if (StartsWithWord(message, p)) return p;
  }
  if (StartsWithWord(message, "step_s")) return "step";
  if (StartsWithWord(message, "range")) return "from";
  for (const char* p : {"host", "endpoint", "customer"}) {
    if (message.find(std::string("filter ") + p) != std::string::npos) return p;
  }
  return "";
}

}  // namespace

HttpResponse FromResult(const Result<json>& r) {
  if (r.ok()) return JsonResponse(200, *r);
  const Status& st = r.status();
  switch (st.code()) {
    case StatusCode::kInvalidArgument:
      return ErrorResponse(400, st.message(), ParameterOf(st.message()));
    case StatusCode::kUnavailable:
      return ErrorResponse(503, "Redis unavailable: " + st.message());
    case StatusCode::kNotFound:
      return ErrorResponse(404, st.message());
    default:
      return ErrorResponse(500, st.message());
  }
}

HttpResponse JsonResponse(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.headers["Content-Type"] = "application/json";
  r.headers["Cache-Control"] = "no-store";
  // dump with replace: engine strings come from logs and may hold bad UTF-8.
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  return r;
}

HttpResponse ErrorResponse(int status, const std::string& message, const std::string& parameter) {
  json err = {{"message", message}};
  if (!parameter.empty()) err["parameter"] = parameter;
  return JsonResponse(status, json{{"error", err}});
}

HttpResponse TextResponse(int status, std::string content_type, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers["Content-Type"] = std::move(content_type);
  r.body = std::move(body);
  return r;
}

HttpResponse Redirect(const std::string& location) {
  HttpResponse r;
  r.status = 303;
  r.headers["Location"] = location;
  r.headers["Content-Type"] = "text/plain";
  r.body = "see " + location + "\n";
  return r;
}

// "a=1&b=2" → map. Duplicate or undecodable parameters are errors, so a
// request never silently means something other than what was sent.
Result<std::map<std::string, std::string>> ParseForm(std::string_view text, ParamError* err) {
  std::map<std::string, std::string> out;
  size_t count = 0;
  while (!text.empty()) {
    const size_t amp = text.find('&');
    const std::string_view part = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    if (part.empty()) continue;
    if (++count > kMaxParams) {
      *err = {"", "too many parameters (at most " + std::to_string(kMaxParams) + ")"};
      return Status::InvalidArgument(err->message);
    }
    const size_t eq = part.find('=');
    auto key = FormDecode(part.substr(0, eq));
    auto value = FormDecode(eq == std::string_view::npos ? "" : part.substr(eq + 1));
    if (!key || !value) {
      *err = {key ? *key : "", "bad percent-encoding"};
      return Status::InvalidArgument(err->message);
    }
    if (!out.emplace(*key, *value).second) {
      *err = {*key, "given more than once"};
      return Status::InvalidArgument(err->message);
    }
  }
  return out;
}

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::string Get(const FormParams& m, const std::string& k, const std::string& fallback) {
  auto it = m.find(k);
  return it == m.end() ? fallback : it->second;
}

std::optional<ParamError> ParseRangeParams(const FormParams& q, int64_t now, TimeRange* out,
                                           const std::string& default_from) {
  auto from = ParseTimePoint(Get(q, "from", default_from), now);
  if (!from.ok()) return ParamError{"from", from.status().message()};
  auto to = ParseTimePoint(Get(q, "to", "now"), now);
  if (!to.ok()) return ParamError{"to", to.status().message()};
  if (*from >= *to) return ParamError{"from", "from must be before to"};
  if (*to - *from > kMaxRangeSeconds) {
    return ParamError{"from", "range longer than 400 days; ask for a shorter range"};
  }
  out->from_s = *from;
  out->to_s = *to;
  return std::nullopt;
}

}  // namespace apimeter
