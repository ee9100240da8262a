// Config sections: the loaders of each top-level key, used only inside config/.
//
// Promise: each function reads one section from an already-opened YAML field
// and either fills its part of Config with validated values or returns the
// first problem as "<file>:<line>: <what>; <how to fix>". Log formats and
// routes are validated by compiling them with parsers/ (so the messages for
// unknown nginx variables and bad routes are the parser's, with the position
// added). No I/O except through ConfigEnvironment.
// Thread-safety: stateless functions.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "config/yaml_reader.h"

namespace apimeter::config_internal {

inline constexpr size_t kMaxSources = 256;
inline constexpr size_t kMaxRoutes = 10000;
inline constexpr size_t kMaxEndpointNameBytes = 256;

// Names of the variables ($name or ${name}) used in an nginx log_format text
// (a preset name is expanded first), in order of appearance.
std::vector<std::string> LogFormatVariables(std::string_view log_format);

// sources: the list of log sources. max_line_bytes is passed to the parser.
Status LoadSources(const YamlReader& r, const YamlField& f, const ConfigEnvironment& env,
                   int64_t max_line_bytes, std::vector<SourceConfig>* out);
// routes: templates and regex rules, each checked by the endpoint normalizer.
Status LoadRoutes(const YamlReader& r, const YamlField& f, std::vector<RouteRule>* out);

// Validates one source against the parser (log_format, variables). `line` of
// the log_format value, for the message. (customer_match is compiled when it is read.)
Status CompileSource(const YamlReader& r, const SourceConfig& s, int format_line,
                     int64_t max_line_bytes);

}  // namespace apimeter::config_internal
