// Helpers the query modules share for reading Redis: chunked pipelines and
// sorted-set score parsing.
//
// Promise: RunChunked holds at most `chunk` commands and their replies at
// once and stops at the first failure (I/O, a short pipeline, or an error
// returned by `handle`). Pure otherwise; thread-safe as far as the client is.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "common/status.h"
#include "sink/redis_client.h"

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
