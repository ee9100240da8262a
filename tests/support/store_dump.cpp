#include "tests/support/store_dump.h"

#include <algorithm>
#include <utility>

namespace apimeter::testing {
namespace {

// SCAN MATCH treats *?[]\ as pattern characters.
std::string GlobEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// Readable and unambiguous enough for a diff: control bytes as \xNN.
std::string Printable(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f || c == '\\') {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

Result<std::vector<std::string>> ScanKeys(RedisClient& c, const std::string& prefix) {
  std::vector<std::string> keys;
  std::string cursor = "0";
  do {
    auto r = c.Command({"SCAN", cursor, "MATCH", GlobEscape(prefix) + ":*", "COUNT", "1000"});
    if (!r.ok()) return r.status();
    if (r->type != RedisReply::Type::kArray || r->elements.size() != 2) {
      return Status::Internal("SCAN: unexpected reply " + r->str);
    }
    cursor = r->elements[0].str;
    for (RedisReply& k : r->elements[1].elements) keys.push_back(std::move(k.str));
  } while (cursor != "0");
  return keys;
}

RedisArgs ReadCommand(const std::string& type, const std::string& key) {
  if (type == "hash") return {"HGETALL", key};
  if (type == "zset") return {"ZRANGE", key, "0", "-1", "WITHSCORES"};
  if (type == "set") return {"SMEMBERS", key};
  if (type == "list") return {"LRANGE", key, "0", "-1"};
  return {"GET", key};
}

std::string Canonical(const std::string& type, const RedisReply& r) {
  if (type == "string") return Printable(r.str);
  std::vector<std::string> items;
  if (type == "hash" || type == "zset") {
    for (size_t i = 0; i + 1 < r.elements.size(); i += 2) {
      items.push_back(Printable(r.elements[i].str) + "=" + Printable(r.elements[i + 1].str));
    }
  } else {
    for (const RedisReply& e : r.elements) items.push_back(Printable(e.str));
  }
  if (type != "list") std::sort(items.begin(), items.end());
  std::string out;
  for (const std::string& s : items) out += s + "\n";
  return out;
}

Status DumpNode(const RedisEndpoint& node, const std::string& prefix, StoreDump* out) {
  RedisClient c(node);
  auto keys = ScanKeys(c, prefix);
  if (!keys.ok()) return keys.status();
  constexpr size_t kBatch = 500;
  for (size_t first = 0; first < keys->size(); first += kBatch) {
    const size_t last = std::min(keys->size(), first + kBatch);
    std::vector<RedisArgs> meta;
    for (size_t i = first; i < last; ++i) {
      meta.push_back({"TYPE", (*keys)[i]});
      meta.push_back({"EXPIRETIME", (*keys)[i]});
    }
    auto m = c.Pipeline(meta);
    if (!m.ok()) return m.status();
    std::vector<RedisArgs> reads;
    for (size_t i = first; i < last; ++i) {
      const std::string& type = (*m)[2 * (i - first)].str;
      if (type == "none") return Status::Internal("key vanished while dumping: " + (*keys)[i]);
      reads.push_back(ReadCommand(type, (*keys)[i]));
    }
    auto v = c.Pipeline(reads);
    if (!v.ok()) return v.status();
    for (size_t i = first; i < last; ++i) {
      const RedisReply& value = (*v)[i - first];
      if (value.is_error()) return Status::Internal((*keys)[i] + ": " + value.str);
      StoredKey k;
      k.type = (*m)[2 * (i - first)].str;
      k.expire_at = (*m)[2 * (i - first) + 1].integer;
      k.value = Canonical(k.type, value);
      if (!out->emplace((*keys)[i], std::move(k)).second) {
        return Status::Internal("key found on two nodes: " + (*keys)[i]);
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Result<StoreDump> DumpStore(const std::vector<RedisEndpoint>& nodes, const std::string& prefix) {
  StoreDump out;
  for (const RedisEndpoint& n : nodes) APIMETER_RETURN_IF_ERROR(DumpNode(n, prefix, &out));
  return out;
}

std::string KeyCategory(std::string_view prefix, std::string_view key) {
  if (key.substr(0, prefix.size()) != prefix || key.substr(prefix.size(), 1) != ":") {
    return "unknown";
  }
  std::string_view rest = key.substr(prefix.size() + 1);
  if (rest.substr(0, 5) == "ckpt:") return "checkpoint";  // standalone checkpoints
  if (rest.substr(0, 6) == "flush:") return "token";      // standalone tokens
  if (rest.substr(0, 6) == "agent:") return "agent";
  if (rest.empty() || rest[0] != '{') return "unknown";
  const size_t close = rest.find('}');
  if (close == std::string_view::npos || rest.substr(close + 1, 1) != ":") return "unknown";
  const std::string_view tag = rest.substr(1, close - 1);
  const std::string_view suffix = rest.substr(close + 2);
  if (tag.substr(0, 5) == "ckpt:") {  // the host's slot in cluster mode
    if (suffix.substr(0, 6) == "flush:") return "token";
    if (suffix.substr(0, 2) == "j:") return "journal";
    if (suffix == "journal") return "pending";
    return "checkpoint";
  }
  if (tag.substr(0, 3) == "reg") return "registry";
  if (suffix == "slow") return "slow";
  if (suffix == "done") return "marker";
  if (tag.empty() || tag.find('.') == std::string_view::npos) return "unknown";
  const std::string tier(1, tag[0]);
  for (std::string_view kind : {"max", "ie", "ic", "icb", "ih", "all"}) {
    if (suffix == kind) return tier + ":" + std::string(kind);
  }
  for (std::string_view kind : {"ice", "ce", "h", "e", "c"}) {
    if (suffix.substr(0, kind.size() + 1) == std::string(kind) + ":") {
      return tier + ":" + std::string(kind);
    }
  }
  return "unknown";
}

}  // namespace apimeter::testing
