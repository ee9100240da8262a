// server: (see server_section.h).
#include "config/server_section.h"

#include <arpa/inet.h>

#include <set>

#include "config/config_keys.h"
#include "config/customers_file.h"

namespace apimeter::config_internal {
namespace {

constexpr int64_t kMsPerDay = 86400 * 1000LL;
constexpr size_t kMinSecretBytes = 16;
constexpr size_t kMaxTokens = 1000;
constexpr size_t kMaxTrustedUsers = 10000;
constexpr size_t kMaxUserBytes = 256;

bool HasControlChar(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// "sha256:" and 64 lower-case hex digits: a token hash from apimeter hash-token.
bool IsTokenHashText(std::string_view s) {
  constexpr std::string_view kPrefix = "sha256:";
  if (s.size() != kPrefix.size() + 64 || s.substr(0, kPrefix.size()) != kPrefix) return false;
  return s.substr(kPrefix.size()).find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// An IP address as canonical text (an IPv4-mapped IPv6 one as IPv4), or "".
std::string CanonicalIp(const std::string& text) {
  char buf[INET6_ADDRSTRLEN] = {};
  unsigned char v4[4], v6[16];
  if (inet_pton(AF_INET, text.c_str(), v4) == 1) {
    return inet_ntop(AF_INET, v4, buf, sizeof buf) ? buf : "";
  }
  if (inet_pton(AF_INET6, text.c_str(), v6) != 1) return "";
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(v6, v6 + 12, kMapped)) return inet_ntop(AF_INET, v6 + 12, buf, sizeof buf);
  return inet_ntop(AF_INET6, v6, buf, sizeof buf) ? buf : "";
}

// An HTTP field name (RFC 9110 token) that is not one serve reads itself.
bool IsUsableHeaderName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  }
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::set<std::string> kOwn = {"authorization", "cookie", "host", "origin",
                                             "referer", "content-type", "x-forwarded-for",
                                             "x-forwarded-host"};
  return kOwn.count(lower) == 0;
}

// role: and customer: of a token or trusted user (`what` names it in messages).
Status LoadGrant(const YamlReader& r, const YamlField& x, const std::string& what,
                 const YamlField* role, const YamlField* customer, AccessGrantConfig* g) {
  g->line = YamlReader::LineOf(x);
  if (customer != nullptr) {
    APIMETER_ASSIGN_OR_RETURN(g->customer, r.String(*customer, what + ".customer"));
    if (g->customer.empty() || g->customer.size() > kMaxCustomerNameBytes ||
        HasControlChar(g->customer)) {
      return r.ErrorAt(*customer, what + ".customer must be 1 to 64 printable characters: a "
                                         "customer id (k_...) or a name from customers_file");
    }
    if (g->customer == "anonymous" || g->customer == "other") {
      return r.ErrorAt(*customer, what + ".customer '" + g->customer +
                                      "' is not one customer but a bucket of many; write a "
                                      "customer id (k_...) or a name from customers_file");
    }
    g->line = YamlReader::LineOf(*customer);
  }
  if (role != nullptr) {
    APIMETER_ASSIGN_OR_RETURN(g->role, r.String(*role, what + ".role"));
    if (g->role != "admin" && g->role != "viewer") {
      return r.ErrorAt(*role, what + ".role must be admin or viewer, got '" +
                                  g->role.substr(0, 40) + "'");
    }
    if (g->role == "admin" && !g->customer.empty()) {
      return r.ErrorAt(*role, what + ": a token or user limited to one customer is a viewer; "
                                     "remove 'role: admin' or the customer");
    }
  } else {
    g->role = g->customer.empty() ? "admin" : "viewer";
  }
  return Status::Ok();
}

const YamlField* FindField(const std::vector<YamlField>& fields, std::string_view key) {
  for (const YamlField& f : fields) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

Status LoadTokens(const YamlReader& r, const YamlField& x, ServerConfig* s) {
  if (!x.value.IsSequence() && !x.value.IsScalar()) {
    return r.ErrorAt(x, "server.tokens must be a list of token hashes (or mappings with hash, "
                        "role, customer); write e.g. [\"sha256:...\"]");
  }
  std::vector<YAML::Node> items;
  if (x.value.IsScalar()) {
    items.push_back(x.value);
  } else {
    for (const YAML::Node& item : x.value) items.push_back(item);
  }
  if (items.size() > kMaxTokens) return r.ErrorAt(x, "server.tokens: at most 1000 tokens");
  std::set<std::string> seen;
  const std::string bad_hash =
      "server.tokens: each hash must be \"sha256:<64 hex digits>\" (never the token itself); "
      "create one with apimeter hash-token";
  for (const YAML::Node& item : items) {
    if (item.IsMap()) {
      APIMETER_ASSIGN_OR_RETURN(std::vector<YamlField> fields,
                                r.OpenMap(item, "server.tokens[]", config_keys::kServerToken));
      const YamlField* hash = FindField(fields, "hash");
      if (hash == nullptr) {
        return r.ErrorAt(item, "server.tokens: this entry has no hash; write hash: "
                               "\"sha256:...\" (from apimeter hash-token)");
      }
      TokenConfig t;
      APIMETER_ASSIGN_OR_RETURN(t.hash, r.String(*hash, "server.tokens[].hash"));
      if (!IsTokenHashText(t.hash)) return r.ErrorAt(*hash, bad_hash);
      APIMETER_RETURN_IF_ERROR(LoadGrant(r, *hash, "server.tokens[]", FindField(fields, "role"),
                                         FindField(fields, "customer"), &t.grant));
      if (!seen.insert(t.hash).second) {
        return r.ErrorAt(*hash, "server.tokens: this hash is listed twice; keep one entry per "
                                "token");
      }
      if (t.grant.role == "admin" && t.grant.customer.empty()) {
        s->tokens.push_back(t.hash);  // the same as a plain entry
      } else {
        s->scoped_tokens.push_back(std::move(t));
      }
      continue;
    }
    APIMETER_ASSIGN_OR_RETURN(std::string hash, r.StringNode(item, "server.tokens"));
    if (!IsTokenHashText(hash)) return r.ErrorAt(item, bad_hash);
    if (!seen.insert(hash).second) {
      return r.ErrorAt(item, "server.tokens: this hash is listed twice; keep one entry per token");
    }
    s->tokens.push_back(std::move(hash));
  }
  return Status::Ok();
}

Status LoadTrustedUsers(const YamlReader& r, const YamlField& x, TrustedHeaderConfig* th) {
  if (!x.value.IsSequence()) {
    return r.ErrorAt(x, "server.trusted_header.users must be a list of mappings; write e.g.\n"
                        "users:\n  - user: alice@example.com\n    role: admin");
  }
  std::set<std::string> seen;
  for (const YAML::Node& item : x.value) {
    APIMETER_ASSIGN_OR_RETURN(
        std::vector<YamlField> fields,
        r.OpenMap(item, "server.trusted_header.users[]", config_keys::kTrustedUser));
    const YamlField* user = FindField(fields, "user");
    if (!item.IsMap() || user == nullptr) {
      return r.ErrorAt(item, "server.trusted_header.users: each entry needs user: (the header's "
                             "value, e.g. an email address)");
    }
    TrustedUserConfig u;
    APIMETER_ASSIGN_OR_RETURN(u.user, r.String(*user, "server.trusted_header.users[].user"));
    if (u.user.empty() || u.user.size() > kMaxUserBytes || HasControlChar(u.user)) {
      return r.ErrorAt(*user, "server.trusted_header.users[].user must be 1 to 256 printable "
                              "characters");
    }
    if (!seen.insert(u.user).second) {
      return r.ErrorAt(*user, "server.trusted_header.users: user '" + u.user.substr(0, 64) +
                                  "' is listed twice; keep one entry");
    }
    APIMETER_RETURN_IF_ERROR(LoadGrant(r, *user, "server.trusted_header.users[]",
                                       FindField(fields, "role"), FindField(fields, "customer"),
                                       &u.grant));
    if (th->users.size() >= kMaxTrustedUsers) {
      return r.ErrorAt(*user, "server.trusted_header.users: at most 10000 users");
    }
    th->users.push_back(std::move(u));
  }
  return Status::Ok();
}

Status LoadTrustedHeader(const YamlReader& r, const YamlField& f, TrustedHeaderConfig* th) {
  APIMETER_ASSIGN_OR_RETURN(std::vector<YamlField> fields,
                            r.OpenMap(f.value, "server.trusted_header", config_keys::kTrustedHeader));
  for (const YamlField& x : fields) {
    const std::string name = "server.trusted_header." + x.key;
    if (x.key == "header") {
      APIMETER_ASSIGN_OR_RETURN(th->header, r.String(x, name));
      if (!IsUsableHeaderName(th->header)) {
        return r.ErrorAt(x, name + " '" + th->header.substr(0, 64) +
                                "' must be a header name (letters, digits, '-') that serve does "
                                "not read itself; write e.g. header: X-Forwarded-User");
      }
    } else if (x.key == "proxies") {
      APIMETER_ASSIGN_OR_RETURN(std::vector<std::string> proxies, r.StringList(x, name));
      for (const std::string& p : proxies) {
        const std::string ip = CanonicalIp(p);
        if (ip.empty()) {
          return r.ErrorAt(x, name + ": '" + p.substr(0, 64) +
                                  "' is not an IP address; list the addresses the proxy "
                                  "connects from, e.g. [\"127.0.0.1\", \"::1\"]");
        }
        th->proxies.push_back(ip);
      }
    } else if (x.key == "users") {
      APIMETER_RETURN_IF_ERROR(LoadTrustedUsers(r, x, th));
    } else {
      APIMETER_ASSIGN_OR_RETURN(th->unlisted, r.String(x, name));
      if (th->unlisted != "refuse" && th->unlisted != "viewer" && th->unlisted != "admin") {
        return r.ErrorAt(x, name + " must be refuse, viewer or admin (what a user who is not in "
                                   "users may do)");
      }
    }
  }
  if (th->header.empty()) {
    return r.ErrorAt(f.key_node, "server.trusted_header needs header: (the header the proxy sets, e.g. "
                        "X-Forwarded-User)");
  }
  if (th->proxies.empty()) {
    return r.ErrorAt(f.key_node, "server.trusted_header needs proxies: the addresses the proxy connects "
                        "from (e.g. [\"127.0.0.1\"]); the header is believed from them only");
  }
  return Status::Ok();
}

Status ResolveGrant(const YamlReader& r, const std::map<std::string, std::string>& customers,
                    const std::string& what, AccessGrantConfig* g) {
  if (g->customer.empty()) return Status::Ok();
  if (auto it = customers.find(g->customer); it != customers.end()) {
    g->customer_name = it->second;  // stored under its display name
    g->customer_id = it->first;
    return Status::Ok();
  }
  for (const auto& [id, name] : customers) {
    if (name == g->customer) {
      g->customer_name = name;
      g->customer_id = id;
      return Status::Ok();
    }
  }
  if (IsCustomerId(g->customer)) {
    g->customer_name = g->customer;
    g->customer_id = g->customer;
    return Status::Ok();
  }
  return r.ErrorAtLine(g->line, what + ".customer '" + g->customer +
                                    "' is neither a customer id (k_ and 12 hex digits, as "
                                    "`apimeter query customers` shows ids) nor a name in "
                                    "customers_file; write the id, or add the name to "
                                    "customers_file");
}

}  // namespace

bool IsHostPort(std::string_view s) {
  const size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == s.size()) return false;
  const std::string_view port = s.substr(colon + 1);
  if (port.size() > 5) return false;
  int p = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    p = p * 10 + (c - '0');
  }
  const std::string_view host = s.substr(0, colon);
  return p >= 1 && p <= 65535 && host.find_first_of(" \t") == std::string_view::npos &&
         !HasControlChar(host);
}

// server: for `apimeter serve`. Tokens are hashes only, so a leaked config
// does not leak access; an empty list is valid here (only serve needs one).
Status LoadServer(const YamlReader& r, const YamlField& f, ServerConfig* s) {
  APIMETER_ASSIGN_OR_RETURN(std::vector<YamlField> fields,
                            r.OpenMap(f.value, "server", config_keys::kServer));
  for (const YamlField& x : fields) {
    const std::string name = "server." + x.key;
    if (x.key == "listen") {
      APIMETER_ASSIGN_OR_RETURN(s->listen, r.String(x, name));
      if (!IsHostPort(s->listen)) {
        return r.ErrorAt(x, "server.listen '" + s->listen.substr(0, 60) +
                                "' is not host:port; write e.g. 127.0.0.1:8080");
      }
    } else if (x.key == "tokens") {
      APIMETER_RETURN_IF_ERROR(LoadTokens(r, x, s));
    } else if (x.key == "trusted_header") {
      APIMETER_RETURN_IF_ERROR(LoadTrustedHeader(r, x, &s->trusted_header));
    } else if (x.key == "workers") {
      APIMETER_ASSIGN_OR_RETURN(s->workers, r.Int(x, name, 1, 64));
    } else if (x.key == "session_ttl") {
      APIMETER_ASSIGN_OR_RETURN(s->session_ttl_s,
                                r.DurationMs(x, name, 60000, 30 * kMsPerDay, /*allow_ms=*/false));
      s->session_ttl_s /= 1000;
    } else {
      APIMETER_ASSIGN_OR_RETURN(s->session_secret, r.String(x, name));
      if (s->session_secret.size() < kMinSecretBytes) {
        return r.ErrorAt(x, "server.session_secret must be at least 16 bytes; generate one "
                            "with: openssl rand -hex 32");
      }
    }
  }
  return Status::Ok();
}

Status ResolveServerCustomers(const YamlReader& r, const std::map<std::string, std::string>& customers,
                              ServerConfig* server) {
  for (TokenConfig& t : server->scoped_tokens) {
    APIMETER_RETURN_IF_ERROR(ResolveGrant(r, customers, "server.tokens[]", &t.grant));
  }
  for (TrustedUserConfig& u : server->trusted_header.users) {
    APIMETER_RETURN_IF_ERROR(
        ResolveGrant(r, customers, "server.trusted_header.users[]", &u.grant));
  }
  return Status::Ok();
}

}  // namespace apimeter::config_internal
