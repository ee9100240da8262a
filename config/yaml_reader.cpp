#include "config/yaml_reader.h"

#include <yaml-cpp/depthguard.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <map>

#include "common/time_util.h"

namespace apimeter::config_internal {
namespace {

std::string_view TypeName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return "nothing";
    case YAML::NodeType::Scalar:
      return "a single value";
  }
  return "an unknown node";
}

std::string Quoted(std::string_view s) {
  // Long or multi-line values are cut so one bad value cannot flood the message.
  std::string out = "'";
  size_t n = 0;
  for (char c : s) {
    if (++n > 60) {
      out += "...";
      break;
    }
    out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
  }
  return out + "'";
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string Normalized(std::string_view key) {
  std::string out;
  for (char c : key)
    out += c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A well-formed duration whose number does not fit: ResourceExhausted, so
// DurationMs can name the key's maximum instead of the format.
Status TooLarge(std::string_view text) {
  return Status::ResourceExhausted("duration " + Quoted(text) + " is too large");
}

}  // namespace

Status YamlReader::ErrorAtLine(int line, std::string_view message) const {
  return Status::InvalidArgument(file_ + ":" + std::to_string(line < 1 ? 1 : line) + ": " +
                                 std::string(message));
}

int YamlReader::LineOf(const YAML::Node& node) {
  if (!node.IsDefined()) return 1;
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? 1 : mark.line + 1;
}

int YamlReader::LineOf(const YamlField& field) {
  // An empty value has no text of its own; its key's line is where to look.
  if (!field.value.IsDefined() || field.value.IsNull()) return LineOf(field.key_node);
  return LineOf(field.value);
}

Status YamlReader::ErrorAt(const YAML::Node& node, std::string_view message) const {
  return ErrorAtLine(LineOf(node), message);
}

Status YamlReader::ErrorAt(const YamlField& field, std::string_view message) const {
  return ErrorAtLine(LineOf(field), message);
}

Result<YAML::Node> YamlReader::Parse(const std::string& text) const {
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(text);
    if (docs.size() > 1) {
      return ErrorAt(docs[1], "the file holds " + std::to_string(docs.size()) +
                                  " YAML documents; keep one (remove the extra '---')");
    }
    if (docs.empty()) return YAML::Node(YAML::NodeType::Null);
    return docs[0];
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's own message for this is only "bad file".
    const int line = e.mark.is_null() ? 1 : e.mark.line + 1;
    return ErrorAtLine(line, "the YAML is nested too deeply: the parser stops at " +
                                 std::to_string(e.depth()) +
                                 " levels of nesting (an apimeter config needs fewer than 10); "
                                 "check the indentation and the brackets up to this line");
  } catch (const YAML::Exception& e) {
    const int line = e.mark.is_null() ? 1 : e.mark.line + 1;
    return ErrorAtLine(line, "YAML syntax error: " + e.msg +
                                 "; check the indentation and quoting of this line and the one "
                                 "before it");
  } catch (const std::exception& e) {
    return ErrorAtLine(1, std::string("cannot parse the file: ") + e.what() +
                              "; check that it is a YAML text file");
  }
}

Result<std::vector<YamlField>> YamlReader::OpenMap(const YAML::Node& node, std::string_view section,
                                                   std::span<const std::string_view> known,
                                                   bool any_key) const {
  std::vector<YamlField> fields;
  if (!node.IsDefined() || node.IsNull()) return fields;
  const std::string where = section.empty() ? "" : " in '" + std::string(section) + "'";
  if (!node.IsMap()) {
    return ErrorAt(
        node, (section.empty() ? std::string("the file") : "'" + std::string(section) + "'") +
                  " must be a mapping of 'key: value' lines, got " + std::string(TypeName(node)) +
                  "; see docs/config.md");
  }
  std::map<std::string, int, std::less<>> seen;
  for (const auto& entry : node) {
    // Copies: yaml-cpp's iterator hands out temporaries, so a reference would dangle.
    const YAML::Node key = entry.first;
    if (!key.IsScalar()) {
      return ErrorAt(key, "a key" + where + " must be a plain name, got " +
                              std::string(TypeName(key)) + "; write 'name: value'");
    }
    const std::string& name = key.Scalar();
    if (!any_key && std::find(known.begin(), known.end(), name) == known.end()) {
      const std::string near = NearestKey(name, known);
      std::string msg = "unknown key " + Quoted(name) + where;
      if (!near.empty()) {
        msg += "; did you mean '" + near + "'?";
      } else {
        msg += "; known keys are:";
        for (std::string_view k : known) msg += " " + std::string(k);
      }
      return ErrorAt(key, msg);
    }
    auto [pos, inserted] = seen.emplace(name, LineOf(key));
    if (!inserted) {
      const std::string what = any_key ? "this key" : "key '" + name + "'";
      return ErrorAt(key, what + where + " appears twice (first on line " +
                              std::to_string(pos->second) + "); remove one of them");
    }
    fields.push_back(YamlField{name, key, entry.second});
  }
  return fields;
}

Result<std::string> YamlReader::StringNode(const YAML::Node& node, std::string_view name) const {
  if (!node.IsDefined() || node.IsNull()) {
    return ErrorAt(node, "'" + std::string(name) +
                             "' has no value; write a value after the colon or remove the key");
  }
  if (!node.IsScalar()) {
    return ErrorAt(node, "'" + std::string(name) + "' must be a single value, got " +
                             std::string(TypeName(node)) + "; write it on the key's line");
  }
  return node.Scalar();
}

Result<std::string> YamlReader::String(const YamlField& f, std::string_view name) const {
  if (!f.value.IsDefined() || f.value.IsNull()) {
    return ErrorAt(f, "'" + std::string(name) +
                          "' has no value; write a value after the colon or remove the key");
  }
  return StringNode(f.value, name);
}

Result<bool> YamlReader::Bool(const YamlField& f, std::string_view name) const {
  APIMETER_ASSIGN_OR_RETURN(std::string text, String(f, name));
  const std::string v = Normalized(text);
  if (v == "true" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "no" || v == "off") return false;
  return ErrorAt(f, "'" + std::string(name) + "' must be true or false, got " + Quoted(text) +
                        "; write true or false");
}

Result<int64_t> YamlReader::Int(const YamlField& f, std::string_view name, int64_t min,
                                int64_t max) const {
  const Result<std::string> read = String(f, name);
  if (!read.ok()) return read.status();
  const std::string& text = *read;
  int64_t v = 0;
  std::string_view s = text;
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  const bool whole = !s.empty() && ptr == s.data() + s.size();
  if (whole && ec == std::errc::result_out_of_range) {
    // A whole number, just too large (or small) for 64 bits: the range is what is wrong.
    return ErrorAt(f, "'" + std::string(name) + "' must be between " + std::to_string(min) +
                          " and " + std::to_string(max) + ", got " + Quoted(text) +
                          "; choose a value in that range");
  }
  if (!whole || ec != std::errc()) {
    return ErrorAt(f, "'" + std::string(name) + "' must be a whole number, got " + Quoted(text) +
                          "; write e.g. " + std::to_string(std::max<int64_t>(min, 1)));
  }
  if (v < min || v > max) {
    return ErrorAt(f, "'" + std::string(name) + "' must be between " + std::to_string(min) +
                          " and " + std::to_string(max) + ", got " + text +
                          "; choose a value in that range");
  }
  return v;
}

Result<int64_t> YamlReader::Size(const YamlField& f, std::string_view name, int64_t min,
                                 int64_t max) const {
  APIMETER_ASSIGN_OR_RETURN(std::string text, String(f, name));
  Result<int64_t> v = ParseSizeText(text);
  if (!v.ok()) return ErrorAt(f, std::string(name) + ": " + v.status().message());
  if (*v < min || *v > max) {
    return ErrorAt(f, "'" + std::string(name) + "' must be between " + FormatSize(min) + " and " +
                          FormatSize(max) + ", got " + text + "; choose a size in that range");
  }
  return v;
}

Result<int64_t> YamlReader::DurationMs(const YamlField& f, std::string_view name, int64_t min_ms,
                                       int64_t max_ms, bool allow_ms) const {
  APIMETER_ASSIGN_OR_RETURN(std::string text, String(f, name));
  Result<int64_t> v = ParseDurationMsText(text, allow_ms);
  if (!v.ok() && v.status().code() == StatusCode::kResourceExhausted) {
    return ErrorAt(f, "'" + std::string(name) + "' is too large, got " + Quoted(text) +
                          "; the largest allowed is " + FormatDurationMs(max_ms));
  }
  if (!v.ok()) return ErrorAt(f, std::string(name) + ": " + v.status().message());
  if (*v < min_ms || *v > max_ms) {
    return ErrorAt(f, "'" + std::string(name) + "' must be between " + FormatDurationMs(min_ms) +
                          " and " + FormatDurationMs(max_ms) + ", got " + text +
                          "; choose a duration in that range");
  }
  return v;
}

Result<std::vector<std::string>> YamlReader::StringList(const YamlField& f,
                                                        std::string_view name) const {
  std::vector<std::string> out;
  if (f.value.IsScalar()) {
    out.push_back(f.value.Scalar());
    return out;
  }
  if (!f.value.IsSequence()) {
    return ErrorAt(f, "'" + std::string(name) + "' must be a list, got " +
                          std::string(TypeName(f.value)) + "; write e.g. [\"a\", \"b\"]");
  }
  for (const YAML::Node& item : f.value) {
    APIMETER_ASSIGN_OR_RETURN(std::string s, StringNode(item, name));
    out.push_back(std::move(s));
  }
  return out;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string NearestKey(std::string_view key, std::span<const std::string_view> known) {
  // Bounded so a long garbage key cannot make suggestion costly.
  if (key.size() > 64) return "";
  const std::string norm = Normalized(key);
  std::string best;
  size_t best_d = std::numeric_limits<size_t>::max();
  for (std::string_view k : known) {
    const size_t d = EditDistance(norm, k);
    const size_t allowed = k.size() <= 4 ? 1 : (k.size() <= 8 ? 2 : 3);
    if (d <= allowed && d < best_d) {
      best_d = d;
      best = std::string(k);
    }
  }
  return best;
}

Result<int64_t> ParseSizeText(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  const std::string_view number = text.substr(0, digits);
  const std::string_view unit = text.substr(digits);
  int64_t mult = 0;
  if (unit.empty() || unit == "B") {
    mult = 1;
  } else if (unit == "KiB") {
    mult = int64_t{1} << 10;
  } else if (unit == "MiB") {
    mult = int64_t{1} << 20;
  } else if (unit == "GiB") {
    mult = int64_t{1} << 30;
  }
  if (number.empty() || mult == 0) {
    return Status::InvalidArgument("size " + Quoted(text) +
                                   " is not understood; write bytes or a whole number with KiB, "
                                   "MiB or GiB, e.g. 64KiB");
  }
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
  if (ec != std::errc() || n > std::numeric_limits<int64_t>::max() / mult) {
    return Status::InvalidArgument("size " + Quoted(text) + " is too large; write e.g. 64KiB");
  }
  return n * mult;
}

Result<int64_t> ParseDurationMsText(std::string_view text, bool allow_ms) {
  const std::string units = allow_ms ? "ms, s, m, h or d" : "s, m, h or d";
  if (AllDigits(text)) {
    return Status::InvalidArgument("duration " + Quoted(text) + " needs a unit; write e.g. " +
                                   std::string(text) + "s (units: " + units + ")");
  }
  if (allow_ms && text.size() > 2 && text.substr(text.size() - 2) == "ms") {
    const std::string_view number = text.substr(0, text.size() - 2);
    int64_t n = 0;
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
    const bool whole = ptr == number.data() + number.size() && AllDigits(number);
    if (ec == std::errc() && whole) return n;
    if (ec == std::errc::result_out_of_range && whole) return TooLarge(text);
    return Status::InvalidArgument("duration " + Quoted(text) +
                                   " must be a whole number followed by " + units + ", e.g. 500ms");
  }
  Result<int64_t> seconds = ParseDuration(text);
  if (!seconds.ok() && seconds.status().code() == StatusCode::kResourceExhausted) {
    return TooLarge(text);
  }
  if (!seconds.ok()) {
    return Status::InvalidArgument("duration " + Quoted(text) +
                                   " must be a whole number followed by " + units + ", e.g. 48h");
  }
  if (*seconds > std::numeric_limits<int64_t>::max() / 1000) return TooLarge(text);
  return *seconds * 1000;
}

std::string FormatDurationMs(int64_t ms) {
  if (ms == 0) return "0s";
  struct Unit {
    int64_t ms;
    const char* suffix;
  };
  static constexpr Unit kUnits[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
  for (const Unit& u : kUnits) {
    // Two days or less read better in hours ("48h", not "2d").
    if (u.ms == 86400000 && ms <= 2 * u.ms) continue;
    if (ms % u.ms == 0) return std::to_string(ms / u.ms) + u.suffix;
  }
  return std::to_string(ms) + "ms";
}

std::string FormatSize(int64_t bytes) {
  if (bytes > 0) {
    if (bytes % (int64_t{1} << 30) == 0) return std::to_string(bytes >> 30) + "GiB";
    if (bytes % (int64_t{1} << 20) == 0) return std::to_string(bytes >> 20) + "MiB";
    if (bytes % (int64_t{1} << 10) == 0) return std::to_string(bytes >> 10) + "KiB";
  }
  return std::to_string(bytes);
}

}  // namespace apimeter::config_internal
