#include "common/redis_url.h"

#include <charconv>

namespace apimeter {
namespace {

constexpr std::string_view kUrlHint = "expected redis://host:6379/0";

Status BadUrl(std::string_view url, const std::string& what) {
  return Status::InvalidArgument("redis.url '" + MaskRedisUrl(url) + "' " + what + "; " +
                                 std::string(kUrlHint));
}

bool ParseInt(std::string_view s, int min, int max, int* out) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < min || v > max) return false;
  *out = v;
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Passwords may contain URL-reserved characters; RFC 3986 says they are %-encoded.
bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

Result<RedisEndpoint> ParseUnixUrl(std::string_view url, std::string_view rest) {
  RedisEndpoint ep;
  std::string_view path = rest;
  const size_t q = rest.find('?');
  if (q != std::string_view::npos) {
    path = rest.substr(0, q);
    std::string_view query = rest.substr(q + 1);
    if (query.substr(0, 3) != "db=" || !ParseInt(query.substr(3), 0, 1 << 20, &ep.db)) {
      return BadUrl(url, "has a bad query '" + std::string(query) + "' (only db=N is known)");
    }
  }
  if (path.empty() || path[0] != '/') {
    return Status::InvalidArgument("redis.url '" + std::string(url) +
                                   "' needs an absolute socket path; expected "
                                   "unix:///run/redis/redis.sock?db=0");
  }
  ep.unix_socket = std::string(path);
  return ep;
}

// Splits "[user]:password@" off the authority, filling ep.username/password.
Status ParseUserInfo(std::string_view url, std::string_view userinfo, RedisEndpoint* ep) {
  const size_t colon = userinfo.find(':');
  std::string_view user = userinfo, pass;
  if (colon != std::string_view::npos) {
    user = userinfo.substr(0, colon);
    pass = userinfo.substr(colon + 1);
  } else {
    // "redis://secret@host" is the common legacy spelling of a bare password.
    pass = userinfo;
    user = {};
  }
  if (!PercentDecode(user, &ep->username) || !PercentDecode(pass, &ep->password)) {
    return BadUrl(url, "has a bad %-escape in the user or password");
  }
  return Status::Ok();
}

Status ParseHostPort(std::string_view url, std::string_view hostport, RedisEndpoint* ep) {
  std::string_view host = hostport, port;
  if (!hostport.empty() && hostport[0] == '[') {  // IPv6 literal: [::1]:6379
    const size_t close = hostport.find(']');
    if (close == std::string_view::npos) return BadUrl(url, "has an unclosed '[' in the host");
    host = hostport.substr(1, close - 1);
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return BadUrl(url, "has junk after the IPv6 host");
      port = after.substr(1);
      if (port.empty()) return BadUrl(url, "has an empty port");
    }
  } else {
    const size_t colon = hostport.rfind(':');
    if (colon != std::string_view::npos) {
      host = hostport.substr(0, colon);
      port = hostport.substr(colon + 1);
      if (port.empty()) return BadUrl(url, "has an empty port");
    }
  }
  if (host.empty()) return BadUrl(url, "has no host");
  ep->host = std::string(host);
  if (!port.empty() && !ParseInt(port, 1, 65535, &ep->port)) {
    return BadUrl(url, "has a bad port '" + std::string(port) + "'");
  }
  return Status::Ok();
}

}  // namespace

Result<RedisEndpoint> ParseRedisUrl(std::string_view url) {
  constexpr std::string_view kTcp = "redis://", kUnix = "unix://";
  if (url.substr(0, kUnix.size()) == kUnix) return ParseUnixUrl(url, url.substr(kUnix.size()));
  if (url.substr(0, kTcp.size()) != kTcp) {
    return BadUrl(url, "has an unknown scheme (only redis:// and unix:// are supported)");
  }
  std::string_view rest = url.substr(kTcp.size());
  RedisEndpoint ep;
  std::string_view authority = rest, path;
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    path = rest.substr(slash + 1);
  }
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    APIMETER_RETURN_IF_ERROR(ParseUserInfo(url, authority.substr(0, at), &ep));
    authority = authority.substr(at + 1);
  }
  APIMETER_RETURN_IF_ERROR(ParseHostPort(url, authority, &ep));
  if (!path.empty() && !ParseInt(path, 0, 1 << 20, &ep.db)) {
    return BadUrl(url, "has a bad database number '" + std::string(path) + "'");
  }
  return ep;
}

std::string MaskRedisUrl(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  const size_t start = scheme + 3;
  size_t end = url.find('/', start);
  if (end == std::string_view::npos) end = url.size();
  const size_t at = url.substr(0, end).rfind('@');
  if (at == std::string_view::npos || at < start) return std::string(url);
  std::string_view userinfo = url.substr(start, at - start);
  const size_t colon = userinfo.find(':');
  std::string masked(url.substr(0, start));
  if (colon != std::string_view::npos) masked += userinfo.substr(0, colon + 1);
  masked += "****";
  masked += url.substr(at);
  return masked;
}

Result<ClusterSeeds> ParseClusterSeeds(const std::vector<std::string>& seeds) {
  ClusterSeeds out;
  bool credentials = false;
  for (const std::string& seed : seeds) {
    const std::string shown = MaskRedisUrl(seed).substr(0, 80);
    auto bad = [&](const std::string& what) {
      return Status::InvalidArgument("redis.cluster entry '" + shown + "' " + what +
                                     "; write host:port or redis://[[user]:password@]host:port, "
                                     "e.g. [\"redis://apimeter:secret@10.0.0.1:6379\", "
                                     "\"10.0.0.2:6379\"]");
    };
    const bool url = seed.find("://") != std::string::npos;
    auto ep = ParseRedisUrl(url ? std::string_view(seed) : "redis://" + seed);
    if (!ep.ok()) return bad("is not valid");
    if (!ep->unix_socket.empty()) return bad("is a unix socket");
    if (ep->db != 0) return bad("names database " + std::to_string(ep->db) +
                                " (a Redis Cluster has only database 0)");
    if (!url && (seed.rfind(':') == std::string::npos || seed.find('@') != std::string::npos ||
                 seed.find('/') != std::string::npos)) {
      return bad("is not host:port");
    }
    for (char c : seed) {
      if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return bad("holds a space or control character");
    }
    out.nodes.push_back(ep->host + ":" + std::to_string(ep->port));
    if (ep->password.empty() && ep->username.empty()) continue;
    if (credentials && (ep->username != out.username || ep->password != out.password)) {
      return bad("has other credentials than an earlier entry (every node is asked with the "
                 "same user and password)");
    }
    credentials = true;
    out.username = ep->username;
    out.password = ep->password;
  }
  return out;
}

}  // namespace apimeter
