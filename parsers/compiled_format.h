// Internal to parsers/: the compiled form of an nginx log_format, shared by the
// RE2 reference matcher, the fast path, record derivation and Explain.
//
// Promise: immutable after CompileFormat returns; safe to share across threads.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <re2/re2.h>

#include "common/result.h"
#include "parsers/line_parser.h"

namespace apimeter::parsers_internal {

// What a variable's value may look like. Each class has one regex and one
// deterministic matcher that follows the regex's leftmost-first priorities. Every class
// also matches the empty value (what nginx writes for a variable with no value under
// escape=json and escape=none); the derivation treats it like '-'.
enum class ValueClass : uint8_t {
  kGeneric,      // any bytes up to a stop byte (see Token), or lazily up to the next literal
  kStatus,       // \d{3}
  kCount,        // \d+|-
  kSeconds,      // \d+\.\d+
  kSecondsList,  // (?:\d+\.\d+|-)(?:(?:, | : )(?:\d+\.\d+|-))*
  kList,         // I(?:(?:, | : )I)*, I = bytes other than space, comma, stop byte (unquoted
                 // $upstream_addr, $upstream_status ...; inside quotes they are kGeneric)
  kTimeLocal,    // dd/Mon/yyyy:hh:mm:ss +zzzz
  kTimeIso,      // yyyy-mm-ddThh:mm:ss+hh:mm (or Z)
  kMsec,         // \d+\.\d{3}
};

struct Token {
  bool is_var = false;
  std::string text;   // literal bytes, or the variable name without '$'
  size_t column = 0;  // 1-based column in log_format
  ValueClass cls = ValueClass::kGeneric;
  // Generic values only: bytes that end the value (up to two; 0 = unused), whether a
  // backslash escapes the next byte (escape=json inside quotes), and whether the value is
  // matched lazily up to the next literal (escape=none inside quotes).
  std::array<char, 2> stop = {0, 0};
  bool json_escapes = false;
  bool lazy = false;
  int slot = -1;      // capture slot, or -1 when the value is not used
  bool last = false;  // the final token of the format
};

enum class TimeKind : uint8_t { kLocal, kIso, kMsec };
enum class RequestKind : uint8_t { kRequestLine, kMethodAndUri };

inline constexpr int kMaxSlots = 12;

struct CompiledFormat {
  std::vector<Token> tokens;
  std::string pattern;
  std::unique_ptr<RE2> re2;
  int slots = 0;
  std::vector<std::string> slot_names;  // variable of each slot
  bool fast_eligible = false;
  size_t max_line_bytes = 65536;
  // Roles: the slot holding each value the record needs (-1 = not logged).
  TimeKind time_kind = TimeKind::kLocal;
  int time_slot = -1;
  RequestKind request_kind = RequestKind::kRequestLine;
  int request_slot = -1;  // $request, or $request_uri / $uri
  int method_slot = -1;
  int status_slot = -1;
  int bytes_out_slot = -1;
  int bytes_in_slot = -1;
  int latency_slot = -1;
  int customer_slot = -1;
  int user_agent_slot = -1;  // $http_user_agent (the client dimension)
};

Result<std::shared_ptr<const CompiledFormat>> CompileFormat(const FormatSpec& spec);

// Where the fast walker stopped, for error offsets and Explain.
struct WalkFailure {
  size_t offset = 0;
  int token = -1;  // index of the token that failed, or tokens.size() for trailing bytes
};

// The deterministic walker. Fills caps[slot]; when `values` is non-null it also gets the
// value of every variable token (indexed by token). Returns false on a structural mismatch.
bool Walk(const CompiledFormat& f, std::string_view line, std::string_view* caps,
          std::string_view* values, WalkFailure* failure);

// Checks that do not depend on the format (empty, too long, binary). Returns false with *err
// set when the line is rejected; may shorten *line (a trailing '\r').
bool PreCheck(const CompiledFormat& f, std::string_view* line, ParseError* err);

// The anchored RE2 match of the whole line; fills caps[0..f.slots) on success.
bool Re2Match(const CompiledFormat& f, std::string_view line, std::string_view* caps);

// Turns captured values into a record. Shared by both matchers so they cannot disagree.
bool Derive(const CompiledFormat& f, std::string_view line, const std::string_view* caps,
            LogRecord* out, ParseError* err);

// Human description of a value class, e.g. "3-digit status".
std::string_view DescribeClass(const Token& t);

}  // namespace apimeter::parsers_internal
