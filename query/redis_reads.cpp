#include "query/redis_reads.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace apimeter::query_reads {

Status RunChunked(RedisCommands* client, size_t total, size_t chunk,
                  const std::function<RedisArgs(size_t)>& make,
                  const std::function<Status(size_t, const RedisReply&)>& handle) {
  std::vector<RedisArgs> commands;
  for (size_t start = 0; start < total; start += chunk) {
    const size_t end = std::min(total, start + chunk);
    commands.clear();
    for (size_t i = start; i < end; ++i) commands.push_back(make(i));
    auto replies = client->Pipeline(commands);
    if (!replies.ok()) return replies.status().WithContext("query");
    if (replies->size() != commands.size()) {
      return Status::Internal("query: pipeline returned " + std::to_string(replies->size()) +
                              " replies for " + std::to_string(commands.size()) + " commands");
    }
    for (size_t i = start; i < end; ++i) {
      APIMETER_RETURN_IF_ERROR(handle(i, (*replies)[i - start]));
    }
  }
  return Status::Ok();
}

Status ReplyError(const RedisReply& reply, const RedisArgs& command) {
  return Status::ParseError("query: " + command[0] + " " + command[1] + ": " + reply.str);
}

bool ParseScore(const std::string& text, double* out) {
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && p == text.data() + text.size() && std::isfinite(*out);
}

}  // namespace apimeter::query_reads

namespace apimeter::query_reads {

Status ReadSlowSets(RedisCommands* client, const std::vector<std::string>& keys,
                    int64_t max_per_key, size_t chunk,
                    const std::function<void(SlowRequest&&)>& each, uint64_t* malformed) {
  auto make = [&](size_t i) -> RedisArgs {
    return {"ZREVRANGE", keys[i], "0", std::to_string(max_per_key - 1), "WITHSCORES"};
  };
  auto handle = [&](size_t i, const RedisReply& reply) -> Status {
    if (reply.is_error()) return ReplyError(reply, make(i));
    if (reply.type != RedisReply::Type::kArray || reply.elements.size() % 2 != 0) {
      return Status::ParseError("query: " + keys[i] + " is not a sorted set");
    }
    for (size_t k = 0; k + 1 < reply.elements.size(); k += 2) {
      double score = 0;
      SlowRequest s;
      if (!ParseScore(reply.elements[k + 1].str, &score) ||
          !DecodeSlowMember(reply.elements[k].str, std::llround(score), &s)) {
        ++*malformed;
        continue;
      }
      each(std::move(s));
    }
    return Status::Ok();
  };
  return RunChunked(client, keys.size(), chunk, make, handle);
}

}  // namespace apimeter::query_reads
