// YamlReader: typed, position-aware access to a parsed YAML document, used
// only inside config/.
//
// Promise: every accessor either yields a value of the requested type and
// range, or a Status whose message is "<file>:<line>: <what is wrong>; <how to
// fix>" with a 1-based line. Nothing here throws: the yaml-cpp calls used
// (Type, Scalar, Mark, iteration) do not throw on a parsed document, and
// parsing itself is wrapped in ParseYamlDocument. Unknown and duplicate keys
// are refused when a mapping is opened, with the nearest known key suggested.
// Thread-safety: stateless apart from the file name; use one per load.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/result.h"

namespace apimeter::config_internal {

// One entry of a mapping: the key node (for its line) and its value.
struct YamlField {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};

class YamlReader {
 public:
  explicit YamlReader(std::string file_name) : file_(std::move(file_name)) {}

  const std::string& file() const { return file_; }

  // "<file>:<line>: <message>" as an InvalidArgument Status.
  Status ErrorAtLine(int line, std::string_view message) const;
  // Error at a node's line (a null node without position falls back to `fallback`).
  Status ErrorAt(const YAML::Node& node, std::string_view message) const;
  Status ErrorAt(const YamlField& field, std::string_view message) const;
  // 1-based line of a field: its value's line, or its key's when the value is empty.
  static int LineOf(const YamlField& field);
  static int LineOf(const YAML::Node& node);

  // Parses text into a document; syntax errors become "<file>:<line>: YAML syntax error: ...".
  Result<YAML::Node> Parse(const std::string& text) const;

  // Opens a mapping. A null node (e.g. "limits:" with nothing under it) is an
  // empty mapping. `section` names the mapping in messages ("" = top level).
  // With any_key, every scalar key is accepted (duplicates are still refused,
  // without echoing the key: it may be a secret typed in the wrong place).
  // `known` is one of config/config_keys.h's lists (or empty with any_key).
  Result<std::vector<YamlField>> OpenMap(const YAML::Node& node, std::string_view section,
                                         std::span<const std::string_view> known,
                                         bool any_key = false) const;

  // Scalar readers. `name` is the dotted key used in messages, e.g. "limits.memory_mb".
  Result<std::string> String(const YamlField& f, std::string_view name) const;
  Result<std::string> StringNode(const YAML::Node& node, std::string_view name) const;
  Result<bool> Bool(const YamlField& f, std::string_view name) const;
  // A whole number in [min, max].
  Result<int64_t> Int(const YamlField& f, std::string_view name, int64_t min, int64_t max) const;
  // A size: plain bytes or a number with B, KiB, MiB or GiB, in [min, max] bytes.
  Result<int64_t> Size(const YamlField& f, std::string_view name, int64_t min, int64_t max) const;
  // A duration ("90s", "15m", "48h", "35d", and "500ms" when allow_ms), in
  // milliseconds, in [min_ms, max_ms].
  Result<int64_t> DurationMs(const YamlField& f, std::string_view name, int64_t min_ms,
                             int64_t max_ms, bool allow_ms) const;
  // A list of strings; a single string is accepted as a list of one.
  Result<std::vector<std::string>> StringList(const YamlField& f, std::string_view name) const;

 private:
  std::string file_;
};

// Levenshtein distance, bounded by the inputs' sizes (keys are short).
size_t EditDistance(std::string_view a, std::string_view b);
// The known key nearest to `key` if it is close enough to be a likely typo, else "".
std::string NearestKey(std::string_view key, std::span<const std::string_view> known);
inline std::string NearestKey(std::string_view key, std::initializer_list<std::string_view> known) {
  return NearestKey(key, std::span<const std::string_view>(known.begin(), known.size()));
}

// Parses "64KiB", "1MiB", "65536" into bytes; fails with a message (no position).
Result<int64_t> ParseSizeText(std::string_view text);
// Parses "500ms" or any ParseDuration text into milliseconds; bare numbers fail.
// A well-formed duration too large for int64 ms fails with ResourceExhausted.
Result<int64_t> ParseDurationMsText(std::string_view text, bool allow_ms);

// Text for a duration in ms / a size in bytes, in the largest exact unit
// ("48h", "1500ms", "64KiB"): what EffectiveConfigYaml prints and the loader reads back.
std::string FormatDurationMs(int64_t ms);
std::string FormatSize(int64_t bytes);

}  // namespace apimeter::config_internal
