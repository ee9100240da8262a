// Loading of `sources:` and `routes:` (see sections.h).
#include <algorithm>

#include "config/config_keys.h"
#include "config/sections.h"
#include "parsers/customer_key.h"
#include "parsers/endpoint_normalizer.h"
#include "parsers/line_parser.h"

namespace apimeter::config_internal {
namespace {

bool IsVarChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool HasControlChar(std::string_view s, bool allow_tab) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && !(allow_tab && c == '\t')) || u == 0x7f) return true;
  }
  return false;
}

// Host names become part of Redis keys and series names, so only a safe,
// bounded alphabet is accepted (what hostnames use anyway).
bool IsValidHost(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  return std::all_of(h.begin(), h.end(),
                     [](char c) { return IsVarChar(c) || c == '.' || c == '-'; });
}

struct VarRole {
  std::string_view key;                   // config key, e.g. "latency"
  std::vector<std::string_view> allowed;  // empty = any variable in the format
};

// Reads `customer: $http_x_api_key` style values: a '$' and a variable name
// that the log_format contains. Returns the name without '$'.
Result<std::string> ReadVariable(const YamlReader& r, const YamlField& f, const VarRole& role,
                                 const std::vector<std::string>& format_vars, int source_line) {
  const std::string name = "sources[].";
  APIMETER_ASSIGN_OR_RETURN(std::string text, r.String(f, name + std::string(role.key)));
  std::string var = text;
  if (var.size() > 3 && var[0] == '$' && var[1] == '{' && var.back() == '}') {
    var = var.substr(2, var.size() - 3);
  } else if (!var.empty() && var[0] == '$') {
    var = var.substr(1);
  } else {
    return r.ErrorAt(f, "'" + std::string(role.key) + "' must be an nginx variable written with " +
                            "'$', got '" + text + "'; write e.g. " + std::string(role.key) + ": $" +
                            text);
  }
  if (var.empty() || var.size() > 64 ||
      !std::all_of(var.begin(), var.end(), [](char c) { return IsVarChar(c); })) {
    return r.ErrorAt(f, "'" + std::string(role.key) + "' is not a valid nginx variable name: '" +
                            text + "'; write e.g. $request_time");
  }
  if (!role.allowed.empty() &&
      std::find(role.allowed.begin(), role.allowed.end(), var) == role.allowed.end()) {
    std::string list;
    for (std::string_view a : role.allowed) list += (list.empty() ? "$" : " or $") + std::string(a);
    return r.ErrorAt(f, "'" + std::string(role.key) + "' must be " + list + ", got '$" + var +
                            "'; use one of those");
  }
  if (std::find(format_vars.begin(), format_vars.end(), var) == format_vars.end()) {
    return r.ErrorAt(f, std::string(role.key) + " variable '$" + var +
                            "' does not appear in the log_format of the source on line " +
                            std::to_string(source_line) + "; add $" + var +
                            " to that log_format (and to nginx's) or change '" +
                            std::string(role.key) + "'");
  }
  return var;
}

Status CheckPath(const YamlReader& r, const YamlField& f, const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return r.ErrorAt(f, "path '" + path +
                            "' is not absolute; write the full path, e.g. "
                            "/var/log/nginx/access.log*");
  }
  if (path.size() > 4096 || HasControlChar(path, false)) {
    return r.ErrorAt(f, "path '" + path.substr(0, 60) +
                            "' is too long or contains control characters; fix the path");
  }
  return Status::Ok();
}

Status ReadPaths(const YamlReader& r, const YamlField& f, SourceConfig* s) {
  APIMETER_ASSIGN_OR_RETURN(s->paths, r.StringList(f, "paths"));
  if (s->paths.empty()) {
    return r.ErrorAt(f,
                     "'paths' is empty; list at least one log file or glob, e.g. "
                     "[\"/var/log/nginx/access.log*\"]");
  }
  for (const std::string& p : s->paths) APIMETER_RETURN_IF_ERROR(CheckPath(r, f, p));
  return Status::Ok();
}

Status ReadHost(const YamlReader& r, const YamlField* f, const ConfigEnvironment& env,
                int source_line, SourceConfig* s) {
  if (f != nullptr) {
    APIMETER_ASSIGN_OR_RETURN(s->host, r.String(*f, "host"));
    if (!IsValidHost(s->host)) {
      return r.ErrorAt(*f, "host '" + s->host.substr(0, 60) +
                               "' must be 1 to 253 letters, digits, '.', '-' or '_'; write e.g. "
                               "host: web-1");
    }
    return Status::Ok();
  }
  Result<std::string> h = env.hostname ? env.hostname() : Status::NotFound("no hostname source");
  if (!h.ok() || !IsValidHost(*h)) {
    return r.ErrorAtLine(
        source_line,
        "cannot use the machine's host name as this source's host (" +
            (h.ok() ? "'" + h->substr(0, 60) + "' has unusual characters" : h.status().message()) +
            "); set host: explicitly, e.g. host: web-1");
  }
  s->host = *h;
  return Status::Ok();
}

const YamlField* Find(const std::vector<YamlField>& fields, std::string_view key) {
  for (const YamlField& f : fields) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

// customer_match and customer_jwt_claim: which part of the customer value is the key.
// Both need `customer`; the regex is compiled here so an error points at its own line.
Status ReadCustomerKey(const YamlReader& r, const std::vector<YamlField>& fields, SourceConfig* s) {
  const YamlField* match = Find(fields, "customer_match");
  const YamlField* claim = Find(fields, "customer_jwt_claim");
  for (const YamlField* f : {match, claim}) {
    if (f != nullptr && s->customer_var.empty()) {
      return r.ErrorAt(*f, "'" + f->key +
                               "' needs 'customer' (the variable it applies to); add e.g. "
                               "customer: $http_authorization");
    }
  }
  if (claim != nullptr) {
    APIMETER_ASSIGN_OR_RETURN(s->customer_jwt_claim, r.String(*claim, "customer_jwt_claim"));
    const std::string& c = s->customer_jwt_claim;
    if (c.empty() || c.size() > 128 ||
        !std::all_of(c.begin(), c.end(), [](char ch) { return ch > 0x20 && ch < 0x7f; })) {
      return r.ErrorAt(*claim,
                       "customer_jwt_claim must be a claim name of 1 to 128 printable "
                       "characters without spaces; write e.g. customer_jwt_claim: sub");
    }
  }
  if (match != nullptr) {
    APIMETER_ASSIGN_OR_RETURN(s->customer_match, r.String(*match, "customer_match"));
    if (s->customer_match.empty() || s->customer_match.size() > 1024) {
      return r.ErrorAt(*match,
                       "customer_match must be an RE2 regex of 1 to 1024 bytes with one capture "
                       "group; write e.g. customer_match: '^Bearer (.+)$'");
    }
    Result<CustomerKeyExtractor> x = CustomerKeyExtractor::Compile(CustomerKeySpecOf(*s));
    if (!x.ok()) return r.ErrorAt(*match, x.status().message());
  }
  return Status::Ok();
}

Result<SourceConfig> LoadSource(const YamlReader& r, const YAML::Node& node,
                                const ConfigEnvironment& env, int64_t max_line_bytes) {
  SourceConfig s;
  s.line = YamlReader::LineOf(node);
  APIMETER_ASSIGN_OR_RETURN(std::vector<YamlField> fields,
                            r.OpenMap(node, "sources[]", config_keys::kSource));
  const YamlField* paths = Find(fields, "paths");
  if (paths == nullptr) {
    return r.ErrorAtLine(s.line,
                         "this source has no 'paths'; add e.g. paths: "
                         "[\"/var/log/nginx/access.log*\"]");
  }
  APIMETER_RETURN_IF_ERROR(ReadPaths(r, *paths, &s));
  s.log_format = "combined";
  int format_line = s.line;
  if (const YamlField* f = Find(fields, "log_format")) {
    APIMETER_ASSIGN_OR_RETURN(s.log_format, r.String(*f, "log_format"));
    format_line = YamlReader::LineOf(*f);
    if (s.log_format.empty() || s.log_format.size() > 8192 || HasControlChar(s.log_format, true)) {
      return r.ErrorAt(*f,
                       "log_format must be 1 to 8192 bytes of text; copy it from nginx's "
                       "log_format directive, or write combined");
    }
  }
  if (const YamlField* f = Find(fields, "escape")) {
    APIMETER_ASSIGN_OR_RETURN(s.escape, r.String(*f, "escape"));
    if (s.escape != "default" && s.escape != "json" && s.escape != "none") {
      return r.ErrorAt(*f,
                       "escape must be default, json or none, got '" + s.escape.substr(0, 60) +
                           "'; use the escape= value of nginx's log_format (default if absent)");
    }
  }
  const std::vector<std::string> vars = LogFormatVariables(s.log_format);
  const struct {
    VarRole role;
    std::string* out;
  } roles[] = {
      {{"customer", {}}, &s.customer_var},
      {{"latency", {"request_time", "upstream_response_time"}}, &s.latency_var},
      {{"bytes_out", {"bytes_sent", "body_bytes_sent"}}, &s.bytes_out_var},
  };
  for (const auto& role : roles) {
    if (const YamlField* f = Find(fields, role.role.key)) {
      APIMETER_ASSIGN_OR_RETURN(*role.out, ReadVariable(r, *f, role.role, vars, s.line));
    }
  }
  APIMETER_RETURN_IF_ERROR(ReadCustomerKey(r, fields, &s));
  APIMETER_RETURN_IF_ERROR(ReadHost(r, Find(fields, "host"), env, s.line, &s));
  APIMETER_RETURN_IF_ERROR(CompileSource(r, s, format_line, max_line_bytes));
  return s;
}

// A route name is an endpoint path: it becomes part of series names.
Status CheckRouteName(const YamlReader& r, const YAML::Node& node, const std::string& name) {
  if (name.empty() || name[0] != '/' || name.size() > kMaxEndpointNameBytes ||
      HasControlChar(name, false)) {
    return r.ErrorAt(node, "route name '" + name.substr(0, 60) + "' must be a path of 1 to " +
                               std::to_string(kMaxEndpointNameBytes) +
                               " bytes starting with '/'; write e.g. name: '/v2/geo/ip/:ip'");
  }
  return Status::Ok();
}

Result<RouteRule> LoadRoute(const YamlReader& r, const YAML::Node& node) {
  RouteRule rule;
  rule.line = YamlReader::LineOf(node);
  if (node.IsScalar()) {
    rule.template_path = node.Scalar();
  } else {
    APIMETER_ASSIGN_OR_RETURN(std::vector<YamlField> fields,
                              r.OpenMap(node, "routes[]", config_keys::kRoute));
    for (const YamlField& f : fields) {
      std::string* out = f.key == "template" ? &rule.template_path
                         : f.key == "match"  ? &rule.match
                                             : &rule.name;
      APIMETER_ASSIGN_OR_RETURN(*out, r.String(f, "routes[]." + f.key));
    }
    if (rule.template_path.empty() == rule.match.empty()) {
      return r.ErrorAtLine(rule.line,
                           "a route needs exactly one of 'template' and 'match'; write "
                           "\"/v1/orders/{id}\" or { match: '^/v2/x/[^/]+$', name: "
                           "'/v2/x/:id' }");
    }
    if (!rule.match.empty() && rule.name.empty()) {
      return r.ErrorAtLine(rule.line,
                           "a 'match' route needs a 'name' (the endpoint to count "
                           "matching paths as); add e.g. name: '/v2/geo/ip/:ip'");
    }
    if (!rule.name.empty()) APIMETER_RETURN_IF_ERROR(CheckRouteName(r, node, rule.name));
    if (!rule.template_path.empty() && !rule.name.empty()) {
      return r.ErrorAtLine(rule.line,
                           "a template route takes no 'name' (it is counted as the "
                           "template with {x} written as :x); remove 'name', or use "
                           "'match' with a regex");
    }
  }
  if (!rule.template_path.empty() &&
      (rule.template_path[0] != '/' || rule.template_path.size() > kMaxEndpointNameBytes ||
       HasControlChar(rule.template_path, false))) {
    return r.ErrorAt(node, "route template '" + rule.template_path.substr(0, 60) +
                               "' must be a path starting with '/' (at most " +
                               std::to_string(kMaxEndpointNameBytes) +
                               " bytes); write e.g. \"/v1/orders/{id}/items\"");
  }
  return rule;
}

// The normalizer numbers routes from 1 within the list it was given; a rule
// checked alone is "route 1", so give it its place in the config's list.
std::string RenumberRoute(const std::string& message, size_t index) {
  const std::string alone = "route 1";
  if (message.rfind(alone, 0) != 0) return "route " + std::to_string(index) + ": " + message;
  return "route " + std::to_string(index) + message.substr(alone.size());
}

RouteSpec ToSpec(const RouteRule& rule) {
  RouteSpec spec;
  spec.template_path = rule.template_path;
  spec.match = rule.match;
  spec.name = rule.name;
  return spec;
}

}  // namespace

std::vector<std::string> LogFormatVariables(std::string_view log_format) {
  const std::string_view text = LogFormatText(log_format);
  std::vector<std::string> vars;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$') continue;
    size_t begin = i + 1;
    const bool braced = begin < text.size() && text[begin] == '{';
    if (braced) ++begin;
    size_t end = begin;
    while (end < text.size() && IsVarChar(text[end])) ++end;
    if (end > begin) vars.emplace_back(text.substr(begin, end - begin));
    i = end > begin ? end - 1 : i;
  }
  return vars;
}

Status CompileSource(const YamlReader& r, const SourceConfig& s, int format_line,
                     int64_t max_line_bytes) {
  Result<LineParser> parser = LineParser::Compile(FormatSpecOf(s, max_line_bytes));
  if (!parser.ok()) return r.ErrorAtLine(format_line, "log_format: " + parser.status().message());
  return Status::Ok();
}

Status LoadSources(const YamlReader& r, const YamlField& f, const ConfigEnvironment& env,
                   int64_t max_line_bytes, std::vector<SourceConfig>* out) {
  if (!f.value.IsSequence() || f.value.size() == 0) {
    return r.ErrorAt(f,
                     "'sources' must be a non-empty list of log sources; add e.g.\n"
                     "  - paths: [\"/var/log/nginx/access.log*\"]\n    log_format: combined");
  }
  if (f.value.size() > kMaxSources) {
    return r.ErrorAt(f, "too many sources (" + std::to_string(f.value.size()) + ", at most " +
                            std::to_string(kMaxSources) + "); use globs to cover many files");
  }
  for (const YAML::Node& item : f.value) {
    if (!item.IsMap()) {
      return r.ErrorAt(item.IsNull() ? f.key_node : item,
                       "each source must be a mapping with 'paths' and 'log_format'; write "
                       "'- paths: [...]' on the item's line");
    }
    APIMETER_ASSIGN_OR_RETURN(SourceConfig s, LoadSource(r, item, env, max_line_bytes));
    out->push_back(std::move(s));
  }
  return Status::Ok();
}

Status LoadRoutes(const YamlReader& r, const YamlField& f, std::vector<RouteRule>* out) {
  if (f.value.IsNull()) return Status::Ok();
  if (!f.value.IsSequence()) {
    return r.ErrorAt(f,
                     "'routes' must be a list of templates or {match, name} rules; write e.g. "
                     "- \"/v1/orders/{id}\"");
  }
  if (f.value.size() > kMaxRoutes) {
    return r.ErrorAt(f, "too many routes (at most " + std::to_string(kMaxRoutes) +
                            "); use regex rules to cover many paths");
  }
  std::vector<RouteSpec> specs;
  for (const YAML::Node& item : f.value) {
    if (!item.IsScalar() && !item.IsMap()) {
      return r.ErrorAt(item.IsNull() ? f.key_node : item,
                       "a route must be a template string or a {match, name} mapping; write e.g. "
                       "- \"/v1/orders/{id}\"");
    }
    APIMETER_ASSIGN_OR_RETURN(RouteRule rule, LoadRoute(r, item));
    // Each rule is compiled alone first so a problem is reported at its own line.
    Result<EndpointNormalizer> one = EndpointNormalizer::Create({ToSpec(rule)});
    if (!one.ok())
      return r.ErrorAtLine(rule.line, RenumberRoute(one.status().message(), specs.size() + 1));
    specs.push_back(ToSpec(rule));
    out->push_back(std::move(rule));
  }
  Result<EndpointNormalizer> all = EndpointNormalizer::Create(std::move(specs));
  if (!all.ok()) return r.ErrorAt(f, "routes: " + all.status().message());
  return Status::Ok();
}

}  // namespace apimeter::config_internal

namespace apimeter {

FormatSpec FormatSpecOf(const SourceConfig& source, int64_t max_line_bytes) {
  FormatSpec spec;
  spec.log_format = source.log_format;
  spec.escape = source.escape;
  spec.customer_var = source.customer_var;
  spec.latency_var = source.latency_var;
  spec.bytes_out_var = source.bytes_out_var;
  spec.max_line_bytes = static_cast<size_t>(max_line_bytes);
  return spec;
}

CustomerKeySpec CustomerKeySpecOf(const SourceConfig& source) {
  return CustomerKeySpec{source.customer_match, source.customer_jwt_claim};
}

}  // namespace apimeter
