#include "sink/redis_client.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <cstring>
#include <memory>
#include <new>

namespace apimeter {
namespace {

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
