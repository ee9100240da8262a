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
#include "sink/cluster_journal.h"
#include "sink/redis_client.h"

namespace apimeter {

// "<argc>\n" then "<len>:<bytes>" per argument.
std::string EncodeJournalCommand(const RedisArgs& args);
Result<RedisArgs> DecodeJournalCommand(std::string_view text);

// The dedupe marker hash of the group `key` belongs to, in the same slot
// (same hash tag): "<key up to the end of its tag>:done". One field per
// script call of a writer: "<writer id>.<n>", n = the call's place among
// that batch's calls to the group (a group of more than 200 series takes
// several calls); value = the writer's last batch sequence number whose
// call n was applied to the group.
std::string MarkerKey(std::string_view key);
std::string MarkerField(std::string_view writer, size_t call);

// Wraps a series EVAL (ARGV[1] = its expire-at) so that it runs only if the
// marker hash says this call of batch `seq` (or a later batch's) has not been
// applied to the group yet, and records `seq` in the same script call: each
// call applies at most once. The marker is appended as the last key, field
// and seq as the last arguments; the guard removes them before the original
// body runs. A skipped call returns -1. If the body fails (an error reply),
// the marker is put back as it was, so a retry applies the call again; the
// body itself checks the types of its keys before its first write, so a
// failing call has written nothing. The marker expires with the group's keys.
RedisArgs GuardEval(const RedisArgs& eval, const std::string& marker, const std::string& field,
                    uint64_t seq);

// How v1's cluster flush reads the reply to one journaled command: a
// guarded series call answers the number of series it wrote, or -1 when its
// marker showed it applied. `apimeter migrate` finishes v1 journals with it.
ClusterJournal::ReplyCheck V1SeriesReplyCheck();

}  // namespace apimeter
