// Redaction of log lines shown to people (parsers/redact.h), and
// LineParser::SecretSpans, which knows the format's positions.
#include "parsers/redact.h"

#include <algorithm>
#include <cstdint>

#include "parsers/compiled_format.h"
#include "parsers/line_parser.h"

namespace apimeter {
namespace {

bool IsTokenByte(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '+' || c == '-';
}

// Every run of token bytes (with base64's trailing '=' padding) of
// kKeyLikeRunBytes or more in [begin, end). '=' inside a run ends it, so
// "key=<value>" keeps its name.
void AddKeyLikeRuns(std::string_view line, size_t begin, size_t end, std::vector<SecretSpan>* out) {
  size_t i = begin;
  while (i < end) {
    if (!IsTokenByte(line[i])) {
      ++i;
      continue;
    }
    const size_t run = i;
    while (i < end && IsTokenByte(line[i])) ++i;
    while (i < end && line[i] == '=') ++i;
    if (i - run >= kKeyLikeRunBytes) out->push_back({run, i, SecretSpan::Kind::kGuessed});
  }
}

// "METHOD target[ HTTP/x.y]": the method is upper-case letters, the target a path or a URL.
// Sets [target_begin, target_end) relative to `field`.
bool RequestLineShape(std::string_view field, size_t* target_begin, size_t* target_end) {
  size_t m = 0;
  while (m < field.size() && m <= 16 && field[m] >= 'A' && field[m] <= 'Z') ++m;
  if (m == 0 || m >= field.size() || field[m] != ' ') return false;
  const std::string_view target = field.substr(m + 1);
  if (target.empty() || (target[0] != '/' && target.rfind("http", 0) != 0)) return false;
  const size_t proto = target.rfind(" HTTP/");
  *target_begin = m + 1;
  *target_end = m + 1 + (proto == std::string_view::npos ? target.size() : proto);
  return true;
}

// A quoted field [begin, end) of a line that did not match.
void GuessQuotedField(std::string_view line, size_t begin, size_t end,
                      std::vector<SecretSpan>* out) {
  const std::string_view field = line.substr(begin, end - begin);
  if (field.empty() || field == "-") return;
  size_t tb = 0, te = 0;
  if (!RequestLineShape(field, &tb, &te)) {
    out->push_back({begin, end, SecretSpan::Kind::kGuessed});
    return;
  }
  // Method, path and protocol stay readable; the query string may carry a key.
  const size_t query = field.substr(0, te).find('?', tb);
  const size_t path_end = query == std::string_view::npos ? te : query;
  AddKeyLikeRuns(line, begin + tb, begin + path_end, out);
  if (query != std::string_view::npos && query + 1 < te) {
    out->push_back({begin + query + 1, begin + te, SecretSpan::Kind::kGuessed});
  }
}

int Rank(SecretSpan::Kind k) {
  switch (k) {
    case SecretSpan::Kind::kCustomer:
      return 3;
    case SecretSpan::Kind::kCredential:
      return 2;
    case SecretSpan::Kind::kGuessed:
      return 1;
  }
  return 0;
}

}  // namespace

bool IsCredentialVariable(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  for (std::string_view word :
       {"auth", "cookie", "token", "key", "secret", "passw", "session", "jwt"}) {
    if (lower.find(word) != std::string::npos) return true;
  }
  return false;
}

std::vector<SecretSpan> GuessSecretSpans(std::string_view line) {
  std::vector<SecretSpan> out;
  size_t plain = 0;  // start of the text outside quotes not yet scanned
  size_t i = 0;
  while (i < line.size()) {
    if (line[i] != '"') {
      ++i;
      continue;
    }
    AddKeyLikeRuns(line, plain, i, &out);
    const size_t begin = i + 1;
    size_t end = begin;
    while (end < line.size() && line[end] != '"') end += line[end] == '\\' ? 2 : 1;
    end = std::min(end, line.size());  // an unclosed quote runs to the end of the line
    const bool json_key = end + 1 < line.size() && line[end + 1] == ':';
    if (!json_key) GuessQuotedField(line, begin, end, &out);
    i = end + 1;
    plain = std::min(i, line.size());
  }
  AddKeyLikeRuns(line, plain, line.size(), &out);
  return out;
}

std::vector<SecretSpan> MergeSecretSpans(std::vector<SecretSpan> spans, size_t line_size) {
  // Per byte: the strongest span covering it (customer spans keep their own
  // identity, so two occurrences of a key stay two markers).
  std::vector<int> owner(line_size, -1);
  for (size_t s = 0; s < spans.size(); ++s) {
    const size_t end = std::min(spans[s].end, line_size);
    for (size_t b = spans[s].begin; b < end; ++b) {
      if (owner[b] < 0 || Rank(spans[s].kind) > Rank(spans[owner[b]].kind)) {
        owner[b] = static_cast<int>(s);
      }
    }
  }
  std::vector<SecretSpan> out;
  for (size_t b = 0; b < line_size;) {
    if (owner[b] < 0) {
      ++b;
      continue;
    }
    const SecretSpan::Kind kind = spans[owner[b]].kind;
    const int id = owner[b];
    size_t e = b;
    while (e < line_size && owner[e] >= 0 &&
           (kind == SecretSpan::Kind::kCustomer ? owner[e] == id : spans[owner[e]].kind == kind)) {
      ++e;
    }
    out.push_back({b, e, kind});
    b = e;
  }
  return out;
}

std::string SecretMarker(const SecretSpan& span, std::string_view line,
                         const RedactOptions& options) {
  if (span.kind == SecretSpan::Kind::kCustomer && options.customer_mask) {
    return options.customer_mask(line.substr(span.begin, span.end - span.begin));
  }
  return std::string(kMaskedText);
}

std::string RedactLine(std::string_view line, const std::vector<SecretSpan>& spans,
                       const RedactOptions& options) {
  if (options.show_raw) return std::string(line);
  std::string out;
  out.reserve(line.size());
  size_t at = 0;
  for (const SecretSpan& s : spans) {
    if (s.begin < at || s.end > line.size()) continue;  // not sorted or out of range: skip
    out.append(line.substr(at, s.begin - at));
    out += SecretMarker(s, line, options);
    at = s.end;
  }
  out.append(line.substr(at));
  return out;
}

namespace {

using parsers_internal::CompiledFormat;

bool HasCredentialVariableBesides(const CompiledFormat& f, std::string_view customer_var) {
  for (const auto& t : f.tokens) {
    if (t.is_var && t.text != customer_var && IsCredentialVariable(t.text)) return true;
  }
  return false;
}

}  // namespace

std::vector<SecretSpan> LineParser::SecretSpans(std::string_view line) const {
  const CompiledFormat& f = *impl_;
  const std::string_view customer_var =
      f.customer_slot >= 0 ? std::string_view(f.slot_names[f.customer_slot]) : std::string_view();
  std::vector<SecretSpan> spans;
  std::string_view customer;  // the customer value, once its position is known
  auto add = [&](std::string_view v, SecretSpan::Kind kind) {
    if (v.empty()) return;
    const size_t at = static_cast<size_t>(v.data() - line.data());
    spans.push_back({at, at + v.size(), kind});
  };
  // "-" and "" are nginx's "no value": nothing to hide.
  auto add_customer = [&](std::string_view v) {
    if (v.empty() || v == "-") return;
    if (customer.empty()) customer = v;
    add(v, SecretSpan::Kind::kCustomer);
  };
  bool complete = false;  // every secret variable's position is known
  std::string_view checked = line;
  ParseError err;
  if (parsers_internal::PreCheck(f, &checked, &err)) {
    std::vector<std::string_view> values(f.tokens.size());
    std::string_view caps[parsers_internal::kMaxSlots];
    parsers_internal::WalkFailure failure;
    complete = parsers_internal::Walk(f, checked, caps, values.data(), &failure);
    // On a mismatch the walker still knows the values before it.
    const size_t known =
        complete ? f.tokens.size() : static_cast<size_t>(std::max(failure.token, 0));
    for (size_t i = 0; i < known && i < f.tokens.size(); ++i) {
      const auto& t = f.tokens[i];
      if (!t.is_var) continue;
      if (!customer_var.empty() && t.text == customer_var) {
        add_customer(values[i]);
      } else if (IsCredentialVariable(t.text)) {
        add(values[i], SecretSpan::Kind::kCredential);
      }
    }
    if (!complete && parsers_internal::Re2Match(f, checked, caps)) {
      if (f.customer_slot >= 0) {
        customer = {};  // RE2's split is the reference
        add_customer(caps[f.customer_slot]);
      }
      complete = !HasCredentialVariableBesides(f, customer_var);
    }
  }
  // The key may be logged twice (e.g. also in the query string of $request).
  if (customer.size() >= 3) {
    for (size_t at = line.find(customer); at != std::string_view::npos;
         at = line.find(customer, at + customer.size())) {
      spans.push_back({at, at + customer.size(), SecretSpan::Kind::kCustomer});
    }
  }
  if (!complete) {
    std::vector<SecretSpan> guessed = GuessSecretSpans(line);
    spans.insert(spans.end(), guessed.begin(), guessed.end());
  }
  return MergeSecretSpans(std::move(spans), line.size());
}

}  // namespace apimeter
