// Helpers the query modules share for reading Redis: chunked pipelines,
// sorted-set score parsing and the slow-request sets (the same in v1 and v2).
//
// Promise: RunChunked holds at most `chunk` commands and their replies at
// once and stops at the first failure (I/O, a short pipeline, or an error
// returned by `handle`). Pure otherwise; thread-safe as far as the client is.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include <vector>

#include "common/status.h"
#include "sink/redis_client.h"
#include "sink/schema.h"

namespace apimeter::query_reads {

// Builds commands chunk by chunk: make(i) builds command i; handle(i, reply)
// consumes its reply.
Status RunChunked(RedisCommands* client, size_t total, size_t chunk,
                  const std::function<RedisArgs(size_t)>& make,
                  const std::function<Status(size_t, const RedisReply&)>& handle);

// A Redis error reply to `command`, as a ParseError naming the command and key.
Status ReplyError(const RedisReply& reply, const RedisArgs& command);

// Redis formats integral scores as integers ("123"); this accepts both that
// and "1.5e3". False for anything that is not a finite number.
bool ParseScore(const std::string& text, double* out);

}  // namespace apimeter::query_reads

namespace apimeter::query_reads {

// ZREVRANGE 0 max_per_key-1 WITHSCORES of each slow-request set in `keys`
// (pipelined in chunks of `chunk`), calling each() per decoded request;
// members that do not decode are counted in *malformed. An error reply or a
// reply that is not a sorted set fails with the key.
Status ReadSlowSets(RedisCommands* client, const std::vector<std::string>& keys,
                    int64_t max_per_key, size_t chunk,
                    const std::function<void(SlowRequest&&)>& each, uint64_t* malformed);

}  // namespace apimeter::query_reads
