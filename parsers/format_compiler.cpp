// Compiles an nginx log_format into tokens, an anchored RE2 pattern and the
// roles (which captured variable feeds which record field).
#include <cstdio>
#include <string>
#include <string_view>

#include "parsers/compiled_format.h"

namespace apimeter {
namespace {

using parsers_internal::CompiledFormat;
using parsers_internal::Token;
using parsers_internal::ValueClass;

// Preset names accepted as log_format, with the exact text they stand for.
struct Preset {
  std::string_view name;
  std::string_view text;
};
constexpr Preset kPresets[] = {
    // nginx's predefined format.
    {"combined",
     "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
     "\"$http_referer\" \"$http_user_agent\""},
    // The `main` format of nginx's default nginx.conf.
    {"main",
     "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
     "\"$http_referer\" \"$http_user_agent\" \"$http_x_forwarded_for\""},
    // ingress-nginx's default (internal/ingress/controller/config/config.go, logFormatUpstream).
    {"upstreaminfo",
     "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
     "\"$http_referer\" \"$http_user_agent\" $request_length $request_time "
     "[$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr "
     "$upstream_response_length $upstream_response_time $upstream_status $req_id"},
};

// nginx's per-upstream variables that hold one item per upstream contacted, joined by ", "
// (next server) or " : " (internal redirect to another group). The three *_time ones have a
// class of their own (seconds); these are opaque lists.
constexpr std::string_view kUpstreamLists[] = {
    "upstream_addr",       "upstream_status",         "upstream_response_length",
    "upstream_bytes_sent", "upstream_bytes_received", "upstream_queue_time",
};

constexpr std::string_view kLatencyVariables[] = {"request_time", "upstream_response_time",
                                                  "upstream_connect_time", "upstream_header_time"};

bool IsNameByte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

ValueClass ClassOf(std::string_view name) {
  if (name == "status") return ValueClass::kStatus;
  if (name == "body_bytes_sent" || name == "bytes_sent" || name == "request_length") {
    return ValueClass::kCount;
  }
  if (name == "request_time") return ValueClass::kSeconds;
  if (name == "upstream_response_time" || name == "upstream_connect_time" ||
      name == "upstream_header_time") {
    return ValueClass::kSecondsList;
  }
  if (name == "time_local") return ValueClass::kTimeLocal;
  if (name == "time_iso8601") return ValueClass::kTimeIso;
  if (name == "msec") return ValueClass::kMsec;
  for (std::string_view v : kUpstreamLists) {
    if (v == name) return ValueClass::kList;
  }
  return ValueClass::kGeneric;
}

// Splits the format into literal and variable tokens ($name and ${name}).
Result<std::vector<Token>> Tokenize(std::string_view fmt) {
  std::vector<Token> tokens;
  std::string literal;
  size_t literal_col = 1;
  auto flush_literal = [&] {
    if (literal.empty()) return;
    Token t;
    t.text = std::move(literal);
    t.column = literal_col;
    tokens.push_back(std::move(t));
    literal.clear();
  };
  for (size_t i = 0; i < fmt.size();) {
    if (fmt[i] != '$') {
      if (literal.empty()) literal_col = i + 1;
      literal += fmt[i++];
      continue;
    }
    const size_t col = i + 1;
    size_t start = i + 1, end = start;
    const bool braced = start < fmt.size() && fmt[start] == '{';
    if (braced) ++start, end = start;
    while (end < fmt.size() && IsNameByte(fmt[end])) ++end;
    if (braced && (end >= fmt.size() || fmt[end] != '}')) {
      return Status::InvalidArgument("unterminated '${' at column " + std::to_string(col) +
                                     " of log_format; write ${name}");
    }
    if (end == start) {
      return Status::InvalidArgument("'$' without a variable name at column " +
                                     std::to_string(col) + " of log_format");
    }
    std::string name(fmt.substr(start, end - start));
    flush_literal();
    Token t;
    t.is_var = true;
    t.text = std::move(name);
    t.column = col;
    t.cls = ClassOf(t.text);
    tokens.push_back(std::move(t));
    i = braced ? end + 1 : end;
  }
  flush_literal();
  if (!tokens.empty()) tokens.back().last = true;
  return tokens;
}

// Decides the stop bytes / escape handling of generic values (and lists) from their
// neighbours: quotes are tracked through literals, and the next literal's first byte ends a
// value. A list inside quotes is an ordinary generic value (only the quote ends it).
void ClassifyGenerics(std::vector<Token>* tokens, const std::string& escape) {
  bool in_quotes = false;
  for (size_t i = 0; i < tokens->size(); ++i) {
    Token& t = (*tokens)[i];
    if (!t.is_var) {
      for (char c : t.text) in_quotes = c == '"' ? !in_quotes : in_quotes;
      continue;
    }
    if (t.cls == ValueClass::kList && in_quotes) t.cls = ValueClass::kGeneric;
    if (t.cls != ValueClass::kGeneric && t.cls != ValueClass::kList) continue;
    const Token* next = i + 1 < tokens->size() ? &(*tokens)[i + 1] : nullptr;
    const bool next_is_literal = next != nullptr && !next->is_var;
    if (t.cls == ValueClass::kList) {
      if (next_is_literal) t.stop[0] = next->text[0];
      continue;
    }
    if (escape == "none" && in_quotes && next_is_literal) {
      t.lazy = true;  // raw quotes may appear inside the value
      continue;
    }
    if (next_is_literal) t.stop[0] = next->text[0];
    if (in_quotes && t.stop[0] != '"') t.stop[t.stop[0] ? 1 : 0] = '"';
    t.json_escapes = escape == "json" && in_quotes && t.stop[0] != '\\' && t.stop[1] != '\\';
  }
}

void AppendByteClass(std::string* p, const Token& t) {
  char buf[8];
  *p += "[^";
  for (char c : t.stop) {
    if (c == 0) continue;
    std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
    *p += buf;
  }
  if (t.json_escapes) *p += "\\\\";
  *p += ']';
}

// The regex of a non-generic class, without the empty alternative.
std::string NonEmptyClassRegex(const Token& t) {
  constexpr std::string_view kSec = "[0-9]+\\.[0-9]+";
  switch (t.cls) {
    case ValueClass::kStatus:
      return "[0-9]{3}";
    case ValueClass::kCount:
      return "[0-9]+|-";
    case ValueClass::kSeconds:
      return std::string(kSec);
    case ValueClass::kSecondsList:
      return "(?:" + std::string(kSec) + "|-)(?:(?:, | : )(?:" + std::string(kSec) + "|-))*";
    case ValueClass::kList: {
      // An item ends at a space, a comma or the value's stop byte.
      Token item;
      item.stop = {' ', t.stop[0] == ' ' || t.stop[0] == ',' ? '\0' : t.stop[0]};
      std::string i;
      AppendByteClass(&i, item);
      i.insert(i.size() - 1, "\\x2c");
      i += '+';
      return i + "(?:(?:, | : )" + i + ")*";
    }
    case ValueClass::kTimeLocal:
      return "[0-9]{2}/[A-Za-z]{3}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}";
    case ValueClass::kTimeIso:
      return "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:[+-][0-9]{2}:[0-9]{2}|Z)";
    case ValueClass::kMsec:
      return "[0-9]+\\.[0-9]{3}";
    case ValueClass::kGeneric:
      break;
  }
  return "";
}

std::string ClassRegex(const Token& t) {
  // Every class also matches the empty value: nginx writes a variable that has no value as
  // nothing with escape=json and escape=none (and a variable can be found but empty).
  // Greedy '?': the class itself is tried first, as the fast path does.
  if (t.cls != ValueClass::kGeneric) return "(?:" + NonEmptyClassRegex(t) + ")?";
  if (t.lazy) return ".*?";
  if (t.stop[0] == 0) return ".*";
  std::string p;
  if (t.json_escapes) {
    p += "(?:";
    AppendByteClass(&p, t);
    p += "|\\\\.)*";
  } else {
    AppendByteClass(&p, t);
    p += '*';
  }
  return p;
}

std::string BuildPattern(const std::vector<Token>& tokens) {
  std::string p;
  for (const Token& t : tokens) {
    if (!t.is_var) {
      p += RE2::QuoteMeta(t.text);
      continue;
    }
    p += t.slot >= 0 ? "(" : "(?:";
    p += ClassRegex(t);
    p += ')';
  }
  return p;
}

const Token* FindVar(const std::vector<Token>& tokens, std::string_view name) {
  for (const Token& t : tokens) {
    if (t.is_var && t.text == name) return &t;
  }
  return nullptr;
}

// Gives `name` a capture slot (one per variable: its first occurrence) and returns it.
int UseVar(CompiledFormat* f, std::string_view name) {
  for (int s = 0; s < f->slots; ++s) {
    if (f->slot_names[s] == name) return s;
  }
  for (Token& t : f->tokens) {
    if (t.is_var && t.text == name) {
      t.slot = f->slots++;
      f->slot_names.emplace_back(name);
      return t.slot;
    }
  }
  return -1;
}

Status AssignTimeAndRequest(CompiledFormat* f) {
  for (const Token& t : f->tokens) {
    if (!t.is_var) continue;
    using parsers_internal::TimeKind;
    if (t.cls == ValueClass::kTimeLocal)
      f->time_kind = TimeKind::kLocal;
    else if (t.cls == ValueClass::kTimeIso)
      f->time_kind = TimeKind::kIso;
    else if (t.cls == ValueClass::kMsec)
      f->time_kind = TimeKind::kMsec;
    else
      continue;
    f->time_slot = UseVar(f, t.text);
    break;
  }
  if (f->time_slot < 0) {
    return Status::InvalidArgument(
        "log_format has no time variable; apimeter needs $time_local, $time_iso8601 or $msec");
  }
  f->status_slot = UseVar(f, "status");
  if (f->status_slot < 0) return Status::InvalidArgument("log_format has no $status variable");
  if (FindVar(f->tokens, "request")) {
    f->request_kind = parsers_internal::RequestKind::kRequestLine;
    f->request_slot = UseVar(f, "request");
    return Status::Ok();
  }
  const char* uri = FindVar(f->tokens, "request_uri") ? "request_uri"
                    : FindVar(f->tokens, "uri")       ? "uri"
                                                      : nullptr;
  if (!FindVar(f->tokens, "request_method") || uri == nullptr) {
    return Status::InvalidArgument(
        "log_format needs $request, or $request_method together with $request_uri or $uri");
  }
  f->request_kind = parsers_internal::RequestKind::kMethodAndUri;
  f->method_slot = UseVar(f, "request_method");
  f->request_slot = UseVar(f, uri);
  return Status::Ok();
}

Status AssignOptionalRoles(CompiledFormat* f, const FormatSpec& spec) {
  if (!spec.bytes_out_var.empty()) {
    if (spec.bytes_out_var != "bytes_sent" && spec.bytes_out_var != "body_bytes_sent") {
      return Status::InvalidArgument("bytes_out variable '$" + spec.bytes_out_var +
                                     "' must be bytes_sent or body_bytes_sent");
    }
    f->bytes_out_slot = UseVar(f, spec.bytes_out_var);
    if (f->bytes_out_slot < 0) {
      return Status::InvalidArgument("bytes_out variable '$" + spec.bytes_out_var +
                                     "' is not in log_format");
    }
  } else {
    f->bytes_out_slot = UseVar(f, "bytes_sent");
    if (f->bytes_out_slot < 0) f->bytes_out_slot = UseVar(f, "body_bytes_sent");
  }
  f->bytes_in_slot = UseVar(f, "request_length");
  f->user_agent_slot = UseVar(f, "http_user_agent");
  if (!spec.latency_var.empty()) {
    bool ok = false;
    for (std::string_view v : kLatencyVariables) ok = ok || v == spec.latency_var;
    if (!ok) {
      return Status::InvalidArgument(
          "latency variable '$" + spec.latency_var +
          "' must be one of request_time, upstream_response_time, upstream_connect_time, "
          "upstream_header_time");
    }
    f->latency_slot = UseVar(f, spec.latency_var);
    if (f->latency_slot < 0) {
      return Status::InvalidArgument("latency variable '$" + spec.latency_var +
                                     "' is not in log_format");
    }
  }
  if (!spec.customer_var.empty()) {
    f->customer_slot = UseVar(f, spec.customer_var);
    if (f->customer_slot < 0) {
      return Status::InvalidArgument("customer variable '$" + spec.customer_var +
                                     "' is not in log_format");
    }
  }
  return Status::Ok();
}

// RE2 numbers groups in pattern order, so slots must follow token order.
void RenumberSlots(CompiledFormat* f) {
  std::vector<int> remap(f->slots, -1);
  std::vector<std::string> names;
  for (Token& t : f->tokens) {
    if (t.slot < 0) continue;
    remap[t.slot] = static_cast<int>(names.size());
    names.push_back(f->slot_names[t.slot]);
    t.slot = remap[t.slot];
  }
  f->slot_names = std::move(names);
  for (int* role : {&f->time_slot, &f->request_slot, &f->method_slot, &f->status_slot,
                    &f->bytes_out_slot, &f->bytes_in_slot, &f->latency_slot, &f->customer_slot,
                    &f->user_agent_slot}) {
    if (*role >= 0) *role = remap[*role];
  }
}

// The fast path walks tokens without backtracking; two variables with no literal between
// them would need backtracking to split, so such formats use RE2 only.
bool FastEligible(const std::vector<Token>& tokens) {
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    if (tokens[i].is_var && tokens[i + 1].is_var) return false;
  }
  return true;
}

}  // namespace

std::string_view LogFormatText(std::string_view log_format) {
  for (const Preset& p : kPresets) {
    if (p.name == log_format) return p.text;
  }
  return log_format;
}

namespace parsers_internal {

Result<std::shared_ptr<const CompiledFormat>> CompileFormat(const FormatSpec& spec) {
  if (spec.escape != "default" && spec.escape != "json" && spec.escape != "none") {
    return Status::InvalidArgument("escape '" + spec.escape +
                                   "' is not an nginx escape mode; use default, json or none");
  }
  if (spec.max_line_bytes == 0) {
    return Status::InvalidArgument("max_line_bytes must be positive");
  }
  const std::string_view text = LogFormatText(spec.log_format);
  if (text.empty()) return Status::InvalidArgument("log_format is empty");
  auto f = std::make_shared<CompiledFormat>();
  APIMETER_ASSIGN_OR_RETURN(f->tokens, Tokenize(text));
  ClassifyGenerics(&f->tokens, spec.escape);
  APIMETER_RETURN_IF_ERROR(AssignTimeAndRequest(f.get()));
  APIMETER_RETURN_IF_ERROR(AssignOptionalRoles(f.get(), spec));
  RenumberSlots(f.get());
  f->max_line_bytes = spec.max_line_bytes;
  f->fast_eligible = FastEligible(f->tokens);
  f->pattern = BuildPattern(f->tokens);
  RE2::Options opts;
  opts.set_encoding(RE2::Options::EncodingLatin1);
  opts.set_dot_nl(true);
  opts.set_log_errors(false);
  f->re2 = std::make_unique<RE2>(f->pattern, opts);
  if (!f->re2->ok()) {
    return Status::Internal("log_format compiled to an invalid pattern (" + f->re2->error() +
                            "): " + f->pattern);
  }
  if (f->re2->NumberOfCapturingGroups() != f->slots) {
    return Status::Internal("log_format pattern has unexpected capture groups: " + f->pattern);
  }
  return std::shared_ptr<const CompiledFormat>(std::move(f));
}

std::string_view DescribeClass(const Token& t) {
  switch (t.cls) {
    case ValueClass::kStatus:
      return "a 3-digit status";
    case ValueClass::kCount:
      return "a whole number or '-'";
    case ValueClass::kSeconds:
      return "seconds like 0.123";
    case ValueClass::kSecondsList:
      return "seconds like 0.123, a list like '0.003, 0.010', or '-'";
    case ValueClass::kList:
      return "a list like '10.0.0.1:80, 10.0.0.2:80' or '-'";
    case ValueClass::kTimeLocal:
      return "a time like 10/Oct/2025:13:55:36 +0000";
    case ValueClass::kTimeIso:
      return "a time like 2025-10-10T13:55:36+00:00";
    case ValueClass::kMsec:
      return "epoch seconds with milliseconds like 1760104536.123";
    case ValueClass::kGeneric:
      break;
  }
  return "text";
}

}  // namespace parsers_internal
}  // namespace apimeter
