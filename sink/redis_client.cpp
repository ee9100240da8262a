#include "sink/redis_client.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <charconv>
#include <cstring>
#include <memory>
#include <new>

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

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

// hiredis builds each reply through these functions, straight into
// RedisReply objects: one allocation per array instead of a hiredis object
// per element that would then be copied (and short strings stay inline).
// A root object is heap-allocated and handed to Receive, which owns it; an
// element lives in its parent's `elements`, sized when the array is created.
RedisReply* NewReplyObject(const redisReadTask* task, RedisReply::Type type) {
  if (task->parent == nullptr) {
    auto* root = new (std::nothrow) RedisReply;
    if (root != nullptr) root->type = type;
    return root;
  }
  auto* parent = static_cast<RedisReply*>(task->parent->obj);
  RedisReply* out = &parent->elements[static_cast<size_t>(task->idx)];
  out->type = type;
  return out;
}

void* CreateString(const redisReadTask* task, char* str, size_t len) {
  const RedisReply::Type type = task->type == REDIS_REPLY_ERROR    ? RedisReply::Type::kError
                                : task->type == REDIS_REPLY_STATUS ? RedisReply::Type::kStatus
                                                                   : RedisReply::Type::kString;
  RedisReply* out = NewReplyObject(task, type);
  if (out != nullptr) out->str.assign(str, len);
  return out;
}

void* CreateArray(const redisReadTask* task, int elements) {
  RedisReply* out = NewReplyObject(task, RedisReply::Type::kArray);
  if (out == nullptr || elements <= 0) return out;
  try {  // no exception may cross hiredis's C frames; nullptr makes it an OOM error
    out->elements.resize(static_cast<size_t>(elements));
  } catch (const std::bad_alloc&) {
    if (task->parent == nullptr) delete out;
    return nullptr;
  }
  return out;
}

void* CreateInteger(const redisReadTask* task, long long value) {
  RedisReply* out = NewReplyObject(task, RedisReply::Type::kInteger);
  if (out != nullptr) out->integer = value;
  return out;
}

void* CreateNil(const redisReadTask* task) { return NewReplyObject(task, RedisReply::Type::kNil); }

void FreeReplyObject(void* reply) { delete static_cast<RedisReply*>(reply); }

redisReplyObjectFunctions kReplyFunctions = {CreateString, CreateArray, CreateInteger, CreateNil,
                                             FreeReplyObject};

std::string Where(const RedisEndpoint& ep) {
  if (!ep.unix_socket.empty()) return "unix:" + ep.unix_socket;
  return ep.host + ":" + std::to_string(ep.port);
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

RedisClient::RedisClient(RedisEndpoint endpoint) : endpoint_(std::move(endpoint)) {}

RedisClient::~RedisClient() { Disconnect(); }

bool RedisClient::connected() const { return ctx_ != nullptr; }

void RedisClient::Disconnect() {
  if (ctx_ != nullptr) redisFree(ctx_);
  ctx_ = nullptr;
}

Status RedisClient::Connect() {
  if (ctx_ != nullptr) return Status::Ok();
  const timeval ctv = ToTimeval(endpoint_.connect_timeout);
  redisContext* c = endpoint_.unix_socket.empty()
                        ? redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, ctv)
                        : redisConnectUnixWithTimeout(endpoint_.unix_socket.c_str(), ctv);
  if (c == nullptr) return Status::Unavailable("redis " + Where(endpoint_) + ": out of memory");
  if (c->err != 0) {
    Status s =
        Status::Unavailable("cannot connect to redis at " + Where(endpoint_) + ": " + c->errstr);
    redisFree(c);
    return s;
  }
  if (redisSetTimeout(c, ToTimeval(endpoint_.command_timeout)) != REDIS_OK) {
    redisFree(c);
    return Status::Unavailable("redis " + Where(endpoint_) + ": cannot set command timeout");
  }
  c->reader->fn = &kReplyFunctions;
  ctx_ = c;
  return Handshake();
}

Status RedisClient::Handshake() {
  std::vector<RedisArgs> setup;
  if (!endpoint_.password.empty()) {
    if (endpoint_.username.empty()) {
      setup.push_back({"AUTH", endpoint_.password});
    } else {
      setup.push_back({"AUTH", endpoint_.username, endpoint_.password});
    }
  }
  if (endpoint_.db != 0) setup.push_back({"SELECT", std::to_string(endpoint_.db)});
  if (setup.empty()) return Status::Ok();
  auto replies = RoundTrip(setup);
  if (!replies.ok()) return replies.status();
  for (size_t i = 0; i < replies->size(); ++i) {
    const RedisReply& r = (*replies)[i];
    if (r.is_error()) {
      Disconnect();
      // AUTH errors say "WRONGPASS ..." and never echo the password.
      const char* what = setup[i][0] == "AUTH" ? "authentication failed" : "SELECT failed";
      return Status::Unavailable("redis " + Where(endpoint_) + ": " + what + ": " + r.str);
    }
  }
  return Status::Ok();
}

Result<std::vector<RedisReply>> RedisClient::RoundTrip(const std::vector<RedisArgs>& commands) {
  APIMETER_RETURN_IF_ERROR(Append(commands));
  return Receive(commands.size());
}

Status RedisClient::Send(const std::vector<RedisArgs>& commands) {
  if (commands.empty()) return Status::Ok();
  APIMETER_RETURN_IF_ERROR(Connect());
  APIMETER_RETURN_IF_ERROR(Append(commands));
  int done = 0;
  while (done == 0) {
    if (redisBufferWrite(ctx_, &done) != REDIS_OK) return IoFailure("sending a pipeline");
  }
  return Status::Ok();
}

Status RedisClient::Append(const std::vector<RedisArgs>& commands) {
  std::vector<const char*> argv;
  std::vector<size_t> argvlen;
  for (const RedisArgs& cmd : commands) {
    if (cmd.empty()) {
      return Status::InvalidArgument("redis: empty command in a pipeline");
    }
  }
  for (const RedisArgs& cmd : commands) {
    argv.clear();
    argvlen.clear();
    for (const std::string& a : cmd) {
      argv.push_back(a.data());
      argvlen.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), argvlen.data()) !=
        REDIS_OK) {
      return IoFailure("queueing a command");
    }
  }
  commands_sent_ += commands.size();
  return Status::Ok();
}

Result<std::vector<RedisReply>> RedisClient::Receive(size_t n) {
  if (ctx_ == nullptr) return Status::Unavailable("redis " + Where(endpoint_) + ": not connected");
  std::vector<RedisReply> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) {
      return IoFailure("reading reply " + std::to_string(i + 1) + " of " + std::to_string(n));
    }
    std::unique_ptr<RedisReply> reply(static_cast<RedisReply*>(raw));
    out.push_back(std::move(*reply));
  }
  return out;
}

Status RedisClient::IoFailure(const std::string& doing) {
  std::string err = ctx_ != nullptr && ctx_->err != 0 ? ctx_->errstr : "connection lost";
  const bool timeout = ctx_ != nullptr && ctx_->err == REDIS_ERR_IO &&
                       (err.find("temporarily unavailable") != std::string::npos ||
                        err.find("timed out") != std::string::npos);
  // The pipeline may be half read; the context can never be trusted again.
  Disconnect();
  return Status::Unavailable("redis " + Where(endpoint_) + ": " +
                             (timeout ? "timed out " : "I/O error ") + doing + ": " + err);
}

Result<RedisReply> RedisClient::Command(const RedisArgs& args) {
  auto r = Pipeline({args});
  if (!r.ok()) return r.status();
  return std::move(r->front());
}

Result<std::vector<RedisReply>> RedisClient::Pipeline(const std::vector<RedisArgs>& commands) {
  if (commands.empty()) return std::vector<RedisReply>{};
  // Reconnect once if a previous call broke the connection (or none exists yet).
  APIMETER_RETURN_IF_ERROR(Connect());
  return RoundTrip(commands);
}

}  // namespace apimeter
