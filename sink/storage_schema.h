// The storage schema marker (docs/storage-v2.md "Schema version and
// migration"): P:schema holds "2", and a binary never reads or writes a
// schema it does not know.
//
// Promise: EnsureStorageSchema returns OK only when P:schema is "2", setting
// it (SET NX) when it is missing and no v1 data is present: v1 keeps its
// per-day registries as sets under the same key names where v2 keeps hashes,
// so a registry key of the retained days (today and `retained_days` before)
// that is a set means v1 data, and the answer is InvalidArgument naming
// `apimeter migrate`. Another value in P:schema is InvalidArgument too
// ("migrating": a migration is under way or was interrupted; run it again).
// Unavailable when Redis cannot be reached; Internal on an error reply.
// Cost: one GET when the marker is set; else 2 TYPE per retained day, once.
// CheckStorageSchema is the read-only half, for readers.
// Thread-safety: drives the caller's client.
#pragma once

#include <cstdint>

#include "common/status.h"
#include "sink/block_keys.h"
#include "sink/redis_client.h"

namespace apimeter {

Status EnsureStorageSchema(RedisCommands& client, const BlockKeys& keys, int64_t today,
                           int64_t retained_days);

// The same check for a reader, which never writes: OK when P:schema is "2",
// or when it is missing and no registry of the retained days is a v1 set
// (*missing is then true: nothing was written yet, or only by a writer that
// has not set the marker). The same errors as EnsureStorageSchema.
Status CheckStorageSchema(RedisCommands& client, const BlockKeys& keys, int64_t today,
                          int64_t retained_days, bool* missing);

}  // namespace apimeter
