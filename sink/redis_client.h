// RedisClient: a small synchronous Redis connection over hiredis, with typed
// timeouts and pipelines. Used by the sink (writes) and the query layer (reads).
//
// Promise: every call returns a Status or Result instead of throwing. Connect
// and command timeouts are explicit. After any I/O error or timeout the
// connection is marked broken (a half-read pipeline is never reused) and the
// next call reconnects once before giving up. Replies are copied into
// RedisReply values, so they outlive the hiredis reply objects.
// Not thread-safe: one connection per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/redis_url.h"
#include "common/result.h"

struct redisContext;

namespace apimeter {

struct RedisReply {
  enum class Type { kNil, kInteger, kString, kStatus, kError, kArray };
  Type type = Type::kNil;
  int64_t integer = 0;
  std::string str;                 // string, status or error text
  std::vector<RedisReply> elements;

  bool is_error() const { return type == Type::kError; }
  bool is_nil() const { return type == Type::kNil; }
};

using RedisArgs = std::vector<std::string>;

class ClusterClient;

// What the sink and the query layer need from Redis: implemented by
// RedisClient (one server) and ClusterClient (Redis Cluster, sink/cluster_client.h).
class RedisCommands {
 public:
  virtual ~RedisCommands() = default;
  virtual Status Connect() = 0;
  // A Redis error reply is a RedisReply of type kError; I/O problems are a failed Result.
  virtual Result<RedisReply> Command(const RedisArgs& args) = 0;
  // Replies in the order of `commands`.
  virtual Result<std::vector<RedisReply>> Pipeline(const std::vector<RedisArgs>& commands) = 0;
  // Commands sent since construction (a pipeline of N counts N).
  virtual uint64_t commands_sent() const = 0;
  // Non-null when this is a cluster client (the sink then uses its per-slot flush).
  virtual ClusterClient* AsCluster() { return nullptr; }
};

class RedisClient final : public RedisCommands {
 public:
  explicit RedisClient(RedisEndpoint endpoint);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Connects (AUTH and SELECT included). Idempotent while connected.
  Status Connect() override;
  bool connected() const;

  // One command. A Redis error reply is returned as a RedisReply of type
  // kError, not as a failed Result; I/O problems are a failed Result.
  Result<RedisReply> Command(const RedisArgs& args) override;

  // Sends all commands in one write and reads all replies, in order.
  Result<std::vector<RedisReply>> Pipeline(const std::vector<RedisArgs>& commands) override;

  // Pipeline in two halves, so a caller can have several servers work at
  // once (ClusterClient): Send writes the commands (connecting first if
  // needed) without reading; Receive reads the next n replies, in order.
  // Every Send must be followed by a Receive of as many replies.
  Status Send(const std::vector<RedisArgs>& commands);
  Result<std::vector<RedisReply>> Receive(size_t n);

  const RedisEndpoint& endpoint() const { return endpoint_; }
  // Commands sent since construction (a pipeline of N counts N).
  uint64_t commands_sent() const override { return commands_sent_; }

 private:
  void Disconnect();
  Status Handshake();  // AUTH and SELECT on a fresh connection
  // Sends and reads on the current context; any I/O failure disconnects.
  Result<std::vector<RedisReply>> RoundTrip(const std::vector<RedisArgs>& commands);
  Status Append(const std::vector<RedisArgs>& commands);  // into hiredis' output buffer
  Status IoFailure(const std::string& doing);

  RedisEndpoint endpoint_;
  redisContext* ctx_ = nullptr;
  uint64_t commands_sent_ = 0;
};

}  // namespace apimeter
