// Pure helpers of the cluster flush (sink/cluster_flush.cpp): the journal's
// command encoding and the dedupe guard put around a group's script call.
// docs/redis-schema.md, "Redis Cluster", is the reference.
//
// Promise: pure functions, thread-safe; DecodeJournalCommand(Encode(a)) == a
// for any arguments (binary-safe), and malformed input is a ParseError.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "sink/redis_client.h"

namespace apimeter {

// "<argc>\n" then "<len>:<bytes>" per argument.
std::string EncodeJournalCommand(const RedisArgs& args);
Result<RedisArgs> DecodeJournalCommand(std::string_view text);

// The dedupe marker hash of the group `key` belongs to, in the same slot
// (same hash tag): "<key up to the end of its tag>:done". Field = writer id,
// value = the writer's last batch sequence number applied to that group.
std::string MarkerKey(std::string_view key);

// Wraps a series EVAL (ARGV[1] = its expire-at) so that it runs only if the
// marker hash says `writer` has not applied batch `seq` (or a later one) to
// this group yet, and records `seq` in the same script call: each group
// applies a writer's batch at most once. The marker is appended as the last
// key, writer and seq as the last arguments; the guard removes them before
// the original body runs. A skipped call returns -1. The marker expires with
// the group's keys.
RedisArgs GuardEval(const RedisArgs& eval, const std::string& marker, const std::string& writer,
                    uint64_t seq);

}  // namespace apimeter
